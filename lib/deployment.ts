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
import { PREFIXES } from '../contracts';
import { EndpointConfig } from './config';
import {
  BlueGreenUpdateEndpoint,
  runResourceArn,
  runResourceName,
  ScopedCreateEndpoint,
  ScopedCreateEndpointConfig,
  ScopedCreateModel,
  ServerlessCreateEndpointConfig,
  STACK_TAG_KEY,
  UngrantedS3Location,
  withRetry,
} from './pipeline-tasks';
import { PipelineStage } from './stage';

/** In DescribeEndpoint's answer: present when the endpoint is serverless, absent when it runs on instances. */
const SERVERLESS_VARIANT = '$.endpoint.ProductionVariants[0].CurrentServerlessConfig';

/** The one production variant of every endpoint config the pipeline creates. */
export const VARIANT_NAME = 'AllTraffic';

/**
 * When the alarm that rolls a blue/green update back fires: at least `errorRatePercent` % of a minute's requests
 * failed with a 5XX error, in two minutes out of three; a minute with fewer than `minInvocations` requests counts as
 * 0 %.
 */
export const ROLLBACK_ALARM = { errorRatePercent: 5, minInvocations: 10 } as const;

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
 * The deploy stage: a model and an endpoint config for the new training job, then CreateEndpoint (first
 * deployment) or a blue/green UpdateEndpoint that rolls back when the 5XX error rate stays high
 * ({@link ROLLBACK_ALARM}), a poll until the endpoint is InService with the new config, and the live-model record
 * (`$.live`, {@link LiveModel}, written with the report stage's `$.evaluation.record` merged in). An endpoint that ends Failed, or an update that rolled back, fails the run. Every SageMaker resource is tagged with the stack, so
 * teardown can find it.
 *
 * With `endpointMode` `serverless` the endpoint config has one serverless variant (memory and concurrency, no
 * instances) and the model has no network isolation, which serverless endpoints do not support. The update stays
 * blue/green with the same alarm: AWS's deployment guardrails exclude serverless endpoints from rolling
 * deployments only. An endpoint of the other mode is not converted in place: the run fails and says to delete it.
 */
export class Deployment extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Alarm that rolls a blue/green update back: the endpoint's 5XX error rate ({@link ROLLBACK_ALARM}). */
  public readonly alarm: cloudwatch.Alarm;
  /** The role the model runs as. */
  public readonly modelRole: iam.Role;

  constructor(scope: Construct, id: string, props: DeploymentProps) {
    super(scope, id, 'deploy');
    const { endpointName, namePrefix, key } = props;
    const serverless = props.config.mode === 'serverless';
    const stack = Stack.of(this);
    const tags = sfn.TaskInput.fromObject([{ Key: STACK_TAG_KEY, Value: stack.stackName }]);
    const modelName = sfn.JsonPath.stringAt('$.deploy.modelName');
    const configName = sfn.JsonPath.stringAt('$.deploy.endpointConfigName');
    const name = new sfn.Pass(this, 'Name deployment', {
      parameters: {
        modelName: runResourceName(namePrefix, 'model'),
        endpointConfigName: runResourceName(namePrefix, 'config'),
      },
      resultPath: '$.deploy',
    });
    // The state machine may create, tag and use only this stack's models, endpoint configs and endpoint: the CDK
    // tasks would allow it on every model and endpoint config in the account, as the names are JSONPath.
    const models = runResourceArn(this, 'model', namePrefix, 'model');
    const configs = runResourceArn(this, 'endpoint-config', namePrefix, 'config');
    const endpointArn = stack.formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      // SageMaker lowercases names in ARNs.
      resourceName: endpointName.toLowerCase(),
    });
    const allow = (action: string, ...resources: string[]) =>
      new iam.PolicyStatement({ actions: [action], resources });

    this.modelRole = new iam.Role(this, 'ModelRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'logo-detection models: read model artifacts under models/',
    });
    props.artifactsBucket.grantRead(this.modelRole, `${PREFIXES.models}*`);
    key.grantDecrypt(this.modelRole);
    this.modelRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    );

    const createModel = withRetry(
      new ScopedCreateModel(this, 'Create model', {
        modelName,
        role: this.modelRole,
        // Serverless endpoints do not support network isolation: the hardening that mode gives up
        // (docs/reference.md, Endpoint modes).
        enableNetworkIsolation: !serverless,
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
        policyStatements: [
          allow('sagemaker:CreateModel', models),
          new iam.PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [this.modelRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
          }),
        ],
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    const endpointConfigProps = {
      endpointConfigName: configName,
      kmsKey: key,
      tags,
      policyStatements: [allow('sagemaker:CreateEndpointConfig', configs)],
      resultPath: sfn.JsonPath.DISCARD,
    };
    const { config } = props;
    const createEndpointConfig = withRetry(
      serverless
        ? new ServerlessCreateEndpointConfig(this, 'Create endpoint config', {
            ...endpointConfigProps,
            variantName: VARIANT_NAME,
            modelName,
            serverlessConfig: {
              MemorySizeInMB: config.serverlessMemorySizeInMB,
              MaxConcurrency: config.serverlessMaxConcurrency,
              ...(config.serverlessProvisionedConcurrency > 0
                ? { ProvisionedConcurrency: config.serverlessProvisionedConcurrency }
                : {}),
            },
          })
        : new ScopedCreateEndpointConfig(this, 'Create endpoint config', {
            ...endpointConfigProps,
            productionVariants: [
              {
                variantName: VARIANT_NAME,
                modelName,
                initialInstanceCount: config.instanceCount,
                instanceType: new ec2.InstanceType(config.instanceType.replace(/^ml\./, '')),
                initialVariantWeight: 1,
              },
            ],
          }),
    );

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
    const findEndpoint = describe('Find endpoint', '$.endpoint');
    const pollEndpoint = describe('Check endpoint', '$.endpoint');

    const createEndpoint = withRetry(
      new ScopedCreateEndpoint(this, 'Create endpoint', {
        endpointName,
        endpointConfigName: configName,
        tags,
        policyStatements: [allow('sagemaker:CreateEndpoint', endpointArn, configs)],
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    // The rollback alarm watches the variant, which the old and the new fleet share during the bake, and anyone
    // allowed to call InvokeEndpoint can make a request fail. It alarms on the share of failing requests, not on
    // one error: in a minute with fewer than ROLLBACK_ALARM.minInvocations requests the rate counts as 0, and two
    // breaching minutes out of three are needed. Missing data (no traffic) never breaches.
    const variantSum = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/SageMaker',
        metricName,
        dimensionsMap: { EndpointName: endpointName, VariantName: VARIANT_NAME },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(1),
      });
    this.alarm = new cloudwatch.Alarm(this, 'ServerErrors', {
      alarmDescription:
        `logo-detection: at least ${ROLLBACK_ALARM.errorRatePercent} % of the requests to the endpoint ` +
        `${endpointName} fail with 5XX errors in two minutes out of three (minutes with fewer than ` +
        `${ROLLBACK_ALARM.minInvocations} requests count as 0 %); rolls back a blue/green update`,
      metric: new cloudwatch.MathExpression({
        expression: `IF(invocations >= ${ROLLBACK_ALARM.minInvocations}, 100 * errors / invocations, 0)`,
        usingMetrics: { errors: variantSum('Invocation5XXErrors'), invocations: variantSum('Invocations') },
        label: '5XX error rate (%)',
        period: Duration.minutes(1),
      }),
      threshold: ROLLBACK_ALARM.errorRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const updateEndpoint = withRetry(
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
        policyStatements: [allow('sagemaker:UpdateEndpoint', endpointArn, configs)],
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    // Creating with tags needs AddTags; the CDK tasks also allow ListTags (on every resource). Rolling back on an
    // alarm needs the caller to be able to read it.
    this.stateMachinePolicy.push(
      new iam.PolicyStatement({
        actions: ['sagemaker:AddTags', 'sagemaker:ListTags'],
        resources: [endpointArn, models, configs],
      }),
      allow('cloudwatch:DescribeAlarms', this.alarm.alarmArn),
    );

    const describeLive = new sfn.Pass(this, 'Describe live model', {
      parameters: {
        version: sfn.JsonPath.stringAt('$.training.TrainingJobName'),
        map: sfn.JsonPath.numberAt('$.gate.map'),
        endpointName,
        deployedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
      },
      resultPath: '$.live',
    });
    const record = withRetry(
      new tasks.CallAwsService(this, 'Record live model', {
        service: 'ssm',
        action: 'putParameter',
        parameters: {
          Name: props.liveModel.parameterName,
          Overwrite: true,
          Type: 'String',
          // The record is `$.live` with what the evaluation report adds (`$.evaluation.record`: AP per class,
          // threshold, variant, int8 mAP, report location; only the fields known, none for a model without a report).
          Value: sfn.JsonPath.jsonToString(
            sfn.JsonPath.jsonMerge(
              sfn.JsonPath.objectAt('$.live'),
              sfn.JsonPath.objectAt('$.evaluation.record'),
            ),
          ),
        },
        iamResources: [props.liveModel.parameterArn],
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );
    this.catchFailures(
      createModel,
      createEndpointConfig,
      findEndpoint,
      createEndpoint,
      updateEndpoint,
      pollEndpoint,
      record,
    );

    // An existing endpoint is updated. UpdateEndpoint cannot repair an endpoint whose creation failed: say what
    // to do instead of failing obscurely.
    name
      .next(createModel)
      .next(createEndpointConfig)
      .next(findEndpoint)
      .next(
        new sfn.Choice(this, 'Endpoint usable?')
          .when(
            sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'Failed'),
            this.failWith('Endpoint unusable', {
              parameters: {
                Error: 'EndpointFailed',
                Cause: sfn.JsonPath.format(
                  'The endpoint {} is in Failed state and cannot be updated ({}). Delete it ' +
                    '(aws sagemaker delete-endpoint --endpoint-name {}) and start a new run to create it again.',
                  sfn.JsonPath.stringAt('$.endpoint.EndpointName'),
                  sfn.JsonPath.stringAt('$.endpoint.FailureReason'),
                  sfn.JsonPath.stringAt('$.endpoint.EndpointName'),
                ),
              },
            }),
          )
          .when(
            // Not(IsPresent) rather than IsPresent: false, which the local stand-in never matches.
            serverless
              ? sfn.Condition.not(sfn.Condition.isPresent(SERVERLESS_VARIANT))
              : sfn.Condition.isPresent(SERVERLESS_VARIANT),
            this.failWith('Endpoint of the other mode', {
              parameters: {
                Error: 'EndpointModeChanged',
                Cause: sfn.JsonPath.format(
                  `The endpoint {} is not ${serverless ? 'serverless' : 'instance-based'}, but endpointMode is ` +
                    `${props.config.mode}; SageMaker does not convert an endpoint between instances and serverless ` +
                    'in place. Delete it (aws sagemaker delete-endpoint --endpoint-name {}; detection is down until ' +
                    'the next run creates it again) and start a new run, or set endpointMode back.',
                  sfn.JsonPath.stringAt('$.endpoint.EndpointName'),
                  sfn.JsonPath.stringAt('$.endpoint.EndpointName'),
                ),
              },
            }),
          )
          .otherwise(updateEndpoint),
      );
    // A missing one is created: DescribeEndpoint answers it with an error, not a status.
    findEndpoint.addCatch(
      new sfn.Choice(this, 'Endpoint missing?')
        .when(sfn.Condition.stringMatches('$.error.Cause', '*Could not find endpoint*'), createEndpoint)
        .otherwise(this.failed),
      {
        errors: ['SageMaker.AmazonSageMakerException', 'SageMaker.ValidationException'],
        resultPath: '$.error',
      },
    );

    // Either way, poll until the endpoint serves the new config, then record the live model.
    const wait = new sfn.Wait(this, 'Wait for endpoint', {
      time: sfn.WaitTime.duration(props.pollInterval ?? Duration.minutes(1)),
    });
    createEndpoint.next(wait);
    updateEndpoint.next(wait);
    wait.next(pollEndpoint).next(
      new sfn.Choice(this, 'Endpoint in service?')
        .when(
          sfn.Condition.and(
            sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'InService'),
            sfn.Condition.stringEqualsJsonPath(
              '$.endpoint.EndpointConfigName',
              '$.deploy.endpointConfigName',
            ),
          ),
          describeLive.next(record),
        )
        .when(
          sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'InService'),
          this.failWith('Update rolled back', {
            result: sfn.Result.fromObject({
              Error: 'UpdateRolledBack',
              Cause:
                'The endpoint rolled back to its previous configuration (its 5XX error-rate alarm fired during the ' +
                'update); the previous model keeps serving.',
            }),
          }),
        )
        .when(
          sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'Failed'),
          this.failWith('Endpoint failed', {
            parameters: { Error: 'EndpointFailed', Cause: sfn.JsonPath.stringAt('$.endpoint.FailureReason') },
          }),
        )
        .otherwise(wait),
    );
    this.startState = name;
    this.endStates = [record];
  }
}
