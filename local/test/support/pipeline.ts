import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { buildApp } from '../../../lib/app';
import { loadConfig } from '../../../lib/config';
import { AslDefinition, CfnTemplate, forLocalInterpreter } from '../../../scripts/local/definition';
import { newApp } from '../../../test/app-context';

/** The pipeline stack's template for a configuration given as context values. */
export function pipelineTemplate(context: Record<string, unknown> = {}): CfnTemplate {
  const app = newApp();
  const { pipeline } = buildApp(
    app,
    loadConfig((key) => context[key]),
  );
  return Template.fromStack(pipeline).toJSON() as CfnTemplate;
}

/** An error as a service integration reports it: `name` is the Step Functions error, `message` the cause. */
export class ServiceError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A task stand-in: receives the state's effective input, returns the service's answer or throws. */
export type TaskHandler = (input: Record<string, unknown>) => unknown;

/** What one local execution did. */
export interface LocalRun {
  /** Names of the states entered, in order (top level only). */
  readonly entered: string[];
  /** Every input each overridden Task received, by state name. */
  readonly calls: Record<string, Record<string, unknown>[]>;
  /** The execution's output, or the error it failed with. */
  readonly output?: unknown;
  readonly error?: Error;
}

export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline';

/** Runs the synthesized definition locally with the given task stand-ins; Waits take no time. */
export async function runLocally(
  definition: AslDefinition,
  handlers: Record<string, TaskHandler>,
  input: Record<string, unknown> = {},
): Promise<LocalRun> {
  const local = forLocalInterpreter(definition).definition;
  const machine = new StateMachine(local as never, {
    validationOptions: { checkPaths: false, checkArn: false },
  });
  const calls: Record<string, Record<string, unknown>[]> = {};
  const overrides = Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      async (event: unknown) => {
        (calls[name] ??= []).push(event as Record<string, unknown>);
        return handler(event as Record<string, unknown>);
      },
    ]),
  );
  const waits = Object.fromEntries(
    Object.entries(local.States)
      .filter(([, s]) => s.Type === 'Wait')
      .map(([name]) => [name, 0]),
  );
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: overrides as never,
      waitTimeOverrides: waits,
      retryIntervalOverrides: Object.fromEntries(Object.keys(local.States).map((name) => [name, 0])),
    },
    context: {
      StateMachine: { Id: STATE_MACHINE_ARN, Name: 'Pipeline' },
      Execution: {
        Name: 'run-2026-11-26',
        Id: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:run`,
      },
      State: { EnteredTime: '2026-11-26T06:00:00.000Z', Name: 'state' },
      Task: { Token: 'task-token-1' },
    } as never,
  });
  const entered: string[] = [];
  const collect = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered' && !('index' in event)) entered.push(event.state.name);
    }
  })();
  let output: unknown;
  let error: Error | undefined;
  try {
    output = await execution.result;
  } catch (e) {
    error = e as Error;
  }
  await collect;
  return { entered, calls, output, error };
}
