import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Guard } from './guard';
import { Notifications } from './notifications';
import { failedIn } from './stage';

/** Names of the states a run ends in, one per outcome. */
export const OUTCOME_STATES = {
  deployed: 'Deployed',
  rejected: 'Model rejected',
  nothingNew: 'Nothing new',
  alreadyRunning: 'Already running',
  failed: 'Run failed',
} as const;

/** Properties of {@link Outcomes}. */
export interface OutcomesProps {
  /** The topic every outcome is published to. */
  readonly notifications: Notifications;
  /**
   * A JSONPath expression, evaluated when a trained model is deployed or rejected, for the message's `weights`: the
   * sentence saying what the model started from (the train stage's `startingWeights`).
   */
  readonly startingWeights: string;
  /** The guard stage, whose run lock every outcome but "Already running" releases first. */
  readonly guard: Guard;
}

/**
 * How a run ends: each outcome releases the run lock (all but "Already running", whose run never took it),
 * publishes one message (`outcome`, `summary`, `execution` and what else the outcome has to say) and ends in its
 * state of {@link OUTCOME_STATES}. A notification that cannot be published fails the run in stage `notify`; the
 * failure notification itself ends in `Run failed` whether or not it is published.
 */
export class Outcomes extends Construct {
  /**
   * Releases the lock, publishes that the model is live (from `$.live`) with its evaluation (`$.evaluation`: the
   * report's location, the serving variant and both mAPs), and the run's cost, then `Deployed`.
   */
  public readonly deployed: sfn.Chain;
  /**
   * Releases the lock, publishes the gate's reason (from `$.gate`) with the model's evaluation (`$.evaluation`, AP
   * per class included) and the run's cost, then `Model rejected`.
   */
  public readonly rejected: sfn.Chain;
  /** Releases the lock, publishes the preprocessing summary, then `Nothing new`. */
  public readonly nothingNew: sfn.Chain;
  /** Publishes which run holds the lock (from `$.guard.lock`), then `Already running`. */
  public readonly alreadyRunning: sfn.Chain;
  /**
   * Releases the lock, publishes the stage (`$.failure.stage`), the error (`$.error`) and the run's cost (once
   * training has finished), then `Run failed`.
   */
  public readonly failed: sfn.Chain;

  constructor(scope: Construct, id: string, props: OutcomesProps) {
    super(scope, id);
    const { notifications, startingWeights, guard } = props;
    const execution = sfn.JsonPath.executionName;
    const released = (outcome: string, next: sfn.IChainable) =>
      guard.releaseLock(this, `Release run lock (${outcome})`, next);

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
        cost: sfn.JsonPath.objectAt('$.run.cost'),
        execution,
      })
      .addCatch(runFailed, { resultPath: '$.notifyError' })
      .next(runFailed);
    this.failed = released('failed', notifyFailure);

    const notifyFailed = failedIn(this, 'notify').next(this.failed);
    const notify = (id: string, subject: string, message: Record<string, unknown>, end: string) =>
      notifications
        .publish(id, subject, { ...message, execution })
        .addCatch(notifyFailed, { resultPath: '$.error' })
        .next(new sfn.Succeed(this, end));

    // What a trained model's outcomes say of its evaluation (the report stage's `$.evaluation`): its sentences on
    // the serving variant and the report (or why there is none), where the report is (null without one), which
    // variant serves, both mAPs and the calibrated threshold.
    const evaluation = {
      evaluation: sfn.JsonPath.stringAt('$.evaluation.summary'),
      report: sfn.JsonPath.objectAt('$.evaluation.report'),
      variant: sfn.JsonPath.stringAt('$.evaluation.variant'),
      mapInt8: sfn.JsonPath.stringAt('$.evaluation.mapInt8'),
      mapFp32: sfn.JsonPath.stringAt('$.evaluation.mapFp32'),
      threshold: sfn.JsonPath.stringAt('$.evaluation.threshold'),
    };

    // This run never took the lock: another run holds it.
    this.alreadyRunning = notify(
      'Notify already running',
      'logo-detection: a run is already in progress',
      {
        outcome: 'already-running',
        summary: sfn.JsonPath.format(
          'Another run of this pipeline ({}) is in progress, so this one stopped without doing anything.',
          sfn.JsonPath.stringAt('$.guard.lock.Item.execution.S'),
        ),
        runningExecution: sfn.JsonPath.stringAt('$.guard.lock.Item.execution.S'),
      },
      OUTCOME_STATES.alreadyRunning,
    );
    this.nothingNew = released(
      'nothing new',
      notify(
        'Notify nothing new',
        'logo-detection: nothing new to train on',
        {
          outcome: 'nothing-new',
          summary:
            'No new images and nothing left to label, so training was skipped. Start a run with {"force": true} to retrain anyway.',
          preprocess: sfn.JsonPath.objectAt('$.preprocess'),
        },
        OUTCOME_STATES.nothingNew,
      ),
    );
    this.rejected = released(
      'rejected',
      notify(
        'Notify model rejected',
        'logo-detection: new model rejected',
        {
          outcome: 'rejected',
          summary: sfn.JsonPath.stringAt('$.gate.reason'),
          version: sfn.JsonPath.stringAt('$.training.TrainingJobName'),
          map: sfn.JsonPath.numberAt('$.gate.map'),
          liveMap: sfn.JsonPath.stringAt('$.gate.liveMap'),
          weights: startingWeights,
          ...evaluation,
          apPerClass: sfn.JsonPath.objectAt('$.evaluation.apPerClass'),
          cost: sfn.JsonPath.objectAt('$.run.cost'),
        },
        OUTCOME_STATES.rejected,
      ),
    );
    this.deployed = released(
      'deployed',
      notify(
        'Notify deployed',
        'logo-detection: new model deployed',
        {
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
          weights: startingWeights,
          ...evaluation,
          cost: sfn.JsonPath.objectAt('$.run.cost'),
        },
        OUTCOME_STATES.deployed,
      ),
    );
  }
}
