/** What the live-model record holds: written by the pipeline when it deploys, read by the API and the quality gate. */
export interface LiveModel {
  /** Model version (the training job name), or null before the first deployment. */
  readonly version: string | null;
  /** Validation mAP of the live model. */
  readonly map?: number;
  /**
   * Which export of the model serves: `int8` (post-training quantization) when its validation mAP is within the
   * training job's `int8_tolerance` of fp32's, else `fp32`. From the training job's `serving_int8` metric
   * (`SERVING_INT8_METRIC`: 1 is `int8`). Absent in records written before the int8 variant existed.
   */
  readonly variant?: 'int8' | 'fp32';
  /** Validation mAP (VOC07, IoU 0.5) of the int8 variant, from the `int8_val_mAP` metric, when one was made. */
  readonly mapInt8?: number;
  /**
   * Average precision per class (VOC07, IoU 0.5) of the serving variant on the validation split, from the
   * evaluation report; classes without a true box in the split are left out. Absent when the model has no report.
   */
  readonly apPerClass?: Record<string, number>;
  /**
   * The calibrated score threshold, 0 to 1: the score that maximizes F1 on the validation split, all classes
   * pooled, from the evaluation report. The API's `minScore` when a client sends none (unless configured
   * otherwise). Absent when the model has no report, or no threshold found a true box.
   */
  readonly threshold?: number;
  /** S3 URI of the model's published evaluation report (`report.html`). Absent when the model has no report. */
  readonly reportUri?: string;
  /** Name of the endpoint serving it. */
  readonly endpointName?: string;
  /** ISO-8601 time of the deployment. */
  readonly deployedAt?: string;
}

/** The record's value before any model is deployed. */
export const NO_MODEL: LiveModel = { version: null };

/**
 * The SageMaker model the pipeline created for a live version: the deploy stage names a run's model
 * `<prefix>-model-<run id>` and its training job `<prefix>-train-<run id>`, so the one follows from the other
 * (`logodet-1a2b3c-train-<sha1>` → `logodet-1a2b3c-model-<sha1>`).
 * @throws Error naming the version when it is not a training job name of that form
 */
export function modelNameForVersion(version: string): string {
  const match = /^([a-z0-9]+-[0-9a-f]{6})-train-([0-9a-f]{40})$/.exec(version);
  if (!match) {
    throw new Error(
      `The live model's version ${JSON.stringify(version)} is not a training job name of the pipeline ` +
        '(<prefix>-train-<run id>), so its SageMaker model cannot be found; deploy a model with a pipeline run first',
    );
  }
  return `${match[1]}-model-${match[2]}`;
}

/** `minScore` for a request that sends none, when neither the deployment nor the live model gives one. */
export const FALLBACK_MIN_SCORE = 0.5;

/**
 * The default `minScore` a live model implies: its calibrated `threshold` when the record has a valid one (0 to 1),
 * else {@link FALLBACK_MIN_SCORE}. The API and batch detection both use it when neither the request nor the
 * configuration (`apiDefaultMinScore`) gives one.
 */
export function defaultMinScoreOf(record: Pick<LiveModel, 'threshold'>): number {
  const { threshold } = record;
  return typeof threshold === 'number' && threshold >= 0 && threshold <= 1 ? threshold : FALLBACK_MIN_SCORE;
}
