import { Duration, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { METRIC_DEFINITIONS } from '../contracts';
import { AppConfig } from './config';
import { PREFIXES } from './data';
import {
  grantSageMakerJobLogging,
  invoke,
  pipelineFunction,
  runResourceName,
  SpotTrainingJob,
  UngrantedS3Location,
  withRetry,
} from './pipeline-tasks';

/** Properties of {@link Training}. */
export interface TrainingProps {
  readonly config: AppConfig;
  /** Raw uploads (only their name is passed on, as every handler event carries both buckets). */
  readonly rawBucket: s3.IBucket;
  /** Images, labels and the manifests `assemble-dataset` writes. */
  readonly datasetBucket: s3.IBucket;
  /** pretrained/ (read), checkpoints/ and models/ (written). */
  readonly artifactsBucket: s3.IBucket;
  /** Encrypts the training volume and the model artifacts. */
  readonly key: kms.IKey;
  /** The training image (built with DEVICE=gpu). */
  readonly image: tasks.DockerImage;
  /** Lowercase prefix of the run's SageMaker resource names. */
  readonly namePrefix: string;
  /** The live-model record the quality gate compares against. */
  readonly liveModel: ssm.IStringParameter;
  /**
   * Percentage of images held out for validation.
   * @default 20
   */
  readonly validationPercent?: number;
  /**
   * Size of the training instance's volume.
   * @default 50 GiB
   */
  readonly volumeSize?: Size;
}

/**
 * Stages 3 to 5: assemble the cumulative dataset (`$.dataset`), train the SSD detector on SageMaker
 * (`$.training`: DescribeTrainingJob's output) and let the quality gate decide (`$.gate`).
 * Training fine-tunes the weights under `pretrained/` when the operator put them there (`npm run fetch-pretrained`),
 * else starts from random initialization, and {@link startingWeights} says which.
 */
export class Training extends Construct {
  /** Writes the dataset manifests and the train/validation split. */
  public readonly assemble: tasks.LambdaInvoke;
  /** Checks whether `pretrained/` holds anything (an empty File-mode channel fails the job). */
  public readonly checkPretrained: tasks.CallAwsService;
  /** Routes to one of the two training tasks. */
  public readonly choosePretrained: sfn.Choice;
  /** Training from random initialization (`pretrained=none`): nothing under `pretrained/`. */
  public readonly train: SpotTrainingJob;
  /** Training from the weights under `pretrained/`. */
  public readonly trainFromPretrained: SpotTrainingJob;
  /** The quality gate (`$.gate`, {@link QualityGateResult}). */
  public readonly gate: tasks.LambdaInvoke;
  /** The role the training jobs run as. */
  public readonly role: iam.Role;
  /** Longest a training job may take, waiting for spot capacity included. */
  public readonly maxDuration: Duration;
  /**
   * For the outcome notifications, read at run time after {@link checkPretrained}: a sentence saying whether the
   * model was fine-tuned from the weights under `pretrained/` or trained from random initialization, and then how
   * to supply weights.
   */
  public readonly startingWeights: string;

  constructor(scope: Construct, id: string, props: TrainingProps) {
    super(scope, id);
    const { config, datasetBucket, artifactsBucket, key, namePrefix } = props;
    const validationPercent = props.validationPercent ?? 20;
    if (!(validationPercent > 0 && validationPercent < 100)) {
      throw new Error(`Training: validationPercent must be between 0 and 100, got ${validationPercent}`);
    }

    const assembleFunction = pipelineFunction(this, 'AssembleFunction', {
      handler: 'assemble-dataset',
      timeout: Duration.minutes(5),
      memorySize: 1024,
    });
    datasetBucket.grantRead(assembleFunction, `${PREFIXES.labels}*`);
    datasetBucket.grantRead(assembleFunction, `${PREFIXES.images}*`);
    datasetBucket.grantPut(assembleFunction, `${PREFIXES.manifests}*`);
    this.assemble = invoke(this, 'Assemble dataset', assembleFunction, {
      payload: {
        rawBucket: props.rawBucket.bucketName,
        datasetBucket: datasetBucket.bucketName,
        classes: config.classes,
        validationPercent,
      },
      resultPath: '$.dataset',
    });

    this.checkPretrained = withRetry(
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
    datasetBucket.grantRead(this.role, `${PREFIXES.manifests}train/*`);
    datasetBucket.grantRead(this.role, `${PREFIXES.manifests}validation/*`);
    datasetBucket.grantRead(this.role, `${PREFIXES.images}*`);
    artifactsBucket.grantRead(this.role, `${PREFIXES.pretrained}*`);
    artifactsBucket.grantReadWrite(this.role, `${PREFIXES.checkpoints}*`);
    artifactsBucket.grantPut(this.role, `${PREFIXES.models}*`);
    grantSageMakerJobLogging(this.role, 'TrainingJobs', '/aws/sagemaker/TrainingJobs');
    this.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    );

    const training = config.training;
    this.maxDuration = Duration.seconds(
      training.useSpot ? training.maxWaitSeconds : training.maxRuntimeSeconds,
    );
    const channel = (channelName: string, bucket: s3.IBucket, prefix: string): tasks.Channel => ({
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
          role: this.role,
          algorithmSpecification: {
            trainingImage: props.image,
            trainingInputMode: tasks.InputMode.FILE,
            metricDefinitions: METRIC_DEFINITIONS.map((m) => ({ name: m.Name, regex: m.Regex })),
          },
          enableNetworkIsolation: true,
          inputDataConfig: withPretrained
            ? [...channels, channel('pretrained', artifactsBucket, PREFIXES.pretrained)]
            : channels,
          hyperparameters: {
            classes: JSON.stringify(config.classes),
            epochs: String(training.epochs),
            batch_size: String(training.batchSize),
            learning_rate: String(training.learningRate),
            data_shape: String(training.dataShape),
            pretrained: withPretrained ? 'voc' : 'none',
            images_s3_prefix: `s3://${datasetBucket.bucketName}/${PREFIXES.images}`,
          },
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
    this.train = job('Train', false);
    this.trainFromPretrained = job('Train from pretrained weights', true);
    this.choosePretrained = new sfn.Choice(this, 'Pretrained weights uploaded?')
      .when(sfn.Condition.numberGreaterThan('$.pretrained.count', 0), this.trainFromPretrained)
      .otherwise(this.train);

    const gateFunction = pipelineFunction(this, 'QualityGateFunction', {
      handler: 'quality-gate',
      environment: { LIVE_MODEL_PARAMETER: props.liveModel.parameterName },
    });
    props.liveModel.grantRead(gateFunction);
    this.gate = invoke(this, 'Check model quality', gateFunction, {
      payload: {
        finalMetrics: sfn.JsonPath.listAt('$.training.FinalMetricDataList'),
        minMap: config.qualityGate.minMap,
        tolerance: config.qualityGate.tolerance,
      },
      resultPath: '$.gate',
    });
  }
}
