import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Deployment } from './deployment';
import { Labeling } from './labeling';
import { Notifications } from './notifications';
import { withRetry } from './pipeline-tasks';
import { Preprocess } from './preprocess';
import { Training } from './training';

/** The stages a failure notification can name. */
export type PipelineStage =
  'guard' | 'preprocess' | 'label' | 'assemble' | 'train' | 'quality-gate' | 'deploy' | 'notify';

/** Names of the states a run ends in, one per outcome. */
export const OUTCOME_STATES = {
  deployed: 'Deployed',
  rejected: 'Model rejected',
  nothingNew: 'Nothing new',
  alreadyRunning: 'Already running',
  failed: 'Run failed',
} as const;

/** Properties of {@link Pipeline}. */
export interface PipelineProps {
  readonly preprocess: Preprocess;
  readonly labeling: Labeling;
  readonly training: Training;
  readonly deployment: Deployment;
  readonly notifications: Notifications;
  /** Key the state machine's SageMaker calls pass on (training volume, endpoint config). */
  readonly key: kms.IKey;
  /**
   * EventBridge schedule expression that starts a run, e.g. `rate(1 day)`.
   * @default - no schedule; start runs by hand
   */
  readonly schedule?: string;
  /**
   * Longest a run may take before Step Functions stops it (it then publishes a TIMED_OUT notification).
   * @default the longest labeling step, plus the longest training job, plus a day for the rest
   */
  readonly timeout?: Duration;
  /**
   * Remove the execution log group with the stack.
   * @default false - the log group is retained
   */
  readonly destroyLogs?: boolean;
}

/**
 * The training pipeline's state machine: guard (one run at a time) → preprocess → label what has no label →
 * assemble → train → quality gate → deploy, publishing every outcome to the notification topic.
 *
 * Start it with `{}`; `{"force": true}` trains even when nothing new arrived. A run ends in one of
 * {@link OUTCOME_STATES}.
 */
export class Pipeline extends Construct {
  /** The pipeline's state machine (standard workflow). */
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { preprocess, labeling, training, deployment, notifications } = props;
    const execution = sfn.JsonPath.executionName;

    const runFailed = new sfn.Fail(this, OUTCOME_STATES.failed, {
      error: 'PipelineFailed',
      causePath: '$.error.Cause',
    });
    const notifyFailure = notifications
      .publish('Notify failure', 'logo-detection: pipeline run failed', {
        outcome: 'failed',
        summary: sfn.JsonPath.format(
          'The run failed in stage {}: {}',
          sfn.JsonPath.stringAt('$.failure.stage'),
          sfn.JsonPath.stringAt('$.error.Cause'),
        ),
        stage: sfn.JsonPath.stringAt('$.failure.stage'),
        error: sfn.JsonPath.stringAt('$.error.Error'),
        cause: sfn.JsonPath.stringAt('$.error.Cause'),
        execution,
      })
      .addCatch(runFailed, { resultPath: '$.notifyError' })
      .next(runFailed);
    const failedIn = new Map<PipelineStage, sfn.Pass>();
    const failed = (stage: PipelineStage): sfn.Pass => {
      if (!failedIn.has(stage)) {
        failedIn.set(
          stage,
          new sfn.Pass(this, `Failed in ${stage}`, {
            result: sfn.Result.fromObject({ stage }),
            resultPath: '$.failure',
          }),
        );
        failedIn.get(stage)!.next(notifyFailure);
      }
      return failedIn.get(stage)!;
    };
    const catchInto = (
      stage: PipelineStage,
      ...states: (sfn.TaskStateBase | sfn.CustomState | sfn.DistributedMap)[]
    ) => states.forEach((state) => state.addCatch(failed(stage), { resultPath: '$.error' }));
    const notify = (id: string, subject: string, message: Record<string, unknown>) => {
      const task = notifications.publish(id, subject, { ...message, execution });
      catchInto('notify', task);
      return task;
    };

