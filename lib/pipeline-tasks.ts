import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { createHash } from 'crypto';
import { join } from 'path';

/**
 * Errors worth retrying in every Task: Lambda's service-side errors and throttling, and the throttling and
 * availability errors of the AWS services the state machine calls. Anything else (a handler's own error, a
 * failed training job) goes straight to the stage's Catch.
 */
export const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
  'SageMaker.ThrottlingException',
  'SageMaker.ServiceUnavailableException',
  'SageMaker.InternalServerException',
  'SNS.ThrottledException',
  'SNS.InternalErrorException',
  'SSM.ThrottlingException',
  'SSM.InternalServerErrorException',
  'S3.SlowDownException',
  'S3.InternalErrorException',
  'Sfn.ThrottlingException',
  'DynamoDB.ProvisionedThroughputExceededException',
  'DynamoDB.RequestLimitExceededException',
  'DynamoDB.ThrottlingException',
  'DynamoDB.InternalServerErrorException',
];

/** Adds the pipeline's retry policy (exponential backoff with full jitter) to a state; returns it. */
export function withRetry<T extends sfn.TaskStateBase | sfn.CustomState>(state: T): T {
  state.addRetry({
    errors: TRANSIENT_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 5,
    maxDelay: Duration.minutes(1),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return state;
}

/**
 * An S3 location for a SageMaker task whose binding grants nothing, for roles granted on their prefixes
 * explicitly: the CDK's locations grant `s3:GetObject` on `*` for a JSONPath location and delete rights on an
 * output prefix.
 */
export class UngrantedS3Location extends tasks.S3Location {
  constructor(private readonly uri: string) {
    super();
  }

  public bind(): tasks.S3LocationConfig {
    return { uri: this.uri };
  }
}

/**
 * Lets a SageMaker job role write its job logs (`/aws/sagemaker/<jobs>` log group) and publish metrics in one
 * CloudWatch namespace (PutMetricData has no resource-level permissions, so the namespace condition scopes it).
 */
export function grantSageMakerJobLogging(
  role: iam.IRole,
  jobs: 'TrainingJobs' | 'LabelingJobs',
  metricNamespace: string,
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'logs:DescribeLogStreams',
      ],
      resources: [
        Stack.of(role).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `/aws/sagemaker/${jobs}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringLike: { 'cloudwatch:namespace': metricNamespace } },
    }),
  );
}

/**
 * A Task state's Amazon States Language with `extra` merged over its Parameters: the one way this app adds API
 * fields a CDK task does not model. Each task class below overrides the public `toStateJson()` with it, so the
 * CDK task still renders everything it models and derives its IAM; nothing overrides the tasks' `_renderTask`,
 * which is internal to aws-cdk-lib. JSONPath values in `extra` are written with `JsonPath.*`.
 * @param rendered - the state as `toStateJson()` renders it (a JSONPath state)
 * @throws Error when the state is a JSONata state, whose fields are `Arguments` rather than `Parameters`
 */
export function withExtraParameters(
  rendered: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  if (rendered.Arguments !== undefined) {
    throw new Error('withExtraParameters merges into Parameters; this state uses JSONata Arguments');
  }
  const task = rendered as { Parameters?: Record<string, unknown> };
  return { ...task, Parameters: { ...task.Parameters, ...sfn.FieldUtils.renderObject(extra) } };
}

/**
 * What the SageMaker task classes below add to the CDK tasks' properties. Each class replaces the CDK task's
 * protected `taskPolicies`, which the state machine reads when the state joins its graph; the field is re-declared
 * with `declare`, so that the subclass does not reset what the CDK constructor set.
 */
export interface StatePolicyProps {
  /**
   * The state machine's permissions for this state, in place of the ones the CDK task derives. For a name given as
   * JSONPath, as run names are, the CDK tasks allow their actions on every resource of the kind in the account
   * (`model/*`); the stage knows the names' prefix and scopes them (see {@link runResourceArn}).
   * @default - the CDK task's own statements
   */
  readonly policyStatements?: iam.PolicyStatement[];
}

/** Properties of {@link SpotTrainingJob}. */
export interface SpotTrainingJobProps extends tasks.SageMakerCreateTrainingJobProps, StatePolicyProps {
  /**
   * Parameters of CreateTrainingJob the CDK task does not model (managed spot training, checkpoints, the spot
   * stopping condition), merged over the ones it renders. JSONPath values with `JsonPath.*`.
   */
  readonly extraParameters: Record<string, unknown>;
}

/**
 * SageMakerCreateTrainingJob plus the CreateTrainingJob fields the CDK task lacks: EnableManagedSpotTraining,
 * CheckpointConfig and StoppingCondition.MaxWaitTimeInSeconds (aws/aws-cdk#8794 is a request for another field
 * it lacks, where the maintainers call the task's gaps feature requests), and the state machine's permissions
 * given by the stage ({@link StatePolicyProps}). Everything else is the task's own.
 */
export class SpotTrainingJob extends tasks.SageMakerCreateTrainingJob {
  declare protected readonly taskPolicies?: iam.PolicyStatement[];
  private readonly extraParameters: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: SpotTrainingJobProps) {
    super(scope, id, props);
    this.extraParameters = props.extraParameters;
    this.taskPolicies = props.policyStatements ?? this.taskPolicies;
  }

  /** The CDK task's state with {@link SpotTrainingJobProps.extraParameters} merged into its Parameters. */
  public override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): Record<string, unknown> {
    return withExtraParameters(
      super.toStateJson(topLevelQueryLanguage) as Record<string, unknown>,
      this.extraParameters,
    );
  }
}

