import { Duration, Size, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  DetectPrepareEvent,
  DetectResultsEvent,
  MAX_DETECT_IMAGE_BYTES,
  PREFIXES,
  STACK_TAG_KEY,
} from '../contracts';
import { DetectConfig } from './config';
import { handlerEvent } from './handler-event';
import { Notifications } from './notifications';
import {
  invoke,
  pipelineFunction,
  runResourceArn,
  runResourceName,
  ScopedCreateTransformJob,
  withRetry,
} from './pipeline-tasks';
import { loggedStateMachine, WorkflowLogProps } from './workflow';

/** Names of the states a detect execution ends in. */
export const DETECT_OUTCOME_STATES = { done: 'Detections written', failed: 'Detection failed' } as const;

/**
 * The transform job's environment: serve's batch mode (an image's error is answered 200 with the error object,
 * because one error status fails the whole job) and the execution's minScore.
 */
export const BATCH_ENVIRONMENT = { mode: 'BATCH_MODE', minScore: 'BATCH_MIN_SCORE' } as const;

/** Properties of {@link Detection}. */
export interface DetectionProps extends WorkflowLogProps {
  readonly config: DetectConfig;
  /**
   * minScore when the operator gives none (`apiDefaultMinScore`, as the API).
   * @default the live model's calibrated threshold, read when the job starts
   */
  readonly defaultMinScore?: number;
  /** The buckets batch detection may read images from. */
  readonly inputBuckets: s3.IBucket[];
  /** Holds each job's manifest, answers and results under `detections/`. */
  readonly artifactsBucket: s3.IBucket;
  /**
   * The role of the pipeline's models, which a transform job runs as (CreateTransformJob takes no role of its own):
   * it gets read access to the input buckets and `detections/`, and writes the job's answers there.
   */
  readonly modelRole: iam.IRole;
  /** Encrypts the transform job's answers. */
  readonly key: kms.IKey;
  /** The live-model record: which model version a job runs. */
  readonly liveModel: ssm.IStringParameter;
  /** Where the outcome of each job is published. */
  readonly notifications: Notifications;
  /** Lowercase prefix of the stack's SageMaker resource names. */
  readonly namePrefix: string;
  /**
   * Longest a detection job may take before Step Functions stops it.
   * @default 1 day
   */
  readonly timeout?: Duration;
}

/**
 * The detect workflow, a state machine of its own beside the pipeline's: `detect-prepare` checks the request
 * ({@link DetectRequest}), finds the live model's SageMaker model and writes the list of images (leaving out, with
 * the reason, objects a transform job would fail on); a SageMaker Batch Transform job (`.sync`) sends each image
 * to the model's `/invocations`, one image per request; `detect-results` turns the answers into JSON Lines (and
 * annotated copies when asked for); the outcome is published to the pipeline's topic. Start it with
 * `npm run detect`.
 */
