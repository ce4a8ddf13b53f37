import { RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { AppConfig } from './config';

/** Properties of {@link ApiStack}. */
export interface ApiStackProps extends StackProps {
  readonly config: AppConfig;
  /** Name of the SageMaker endpoint the API sends images to. */
  readonly endpointName: string;
  /** The live-model record to report on `GET /model`. */
  readonly liveModel: ssm.IStringParameter;
}

/** The detection API: a REST API and a Lambda proxy in front of the endpoint. */
export class ApiStack extends Stack {
  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.config.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}
