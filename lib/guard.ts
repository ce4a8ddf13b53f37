import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { withRetry } from './pipeline-tasks';
import { openBranch, PipelineStage } from './stage';

/**
 * The guard stage: one run at a time. It lists this state machine's running executions (`$.guard.running`);
 * when another one is running besides this run, the run leaves at {@link alreadyRunning}.
 */
export class Guard extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Left when another execution of the state machine is running: this run should stop at once. */
  public readonly alreadyRunning: sfn.INextable;

  constructor(scope: Construct, id: string) {
    super(scope, id, 'guard');
    // The state machine cannot name its own ARN in its definition's IAM without a cycle; the Context object
    // gives it at run time, and the permission is a separate policy (see grantStateMachine).
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
    this.catchFailures(listRunning);
    const anotherRun = new sfn.Choice(this, 'Another run in progress?');
    listRunning.next(anotherRun);
    this.startState = listRunning;
    this.endStates = [openBranch(anotherRun)];
    // This run is one of the running executions.
    this.alreadyRunning = openBranch(anotherRun, sfn.Condition.numberGreaterThan('$.guard.running', 1));
  }

  /**
   * Lets the state machine list its own executions, in a policy of its own created after the state machine: the
   * role's default policy must exist before the state machine (CloudFormation makes it a dependency), so it
   * cannot name the state machine's ARN.
   */
  public override grantStateMachine(stateMachine: sfn.StateMachine): void {
    new iam.Policy(this, 'Policy', {
      roles: [stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:ListExecutions'],
          resources: [stateMachine.stateMachineArn],
        }),
      ],
    });
  }
}
