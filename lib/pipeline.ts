import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Assemble } from './assemble';
import { Deployment } from './deployment';
import { EvaluationReport } from './evaluation-report';
import { Guard } from './guard';
import { Labeling } from './labeling';
import { Notifications } from './notifications';
import { Outcomes } from './outcomes';
import { Preprocess } from './preprocess';
import { QualityGate } from './quality-gate';
import { NOT_YET_COMPUTED, RunCost } from './run-cost';
import { Training } from './training';
import { loggedStateMachine, WorkflowLogProps } from './workflow';

export { OUTCOME_STATES } from './outcomes';

/** Properties of {@link Pipeline}. */
export interface PipelineProps extends WorkflowLogProps {
  /** The preprocess stage. */
  readonly preprocess: Preprocess;
  /** The label stage. */
  readonly label: Labeling;
  /** The assemble stage. */
  readonly assemble: Assemble;
  /** The train stage. */
  readonly train: Training;
  /** The report stage: publishes the trained model's evaluation report. */
  readonly report: EvaluationReport;
  /** The quality gate stage. */
  readonly qualityGate: QualityGate;
  /** The deploy stage. */
  readonly deploy: Deployment;
  /** The topic every outcome is published to; it also hears of executions that time out or are aborted. */
  readonly notifications: Notifications;
  /** What the run cost, computed once training has finished, at `$.run.cost` for the notifications. */
  readonly cost: RunCost;
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
}

/**
 * The training pipeline's state machine: guard (one run at a time) → preprocess → label what has no label →
 * assemble → train → (the run's cost) → publish the evaluation report → quality gate → deploy, publishing every outcome to the notification topic.
 *
 * Start it with `{}`; `{"force": true}` trains even when nothing new arrived. A run ends in one of
 * {@link OUTCOME_STATES}.
 */
export class Pipeline extends Construct {
  /** The pipeline's state machine (standard workflow). */
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { preprocess, label, assemble, train, report, qualityGate, deploy, notifications } = props;
    const guard = new Guard(this, 'Guard');
    const outcomes = new Outcomes(this, 'Outcomes', {
      notifications,
      guard,
      startingWeights: train.startingWeights,
    });
    const stages = [guard, preprocess, label, assemble, train, report, qualityGate, deploy];

    // The run id names the run's SageMaker resources (see runResourceName); the cost is computed after training.
    const startRun = new sfn.Pass(this, 'Start run', {
      parameters: {
        id: sfn.JsonPath.hash(sfn.JsonPath.executionName, 'SHA-1'),
        execution: sfn.JsonPath.executionName,
        cost: NOT_YET_COMPUTED,
      },
      resultPath: '$.run',
    });
    const definition = sfn.Chain.start(startRun)
      .next(guard)
      .next(preprocess)
      .next(label)
      .next(assemble)
      .next(train)
      .next(props.cost)
      .next(report)
      .next(qualityGate)
      .next(deploy)
      .next(outcomes.deployed);
    guard.alreadyRunning.next(outcomes.alreadyRunning);
    label.nothingNew.next(outcomes.nothingNew);
    qualityGate.rejected.next(outcomes.rejected);
    stages.forEach((stage) => stage.failed.next(outcomes.failed));

    this.stateMachine = loggedStateMachine(this, {
      comment: 'logo-detection: raw images to a live endpoint',
      definition,
      timeout: props.timeout ?? label.maxDuration.plus(train.maxDuration).plus(Duration.days(1)),
      executionLogLevel: props.executionLogLevel,
      destroyLogs: props.destroyLogs,
    });
    stages.forEach((stage) => stage.grantStateMachine(this.stateMachine));
    // SNS publishes to an encrypted topic, and SageMaker creates grants on the key for the training volume
    // and the endpoint's storage on behalf of the caller: grants for AWS services only.
    props.key.grant(this.stateMachine, 'kms:GenerateDataKey*', 'kms:Decrypt', 'kms:DescribeKey');
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateGrant'],
        resources: [props.key.keyArn],
        conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }),
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