/** Properties of {@link BlueGreenUpdateEndpoint}. */
export interface BlueGreenUpdateEndpointProps extends tasks.SageMakerUpdateEndpointProps, StatePolicyProps {
  /** UpdateEndpoint's DeploymentConfig, which the CDK task does not model. */
  readonly deploymentConfig: Record<string, unknown>;
}

/**
 * SageMakerUpdateEndpoint with a DeploymentConfig (blue/green traffic shifting and alarm-based rollback), which
 * the CDK task does not model (aws/aws-cdk#23152 asks for deployment guardrails in CDK's SageMaker endpoint
 * construct), and the state machine's permissions given by the stage ({@link StatePolicyProps}).
 */
export class BlueGreenUpdateEndpoint extends tasks.SageMakerUpdateEndpoint {
  declare protected readonly taskPolicies?: iam.PolicyStatement[];
  private readonly deploymentConfig: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: BlueGreenUpdateEndpointProps) {
    super(scope, id, props);
    this.deploymentConfig = props.deploymentConfig;
    this.taskPolicies = props.policyStatements ?? this.taskPolicies;
  }

  /** The CDK task's state with the DeploymentConfig merged into its Parameters. */
  public override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): Record<string, unknown> {
    return withExtraParameters(super.toStateJson(topLevelQueryLanguage) as Record<string, unknown>, {
      DeploymentConfig: this.deploymentConfig,
    });
  }
}

/** SageMakerCreateModel with the state machine's permissions given by the stage ({@link StatePolicyProps}). */
export class ScopedCreateModel extends tasks.SageMakerCreateModel {
  declare protected readonly taskPolicies?: iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: tasks.SageMakerCreateModelProps & StatePolicyProps) {
    super(scope, id, props);
    this.taskPolicies = props.policyStatements ?? this.taskPolicies;
  }
}

/**
 * SageMakerCreateTransformJob with the state machine's permissions given by the construct
 * ({@link StatePolicyProps}): the CDK task allows its actions on every transform job in the account and ListTags
 * on `*`.
 */
export class ScopedCreateTransformJob extends tasks.SageMakerCreateTransformJob {
  declare protected readonly taskPolicies?: iam.PolicyStatement[];

  constructor(
    scope: Construct,
    id: string,
    props: tasks.SageMakerCreateTransformJobProps & StatePolicyProps,
  ) {
    super(scope, id, props);
    this.taskPolicies = props.policyStatements ?? this.taskPolicies;
  }
}

/**
 * SageMakerCreateEndpointConfig with the state machine's permissions given by the stage
 * ({@link StatePolicyProps}).
 */
export class ScopedCreateEndpointConfig extends tasks.SageMakerCreateEndpointConfig {
  declare protected readonly taskPolicies?: iam.PolicyStatement[];

  constructor(
    scope: Construct,
    id: string,
    props: tasks.SageMakerCreateEndpointConfigProps & StatePolicyProps,
  ) {
    super(scope, id, props);
    this.taskPolicies = props.policyStatements ?? this.taskPolicies;
  }
}

/** Properties of {@link ServerlessCreateEndpointConfig}. */
export interface ServerlessCreateEndpointConfigProps
  extends Omit<tasks.SageMakerCreateEndpointConfigProps, 'productionVariants'>, StatePolicyProps {
  /** The one production variant's name. */
  readonly variantName: string;
  /** The model it serves; JSONPath with `JsonPath.stringAt`. */
  readonly modelName: string;
  /** ProductionVariantServerlessConfig: MemorySizeInMB, MaxConcurrency and, optionally, ProvisionedConcurrency. */
  readonly serverlessConfig: {
    readonly MemorySizeInMB: number;
    readonly MaxConcurrency: number;
    readonly ProvisionedConcurrency?: number;
  };
}

/**
 * CreateEndpointConfig for a serverless endpoint: one production variant with a ServerlessConfig and no instance
 * type or count, which the CDK task always renders (its production variants require an instance type). The
 * variant the CDK task is given is replaced whole in `toStateJson()`; everything else (name, KMS key, tags, the
 * stage's permissions) is the task's own.
 */
export class ServerlessCreateEndpointConfig extends ScopedCreateEndpointConfig {
  private readonly variant: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: ServerlessCreateEndpointConfigProps) {
    super(scope, id, {
      ...props,
      // Rendered, then replaced by the serverless variant below: the CDK type requires an instance type.
      productionVariants: [
        {
          variantName: props.variantName,
          modelName: props.modelName,
          instanceType: new ec2.InstanceType('m5.large'),
        },
      ],
    });
    this.variant = {
      VariantName: props.variantName,
      ModelName: props.modelName,
      ServerlessConfig: props.serverlessConfig,
    };
  }

  /** The CDK task's state with ProductionVariants replaced by the one serverless variant. */
  public override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): Record<string, unknown> {
    return withExtraParameters(super.toStateJson(topLevelQueryLanguage) as Record<string, unknown>, {
      ProductionVariants: [this.variant],
    });
  }
}

