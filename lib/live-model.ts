import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';

/** What the live-model record holds: written by the pipeline when it deploys, read by the API. */
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

/**
 * An SSM parameter holding the live model's version and quality as JSON ({@link LiveModel}).
 * The pipeline writes it after a deployment; the API and the quality gate read it.
 */
export class LiveModelRecord extends Construct {
  public readonly parameter: ssm.StringParameter;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.parameter = new ssm.StringParameter(this, 'Parameter', {
      description: 'Live logo-detection model: version, validation mAP and endpoint (JSON).',
      stringValue: JSON.stringify(NO_MODEL),
    });
  }
}
