import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { Assemble } from './assemble';
import { RuntimeResourceCleanup } from './cleanup';
import { AppConfig } from './config';
import { DataBuckets } from './data';
import { Deployment } from './deployment';
import { EvaluationReport } from './evaluation-report';
import { Detection } from './detection';
import { Labeling } from './labeling';
import { LiveModelRecord } from './live-model';
import { acknowledgeIamFindings, FindingReason } from './nag-acknowledgements';
import { Notifications } from './notifications';
import { Pipeline } from './pipeline';
import { sageMakerNamePrefix, stackNameHash } from './pipeline-tasks';
import { Preprocess } from './preprocess';
import { QualityGate } from './quality-gate';
import { RunCost } from './run-cost';
import { detectorImage, Training } from './training';

/** Properties of {@link PipelineStack}. */
export interface PipelineStackProps extends StackProps {
  readonly config: AppConfig;
  /** The buckets the pipeline reads from and writes to. */
  readonly buckets: DataBuckets;
}

/**
 * The endpoint's name, `<stack name>-detector`: letters, digits and single hyphens, at most 63 characters
 * (SageMaker's limit). A longer name is cut to 56 characters and ends in a hash of the whole stack name, so two
 * long stack names that share their beginning still get endpoints of their own.
 */
export function endpointNameFor(stackName: string): string {
  const full = `${stackName}-detector`
    .replace(/[^A-Za-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  const name =
    full.length <= 63 ? full : `${full.slice(0, 56).replace(/-+$/, '')}-${stackNameHash(stackName)}`;
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
    const { config, buckets } = props;
    this.endpointName = endpointNameFor(this.stackName);
    this.liveModel = new LiveModelRecord(this, 'LiveModel').parameter;
    const namePrefix = sageMakerNamePrefix(this);
    const key = new kms.Key(this, 'Key', {
      description:
        'logo-detection pipeline: notifications, training volumes, model artifacts, endpoint storage',
      enableKeyRotation: true,
    });

    const notifications = new Notifications(this, 'Notifications', { key, email: config.notificationEmail });
    const preprocess = new Preprocess(this, 'Preprocess', {
      config: config.preprocess,
      rawBucket: buckets.raw,
      datasetBucket: buckets.dataset,
    });
    const label = new Labeling(this, 'Labeling', {
      config: config.labeling,
      classes: config.classes,
      rawBucket: buckets.raw,
      datasetBucket: buckets.dataset,
      topic: notifications.topic,
      namePrefix,
    });
    const assemble = new Assemble(this, 'Assemble', {
      classes: config.classes,
      rawBucket: buckets.raw,
      datasetBucket: buckets.dataset,
    });
    const train = new Training(this, 'Training', {
      config,
      datasetBucket: buckets.dataset,
      artifactsBucket: buckets.artifacts,
      key,
      image: detectorImage(this, 'TrainingImage', 'gpu'),
      namePrefix,
    });
    const report = new EvaluationReport(this, 'EvaluationReport', {
      artifactsBucket: buckets.artifacts,
      key,
      namePrefix,
    });
    const qualityGate = new QualityGate(this, 'QualityGate', {
      config: config.qualityGate,
      liveModel: this.liveModel,
    });
    const deploy = new Deployment(this, 'Deployment', {
      config: config.endpoint,
      endpointName: this.endpointName,
      artifactsBucket: buckets.artifacts,
      key,
      image: detectorImage(this, 'ServingImage', 'cpu'),
      namePrefix,
      liveModel: this.liveModel,
    });
    const pipeline = new Pipeline(this, 'Pipeline', {
      preprocess,
      label,
      assemble,
      train,
      report,
      qualityGate,
      deploy,
      notifications,
      cost: new RunCost(this, 'RunCost', { endpoint: config.endpoint, basis: config.cost }),
      key,
      schedule: config.schedule,
      executionLogLevel: config.executionLogLevel,
      destroyLogs: config.dev,
    });
    const detection = new Detection(this, 'Detection', {
      config: config.detect,
      defaultMinScore: config.api.defaultMinScore,
      inputBuckets: config.detect.inputBuckets.length
        ? config.detect.inputBuckets.map((name, i) => s3.Bucket.fromBucketName(this, `DetectInput${i}`, name))
        : [buckets.raw],
      artifactsBucket: buckets.artifacts,
      modelRole: deploy.modelRole,
      key,
      liveModel: this.liveModel,
      notifications,
      namePrefix,
      executionLogLevel: config.executionLogLevel,
      destroyLogs: config.dev,
    });
    const cleanup = new RuntimeResourceCleanup(this, 'Cleanup', {
      endpointName: this.endpointName,
      namePrefix,
    });
    // On deletion the state machines go first, so no run creates resources after the cleanup.
    pipeline.node.addDependency(cleanup);
    detection.node.addDependency(cleanup);

    new CfnOutput(this, 'EndpointName', {
      value: this.endpointName,
      description: 'SageMaker endpoint the pipeline deploys to.',
    });
    new CfnOutput(this, 'StateMachineArn', {
      value: pipeline.stateMachine.stateMachineArn,
      description: 'Start a pipeline run: npm run start-run.',
    });
    new CfnOutput(this, 'DetectStateMachineArn', {
      value: detection.stateMachine.stateMachineArn,
      description:
        'Detect logos in every image under an S3 prefix: npm run detect -- --input s3://bucket/prefix/.',
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: notifications.topic.topicArn,
      description: 'Every pipeline outcome is published here; subscribe to follow runs.',
    });
    acknowledgeIamFindings(this, PIPELINE_IAM_REASONS);
  }
}

/** The pipeline's accepted IAM findings, each with the reason it is as narrow as it can be. */
export const PIPELINE_IAM_REASONS: FindingReason[] = [
  {
    rule: 'IAM4',
    finding: /^Policy::.*AWSLambdaBasicExecutionRole$/,
    reason:
      'The pipeline steps and the teardown provider get CloudWatch Logs create/put from this managed policy and ' +
      'no data access through it; it is not scoped to their own log groups, and a log-only role per function ' +
      '(as the API proxy has) is the planned tightening.',
  },
  {
    rule: 'IAM5',
    finding: /^Action::s3:(GetObject|GetBucket|List|Abort|DeleteObject|PutObject)\*$/,
    reason:
      "CDK bucket grant action groups; each statement's resource limits them to one prefix of one bucket.",
  },
  {
    rule: 'IAM5',
    finding:
      /^Resource::.*\/(raw|images|labels|manifests|manifests\/labeling|manifests\/train|manifests\/validation|reports|reports\/preprocess|ground-truth|pretrained|checkpoints|models|detections)\/\*$/,
    reason: 'Objects under the one prefix this step reads or writes; keys are per image or per run.',
  },
  {
    rule: 'IAM5',
    finding: /^Resource::.*\/models\/[a-z0-9]+-[0-9a-f]{6}-train-\*\/output\/model\.tar\.gz$/,
    reason:
      "The report step reads one object per training job, each job's model.tar.gz; job names end in the run id, " +
      "known only at run time, so the stack's training-job name prefix is as narrow as IAM can say.",
  },
  {
    rule: 'IAM5',
    // The bucket's ARN as cdk-nag renders it: a reference, an export of the data stack, or a named bucket.
    finding:
      /^Resource::(<[A-Za-z0-9]+\.Arn>|[A-Za-z0-9]+:ExportsOutputFnGetAtt[A-Za-z0-9]+|arn:<AWS::Partition>:s3:::[a-z0-9.-]+)\/\*$/,
    reason:
      'Batch detection reads the images of any prefix the operator names, in the buckets detectInputBuckets lists ' +
      '(by default the raw bucket) and no other; read-only.',
  },
  {
    rule: 'IAM5',
    finding: /^Action::kms:(GenerateDataKey|ReEncrypt)\*$/,
    reason: "KMS grant action groups on the pipeline's own key only.",
  },
  {
    rule: 'IAM5',
    finding: /^Resource::\*$/,
    reason:
      'Only actions that have no resource-level permissions: X-Ray trace upload (every traced function and the ' +
      'state machine), Step Functions log delivery setup, SageMaker ListModels/ListEndpointConfigs (teardown), ' +
      'ECR GetAuthorizationToken (training and model roles pulling the image), ' +
      'and CloudWatch PutMetricData limited to the SageMaker namespaces by a condition.',
    actions: [
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
      'logs:CreateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies',
      'logs:GetLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:UpdateLogDelivery',
      'sagemaker:ListModels',
      'sagemaker:ListEndpointConfigs',
      'ecr:GetAuthorizationToken',
      'cloudwatch:PutMetricData',
    ],
  },
  {
    rule: 'IAM5',
    finding: /^Resource::<[A-Za-z0-9]+Function[A-Za-z0-9]+\.Arn>:\*$/,
    reason: "Invoking the versions of the pipeline's own function.",
  },
  {
    rule: 'IAM5',
    finding:
      /^Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:(model|endpoint-config)\/\*$/,
    reason:
      'Teardown reads the tags (ListTags only) of every model and endpoint config in the account to find ' +
      "this stack's; it may delete only those named with the stack's prefix and tagged with the stack.",
  },
  {
    rule: 'IAM5',
    finding:
      /^Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:(training-job|labeling-job|model|endpoint-config|transform-job)\/[a-z0-9]+-[0-9a-f]{6}-(train|labels|model|config|detect)-\*$/,
    reason:
      "A run's resources, named <stack prefix>-<kind>-<run id> at run time; the prefix (start and hash of the " +
      'stack name) is unique per stack.',
  },
  {
    rule: 'IAM5',
    finding:
      /^Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:\/aws\/sagemaker\/(TrainingJobs|LabelingJobs):\*$/,
    reason: 'The log group SageMaker writes its job logs to; streams are named per job.',
  },
  {
    rule: 'IAM5',
    finding: /^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*$/,
    reason:
      "The Distributed Map's child executions of this state machine, and the guard's DescribeExecution of the " +
      "run lock's holder: executions of this state machine, named at run time.",
  },
];