/** SageMakerCreateEndpoint with the state machine's permissions given by the stage ({@link StatePolicyProps}). */
export class ScopedCreateEndpoint extends tasks.SageMakerCreateEndpoint {
  declare protected readonly taskPolicies?: iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: tasks.SageMakerCreateEndpointProps & StatePolicyProps) {
    super(scope, id, props);
    this.taskPolicies = props.policyStatements ?? this.taskPolicies;
  }
}

/** Properties of {@link pipelineFunction}. */
export interface PipelineFunctionProps {
  /** Directory under `lambda/` holding the handler's `index.ts`. */
  readonly handler: string;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default 1 minute */
  readonly timeout?: Duration;
  /** @default - no extra environment */
  readonly environment?: Record<string, string>;
  /** @default - everything bundled by esbuild */
  readonly bundling?: nodejs.BundlingOptions;
}

/** One pipeline Lambda: Node 24 on x86_64, bundled locally by esbuild, logging to a retained log group. */
export function pipelineFunction(
  scope: Construct,
  id: string,
  props: PipelineFunctionProps,
): nodejs.NodejsFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.ONE_YEAR });
  return new nodejs.NodejsFunction(scope, id, {
    entry: join(__dirname, '..', 'lambda', props.handler, 'index.ts'),
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.X86_64,
    memorySize: props.memorySize ?? 512,
    timeout: props.timeout ?? Duration.minutes(1),
    logGroup,
    tracing: lambda.Tracing.ACTIVE,
    environment: { POWERTOOLS_SERVICE_NAME: `logo-detection-${props.handler}`, ...props.environment },
    bundling: { minify: true, sourceMap: true, ...props.bundling },
  });
}

/** Properties of {@link invoke}. */
export interface InvokeProps {
  /** The handler's event; JSONPath values with `JsonPath.*`. */
  readonly payload: Record<string, unknown>;
  /**
   * Where the handler's result goes in the state, e.g. `$.unlabeled`.
   * @default - the result replaces the state's input
   */
  readonly resultPath?: string;
}

/**
 * A LambdaInvoke that puts only the handler's result at `resultPath`, with the pipeline's retry policy
 * instead of the task's default (which has no jitter).
 */
export function invoke(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  props: InvokeProps,
): tasks.LambdaInvoke {
  return withRetry(
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(props.payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: props.resultPath,
    }),
  );
}

/** Six hexadecimal characters of the SHA-256 of a stack name: tells apart names that share their beginning. */
export function stackNameHash(stackName: string): string {
  return createHash('sha256').update(stackName).digest('hex').slice(0, 6);
}

/**
 * Lowercase name prefix for the SageMaker resources this stack's pipeline creates at run time: the first seven
 * letters and digits of the stack name, a hyphen and {@link stackNameHash} of the whole name, e.g.
 * `logodet-<6 hex>` for `LogoDetectionPipeline`. IAM policies scope by it (SageMaker writes names lowercased into
 * ARNs), so it must differ between stacks, and stacks named `LogoDetectionPipeline` and
 * `LogoDetectionPipeline-Staging` share every character a truncation keeps: the hash tells them apart (one stack
 * of a name per account and region). Always 8 to 14 characters (a stack name starts with a letter): with a kind
 * (up to 6) and a 40-character run id the name stays within SageMaker's 63.
 */
export function sageMakerNamePrefix(scope: Construct): string {
  const { stackName } = Stack.of(scope);
  const start = stackName
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 7);
  return `${start}-${stackNameHash(stackName)}`;
}

/**
 * The SageMaker name of a run's resource of one kind: `<prefix>-<kind>-<run id>`, where the run id is the
 * SHA-1 of the execution name (set by the pipeline's first state at `$.run.id`), because execution names may be
 * up to 80 characters and SageMaker names only 63.
 */
export function runResourceName(prefix: string, kind: string): string {
  if (kind.length > 6) throw new Error(`SageMaker resource kind "${kind}" is longer than 6 characters`);
  return sfn.JsonPath.format(`${prefix}-${kind}-{}`, sfn.JsonPath.stringAt('$.run.id'));
}

/**
 * The ARN pattern of every run's resource of one kind ({@link runResourceName}), for IAM: e.g.
 * `arn:<partition>:sagemaker:<region>:<account>:training-job/<prefix>-train-*`.
 * @param resource - the ARN's resource type: `training-job`, `model`, `endpoint-config`, `labeling-job`
 */
export function runResourceArn(scope: Construct, resource: string, prefix: string, kind: string): string {
  return Stack.of(scope).formatArn({ service: 'sagemaker', resource, resourceName: `${prefix}-${kind}-*` });
}

/** The tag every SageMaker model, endpoint config and endpoint of this stack carries (cleanup matches it). */
export { STACK_TAG_KEY } from '../contracts';
