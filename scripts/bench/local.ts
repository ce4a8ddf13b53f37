import { runLocal } from '../../local/app/main';
import { VariantMaps } from '../../local/app/progress';
import type { HeldOutScore } from '../../local/app/report';
import { Figure, Section } from './report';
import { clockText } from './stats';

/** Stages of `npm start`, each from the first progress line containing `from` to the first containing `to`. */
const STAGES: { name: string; from: string; to: string }[] = [
  { name: 'set-up: venv check, synth, moto, shims', from: '■ Python environment', to: '■ Generating' },
  { name: 'generate and upload the dataset', from: '■ Generating', to: '■ Execution 1' },
  {
    name: 'preprocess (Distributed Map, sharp)',
    from: '▶ Preprocess raw images',
    to: '▶ Find unlabeled images',
  },
  { name: 'label (request, import, resume)', from: '▶ Find unlabeled images', to: '▶ Assemble dataset' },
  { name: 'assemble the dataset', from: '▶ Assemble dataset', to: '▶ Train' },
  { name: 'train (container `train`, CPU)', from: '▶ Train', to: '▶ Check model quality' },
  { name: 'quality gate and deploy (`serve` up)', from: '▶ Check model quality', to: '▶ Deployed' },
  { name: 'API check of the held-out images', from: 'API on http', to: '■ Execution 2' },
  { name: 'second execution, no new data', from: '■ Execution 2', to: '■ Done in' },
];

/** The validation mAP the goal asks of the default run, and the run before tuning measured (0.35). */
const MAP_GOAL = 0.8;
const MAP_BEFORE = '0.351';

/**
 * How convincing the run's model is: the validation mAP, and on the held-out images at the calibrated threshold
 * the logos found (every one, IoU at least 0.5), the false boxes (at most one in all), precision, recall and AP.
 */
export function qualityFigures(map: number | undefined, heldOut: HeldOutScore | undefined): Figure[] {
  const figures: Figure[] = [
    {
      name: 'validation mAP (VOC07, IoU 0.5)',
      value: map === undefined ? 'n/a' : map.toFixed(3),
      baseline: MAP_BEFORE,
      goal: `≥ ${MAP_GOAL}`,
      met: map !== undefined && map >= MAP_GOAL,
    },
  ];
  if (!heldOut)
    return [...figures, { name: 'held-out images', value: 'not answered', baseline: '', goal: '' }];
  return [
    ...figures,
    {
      name: 'held-out logos found (IoU ≥ 0.5)',
      value: `${heldOut.found} of ${heldOut.logos}`,
      baseline: '',
      goal: 'all',
      met: heldOut.found === heldOut.logos,
    },
    {
      name: 'held-out false boxes',
      value: String(heldOut.falseBoxes),
      baseline: '',
      goal: '≤ 1 in all',
      met: heldOut.falseBoxes <= 1,
    },
    { name: 'held-out precision', value: heldOut.precision.toFixed(2), baseline: '', goal: '' },
    { name: 'held-out recall', value: heldOut.recall.toFixed(2), baseline: '', goal: '' },
    { name: 'held-out AP (answered detections)', value: heldOut.ap.toFixed(2), baseline: '', goal: '' },
  ];
}

/** Wall time of each stage of the default `npm start` (one run: it takes minutes). */
export async function benchLocal(): Promise<Section> {
  const lines: { at: number; text: string }[] = [];
  const started = Date.now();
  const result = await runLocal({ log: (text) => lines.push({ at: Date.now(), text }) });
  const total = Date.now() - started;
  await result.stop();
  const first = (needle: string) => lines.find((l) => l.text.includes(needle))?.at;
  const figures: Figure[] = STAGES.map(({ name, from, to }) => {
    const [a, b] = [first(from), first(to)];
    return { name, value: a && b ? clockText(b - a) : 'not reached', baseline: '', goal: '' };
  });
  figures.push({
    name: 'whole run',
    value: clockText(total),
    baseline: '6:00',
    goal: '< 6 minutes on 2 cores',
    met: total < 6 * 60 * 1000,
  });
  figures.push(...qualityFigures(result.map, result.heldOut));
  figures.push(...int8Figures(result.variantMaps));
  const validation = result.counts?.validation;
  return {
    title: 'Local pipeline (npm start)',
    figures,
    explanation:
      'One default `npm start`: 96 generated images, the synthesized state machine run by aws-local-stepfunctions ' +
      'against moto, 30 CPU epochs of 10 batches at 256 px from random initialization (warmup, cosine schedule), ' +
      "the container's `serve` as the endpoint, then a second execution with no new data. Training dominates; " +
      '`--epochs`, `--images-count` or pretrained weights under .local/pretrained/ move it. The quality figures are ' +
      "the training's best validation mAP and the API's answers on the 4 held-out images at the model's calibrated " +
      'threshold, matched to the drawn logos at IoU 0.5 (the AP ranks only those answers). One run, not a median: ' +
      'it takes minutes, and its time grows with the load of a shared machine. ' +
      'The int8 mAPs are those ' +
      "training measured on the run's validation split through the serving path (VOC07, IoU 0.5), for fp32 and " +
      'for each int8 recipe it tried, fastest first, until one was within the tolerance' +
      (validation ? ` (${validation.images} images, ${validation.boxes} boxes)` : '') +
      ': a short CPU run from random initialization, so the model is weak and one box more or less found moves ' +
      'the mAP by several points; it says whether quantization keeps what this model learned, not what a ' +
      'fine-tuned model would lose.',
  };
}

/** One figure per int8 recipe training tried: its validation mAP beside fp32's, and the drop in points. */
export function int8Figures(maps: VariantMaps | undefined): Figure[] {
  if (!maps)
    return [{ name: 'validation mAP, int8 against fp32', value: 'not reached', baseline: '', goal: '' }];
  const points = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n * 100).toFixed(1)} points`;
  const goal = `≥ fp32 − ${(maps.tolerance * 100).toFixed(0)} point${maps.tolerance === 0.01 ? '' : 's'}`;
  const within = (int8: number, fp32: number) => fp32 - int8 <= maps.tolerance + 1e-9;
  return Object.entries(maps.int8).flatMap(([recipe, map]) => {
    const serves = maps.serving === 'int8' && recipe === lastTried(maps) ? ', serves' : '';
    const figures: Figure[] = [
      {
        name: `validation mAP, int8 (recipe ${recipe})${serves}`,
        value: map.toFixed(3),
        baseline: `${maps.fp32.toFixed(3)} fp32`,
        ratio: points(map - maps.fp32),
        goal,
        met: within(map, maps.fp32),
      },
    ];
    const f1 = maps.f1?.int8[recipe];
    if (maps.f1 && f1 !== undefined) {
      figures.push({
        name: `F1 at its calibrated threshold, int8 (recipe ${recipe})`,
        value: f1.toFixed(3),
        baseline: `${maps.f1.fp32.toFixed(3)} fp32`,
        ratio: points(f1 - maps.f1.fp32),
        goal,
        met: within(f1, maps.f1.fp32),
      });
    }
    return figures;
  });
}

const lastTried = (maps: VariantMaps) => Object.keys(maps.int8).at(-1);
