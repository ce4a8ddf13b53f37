import { Duration, IgnoreMode, Size, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { join } from 'path';
import { ChannelName, METRIC_DEFINITIONS, PREFIXES, trainingHyperparameters } from '../contracts';
import { AppConfig } from './config';
import {
  grantSageMakerJobLogging,
  runResourceArn,
  runResourceName,
  SpotTrainingJob,
  UngrantedS3Location,
  withRetry,
} from './pipeline-tasks';
import { openBranch, PipelineStage } from './stage';

/**
 * The training and serving image: training-container/Dockerfile built with the repository root as context, so the
 * image carries contracts/training-job.json beside the container's code. The root .dockerignore lets in only what
 * the Dockerfile copies, so the asset hash does not change with the rest of the repository.
 * @param device `gpu` for training, `cpu` for the endpoint (the Dockerfile's DEVICE build argument).
 */
export function detectorImage(scope: Construct, id: string, device: 'gpu' | 'cpu'): tasks.DockerImage {
  return tasks.DockerImage.fromAsset(scope, id, {
    directory: join(__dirname, '..'),
    file: 'training-container/Dockerfile',
    ignoreMode: IgnoreMode.DOCKER,
    buildArgs: { DEVICE: device },
  });
}

/** Properties of {@link Training}. */
export interface TrainingProps {
  readonly config: AppConfig;
  /** Images and the manifests `assemble-dataset` writes. */
  readonly datasetBucket: s3.IBucket;
  /** pretrained/ (read), checkpoints/ and models/ (written). */
  readonly artifactsBucket: s3.IBucket;
  /** Encrypts the training volume and the model artifacts. */
  readonly key: kms.IKey;
  /** The training image (built with DEVICE=gpu). */
  readonly image: tasks.DockerImage;
  /** Lowercase prefix of the run's SageMaker resource names. */
  readonly namePrefix: string;
  /**
   * Size of the training instance's volume.
   * @default 50 GiB
   */
  readonly volumeSize?: Size;
}

/**
 * The train stage: a SageMaker training job of the SSD detector on the assembled dataset (`$.training`:
 * DescribeTrainingJob's output). Training fine-tunes the weights under `pretrained/` when the operator put them
 * there (`npm run fetch-pretrained`), else starts from random initialization, and {@link startingWeights} says
 * which. A job that reported no metric fails the run with `NoMetrics`.
 */
export class Training extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** The role the training jobs run as. */
  public readonly role: iam.Role;
  /** Longest a training job may take, waiting for spot capacity included. */
  public readonly maxDuration: Duration;
  /**
   * For the outcome notifications, read at run time after the `Look for pretrained weights` state: a sentence saying whether the
   * model was fine-tuned from the weights under `pretrained/` or trained from random initialization, and then how
   * to supply weights.
   */
  public readonly startingWeights: string;

  constructor(scope: Construct, id: string, props: TrainingProps) {
    super(scope, id, 'train');
    const { config, datasetBucket, artifactsBucket, key, namePrefix } = props;

    // An empty File-mode channel fails the job: the pretrained channel is added only when pretrained/ holds
    // anything.
    const checkPretrained = withRetry(
      new tasks.CallAwsService(this, 'Look for pretrained weights', {
        service: 's3',
        action: 'listObjectsV2',
        iamAction: 's3:ListBucket',
        parameters: { Bucket: artifactsBucket.bucketName, Prefix: PREFIXES.pretrained, MaxKeys: 1 },
        iamResources: [artifactsBucket.bucketArn],
        resultSelector: { 'count.$': '$.KeyCount' },
        resultPath: '$.pretrained',
      }),
    );
    // KeyCount is 0 or 1 (MaxKeys 1): it picks the sentence.
    this.startingWeights = sfn.JsonPath.arrayGetItem(
      sfn.JsonPath.array(
        'Trained from random initialization: there are no weights under pretrained/ in the artifacts bucket, and a ' +
          'model trained from scratch on a few hundred photos is weak. Run npm run fetch-pretrained once to put ' +
          'the GluonCV VOC weights there, then npm run start-run -- --force.',
        'Fine-tuned from the pretrained weights under pretrained/ in the artifacts bucket.',
      ),
      sfn.JsonPath.numberAt('$.pretrained.count'),
    );

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description:
        'logo-detection training jobs: read the dataset and pretrained weights, write models and checkpoints',
    });
    // The role's policy is written out here. Bucket grants would allow s3:List* on the whole bucket and deleting
    // object versions, and the CDK training task adds grants of its own (its S3 locations', kms:CreateGrant
    // without a condition): the tasks get the role without policy updates (jobRole).
    const reads: [s3.IBucket, string[]][] = [
      [datasetBucket, [`${PREFIXES.manifests}train/`, `${PREFIXES.manifests}validation/`, PREFIXES.images]],
      [artifactsBucket, [PREFIXES.pretrained, PREFIXES.checkpoints]],
    ];
    for (const [bucket, prefixes] of reads) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
        }),
      );
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
      );
    }
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation'],
        resources: [datasetBucket.bucketArn, artifactsBucket.bucketArn],
      }),
    );
    const checkpoints = artifactsBucket.arnForObjects(`${PREFIXES.checkpoints}*`);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [checkpoints, artifactsBucket.arnForObjects(`${PREFIXES.models}*`)],
      }),
    );
    // The container removes stale checkpoint files, which SageMaker may mirror under checkpoints/. In the
    // versioned bucket a delete leaves the old version (kept 90 days): the role may not delete versions.
    this.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [checkpoints] }),
    );
    // SSE-KMS with the stack's key on what the job writes: GenerateDataKey to write, Decrypt to complete a
    // multipart upload, as the model tarball's is (S3 decrypts the parts to assemble them:
    // repost.aws/knowledge-center/s3-multipart-kms-decrypt), and to read checkpoints back. kms:Encrypt is needed
    // only when the output key is given by ID or alias (CreateTrainingJob, OutputDataConfig.KmsKeyId); the task
    // gives its ARN.
    this.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
    );
    // The training volume: grants that SageMaker and EBS create on the job's behalf, never for a principal.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateGrant'],
        resources: [key.keyArn],
        conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }),
    );
    grantSageMakerJobLogging(this.role, 'TrainingJobs', '/aws/sagemaker/TrainingJobs');
    this.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    );
    // Pulling the image, granted to the role itself (the tasks get it without policy updates).
    props.image.bind({ grantPrincipal: this.role });
    const jobRole = this.role.withoutPolicyUpdates();

    const training = config.training;
    // The state machine may create, watch, stop and tag this stack's training jobs only, and create one only
    // network-isolated, encrypted with the stack's key (volume and output) and on the configured instance type.
    // CreateTrainingJob's condition keys, per the Service Authorization Reference for SageMaker
    // (docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html): NetworkIsolation
    // (Bool), InstanceTypes (multivalued) and VolumeKmsKeyArn / OutputKmsKeyArn (ARN; they replace the deprecated
    // VolumeKmsKey / OutputKmsKey and need the key's ARN in the request, which the task sends).
    const jobs = runResourceArn(this, 'training-job', namePrefix, 'train');
    const statePolicy = [
      new iam.PolicyStatement({
        actions: ['sagemaker:CreateTrainingJob'],
        resources: [jobs],
        conditions: {
          Bool: { 'sagemaker:NetworkIsolation': 'true' },
          ArnEquals: { 'sagemaker:VolumeKmsKeyArn': key.keyArn, 'sagemaker:OutputKmsKeyArn': key.keyArn },
          // ForAllValues alone would also hold for a request that names no instance type.
          'ForAllValues:StringEquals': { 'sagemaker:InstanceTypes': [training.instanceType] },
          Null: { 'sagemaker:InstanceTypes': 'false' },
        },
      }),
      new iam.PolicyStatement({
        actions: [
          'sagemaker:DescribeTrainingJob',
          'sagemaker:StopTrainingJob',
          'sagemaker:AddTags',
          'sagemaker:ListTags',
        ],
        resources: [jobs],
      }),
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }),
      // The .sync integration learns that a job ended through this EventBridge rule.
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          Stack.of(this).formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForSageMakerTrainingJobsRule',
          }),
        ],
      }),
    ];
    this.maxDuration = Duration.seconds(
      training.useSpot ? training.maxWaitSeconds : training.maxRuntimeSeconds,
    );
    const channel = (channelName: ChannelName, bucket: s3.IBucket, prefix: string): tasks.Channel => ({
      channelName,
      dataSource: {
        s3DataSource: {
          s3Location: tasks.S3Location.fromBucket(bucket, prefix),
          s3DataType: tasks.S3DataType.S3_PREFIX,
          s3DataDistributionType: tasks.S3DataDistributionType.FULLY_REPLICATED,
        },
      },
      inputMode: tasks.InputMode.FILE,
    });
    const channels = [
      channel('train', datasetBucket, `${PREFIXES.manifests}train/`),
      channel('validation', datasetBucket, `${PREFIXES.manifests}validation/`),
      channel('images', datasetBucket, PREFIXES.images),
    ];
    // Spot capacity can be reclaimed: checkpoints let an interrupted job resume, and MaxWaitTimeInSeconds
    // bounds the wait for capacity plus the run. The CDK task models neither.
    const spot = training.useSpot
      ? {
          EnableManagedSpotTraining: true,
          CheckpointConfig: {
            S3Uri: sfn.JsonPath.format(
              `s3://${artifactsBucket.bucketName}/${PREFIXES.checkpoints}{}/`,
              sfn.JsonPath.executionName,
            ),
            LocalPath: '/opt/ml/checkpoints',
          },
          StoppingCondition: {
            MaxRuntimeInSeconds: training.maxRuntimeSeconds,
            MaxWaitTimeInSeconds: training.maxWaitSeconds,
          },
        }
      : {};
    const job = (stateId: string, withPretrained: boolean) =>
      withRetry(
        new SpotTrainingJob(this, stateId, {
          integrationPattern: sfn.IntegrationPattern.RUN_JOB,
          trainingJobName: runResourceName(namePrefix, 'train'),
          role: jobRole,
          policyStatements: statePolicy,
          algorithmSpecification: {
            trainingImage: props.image,
            trainingInputMode: tasks.InputMode.FILE,
            metricDefinitions: METRIC_DEFINITIONS.map((m) => ({ name: m.Name, regex: m.Regex })),
          },
          enableNetworkIsolation: true,
          inputDataConfig: withPretrained
            ? [...channels, channel('pretrained', artifactsBucket, PREFIXES.pretrained)]
            : channels,
          hyperparameters: trainingHyperparameters({
            classes: JSON.stringify(config.classes),
            epochs: String(training.epochs),
            batch_size: String(training.batchSize),
            learning_rate: String(training.learningRate),
            data_shape: String(training.dataShape),
            int8_tolerance: String(training.int8Tolerance),
            pretrained: withPretrained ? 'voc' : 'none',
            images_s3_prefix: `s3://${datasetBucket.bucketName}/${PREFIXES.images}`,
          }),
          outputDataConfig: {
            // Granted above (put only): the CDK location would also grant deleting under models/.
            s3OutputLocation: new UngrantedS3Location(artifactsBucket.s3UrlForObject(PREFIXES.models)),
            encryptionKey: key,
          },
          resourceConfig: {
            instanceCount: 1,
            instanceType: new ec2.InstanceType(training.instanceType.replace(/^ml\./, '')),
            volumeSize: props.volumeSize ?? Size.gibibytes(50),
            volumeEncryptionKey: key,
          },
          stoppingCondition: { maxRuntime: Duration.seconds(training.maxRuntimeSeconds) },
          tags: { 'logo-detection:execution': sfn.JsonPath.executionName },
          extraParameters: spot,
          resultPath: '$.training',
        }),
      );
    const train = job('Train', false);
    const trainFromPretrained = job('Train from pretrained weights', true);
    this.catchFailures(checkPretrained, train, trainFromPretrained);

    // A job that printed no metric has no FinalMetricDataList; reading it in the quality gate's payload would fail
    // the execution without any notification.
    const metricsReported = new sfn.Choice(this, 'Metrics reported?').otherwise(
      this.failWith('No metrics', {
        result: sfn.Result.fromObject({
          Error: 'NoMetrics',
          Cause:
            'The training job finished without reporting best_val_mAP; see its CloudWatch log for what it printed.',
        }),
      }),
    );
    this.startState = checkPretrained;
    this.endStates = [
      openBranch(metricsReported, sfn.Condition.isPresent('$.training.FinalMetricDataList[0]')),
    ];
    checkPretrained.next(
      new sfn.Choice(this, 'Pretrained weights uploaded?')
        .when(
          sfn.Condition.numberGreaterThan('$.pretrained.count', 0),
          trainFromPretrained.next(metricsReported),
        )
        .otherwise(train.next(metricsReported)),
    );
  }
}
