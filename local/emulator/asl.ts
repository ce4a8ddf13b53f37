import './polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import { CfnTemplate, TemplateResolver, resourcesOfType } from './template';

/** Any JSON value a state reads or writes. */
export type Json = unknown;
/** One state of a definition. */
export type State = Record<string, unknown>;
/** An Amazon States Language definition (JSONPath). */
export type Definition = { StartAt: string; States: Record<string, State>; [key: string]: unknown };

/** A deep copy made in this realm (structuredClone's copies fail the interpreter's plain-object checks under jest). */
export function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A state machine of a synthesized stack, as Step Functions would receive it. */
export interface SynthesizedStateMachine {
  /** Its definition, every CloudFormation reference resolved. */
  readonly definition: Definition;
  readonly arn: string;
  readonly name: string;
}

/**
 * Takes a state machine of `stack` from its synthesized template: the one the stack's output `output` names (a
 * `Ref` to it), or the stack's only state machine when `output` is not given. Its `DefinitionString` (text, or an
 * `Fn::Join` of text and references) is resolved by `resolver` and parsed, and its ARN and name are given as `Ref`
 * and `Fn::GetAtt ... Name` resolve.
 *
 * @throws when `output` is not given and the stack has no or several state machines, when `output` is not a
 *   reference to one, or for a reference the resolver cannot resolve.
 */
export function stateMachineDefinition(
  templates: Record<string, CfnTemplate>,
  stack: string,
  resolver: TemplateResolver,
  output?: string,
): SynthesizedStateMachine {
  const machines = resourcesOfType(templates[stack] ?? {}, 'AWS::StepFunctions::StateMachine');
  let chosen = machines;
  if (output !== undefined) {
    const ref = (templates[stack]?.Outputs?.[output]?.Value as { Ref?: unknown } | undefined)?.Ref;
    chosen = machines.filter(([logicalId]) => logicalId === ref);
    if (chosen.length !== 1) {
      throw new Error(`Output ${output} of stack ${stack} does not name one of its state machines`);
    }
  }
  if (chosen.length !== 1) {
    throw new Error(
      `Expected one state machine in stack ${stack}, found ${chosen.length}; name the output that refers to it`,
    );
  }
  const [logicalId, resource] = chosen[0];
  const text = String(resolver.resolve(resource.Properties?.DefinitionString, stack));
  return {
    definition: JSON.parse(text) as Definition,
    arn: String(resolver.resolve({ Ref: logicalId }, stack)),
    name: String(resolver.resolve({ 'Fn::GetAtt': [logicalId, 'Name'] }, stack)),
  };
}

/** The item processor of a Map state as a state machine of its own (its `ProcessorConfig` left out). */
export function itemProcessorOf(map: State): Definition {
  const processor = { ...((map.ItemProcessor ?? map.Iterator) as Definition) };
  delete processor.ProcessorConfig;
  return processor;
}

/** Marks a Task state that stands for a Distributed Map (the interpreter runs only inline maps). */
export const DISTRIBUTED_MAP_RESOURCE = 'arn:aws:states:::local:distributedMap';
/** Step Functions lets a task run for a year; the interpreter's default is 60 s, too short for training. */
const TASK_TIMEOUT_SECONDS = 6 * 3600;

/** The local form of a definition: what the interpreter can run, and what local mode runs in its place. */
export interface PreparedDefinition {
  readonly definition: Definition;
  /** Resource of every Task state, by state name (nested states included). */
  readonly tasks: Record<string, string>;
  /** The original Distributed Map states, by name. */
  readonly distributedMaps: Record<string, State>;
  readonly waits: string[];
  readonly retrying: string[];
}

/**
 * Rewrites a definition for aws-local-stepfunctions without changing its wiring: each Distributed Map becomes a
 * Task state of the same name, input/output processing, Retry, Catch and transitions, run by
 * {@link runDistributedMap}; Task states without a timeout get Step Functions' (effectively none) instead of the
 * interpreter's 60 s. Collects the Task, Wait and retrying states for the overrides.
 */
export function prepareDefinition(original: Definition): PreparedDefinition {
  const prepared: PreparedDefinition = {
    definition: cloneJson(original),
    tasks: {},
    distributedMaps: {},
    waits: [],
    retrying: [],
  };
  const seen = new Set<string>();
  const walk = (machine: Definition) => {
    for (const [name, state] of Object.entries(machine.States)) {
      if (seen.has(name))
        throw new Error(`State name "${name}" is used twice; local mode overrides states by name`);
      seen.add(name);
      if (state.Retry) prepared.retrying.push(name);
      if (state.Type === 'Wait') prepared.waits.push(name);
      if (state.Type === 'Parallel') (state.Branches as Definition[]).forEach(walk);
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as Definition & {
          ProcessorConfig?: { Mode?: string };
        };
        walk(processor);
        if (processor.ProcessorConfig?.Mode === 'DISTRIBUTED') {
          prepared.distributedMaps[name] = cloneJson(state);
          const keep = [
            'Comment',
            'InputPath',
            'OutputPath',
            'ResultPath',
            'ResultSelector',
            'Retry',
            'Catch',
            'Next',
            'End',
          ];
          const task: State = {
            Type: 'Task',
            Resource: DISTRIBUTED_MAP_RESOURCE,
            TimeoutSeconds: TASK_TIMEOUT_SECONDS,
          };
          for (const key of keep) if (key in state) task[key] = state[key];
          machine.States[name] = task;
          prepared.tasks[name] = DISTRIBUTED_MAP_RESOURCE;
        }
      }
      if (state.Type === 'Task') {
        prepared.tasks[name] = String(state.Resource);
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = TASK_TIMEOUT_SECONDS;
        }
      }
    }
  };
  walk(prepared.definition);
  return prepared;
}

/** Evaluates a JSONPath payload template (`"key.$": "$.path"`, intrinsic functions) the way the interpreter does. */
export async function evaluateTemplate(
  template: Json,
  input: Json,
  context: Record<string, unknown>,
): Promise<Json> {
  if (template === undefined) return input;
  const machine = new StateMachine(
    {
      StartAt: 'Evaluate',
      States: { Evaluate: { Type: 'Pass', Parameters: template as never, End: true } },
    },
    { validationOptions: { noValidate: true } },
  );
  return machine.run(input as never, { context: context as never }).result;
}
