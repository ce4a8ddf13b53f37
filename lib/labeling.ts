import { Aws, CfnMapping, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  DATASET_LABEL_ATTRIBUTE,
  FindUnlabeledEvent,
  GroundTruthLabelsEvent,
  LABELING_JOB_KEYS,
  PREFIXES,
  RequestLabelsEvent,
} from '../contracts';
import { LabelingConfig } from './config';
import { handlerEvent } from './handler-event';
import {
  grantSageMakerJobLogging,
  invoke,
  pipelineFunction,
  runResourceName,
  withRetry,
} from './pipeline-tasks';
import { openBranch, PipelineStage } from './stage';

/**
 * Accounts that publish Ground Truth's built-in bounding-box Lambdas (PRE-BoundingBox, ACS-BoundingBox), per
 * region, as listed in the SageMaker API reference (HumanTaskConfig.PreHumanTaskLambdaArn). Deploying
 * Ground Truth mode to a region missing here fails at deploy time with a mapping error.
 */
export const GROUND_TRUTH_LAMBDA_ACCOUNTS: Record<string, string> = {
  'us-east-1': '432418664414',
  'us-east-2': '266458841044',
  'us-west-2': '081040173940',
  'ca-central-1': '918755190332',
  'eu-west-1': '568282634449',
  'eu-west-2': '487402164563',
  'eu-central-1': '203001061592',
  'ap-northeast-1': '477331159723',
  'ap-northeast-2': '845288260483',
  'ap-south-1': '565803892007',
  'ap-southeast-1': '377565633583',
  'ap-southeast-2': '454466003867',
};

/** Properties of {@link Labeling}. */
export interface LabelingProps {
  readonly config: LabelingConfig;
  /** Class names, in class-id order. */
  readonly classes: string[];
  readonly rawBucket: s3.IBucket;
  /** Holds images/, labels/, manifests/ and ground-truth/. */
  readonly datasetBucket: s3.IBucket;
  /** Where `request-labels` asks operators for labels (import mode). */
  readonly topic: sns.ITopic;
  /** Lowercase prefix of the run's SageMaker resource names. */
  readonly namePrefix: string;
  /**
   * How long an import-mode run waits for the operator to import labels.
   * @default 7 days
   */
  readonly importTimeout?: Duration;
  /**
   * How long a Ground Truth task stays available to workers.
   * @default 10 days
   */
  readonly taskAvailability?: Duration;
}

/**
 * The label stage: find the preprocessed images without a label (`$.unlabeled`) and have them labeled, by a
 * Ground Truth bounding-box job for a private workteam or by waiting for the operator to import a label file
 * ({@link LabelsImported} at `$.labels`). With nothing to label, a run that preprocessed new images, or was
 * started with `{"force": true}`, goes straight on; any other leaves at {@link nothingNew}.
 */
