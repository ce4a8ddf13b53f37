import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { AppConfig } from './config';
import { DataBuckets } from './data';
import { LiveModelRecord } from './live-model';

/** Properties of {@link PipelineStack}. */
export interface PipelineStackProps extends StackProps {
  readonly config: AppConfig;
  /** The buckets the pipeline reads from and writes to. */
  readonly buckets: DataBuckets;
}

/** SageMaker endpoint names: letters, digits and single hyphens, at most 63 characters. */
export function endpointNameFor(stackName: string): string {
  const name = `${stackName}-detector`
    .replace(/[^A-Za-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(name)) {
    throw new Error(`Cannot derive a SageMaker endpoint name from stack name "${stackName}"`);
  }
  return name;
}

/** The training pipeline: one state machine from raw images to a live endpoint. */
export class PipelineStack extends Stack {
  /** Name of the endpoint the pipeline creates and updates; derived once from the stack name. */
  public readonly endpointName: string;
  /** The live-model record the pipeline writes after each deployment. */
  public readonly liveModel: ssm.IStringParameter;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    this.endpointName = endpointNameFor(this.stackName);
    this.liveModel = new LiveModelRecord(this, 'LiveModel').parameter;

    new CfnOutput(this, 'EndpointName', {
      value: this.endpointName,
      description: 'SageMaker endpoint the pipeline deploys to.',
    });
  }
}