export class Detection extends Construct {
  /** The detect workflow (standard). */
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: DetectionProps) {
    super(scope, id);
    const { config, artifactsBucket, modelRole, key, notifications, namePrefix } = props;
    const stack = Stack.of(this);
    if (props.inputBuckets.length === 0) throw new Error('Detection needs at least one input bucket');
    const detections = `${PREFIXES.detections}*`;
    const listInputs = new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: props.inputBuckets.map((bucket) => bucket.bucketArn),
    });

    const prepareFunction = pipelineFunction(this, 'PrepareFunction', {
      handler: 'detect-prepare',
      timeout: Duration.minutes(5),
      environment: {
        LIVE_MODEL_PARAMETER: props.liveModel.parameterName,
        DETECT_INPUT_BUCKETS: props.inputBuckets.map((bucket) => bucket.bucketName).join(','),
        ...(props.defaultMinScore === undefined ? {} : { DEFAULT_MIN_SCORE: String(props.defaultMinScore) }),
      },
    });
    // Lists the inputs (reads none), writes the manifest and the refused list.
    prepareFunction.addToRolePolicy(listInputs);
    artifactsBucket.grantPut(prepareFunction, detections);
    props.liveModel.grantRead(prepareFunction);

    const resultsFunction = pipelineFunction(this, 'ResultsFunction', {
      handler: 'detect-results',
      memorySize: 2048,
      timeout: Duration.minutes(15),
      bundling: {
        // sharp draws the annotated copies: installed as the preprocess function installs it (Lambda's build).
        nodeModules: ['sharp'],
        forceDockerBundling: false,
        environment: { npm_config_os: 'linux', npm_config_cpu: 'x64', npm_config_libc: 'glibc' },
      },
    });
    // Reads the job's files and the input images (for annotated copies), writes the results; never deletes.
    artifactsBucket.grantRead(resultsFunction, detections);
    artifactsBucket.grantPut(resultsFunction, detections);
    props.inputBuckets.forEach((bucket) => bucket.grantRead(resultsFunction));
    key.grantDecrypt(resultsFunction);

    // The transform job runs as the model's role: it reads the manifest and the images, and writes its answers.
    props.inputBuckets.forEach((bucket) => bucket.grantRead(modelRole));
    artifactsBucket.grantRead(modelRole, detections);
    artifactsBucket.grantPut(modelRole, detections);
    key.grant(modelRole, 'kms:GenerateDataKey*');

    const startDetection = new sfn.Pass(this, 'Start detection', {
      parameters: {
        id: sfn.JsonPath.hash(sfn.JsonPath.executionName, 'SHA-1'),
        execution: sfn.JsonPath.executionName,
      },
      resultPath: '$.run',
    });
    const prepare = invoke(this, 'Prepare images', prepareFunction, {
      payload: handlerEvent<DetectPrepareEvent>({
        executionName: sfn.JsonPath.executionName,
        request: sfn.JsonPath.objectAt('$$.Execution.Input'),
        artifactsBucket: artifactsBucket.bucketName,
      }),
      resultPath: '$.prepared',
    });

    const jobs = runResourceArn(this, 'transform-job', namePrefix, 'detect');
    const transform = withRetry(
      new ScopedCreateTransformJob(this, 'Detect in batch', {
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        transformJobName: runResourceName(namePrefix, 'detect'),
        modelName: sfn.JsonPath.stringAt('$.prepared.modelName'),
        role: modelRole,
        // One image per request, as the endpoint takes them; no image larger than serve's limit is listed.
        batchStrategy: tasks.BatchStrategy.SINGLE_RECORD,
        maxPayload: Size.mebibytes(MAX_DETECT_IMAGE_BYTES / 1024 / 1024),
        environment: {
          [BATCH_ENVIRONMENT.mode]: 'true',
          [BATCH_ENVIRONMENT.minScore]: sfn.JsonPath.stringAt('$.prepared.minScore'),
        },
        transformInput: {
          transformDataSource: {
            s3DataSource: {
              s3Uri: sfn.JsonPath.stringAt('$.prepared.manifestUri'),
              s3DataType: tasks.S3DataType.MANIFEST_FILE,
            },
          },
          // serve takes the bytes and decides the format from them.
          contentType: 'application/octet-stream',
          splitType: tasks.SplitType.NONE,
        },
        transformOutput: {
          s3OutputPath: sfn.JsonPath.stringAt('$.prepared.transformOutputUri'),
          accept: 'application/json',
          assembleWith: tasks.AssembleWith.NONE,
          encryptionKey: key,
        },
        transformResources: {
          instanceCount: 1,
          instanceType: new ec2.InstanceType(config.instanceType.replace(/^ml\./, '')),
        },
        tags: { [STACK_TAG_KEY]: stack.stackName },
        policyStatements: [
          new iam.PolicyStatement({
            actions: [
              'sagemaker:CreateTransformJob',
              'sagemaker:DescribeTransformJob',
              'sagemaker:StopTransformJob',
              'sagemaker:AddTags',
              'sagemaker:ListTags',
            ],
            resources: [jobs],
          }),
          new iam.PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [modelRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
          }),
          new iam.PolicyStatement({
            actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
            resources: [
              stack.formatArn({
                service: 'events',
                resource: 'rule',
                resourceName: 'StepFunctionsGetEventsForSageMakerTransformJobsRule',
              }),
            ],
          }),
        ],
        resultSelector: {
          name: sfn.JsonPath.stringAt('$.TransformJobName'),
          status: sfn.JsonPath.stringAt('$.TransformJobStatus'),
        },
        resultPath: '$.transform',
      }),
    );

    const results = invoke(this, 'Write detections', resultsFunction, {
      payload: handlerEvent<DetectResultsEvent>({
        executionName: sfn.JsonPath.executionName,
        artifactsBucket: artifactsBucket.bucketName,
        prepared: sfn.JsonPath.objectAt('$.prepared'),
      }),
      resultPath: '$.results',
    });

    const failed = new sfn.Fail(this, DETECT_OUTCOME_STATES.failed, {
      error: 'DetectionFailed',
      causePath: '$.error.Cause',
    });
    const notifyFailure = notifications
      .publish('Notify detection failed', 'logo-detection: batch detection failed', {
        outcome: 'detect-failed',
        summary: sfn.JsonPath.format('Batch detection failed: {}', sfn.JsonPath.stringAt('$.error.Cause')),
        error: sfn.JsonPath.stringAt('$.error.Error'),
        cause: sfn.JsonPath.stringAt('$.error.Cause'),
        // The whole request: a field of it may be what is missing.
        request: sfn.JsonPath.objectAt('$$.Execution.Input'),
        execution: sfn.JsonPath.executionName,
      })
      .addCatch(failed, { resultPath: '$.notifyError' })
      .next(failed);
    // A DetectError is the handler telling the operator what to fix: its message is the cause, not the Lambda's JSON.
    prepare.addCatch(
      new sfn.Pass(this, 'Read request error', {
        parameters: { detail: sfn.JsonPath.stringToJson(sfn.JsonPath.stringAt('$.error.Cause')) },
        resultPath: '$.handlerError',
      })
        .next(
          new sfn.Pass(this, 'Request refused', {
            parameters: {
              Error: 'DetectError',
              Cause: sfn.JsonPath.stringAt('$.handlerError.detail.errorMessage'),
            },
            resultPath: '$.error',
          }),
        )
        .next(notifyFailure),
      { errors: ['DetectError'], resultPath: '$.error' },
    );
    [prepare, transform, results].forEach((state) =>
      state.addCatch(notifyFailure, { resultPath: '$.error' }),
    );

    const done = new sfn.Succeed(this, DETECT_OUTCOME_STATES.done);
    const notifyDone = notifications
      .publish('Notify detections', 'logo-detection: batch detection finished', {
        outcome: 'detected',
        summary: sfn.JsonPath.format(
          'Batch detection of {} by model {}: {} images answered ({} with detections, {} detections in all), ' +
            '{} not answered (listed with the reason in {}). Detections: {}',
          sfn.JsonPath.stringAt('$.prepared.input'),
          sfn.JsonPath.stringAt('$.prepared.modelVersion'),
          sfn.JsonPath.stringAt('$.results.answered'),
          sfn.JsonPath.stringAt('$.results.withDetections'),
          sfn.JsonPath.stringAt('$.results.detections'),
          sfn.JsonPath.stringAt('$.results.failed'),
          sfn.JsonPath.stringAt('$.results.failuresUri'),
          sfn.JsonPath.stringAt('$.results.detectionsUri'),
        ),
        input: sfn.JsonPath.stringAt('$.prepared.input'),
        model: sfn.JsonPath.stringAt('$.prepared.modelVersion'),
        results: sfn.JsonPath.objectAt('$.results'),
        execution: sfn.JsonPath.executionName,
      })
      .addCatch(failed, { resultPath: '$.error' })
      .next(done);

    const definition = sfn.Chain.start(startDetection)
      .next(prepare)
      .next(
        new sfn.Choice(this, 'Any image to send?')
          .when(sfn.Condition.numberGreaterThan('$.prepared.images', 0), transform.next(results))
          .otherwise(results),
      );
    results.next(notifyDone);

    this.stateMachine = loggedStateMachine(this, {
      comment: 'logo-detection: batch detection of an S3 prefix with the live model',
      definition,
      timeout: props.timeout ?? Duration.days(1),
      executionLogLevel: props.executionLogLevel,
      destroyLogs: props.destroyLogs,
    });
    // SNS publishes to the encrypted topic.
    key.grant(this.stateMachine, 'kms:GenerateDataKey*', 'kms:Decrypt');
  }
}