    const startRun = new sfn.Pass(this, 'Start run', {
      parameters: {
        id: sfn.JsonPath.hash(sfn.JsonPath.executionName, 'SHA-1'),
        execution,
      },
      resultPath: '$.run',
    });
    // The state machine cannot name its own ARN in its definition's IAM without a cycle; the Context object
    // gives it at run time, and the permission is a separate policy (see below).
    const listRunning = withRetry(
      new sfn.CustomState(this, 'List running executions', {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${Aws.PARTITION}:states:::aws-sdk:sfn:listExecutions`,
          Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', StatusFilter: 'RUNNING', MaxResults: 2 },
          ResultSelector: { 'running.$': 'States.ArrayLength($.Executions)' },
          ResultPath: '$.guard',
        },
      }),
    );
    catchInto('guard', listRunning);
    const alreadyRunning = notify('Notify already running', 'logo-detection: a run is already in progress', {
      outcome: 'already-running',
      summary: 'Another run of this pipeline is in progress, so this one stopped without doing anything.',
    }).next(new sfn.Succeed(this, OUTCOME_STATES.alreadyRunning));

    catchInto('preprocess', preprocess.map, preprocess.report);
    catchInto('label', ...labeling.tasks);
    if (labeling.waitForImport) {
      const notImported = new sfn.Pass(this, 'Labels not imported in time', {
        result: sfn.Result.fromObject({
          Error: 'LabelsNotImported',
          Cause:
            `No labels were imported within ${labeling.importTimeout.toHumanString()}. ` +
            'Import labels for the images listed in the labeling request, then start a new run.',
        }),
        resultPath: '$.error',
      }).next(failed('label'));
      // First match wins: the timeout has its own message.
      labeling.waitForImport.addCatch(notImported, { errors: ['States.Timeout'], resultPath: '$.error' });
    }
    // A DatasetError or LabelFileError is the handler telling the operator what to fix: notify its message, not
    // the Lambda's error JSON. First match wins, so this Catch goes before the catch-all.
    const explain = (
      task: sfn.TaskStateBase,
      error: string,
      names: { read: string; explained: string },
      stage: PipelineStage,
    ) =>
      task.addCatch(
        new sfn.Pass(this, names.read, {
          parameters: { detail: sfn.JsonPath.stringToJson(sfn.JsonPath.stringAt('$.error.Cause')) },
          resultPath: '$.handlerError',
        })
          .next(
            new sfn.Pass(this, names.explained, {
              parameters: {
                Error: error,
                Cause: sfn.JsonPath.stringAt('$.handlerError.detail.errorMessage'),
              },
              resultPath: '$.error',
            }),
          )
          .next(failed(stage)),
        { errors: [error], resultPath: '$.error' },
      );
    explain(
      training.assemble,
      'DatasetError',
      { read: 'Read dataset error', explained: 'Dataset not usable' },
      'assemble',
    );
    if (labeling.importGroundTruth) {
      explain(
        labeling.importGroundTruth,
        'LabelFileError',
        { read: 'Read label error', explained: 'Labels not usable' },
        'label',
      );
    }
    catchInto('assemble', training.assemble);
    catchInto('train', training.checkPretrained, training.train, training.trainFromPretrained);
    catchInto('quality-gate', training.gate);

    const nothingNew = notify('Notify nothing new', 'logo-detection: nothing new to train on', {
      outcome: 'nothing-new',
      summary:
        'No new images and nothing left to label, so training was skipped. Start a run with {"force": true} to retrain anyway.',
      preprocess: sfn.JsonPath.objectAt('$.preprocess'),
    }).next(new sfn.Succeed(this, OUTCOME_STATES.nothingNew));

    const rejected = notify('Notify model rejected', 'logo-detection: new model rejected', {
      outcome: 'rejected',
      summary: sfn.JsonPath.stringAt('$.gate.reason'),
      version: sfn.JsonPath.stringAt('$.training.TrainingJobName'),
      map: sfn.JsonPath.numberAt('$.gate.map'),
      liveMap: sfn.JsonPath.stringAt('$.gate.liveMap'),
      weights: training.startingWeights,
    }).next(new sfn.Succeed(this, OUTCOME_STATES.rejected));

    const deployed = notify('Notify deployed', 'logo-detection: new model deployed', {
      outcome: 'deployed',
      summary: sfn.JsonPath.format(
        'Model {} is live on endpoint {} with validation mAP {}.',
        sfn.JsonPath.stringAt('$.live.version'),
        sfn.JsonPath.stringAt('$.live.endpointName'),
        sfn.JsonPath.stringAt('$.live.map'),
      ),
      version: sfn.JsonPath.stringAt('$.live.version'),
      map: sfn.JsonPath.numberAt('$.live.map'),
      endpointName: sfn.JsonPath.stringAt('$.live.endpointName'),
      weights: training.startingWeights,
    }).next(new sfn.Succeed(this, OUTCOME_STATES.deployed));

    catchInto(
      'deploy',
      deployment.createModel,
      deployment.createEndpointConfig,
      deployment.createEndpoint,
      deployment.updateEndpoint,
      deployment.pollEndpoint,
      deployment.record,
    );
    // DescribeEndpoint answers a missing endpoint with an error, not a status: that error means "create".
    deployment.findEndpoint.addCatch(deployment.endpointMissing, {
      errors: ['SageMaker.AmazonSageMakerException', 'SageMaker.ValidationException'],
      resultPath: '$.error',
    });
    catchInto('deploy', deployment.findEndpoint);
    deployment.endpointMissing
      .when(
        sfn.Condition.stringMatches('$.error.Cause', '*Could not find endpoint*'),
        deployment.createEndpoint,
      )
      .otherwise(failed('deploy'));
    deployment.createEndpoint.next(deployment.wait);
    // UpdateEndpoint cannot repair an endpoint whose creation failed; say what to do instead of failing obscurely.
    deployment.findEndpoint.next(
      new sfn.Choice(this, 'Endpoint usable?')
        .when(
          sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'Failed'),
          new sfn.Pass(this, 'Endpoint unusable', {
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
            resultPath: '$.error',
          }).next(failed('deploy')),
        )
        .otherwise(deployment.updateEndpoint),
    );
    deployment.updateEndpoint.next(deployment.wait);
    deployment.wait.next(deployment.pollEndpoint).next(deployment.checkStatus);
    deployment.checkStatus
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'InService'),
          sfn.Condition.stringEqualsJsonPath('$.endpoint.EndpointConfigName', '$.deploy.endpointConfigName'),
        ),
        deployment.describeLive.next(deployment.record).next(deployed),
      )
      .when(
        sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'InService'),
        new sfn.Pass(this, 'Update rolled back', {
          result: sfn.Result.fromObject({
            Error: 'UpdateRolledBack',
            Cause:
              'The endpoint rolled back to its previous configuration (its 5XX alarm fired during the update); ' +
              'the previous model keeps serving.',
          }),
          resultPath: '$.error',
        }).next(failed('deploy')),
      )
      .when(
        sfn.Condition.stringEquals('$.endpoint.EndpointStatus', 'Failed'),
        new sfn.Pass(this, 'Endpoint failed', {
          parameters: { Error: 'EndpointFailed', Cause: sfn.JsonPath.stringAt('$.endpoint.FailureReason') },
          resultPath: '$.error',
        }).next(failed('deploy')),
      )
      .otherwise(deployment.wait);

    const deploy = sfn.Chain.start(deployment.name)
      .next(deployment.createModel)
      .next(deployment.createEndpointConfig)
      .next(deployment.findEndpoint);

    const train = sfn.Chain.start(training.assemble)
      .next(training.checkPretrained)
      .next(training.choosePretrained);
    // A job that printed no metric has no FinalMetricDataList; reading it in the gate's payload would fail the
    // execution without any notification.
    const metricsReported = new sfn.Choice(this, 'Metrics reported?')
      .when(sfn.Condition.isPresent('$.training.FinalMetricDataList[0]'), training.gate)
      .otherwise(
        new sfn.Pass(this, 'No metrics', {
          result: sfn.Result.fromObject({
            Error: 'NoMetrics',
            Cause:
              'The training job finished without reporting best_val_mAP; see its CloudWatch log for what it printed.',
          }),
          resultPath: '$.error',
        }).next(failed('train')),
      );
    training.train.next(metricsReported);
    training.trainFromPretrained.next(metricsReported);
    training.gate.next(
      new sfn.Choice(this, 'Model accepted?')
        .when(sfn.Condition.booleanEquals('$.gate.accept', true), deploy)
        .otherwise(rejected),
    );

    labeling.label.next(train);
    const definition = sfn.Chain.start(startRun)
      .next(listRunning)
      .next(
        new sfn.Choice(this, 'Another run in progress?')
          .when(sfn.Condition.numberGreaterThan('$.guard.running', 1), alreadyRunning)
          .afterwards({ includeOtherwise: true }),
      );
    const body = sfn.Chain.start(preprocess.map)
      .next(preprocess.report)
      .next(labeling.find)
      .next(
        new sfn.Choice(this, 'Anything new?')
          .when(sfn.Condition.numberGreaterThan('$.unlabeled.count', 0), labeling.label)
          .when(
            sfn.Condition.or(
              sfn.Condition.numberGreaterThan('$.preprocess.processed', 0),
              sfn.Condition.and(
                sfn.Condition.isPresent('$.force'),
                sfn.Condition.booleanEquals('$.force', true),
              ),
            ),
            train,
          )
          .otherwise(nothingNew),
      );

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.destroyLogs ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'logo-detection: raw images to a live endpoint',
      definitionBody: sfn.DefinitionBody.fromChainable(definition.next(body)),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      timeout: props.timeout ?? labeling.maxDuration.plus(training.maxDuration).plus(Duration.days(1)),
    });

    // A policy of its own, created after the state machine: the role's default policy must exist before the
    // state machine (CloudFormation makes it a dependency), so it cannot name the state machine's ARN.
    new iam.Policy(this, 'GuardPolicy', {
      roles: [this.stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:ListExecutions'],
          resources: [this.stateMachine.stateMachineArn],
        }),
      ],
    });
    [...labeling.stateMachinePolicy, ...deployment.stateMachinePolicy].forEach((statement) =>
      this.stateMachine.addToRolePolicy(statement),
    );
    // SNS publishes to an encrypted topic, and SageMaker creates grants on the key for the training volume
    // and the endpoint's storage on behalf of the caller.
    props.key.grant(
      this.stateMachine,
      'kms:GenerateDataKey*',
      'kms:Decrypt',
      'kms:CreateGrant',
      'kms:DescribeKey',
    );

    notifications.watch(this.stateMachine);
    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: 'logo-detection: starts a pipeline run',
        schedule: events.Schedule.expression(props.schedule),
        targets: [
          new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject({}) }),
        ],
      });
    }
  }
}
