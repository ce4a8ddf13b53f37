import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EndpointConfig } from './config';
import { PREFIXES } from './data';
import {
  BlueGreenUpdateEndpoint,
  runResourceName,
  STACK_TAG_KEY,
  UngrantedS3Location,
  withRetry,
} from './pipeline-tasks';

/** The one production variant of every endpoint config the pipeline creates. */
export const VARIANT_NAME = 'AllTraffic';

/** Properties of {@link Deployment}. */
export interface DeploymentProps {
  readonly config: EndpointConfig;
  /** The endpoint the pipeline creates, then updates. */
  readonly endpointName: string;
  /** Holds the model tarballs under `models/`. */
  readonly artifactsBucket: s3.IBucket;
  /** Encrypts the model artifacts (read by the model) and the endpoint's volumes. */
  readonly key: kms.IKey;
  /** The serving image (built with DEVICE=cpu). */
  readonly image: tasks.DockerImage;
  /** Lowercase prefix of the run's SageMaker resource names. */
  readonly namePrefix: string;
  /** The live-model record written after a deployment. */
  readonly liveModel: ssm.IStringParameter;
  /**
   * Time between two DescribeEndpoint calls while the endpoint is created or updated.
   * @default 1 minute
   */
  readonly pollInterval?: Duration;
}

/**
 * Stage 6: a model and an endpoint config for the new training job, then CreateEndpoint (first deployment) or
 * a blue/green UpdateEndpoint that rolls back on 5XX errors, a poll until the endpoint is InService, and the
 * live-model record. Every SageMaker resource is tagged with the stack, so teardown can find it.
 */
export class Deployment extends Construct {
  /** Names the run's model and endpoint config at `$.deploy`. */
  public readonly name: sfn.Pass;
  /** CreateModel from the training job's artifacts, serving image and network isolation. */
  public readonly createModel: tasks.SageMakerCreateModel;
  /** CreateEndpointConfig: one variant of the new model, storage encrypted with the pipeline's key. */
  public readonly createEndpointConfig: tasks.SageMakerCreateEndpointConfig;
  /** DescribeEndpoint before deploying; its not-found error leads to `createEndpoint`. */
  public readonly findEndpoint: tasks.CallAwsService;
  /** Routes a DescribeEndpoint error: not found → create, anything else → failure. */
  public readonly endpointMissing: sfn.Choice;
  /** CreateEndpoint, for the first deployment. */
  public readonly createEndpoint: tasks.SageMakerCreateEndpoint;
  /** Blue/green UpdateEndpoint, for every later deployment. */
  public readonly updateEndpoint: BlueGreenUpdateEndpoint;
  /** The wait between polls. */
  public readonly wait: sfn.Wait;
  /** DescribeEndpoint while the endpoint is created or updated (`$.endpoint`). */
  public readonly pollEndpoint: tasks.CallAwsService;
  /** InService with the new config → record; Failed or rolled back → `failed`; otherwise wait again. */
  public readonly checkStatus: sfn.Choice;
  /** Puts the live-model record (`LiveModel` in live-model.ts) at `$.live`. */
  public readonly describeLive: sfn.Pass;
  /** Writes the live-model record. */
  public readonly record: tasks.CallAwsService;
  /** Alarm that rolls a blue/green update back. */
  public readonly alarm: cloudwatch.Alarm;
  /** What the state machine's role needs beyond what the CDK tasks grant. */
  public readonly stateMachinePolicy: iam.PolicyStatement[];
  /** The role the model runs as. */
  public readonly modelRole: iam.Role;

