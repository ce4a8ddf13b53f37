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
