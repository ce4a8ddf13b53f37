import { clock } from './report';

/** Images and boxes of one split, as training counted them (metrics.json `counts`). */
export interface Split {
  readonly images: number;
  readonly boxes: number;
}

/** The training and validation splits training used. */
export interface SplitCounts {
  readonly train: Split;
  readonly validation: Split;
}

/**
 * Fewest training images below which local mode warns that the model cannot learn much: SSD fine-tuning
 * recipes start at a few hundred labeled images per class, and from random initialization (local mode's default)
 * a few dozen photos give boxes that are mostly wrong.
 */
export const MIN_TRAINING_IMAGES = 50;

/**
 * Fewest validation boxes below which local mode warns that the validation mAP cannot be trusted: with n boxes,
 * one box more or less found moves the recall, and so the mAP, by about 1/n; under 10 that is more than 0.1,
 * the difference between a good model and a bad one.
 */
export const MIN_VALIDATION_BOXES = 10;

/** The `counts` of a model's metrics.json, when it has them. */
export function splitCounts(metrics: unknown): SplitCounts | undefined {
  const counts = (metrics as { counts?: Record<string, Partial<Split>> } | undefined)?.counts;
  const split = (name: string): Split | undefined => {
    const { images, boxes } = counts?.[name] ?? {};
    return typeof images === 'number' && typeof boxes === 'number' ? { images, boxes } : undefined;
  };
  const train = split('train');
  const validation = split('validation');
  return train && validation ? { train, validation } : undefined;
}

/**
 * The model's calibrated threshold (metrics.json `threshold.score`: the score that maximizes F1 on the validation
 * split, 0 to 1), rounded to 3 decimals; undefined when the model has none (no threshold found a true box).
 */
export function calibratedThreshold(metrics: unknown): number | undefined {
  const score = (metrics as { threshold?: { score?: unknown } | null } | undefined)?.threshold?.score;
  return typeof score === 'number' && score > 0 && score <= 1 ? Math.round(score * 1000) / 1000 : undefined;
}

/** The validation mAP of both variants of a trained model, and which one serves (metrics.json). */
export interface VariantMaps {
  /** VOC07 mAP at IoU 0.5 of the fp32 export on the validation split, through the serving path. */
  readonly fp32: number;
  /** The same for each int8 recipe training tried, in the order it tried them (fastest first). */
  readonly int8: Readonly<Record<string, number>>;
  /** The variant the endpoint serves: `int8` or `fp32`. */
  readonly serving: string;
  /** How far below fp32 an int8 mAP may be for int8 to serve (the `int8_tolerance` hyperparameter). */
  readonly tolerance: number;
  /**
   * F1 at the calibrated threshold of fp32 and of each int8 recipe tried (`f1_fp32`, `int8_recipes_f1`): int8 also
   * has to keep it within the tolerance. Absent in metrics written before the rule.
   */
  readonly f1?: { readonly fp32: number; readonly int8: Readonly<Record<string, number>> };
}

/**
 * Both variants' validation mAPs from a model's metrics.json (`map_fp32`, `int8_recipes_tried`, `serving`,
 * `int8_tolerance`, and the F1s `f1_fp32` and `int8_recipes_f1` when present); undefined when it has no fp32 mAP.
 * A recipe whose mAP or F1 is null (no validation box, no threshold finding one) is left out of that figure.
 */
export function variantMaps(metrics: unknown): VariantMaps | undefined {
  const m = metrics as
    | {
        map_fp32?: unknown;
        int8_recipes_tried?: unknown;
        serving?: unknown;
        int8_tolerance?: unknown;
        f1_fp32?: unknown;
        int8_recipes_f1?: unknown;
      }
    | undefined;
  if (typeof m?.map_fp32 !== 'number') return undefined;
  const tried = (m.int8_recipes_tried ?? {}) as Record<string, unknown>;
  const int8 = Object.fromEntries(
    Object.entries(tried).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
  );
  const f1s = Object.entries((m.int8_recipes_f1 ?? {}) as Record<string, unknown>).filter(
    (entry): entry is [string, number] => typeof entry[1] === 'number',
  );
  return {
    fp32: m.map_fp32,
    int8,
    serving: typeof m.serving === 'string' ? m.serving : 'fp32',
    tolerance: typeof m.int8_tolerance === 'number' ? m.int8_tolerance : 0.01,
    ...(typeof m.f1_fp32 === 'number' ? { f1: { fp32: m.f1_fp32, int8: Object.fromEntries(f1s) } } : {}),
  };
}

/** "1 box", "4 boxes". */
const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const boxes = (n: number) => count(n, 'box', 'boxes');

/** "10 training images (14 boxes), 3 validation images (4 boxes)". */
export function describeSplits({ train, validation }: SplitCounts): string {
  return (
    `${count(train.images, 'training image')} (${boxes(train.boxes)}), ` +
    `${count(validation.images, 'validation image')} (${boxes(validation.boxes)})`
  );
}

