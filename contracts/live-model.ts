/** What the live-model record holds: written by the pipeline when it deploys, read by the API and the quality gate. */
export interface LiveModel {
  /** Model version (the training job name), or null before the first deployment. */
  readonly version: string | null;
  /** Validation mAP of the live model. */
  readonly map?: number;
  /** Average precision per class. */
  readonly apPerClass?: Record<string, number>;
  /** Name of the endpoint serving it. */
  readonly endpointName?: string;
  /** ISO-8601 time of the deployment. */
  readonly deployedAt?: string;
}

/** The record's value before any model is deployed. */
export const NO_MODEL: LiveModel = { version: null };
