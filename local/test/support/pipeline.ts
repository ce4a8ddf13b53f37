import { buildApp } from '../../../lib/app';
import { loadConfig } from '../../../lib/config';
import { Definition, stateMachineDefinition } from '../../emulator/asl';
import { localResolver } from '../../emulator/resources';
import { LocalRunner } from '../../emulator/runner';
import { CfnTemplate } from '../../emulator/template';
import { newApp } from '../../../test/app-context';

/**
 * The pipeline's state machine definition for a configuration given as context values, synthesized with the
 * other stacks (whose exports it imports) and every reference resolved to its local stand-in.
 */
export function pipelineDefinition(context: Record<string, unknown> = {}): Definition {
  // The handlers are stood in for, so their bundles are not built.
  const app = newApp({ 'aws:cdk:bundling-stacks': [] });
  const { pipeline } = buildApp(
    app,
    loadConfig((key) => context[key]),
  );
  const templates: Record<string, CfnTemplate> = {};
  for (const stack of app.synth().stacks) templates[stack.stackName] = stack.template as CfnTemplate;
  return stateMachineDefinition(templates, pipeline.stackName, localResolver(templates)).definition;
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
  /** Names of the states entered, in order (each once). */
  readonly entered: string[];
  /** Every input each stood-in Task received, by state name. */
  readonly calls: Record<string, Record<string, unknown>[]>;
  /** The execution's output, or the error it failed with. */
  readonly output?: unknown;
  readonly error?: { readonly name: string; readonly cause: string };
}

export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline';

/**
 * Runs the definition in the local runner with the given task stand-ins, by state name (a Distributed Map's
 * stand-in replaces its whole map run); Waits and retry pauses take no time. A task without a stand-in fails
 * with an error naming it. The execution is `run-2026-11-26`, every state is entered at 2026-11-26T06:00:00Z
 * and `$$.Task.Token` is `task-token-1`.
 */
export async function runLocally(
  definition: Definition,
  handlers: Record<string, TaskHandler>,
  input: Record<string, unknown> = {},
): Promise<LocalRun> {
  const calls: Record<string, Record<string, unknown>[]> = {};
  const runner = new LocalRunner(definition, {
    stateMachine: { arn: STATE_MACHINE_ARN, name: 'Pipeline' },
    tasks: (state) => (event) => {
      const handler = handlers[state];
      if (!handler) throw new Error(`The test gives no stand-in for state "${state}"`);
      (calls[state] ??= []).push(event as Record<string, unknown>);
      return handler(event as Record<string, unknown>);
    },
    sfn: { executions: [], currentToken: () => 'task-token-1' },
    clock: () => new Date('2026-11-26T06:00:00.000Z'),
    waitMs: 0,
    retryMs: 0,
  });
  const report = await runner.execute('run-2026-11-26', input);
  return { entered: report.statesEntered, calls, output: report.output, error: report.error };
}
