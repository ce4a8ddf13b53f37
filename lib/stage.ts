import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/**
 * The stages of a run as the README's stage table names them, plus `notify` (the outcome notifications). A
 * failure notification's `stage` is one of these.
 */
export type StageName =
  'guard' | 'preprocess' | 'label' | 'assemble' | 'train' | 'report' | 'quality-gate' | 'deploy' | 'notify';

/** A state that can send its errors to a Catch. */
export type CatchingState = sfn.TaskStateBase | sfn.CustomState | sfn.DistributedMap;

/**
 * The `Failed in <stage>` state: puts `{ "stage": <stage> }` at `$.failure`, for the failure notification to
 * name the stage. The error caught is at `$.error` (`Error`, `Cause`).
 */
export function failedIn(scope: Construct, stage: StageName): sfn.Pass {
  return new sfn.Pass(scope, `Failed in ${stage}`, {
    result: sfn.Result.fromObject({ stage }),
    resultPath: '$.failure',
  });
}

/**
 * One branch of `choice` left open for the state the pipeline chains after it: `when(condition, <next>)`, or
 * the Choice's default when no condition is given. A Choice tries its branches in the order they were added, so
 * a stage adds its own branches before the pipeline chains an open one.
 */
export function openBranch(choice: sfn.Choice, condition?: sfn.Condition): sfn.INextable {
  return {
    next: (state: sfn.IChainable): sfn.Chain => {
      if (condition) choice.when(condition, state);
      else choice.otherwise(state);
      return sfn.Chain.custom(choice, state.endStates, state);
    },
  };
}

/**
 * One stage of the pipeline's state machine, owning its states, their retries and its branches. A run enters it
 * at `startState` and goes on to the next stage from `endStates`; every error of the stage ends in
 * {@link failed}, which the pipeline continues to the failure notification.
 */
export abstract class PipelineStage extends sfn.StateMachineFragment {
  /** `Failed in <stage>`: where every failure of the stage ends, with the error at `$.error`. */
  public readonly failed: sfn.Pass;
  /** What the state machine's role needs beyond what the stage's tasks grant themselves. */
  protected readonly stateMachinePolicy: iam.PolicyStatement[] = [];

  protected constructor(scope: Construct, id: string, stage: StageName) {
    super(scope, id);
    this.failed = failedIn(this, stage);
  }

  /** Grants the pipeline's state machine what the stage's states need beyond what their tasks grant themselves. */
  public grantStateMachine(stateMachine: sfn.StateMachine): void {
    this.stateMachinePolicy.forEach((statement) => stateMachine.addToRolePolicy(statement));
  }

  /** Sends every error of `states` that no earlier Catch takes to {@link failed}, with the error at `$.error`. */
  protected catchFailures(...states: CatchingState[]): void {
    states.forEach((state) => state.addCatch(this.failed, { resultPath: '$.error' }));
  }

  /**
   * A Pass that fails the stage with an error of its own: puts `error` (`result`, or `parameters` with JSONPath
   * values; `{ Error, Cause }`) at `$.error`, then goes to {@link failed}.
   */
  protected failWith(id: string, error: Pick<sfn.PassProps, 'result' | 'parameters'>): sfn.Chain {
    return new sfn.Pass(this, id, { ...error, resultPath: '$.error' }).next(this.failed);
  }

  /**
   * Fails the stage with the message of a handler's own `error` (e.g. `DatasetError`: the handler telling the
   * operator what to fix) as the failure's cause, instead of the Lambda's error JSON: `names.read` parses the
   * Lambda's error, `names.explained` puts `{ Error: error, Cause: <its errorMessage> }` at `$.error`. The first
   * matching Catch wins, and CDK renders the catch-all of {@link catchFailures} last.
   */
  protected explainHandlerError(
    task: sfn.TaskStateBase,
    error: string,
    names: { readonly read: string; readonly explained: string },
  ): void {
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
        .next(this.failed),
      { errors: [error], resultPath: '$.error' },
    );
  }
}