  constructor(scope: Construct, id: string, props: DeploymentProps) {
    super(scope, id);
    const { endpointName, namePrefix, key } = props;
    const stack = Stack.of(this);
    const tags = sfn.TaskInput.fromObject([{ Key: STACK_TAG_KEY, Value: stack.stackName }]);
    const modelName = sfn.JsonPath.stringAt('$.deploy.modelName');
    const configName = sfn.JsonPath.stringAt('$.deploy.endpointConfigName');
    this.name = new sfn.Pass(this, 'Name deployment', {
      parameters: {
        modelName: runResourceName(namePrefix, 'model'),
        endpointConfigName: runResourceName(namePrefix, 'config'),
      },
      resultPath: '$.deploy',
    });

    this.modelRole = new iam.Role(this, 'ModelRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'logo-detection models: read model artifacts under models/',
    });
    props.artifactsBucket.grantRead(this.modelRole, `${PREFIXES.models}*`);
    key.grantDecrypt(this.modelRole);
    this.modelRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    );

    this.createModel = withRetry(
      new tasks.SageMakerCreateModel(this, 'Create model', {
        modelName,
        role: this.modelRole,
        enableNetworkIsolation: true,
        primaryContainer: new tasks.ContainerDefinition({
          image: props.image,
          mode: tasks.Mode.SINGLE_MODEL,
          // The artifact always lies under models/, which the model role is granted on its own;
          // S3Location.fromJsonExpression would grant s3:GetObject on every bucket.
          modelS3Location: new UngrantedS3Location(
            sfn.JsonPath.stringAt('$.training.ModelArtifacts.S3ModelArtifacts'),
          ),
          environmentVariables: sfn.TaskInput.fromObject({
            MODEL_VERSION: sfn.JsonPath.stringAt('$.training.TrainingJobName'),
          }),
        }),
        tags,
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    this.createEndpointConfig = withRetry(
      new tasks.SageMakerCreateEndpointConfig(this, 'Create endpoint config', {
        endpointConfigName: configName,
        kmsKey: key,
        productionVariants: [
          {
            variantName: VARIANT_NAME,
            modelName,
            initialInstanceCount: props.config.instanceCount,
            instanceType: new ec2.InstanceType(props.config.instanceType.replace(/^ml\./, '')),
            initialVariantWeight: 1,
          },
        ],
        tags,
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    const endpointArn = stack.formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      // SageMaker lowercases names in ARNs.
      resourceName: endpointName.toLowerCase(),
    });
    const describe = (stateId: string, resultPath: string) =>
      withRetry(
        new tasks.CallAwsService(this, stateId, {
          service: 'sagemaker',
          action: 'describeEndpoint',
          parameters: { EndpointName: endpointName },
          iamResources: [endpointArn],
          resultPath,
        }),
      );
    this.findEndpoint = describe('Find endpoint', '$.endpoint');
    this.pollEndpoint = describe('Check endpoint', '$.endpoint');

    this.createEndpoint = withRetry(
      new tasks.SageMakerCreateEndpoint(this, 'Create endpoint', {
        endpointName,
        endpointConfigName: configName,
        tags,
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    this.alarm = new cloudwatch.Alarm(this, 'ServerErrors', {
      alarmDescription: `logo-detection: the endpoint ${endpointName} answers with 5XX errors; rolls back a deployment`,
      metric: new cloudwatch.Metric({
        namespace: 'AWS/SageMaker',
        metricName: 'Invocation5XXErrors',
        dimensionsMap: { EndpointName: endpointName, VariantName: VARIANT_NAME },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(1),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.updateEndpoint = withRetry(
      new BlueGreenUpdateEndpoint(this, 'Update endpoint', {
        endpointName,
        endpointConfigName: configName,
        deploymentConfig: {
          BlueGreenUpdatePolicy: {
            TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 300 },
            TerminationWaitInSeconds: 300,
            MaximumExecutionTimeoutInSeconds: 3600,
          },
          AutoRollbackConfiguration: { Alarms: [{ AlarmName: this.alarm.alarmName }] },
        },
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    // Creating with tags needs AddTags; rolling back on an alarm needs the caller to be able to read it.
    this.stateMachinePolicy = [
      new iam.PolicyStatement({
        actions: ['sagemaker:AddTags'],
        resources: [
          endpointArn,
          stack.formatArn({ service: 'sagemaker', resource: 'model', resourceName: `${namePrefix}-*` }),
          stack.formatArn({
            service: 'sagemaker',
            resource: 'endpoint-config',
            resourceName: `${namePrefix}-*`,
          }),
        ],
      }),
      new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: [this.alarm.alarmArn] }),
    ];

    this.endpointMissing = new sfn.Choice(this, 'Endpoint missing?');
    this.wait = new sfn.Wait(this, 'Wait for endpoint', {
      time: sfn.WaitTime.duration(props.pollInterval ?? Duration.minutes(1)),
    });
    this.checkStatus = new sfn.Choice(this, 'Endpoint in service?');

    this.describeLive = new sfn.Pass(this, 'Describe live model', {
      parameters: {
        version: sfn.JsonPath.stringAt('$.training.TrainingJobName'),
        map: sfn.JsonPath.numberAt('$.gate.map'),
        endpointName,
        deployedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
      },
      resultPath: '$.live',
    });
    this.record = withRetry(
      new tasks.CallAwsService(this, 'Record live model', {
        service: 'ssm',
        action: 'putParameter',
        parameters: {
          Name: props.liveModel.parameterName,
          Overwrite: true,
          Type: 'String',
          Value: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.live')),
        },
        iamResources: [props.liveModel.parameterArn],
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );
  }
}
