/** A CloudFormation template as synthesized (only what the loader reads). */
export interface CfnTemplate {
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
}

/** An Amazon States Language definition (JSONPath). */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [field: string]: unknown;
}

/** One state of an {@link AslDefinition}. */
export type AslState = Record<string, unknown> & { Type: string };

const PSEUDO: Record<string, string> = {
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

type Intrinsic = Record<string, unknown>;

function resolve(value: unknown, subs: Record<string, string>, template: CfnTemplate): string {
  if (typeof value === 'string') return value;
  const fn = value as Intrinsic;
  if ('Ref' in fn) {
    const name = fn.Ref as string;
    return subs[name] ?? PSEUDO[name] ?? `<${name}>`;
  }
  if ('Fn::GetAtt' in fn) {
    const [id, attr] = fn['Fn::GetAtt'] as [string, string];
    return subs[`${id}.${attr}`] ?? `<${id}.${attr}>`;
  }
  if ('Fn::ImportValue' in fn) {
    const name = resolve(fn['Fn::ImportValue'], subs, template);
    return subs[name] ?? `<import:${name}>`;
  }
  if ('Fn::Join' in fn) {
    const [sep, parts] = fn['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolve(p, subs, template)).join(sep);
  }
  if ('Fn::FindInMap' in fn) {
    const [map, top, second] = (fn['Fn::FindInMap'] as unknown[]).map((p) => resolve(p, subs, template));
    const mappings = (
      template as unknown as { Mappings?: Record<string, Record<string, Record<string, string>>> }
    ).Mappings;
    return mappings?.[map]?.[top]?.[second] ?? `<${map}.${top}.${second}>`;
  }
  if ('Fn::Sub' in fn && typeof fn['Fn::Sub'] === 'string') {
    return fn['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_m, name: string) =>
      resolve(name.includes('.') ? { 'Fn::GetAtt': name.split('.') } : { Ref: name }, subs, template),
    );
  }
  if ('Fn::Select' in fn) {
    const [index, list] = fn['Fn::Select'] as [number, unknown];
    const items = Array.isArray(list) ? list.map((p) => resolve(p, subs, template)) : [];
    return items[index] ?? `<select:${index}>`;
  }
  throw new Error(`loadPipelineDefinition: unsupported intrinsic ${JSON.stringify(fn).slice(0, 200)}`);
}

/**
 * Takes the pipeline's state machine definition from a synthesized template, as Step Functions would receive it.
 *
 * The template must hold exactly one `AWS::StepFunctions::StateMachine`. Its `DefinitionString` (a string or
 * an `Fn::Join`) is resolved to text: `Ref`s are looked up in `substitutions` by logical ID, `Fn::GetAtt`s by
 * `"<logical ID>.<attribute>"`, `Fn::ImportValue`s by export name, then by the resolved name; the pseudo
 * parameters default to us-east-1 / aws / 123456789012 unless substituted (e.g. `{"AWS::Region": "eu-west-1"}`);
 * `Fn::FindInMap` reads the template's Mappings and `Fn::Sub` (string form) substitutes the same way. Anything not substituted becomes a readable placeholder such as
 * `<PreprocessFunction1234.Arn>`. No state is changed: use {@link forLocalInterpreter} for what local
 * interpreters cannot run.
 *
 * @throws when the template has no or several state machines, or an intrinsic the definition should not contain.
 */
export function loadPipelineDefinition(
  templateJson: CfnTemplate,
  substitutions: Record<string, string> = {},
): AslDefinition {
  const machines = Object.values(templateJson.Resources).filter(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machines.length !== 1) {
    throw new Error(
      `loadPipelineDefinition: expected one state machine in the template, found ${machines.length}`,
    );
  }
  const text = resolve(machines[0].Properties?.DefinitionString, substitutions, templateJson);
  return JSON.parse(text) as AslDefinition;
}

/** A Distributed Map replaced by {@link forLocalInterpreter}, keyed by state name. */
export interface ReplacedMap {
  /** The original Map state. */
  readonly state: AslState;
  /** Its item processor as a state machine of its own (`StartAt` and `States`; `ProcessorConfig` dropped). */
  readonly itemProcessor: AslDefinition;
}

/**
 * Makes a definition runnable by aws-local-stepfunctions, changing only what it cannot run, and returns what
 * it changed.
 *
 * A Distributed Map (a Map with `ItemReader`) lists its items from S3 inside Step Functions, which the local
 * interpreter cannot do (it only maps over arrays in the state's input). Each one becomes a Task state of the
 * same name with the same `Next`/`End`, `Catch`, `Retry`, `ResultSelector` and `ResultPath`, so a local task
 * handler stands in for the whole map run (returning, e.g., `{ ResultWriterDetails }`); its item processor is
 * returned so it can be run on its own.
 */
export function forLocalInterpreter(definition: AslDefinition): {
  definition: AslDefinition;
  distributedMaps: Record<string, ReplacedMap>;
} {
  const distributedMaps: Record<string, ReplacedMap> = {};
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Map' && state.ItemReader) {
      const kept = [
        'Next',
        'End',
        'Catch',
        'Retry',
        'ResultSelector',
        'ResultPath',
        'OutputPath',
        'InputPath',
      ];
      states[name] = {
        Type: 'Task',
        Resource: 'arn:aws:states:::distributed-map',
        ...Object.fromEntries(kept.filter((k) => k in state).map((k) => [k, state[k]])),
      };
      const { StartAt, States } = state.ItemProcessor as AslDefinition;
      distributedMaps[name] = { state, itemProcessor: { StartAt, States } };
    } else {
      states[name] = state;
    }
  }
  return { definition: { ...definition, States: states }, distributedMaps };
}
