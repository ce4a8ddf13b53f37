import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { DetectionApi } from './api';
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
  /** The detection API. */
  public readonly detectionApi: DetectionApi;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { api } = props.config;
    this.detectionApi = new DetectionApi(this, 'DetectionApi', {
      endpointName: props.endpointName,
      liveModel: props.liveModel,
      auth: api.auth,
      throttleRate: api.throttleRate,
      throttleBurst: api.throttleBurst,
      quotaPerDay: api.quotaPerDay,
      corsOrigins: api.corsOrigins,
      defaultMinScore: api.defaultMinScore,
      logRemovalPolicy: props.config.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.detectionApi.url,
      description: 'Detection API base URL: POST <url>detections, GET <url>model.',
    });
    if (this.detectionApi.apiKeyId) {
      new CfnOutput(this, 'ApiKeyId', {
        value: this.detectionApi.apiKeyId,
        description:
          'API key id; get its value with: aws apigateway get-api-key --include-value --api-key <id>',
      });
    }
  }
}