export class Labeling extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Left when there is nothing to label, no new image and no `force`: the run has nothing to train on. */
  public readonly nothingNew: sfn.INextable;
  /** Longest the labeling step may take: the import wait, or how long Ground Truth tasks stay available. */
  public readonly maxDuration: Duration;

  constructor(scope: Construct, id: string, props: LabelingProps) {
    super(scope, id, 'label');
    const { datasetBucket, rawBucket } = props;
    const buckets = { rawBucket: rawBucket.bucketName, datasetBucket: datasetBucket.bucketName };
    const importTimeout = props.importTimeout ?? Duration.days(7);
    const taskAvailability = props.taskAvailability ?? Duration.days(10);
    this.maxDuration = props.config.mode === 'groundtruth' ? taskAvailability : importTimeout;

    // It reads every label document of an existing image, to compare the image it records with the listing.
    const findFunction = pipelineFunction(this, 'FindFunction', {
      handler: 'find-unlabeled',
      timeout: Duration.minutes(5),
    });
    datasetBucket.grantRead(findFunction, `${PREFIXES.images}*`);
    datasetBucket.grantRead(findFunction, `${PREFIXES.labels}*`);
    datasetBucket.grantPut(findFunction, `${PREFIXES.manifests}labeling/*`);
    const find = invoke(this, 'Find unlabeled images', findFunction, {
      payload: handlerEvent<FindUnlabeledEvent>({ ...buckets, executionName: sfn.JsonPath.executionName }),
      resultPath: '$.unlabeled',
    });
    this.explainHandlerError(find, 'MigrationNeededError', {
      read: 'Read label migration error',
      explained: 'Label migration needed',
    });
    this.catchFailures(find);

    let label: sfn.Chain;
    if (props.config.mode === 'groundtruth') {
      if (!props.config.workteamArn) throw new Error('Labeling: groundtruth mode needs a workteamArn');
      label = this.groundTruth(props, props.config.workteamArn, buckets, taskAvailability);
    } else {
      label = this.waitForImport(props, buckets, importTimeout);
    }

    const anythingNew = new sfn.Choice(this, 'Anything new?').when(
      sfn.Condition.numberGreaterThan('$.unlabeled.count', 0),
      label,
    );
    const newImagesOrForced = sfn.Condition.or(
      sfn.Condition.numberGreaterThan('$.preprocess.processed', 0),
      sfn.Condition.and(sfn.Condition.isPresent('$.force'), sfn.Condition.booleanEquals('$.force', true)),
    );
    this.startState = find;
    this.endStates = [...label.endStates, openBranch(anythingNew, newImagesOrForced)];
    this.nothingNew = openBranch(anythingNew);
    find.next(anythingNew);
  }

  /**
   * Import mode: `request-labels` asks the operator for labels and the run waits for the label import's task
   * token; after `importTimeout` the run fails with `LabelsNotImported`.
   */
  private waitForImport(
    props: LabelingProps,
    buckets: { rawBucket: string; datasetBucket: string },
    importTimeout: Duration,
  ): sfn.Chain {
    const requestFunction = pipelineFunction(this, 'RequestFunction', { handler: 'request-labels' });
    props.datasetBucket.grantPut(requestFunction, `${PREFIXES.manifests}labeling/*`);
    props.topic.grantPublish(requestFunction);
    const wait = withRetry(
      new tasks.LambdaInvoke(this, 'Wait for imported labels', {
        lambdaFunction: requestFunction,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject(
          handlerEvent<RequestLabelsEvent>({
            ...buckets,
            taskToken: sfn.JsonPath.taskToken,
            executionName: sfn.JsonPath.executionName,
            classes: props.classes,
            unlabeled: sfn.JsonPath.objectAt('$.unlabeled'),
            topicArn: props.topic.topicArn,
          }),
        ),
        retryOnServiceExceptions: false,
        taskTimeout: sfn.Timeout.duration(importTimeout),
        resultPath: '$.labels',
      }),
    );
    // The first matching Catch wins (CDK renders the catch-all last): the timeout has its own message.
    wait.addCatch(
      this.failWith('Labels not imported in time', {
        result: sfn.Result.fromObject({
          Error: 'LabelsNotImported',
          Cause:
            `No labels were imported within ${importTimeout.toHumanString()}. ` +
            'Import labels for the images listed in the labeling request, then start a new run.',
        }),
      }),
      { errors: ['States.Timeout'], resultPath: '$.error' },
    );
    this.catchFailures(wait);
    return sfn.Chain.start(wait);
  }

  /**
   * Ground Truth mode: write the worker UI and categories, run the job, convert its output (unusable labels
   * fail the run with `LabelFileError` and the handler's message).
   */
  private groundTruth(
    props: LabelingProps,
    workteamArn: string,
    buckets: { rawBucket: string; datasetBucket: string },
    taskAvailability: Duration,
  ): sfn.Chain {
    const { datasetBucket, namePrefix } = props;
    const stack = Stack.of(this);
    const bucketName = datasetBucket.bucketName;

    const jobRole = new iam.Role(this, 'GroundTruthRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'Ground Truth bounding-box jobs: read images and manifests, write ground-truth/',
    });
    datasetBucket.grantRead(jobRole, `${PREFIXES.images}*`);
    datasetBucket.grantRead(jobRole, `${PREFIXES.manifests}labeling/*`);
    datasetBucket.grantReadWrite(jobRole, `${PREFIXES.groundTruth}*`);
    grantSageMakerJobLogging(jobRole, 'LabelingJobs', 'AWS/SageMaker*');

    const writeObject = (id: string, key: string, body: string, contentType: string) =>
      withRetry(
        new tasks.CallAwsService(this, id, {
          service: 's3',
          action: 'putObject',
          parameters: { Bucket: bucketName, Key: key, Body: body, ContentType: contentType },
          iamResources: [datasetBucket.arnForObjects(key)],
          resultPath: sfn.JsonPath.DISCARD,
        }),
      );
    const categories = {
      'document-version': '2018-11-28',
      labels: props.classes.map((label) => ({ label })),
    };
    const writeCategories = writeObject(
      'Write label categories',
      LABELING_JOB_KEYS.categories,
      JSON.stringify(categories),
      'application/json',
    );
    const writeTemplate = writeObject(
      'Write worker UI template',
      LABELING_JOB_KEYS.template,
      readFileSync(join(__dirname, 'labeling', 'bounding-box.liquid.html'), 'utf8'),
      'text/html',
    );

    const accounts = new CfnMapping(this, 'GroundTruthLambdaAccounts', {
      mapping: Object.fromEntries(
        Object.entries(GROUND_TRUTH_LAMBDA_ACCOUNTS).map(([region, account]) => [region, { account }]),
      ),
    });
    const builtIn = (name: string) =>
      `arn:${Aws.PARTITION}:lambda:${Aws.REGION}:${accounts.findInMap(Aws.REGION, 'account')}:function:${name}`;
    const jobName = runResourceName(namePrefix, 'labels');
    const s3Uri = (key: string) => `s3://${bucketName}/${key}`;

    const createJob = withRetry(
      new sfn.CustomState(this, 'Label with Ground Truth', {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${Aws.PARTITION}:states:::sagemaker:createLabelingJob.sync`,
          Parameters: {
            'LabelingJobName.$': jobName,
            LabelAttributeName: DATASET_LABEL_ATTRIBUTE,
            RoleArn: jobRole.roleArn,
            LabelCategoryConfigS3Uri: s3Uri(LABELING_JOB_KEYS.categories),
            InputConfig: {
              DataSource: {
                S3DataSource: {
                  'ManifestS3Uri.$': sfn.JsonPath.format(
                    `s3://${bucketName}/{}`,
                    sfn.JsonPath.stringAt('$.unlabeled.manifestKey'),
                  ),
                },
              },
              DataAttributes: {
                ContentClassifiers: ['FreeOfPersonallyIdentifiableInformation', 'FreeOfAdultContent'],
              },
            },
            OutputConfig: { S3OutputPath: s3Uri(PREFIXES.groundTruth) },
            HumanTaskConfig: {
              WorkteamArn: workteamArn,
              UiConfig: { UiTemplateS3Uri: s3Uri(LABELING_JOB_KEYS.template) },
              PreHumanTaskLambdaArn: builtIn('PRE-BoundingBox'),
              AnnotationConsolidationConfig: { AnnotationConsolidationLambdaArn: builtIn('ACS-BoundingBox') },
              TaskTitle: 'Draw a box around each logo',
              TaskDescription: `Draw a tight bounding box around every visible logo (${props.classes.join(', ')}).`,
              TaskKeywords: ['image', 'bounding box', 'logo'],
              NumberOfHumanWorkersPerDataObject: 1,
              TaskTimeLimitInSeconds: 600,
              TaskAvailabilityLifetimeInSeconds: taskAvailability.toSeconds(),
              MaxConcurrentTaskCount: 1000,
            },
          },
          ResultSelector: {
            'jobName.$': '$.LabelingJobName',
            'outputManifestUri.$': '$.LabelingJobOutput.OutputDatasetS3Uri',
          },
          ResultPath: '$.labelingJob',
        },
      }),
    );

    const convertFunction = pipelineFunction(this, 'GroundTruthLabelsFunction', {
      handler: 'ground-truth-labels',
      timeout: Duration.minutes(5),
    });
    datasetBucket.grantRead(convertFunction, `${PREFIXES.groundTruth}*`);
    datasetBucket.grantRead(convertFunction, `${PREFIXES.images}*`);
    datasetBucket.grantPut(convertFunction, `${PREFIXES.labels}*`);
    const convert = invoke(this, 'Import Ground Truth labels', convertFunction, {
      payload: handlerEvent<GroundTruthLabelsEvent>({
        ...buckets,
        outputManifestUri: sfn.JsonPath.stringAt('$.labelingJob.outputManifestUri'),
        labelAttributeName: DATASET_LABEL_ATTRIBUTE,
        classes: props.classes,
      }),
      resultPath: '$.labels',
    });
    this.explainHandlerError(convert, 'LabelFileError', {
      read: 'Read label error',
      explained: 'Labels not usable',
    });

    // The labeling job is a CustomState, which grants nothing itself.
    this.stateMachinePolicy.push(
      new iam.PolicyStatement({
        actions: [
          'sagemaker:CreateLabelingJob',
          'sagemaker:DescribeLabelingJob',
          'sagemaker:StopLabelingJob',
        ],
        resources: [
          stack.formatArn({
            service: 'sagemaker',
            resource: 'labeling-job',
            resourceName: `${namePrefix}-labels-*`,
          }),
        ],
      }),
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          stack.formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForSageMakerLabelingJobsRule',
          }),
        ],
      }),
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [jobRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }),
    );
    this.catchFailures(writeCategories, writeTemplate, createJob, convert);
    return sfn.Chain.start(writeCategories).next(writeTemplate).next(createJob).next(convert);
  }
}
