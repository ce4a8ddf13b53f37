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
  /** Average precision per class. */
  readonly apPerClass?: Record<string, number>;
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