/**
 * What to tell someone whose own dataset is too small: that the model cannot learn from so few training images,
 * or that the validation split has too few boxes to measure it, with the counts, and what to do (label more
 * images; start from pretrained weights, unless the run did). Empty when the dataset is large enough.
 */
export function datasetAdvice(counts: SplitCounts, pretrained: boolean): string[] {
  const advice: string[] = [];
  const { train, validation } = counts;
  if (train.images < MIN_TRAINING_IMAGES) {
    advice.push(
      `Too few images to learn from: ${count(train.images, 'training image')}, fewer than ${MIN_TRAINING_IMAGES}. ` +
        'Expect boxes that are mostly wrong, whatever the mAP says; a useful detector needs a few hundred labeled ' +
        'photos of the logo in varied scenes.',
    );
  }
  if (validation.boxes < MIN_VALIDATION_BOXES) {
    const moves =
      validation.boxes === 0
        ? 'with no box to find, the mAP means nothing'
        : `one box more or less found moves the mAP by about ${(1 / validation.boxes).toFixed(2)}`;
    advice.push(
      `Validation too small to measure: ${count(validation.images, 'image')} with ` +
        `${boxes(validation.boxes)}, fewer than ${MIN_VALIDATION_BOXES} boxes; ` +
        `${moves}. Validation takes about one image in five (by a hash of its name), so more images give it more.`,
    );
  }
  if (advice.length === 0) return [];
  advice.push('What to do: label more images (add them to --images and to --labels) and run again.');
  if (!pretrained) {
    advice.push(
      'And start from pretrained weights: this run trained from random initialization, which needs far more ' +
        "images than fine-tuning GluonCV's VOC-trained SSD. Put ssd_512_mobilenet1.0_voc-37c18076.params in " +
        '.local/pretrained/ and local mode trains from it (README, "Pretrained weights", says where to get it).',
    );
  }
  return advice;
}

/** One epoch's metric lines, until they are shown. */
interface Epoch {
  readonly epoch: number;
  loss?: string;
  map?: string;
}

/** A metric value rounded for people; the log keeps every digit. */
const rounded = (value: string) => {
  const n = Number(value);
  return Number.isFinite(n)
    ? n
        .toFixed(4)
        .replace(/(\.\d*?)0+$/, '$1')
        .replace(/\.$/, '')
    : value;
};

/**
 * Condenses the training log for the terminal: one line per epoch with its loss and validation mAP, rounded, and
 * the time since training started (`epoch=3 train_loss=4.2135 val_mAP=0.052 (of 30; 00:41)`), instead of the
 * metric lines with every digit and the per-class lines; the split sizes once, as one line; `best_val_mAP`; and
 * errors as they are. The metric names stay those of the log (and of the metric definitions), so the lines can
 * be searched for the same way. Everything else stays in the log file.
 */
export class TrainingProgress {
  private pending: Epoch | undefined;
  private readonly splits: Partial<Record<'train' | 'validation', Split>> = {};
  private started: number | undefined;

  /**
   * @param epochs - epochs the run was given, shown as "of N"
   * @param now - the clock, in milliseconds
   */
  constructor(
    private readonly epochs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The lines to show for one line of the training log (often none). */
  line(text: string): string[] {
    this.started ??= this.now();
    const shown: string[] = [];
    const metric = /^epoch=(\d+) (train_loss|val_mAP)=(\S+)$/.exec(text.trim());
    if (metric) {
      const epoch = Number(metric[1]);
      if (this.pending && this.pending.epoch !== epoch) shown.push(...this.flush());
      this.pending ??= { epoch };
      if (metric[2] === 'train_loss') this.pending.loss = rounded(metric[3]);
      else this.pending.map = rounded(metric[3]);
      return shown;
    }
    if (/^epoch \d+ done\b/.test(text)) return this.flush();
    const best = /^best_val_mAP=(\S+)$/.exec(text.trim());
    if (best) return [...this.flush(), `best_val_mAP=${rounded(best[1])}`];
    const split = /^(train|validation): (\d+) images?, (\d+) box(?:es)?/.exec(text);
    if (split) {
      this.splits[split[1] as 'train' | 'validation'] = { images: Number(split[2]), boxes: Number(split[3]) };
      const { train, validation } = this.splits;
      return train && validation ? [`dataset: ${describeSplits({ train, validation })}`] : [];
    }
    if (/error|traceback|failed/i.test(text)) return [...this.flush(), text];
    return [];
  }

  private flush(): string[] {
    const epoch = this.pending;
    this.pending = undefined;
    if (!epoch) return [];
    const parts = [
      `epoch=${epoch.epoch}`,
      ...(epoch.loss !== undefined ? [`train_loss=${epoch.loss}`] : []),
      ...(epoch.map !== undefined ? [`val_mAP=${epoch.map}`] : []),
    ];
    return [`${parts.join(' ')} (of ${this.epochs}; ${clock(this.now() - (this.started ?? this.now()))})`];
  }
}
