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
 * @throws when the template has no or several state machines.
 */
export function synthesizedDefinition(
  template: Template,
  resolve?: (intrinsic: Record<string, unknown>) => string | undefined,
): AslDefinition {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  if (machines.length !== 1) {
    throw new Error(`Expected one state machine in the template, found ${machines.length}`);
  }
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
