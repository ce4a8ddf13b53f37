import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiStack } from './api-stack';
import { AppConfig, configFromContext } from './config';
import { DataStack } from './data-stack';
import { PipelineStack } from './pipeline-stack';

/** The app's three stacks. */
export interface LogoDetectionApp {
  readonly config: AppConfig;
  readonly data: DataStack;
  readonly pipeline: PipelineStack;
  readonly api: ApiStack;
}

/**
 * Composes the app: data (stateful) → pipeline → API. The stack ids are the deployed stack names.
 * @param config - defaults to the configuration read from the app's context
 */
export function buildApp(app: App, config: AppConfig = configFromContext(app.node)): LogoDetectionApp {
  const data = new DataStack(app, 'LogoDetectionData', {
    config,
    description: 'logo-detection: buckets for raw uploads, dataset, artifacts and access logs',
  });
  const pipeline = new PipelineStack(app, 'LogoDetectionPipeline', {
    config,
    buckets: data.buckets,
    description: 'logo-detection: the training pipeline from raw images to a live endpoint',
  });
  const api = new ApiStack(app, 'LogoDetectionApi', {
    config,
    endpointName: pipeline.endpointName,
    liveModel: pipeline.liveModel,
    description: 'logo-detection: the detection REST API',
  });
  return { config, data, pipeline, api };
}

/** Runs cdk-nag's AWS Solutions pack over the whole app at synthesis. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/**
 * A note for `cdk deploy` (and `cdk bootstrap`) without AWS credentials, which the CLI otherwise answers only with
 * its generic "Unable to resolve AWS account to use". The CLI runs the app with CDK_DEFAULT_REGION set, and
 * CDK_DEFAULT_ACCOUNT only when it found credentials. Undefined when the app does not run under the CLI, or when
 * credentials were found.
 */
export function missingCredentialsNote(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  if (!env.CDK_CLI_VERSION || !env.CDK_DEFAULT_REGION || env.CDK_DEFAULT_ACCOUNT) return undefined;
  return (
    'Note: the CDK CLI found no AWS credentials. cdk synth does not need them; cdk bootstrap and cdk deploy do. ' +
    'Configure them first (aws configure, or aws sso login with AWS_PROFILE=<profile>), then the region to deploy ' +
    `to (AWS_REGION, or the region of the profile; without one the CLI uses ${env.CDK_DEFAULT_REGION}).`
  );
}
