/**
 * The training job's contract, typed for TypeScript. The contract itself is training-job.json, which the training
 * container reads too: hyperparameter names (with their types, limits and defaults), input channel names, and
 * the metric definitions that turn the container's log lines into CloudWatch metrics.
 */
import trainingJob from './training-job.json';

/** A hyperparameter the training container accepts. */
export type HyperparameterName = keyof typeof trainingJob.hyperparameters;

/** An input channel the training container reads (`/opt/ml/input/data/<name>`). */
export type ChannelName = keyof typeof trainingJob.channels;

/** How one hyperparameter is interpreted by the container (all values travel as strings). */
export interface HyperparameterSpec {
  /**
   * `integer`, `number`, `choice`, `text` (empty means unset), `class-list` (a JSON list of names) or
   * `epoch-list` (comma-separated epoch numbers).
   */
  readonly type: string;
  readonly description: string;
  /** The training job fails without it. */
  readonly required?: boolean;
  /** The value used when it is not sent, as SageMaker would pass it; null: unset. */
  readonly default?: string | null;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly multipleOf?: number;
  readonly choices?: readonly string[];
}

/** Every hyperparameter the container accepts, by name. */
export const HYPERPARAMETERS: Readonly<Record<HyperparameterName, HyperparameterSpec>> =
  trainingJob.hyperparameters;

/** Every input channel the container reads, by name. */
export const CHANNELS: Readonly<
  Record<ChannelName, { readonly required: boolean; readonly description: string }>
> = trainingJob.channels;

/**
 * The HyperParameters of a CreateTrainingJob request. Names are checked against the contract when compiling;
 * values are strings, as SageMaker passes them.
 * @throws Error naming a required hyperparameter that is missing.
 */
export function trainingHyperparameters(
  values: Partial<Record<HyperparameterName, string>>,
): Record<string, string> {
  for (const [name, spec] of Object.entries(HYPERPARAMETERS)) {
    if (spec.required && values[name as HyperparameterName] === undefined) {
      throw new Error(
        `Training hyperparameter ${name} is required by contracts/training-job.json; pass a value.`,
      );
    }
  }
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >;
}

/**
 * The metric the training container prints once at the end, for the best epoch, as `best_val_mAP=<float>`;
 * the quality gate reads it from FinalMetricDataList.
 */
export const BEST_MAP_METRIC: string = trainingJob.bestMapMetric;

/**
 * Printed once at the end as `int8_val_mAP=<float>`: the int8 variant's validation mAP (VOC07, IoU 0.5), measured
 * through the serving path like the fp32 one beside it in metrics.json. Absent when the image could not quantize.
 * One of the metrics of training-job.json.
 */
export const INT8_MAP_METRIC = 'int8_val_mAP';

/**
 * Printed once at the end as `serving_int8=1` when model.json names the int8 variant (its mAP is within the
 * `int8_tolerance` hyperparameter of fp32's), `serving_int8=0` when fp32 serves. The live-model record's `variant`.
 * One of the metrics of training-job.json.
 */
export const SERVING_INT8_METRIC = 'serving_int8';

/** The training job's metric definitions (CreateTrainingJob's shape), shared by CDK and local mode. */
export const METRIC_DEFINITIONS: readonly { readonly Name: string; readonly Regex: string }[] =
  trainingJob.metrics.map((metric) => ({ Name: metric.name, Regex: metric.regex }));

/**
 * The evaluation report the training container writes beside the model, so both files sit at the root of
 * `model.tar.gz`: `page`, one self-contained HTML page (CSS, plots and thumbnails inline, nothing fetched), and
 * `figures`, every figure of it as JSON ({@link EvaluationFigures}). Models trained by an image older than the report
 * have neither.
 */
export const EVALUATION_REPORT_FILES: { readonly page: string; readonly figures: string } = {
  page: trainingJob.evaluationReport.page,
  figures: trainingJob.evaluationReport.figures,
};

/**
 * The fields of the container's `evaluation.json` (report.py's `write_report`) the pipeline reads; the file holds
 * more (PR curves, each image's verdict). Every figure is measured on the validation split through the serving path,
 * for the variant that serves.
 */
export interface EvaluationFigures {
  /** Per class: its name and VOC07 AP at IoU 0.5 (null when the split has no true box of the class). */
  readonly classes?: readonly { readonly name: string; readonly voc07_ap: number | null }[];
  /** VOC07 mAP at IoU 0.5 over the classes with true boxes. */
  readonly voc07_map?: number | null;
  /**
   * The calibrated operating point: the score threshold that maximizes F1 over all classes pooled (`threshold`),
   * with its precision, recall and F1; null when no threshold finds a true box.
   */
  readonly threshold?: {
    readonly threshold: number;
    readonly precision: number;
    readonly recall: number;
    readonly f1: number;
  } | null;
  /** Both exports side by side: which serves, and each one's VOC07 mAP (`int8_map` null when none was made). */
  readonly variants?: {
    readonly serving: string;
    readonly fp32_map: number | null;
    readonly int8_map: number | null;
    readonly reason: string;
  };
}
