import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { NO_MODEL } from '../contracts';

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
