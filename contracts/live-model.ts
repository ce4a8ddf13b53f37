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
