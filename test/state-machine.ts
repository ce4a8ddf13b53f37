import { Template } from 'aws-cdk-lib/assertions';

/** An Amazon States Language definition (JSONPath), as the pipeline stack synthesizes it. */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [field: string]: unknown;
}

/** One state of an {@link AslDefinition}. */
export type AslState = Record<string, unknown> & { Type: string };

/** Pseudo parameters as a stack in us-east-1 of a test account sees them. */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** A readable, JSON-safe stand-in for a reference the test does not resolve, e.g. `<Ref BucketsRaw1234>`. */
function placeholder(intrinsic: Record<string, unknown>): string {
  const [[name, argument]] = Object.entries(intrinsic);
  return `<${name.replace('Fn::', '')} ${JSON.stringify(argument).replace(/["\\[\]]/g, '')}>`;
}

/**
 * The definition of the one state machine in `template`, for assertions on its states. CDK writes its
 * `DefinitionString` as text, or as an `Fn::Join` of text and references: pseudo parameters (`Ref AWS::Partition`
 * and the like) take the values in {@link PSEUDO}, and every other reference (to a resource, an export, an
 * `Fn::Sub`) is left as a placeholder naming it. Physical names are not the test's concern; running the
 * definition with them is the local harness's (local/).
 *
 * `resolve`, when given, is asked first for each reference part and may return its value.
 *
 * @param output - the stack output that refers to the state machine: the pipeline's (`StateMachineArn`) unless
 *   another is named (`DetectStateMachineArn`)
 * @throws when the output names no state machine of the template.
 */
export function synthesizedDefinition(
  template: Template,
  resolve?: (intrinsic: Record<string, unknown>) => string | undefined,
  output = 'StateMachineArn',
): AslDefinition {
  const machines = [stateMachineResource(template, output)];
  const body = (machines[0].Properties as { DefinitionString: unknown }).DefinitionString;
  if (typeof body === 'string') return JSON.parse(body) as AslDefinition;
  const [separator, parts] = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const intrinsic = part as Record<string, unknown>;
      const resolved = resolve?.(intrinsic);
      if (resolved !== undefined) return resolved;
      const ref = (part as { Ref?: string }).Ref;
      return (ref && PSEUDO[ref]) ?? placeholder(intrinsic);
    })
    .join(separator);
  return JSON.parse(text) as AslDefinition;
}

/** The state machine resource a stack output refers to (`{ "Ref": <logical id> }`). */
export function stateMachineResource(
  template: Template,
  output = 'StateMachineArn',
): { Properties?: Record<string, unknown> } {
  const ref = (template.toJSON().Outputs?.[output]?.Value as { Ref?: string } | undefined)?.Ref;
  const machine =
    ref === undefined ? undefined : template.findResources('AWS::StepFunctions::StateMachine')[ref];
  if (!machine) throw new Error(`Output ${output} names no state machine of the template`);
  return machine as { Properties?: Record<string, unknown> };
}
