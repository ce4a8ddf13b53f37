import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ExecutionLogLevel } from './config';

/** How a workflow's executions are logged: the props the pipeline and the detect workflow share. */
export interface WorkflowLogProps {
  /**
   * What the execution logs hold: `ERROR` logs failures only, without the states' data; `ALL` logs every state
   * with its input and output, task tokens included (for debugging).
   * @default 'ERROR'
   */
  readonly executionLogLevel?: ExecutionLogLevel;
  /**
   * Remove the execution log group with the stack.
   * @default false - the log group is retained
   */
  readonly destroyLogs?: boolean;
}

/** Properties of {@link loggedStateMachine}. */
export interface LoggedStateMachineProps extends WorkflowLogProps {
  /** The state machine's comment. */
  readonly comment: string;
  /** The first state of its definition. */
  readonly definition: sfn.IChainable;
  /** Longest an execution may take before Step Functions stops it. */
  readonly timeout: Duration;
}

/**
 * A standard state machine (`StateMachine`) traced with X-Ray, with its execution log group (`Logs`, kept a year)
 * at `executionLogLevel`, both created in `scope`. At `ERROR`, cdk-nag's AwsSolutions-SF1 is acknowledged with the
 * reason: each execution's full history stays in Step Functions.
 */
export function loggedStateMachine(scope: Construct, props: LoggedStateMachineProps): sfn.StateMachine {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: logs.RetentionDays.ONE_YEAR,
    removalPolicy: props.destroyLogs ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
  const logAll = props.executionLogLevel === 'ALL';
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    logs: {
      destination: logGroup,
      level: logAll ? sfn.LogLevel.ALL : sfn.LogLevel.ERROR,
      includeExecutionData: logAll,
    },
    tracingEnabled: true,
    timeout: props.timeout,
  });
  if (!logAll) {
    Validations.of(stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'Execution logs keep failures only by default: logging every state would copy its data, task tokens ' +
        "included, into the logs for a year. Each execution's full history stays in Step Functions (90 days " +
        'after it ends); set executionLogLevel=ALL to log every state while debugging.',
    });
  }
  return stateMachine;
}
