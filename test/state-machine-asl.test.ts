import validator from 'asl-validator';
import { buildApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { Template as AssertionTemplate } from 'aws-cdk-lib/assertions';
import { newApp } from './app-context';
import { AslDefinition, stateMachineResource, synthesizedDefinition } from './state-machine';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

/**
 * The two configurations the other pipeline tests synthesize: labels imported with a real-time endpoint, and labels
 * from Ground Truth with a serverless endpoint.
 */
const CONFIGURATIONS: [string, Record<string, unknown>][] = [
  ['import mode (the default configuration)', {}],
  [
    'groundtruth mode, serverless endpoint',
    {
      workteamArn: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:workteam/private-crowd/labelers`,
      schedule: 'rate(1 day)',
      notificationEmail: 'ops@example.com',
      trainingUseSpot: false,
      endpointMode: 'serverless',
    },
  ],
];

/** Every `Ref`, `Fn::GetAtt` (as `"<id>.<attribute>"`) and `Fn::ImportValue` name inside a CloudFormation value. */
function references(value: unknown): { refs: Set<string>; getAtts: Set<string>; imports: Set<string> } {
  const found = { refs: new Set<string>(), getAtts: new Set<string>(), imports: new Set<string>() };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    if (typeof record.Ref === 'string') found.refs.add(record.Ref);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) found.getAtts.add(getAtt.join('.'));
    const imported = record['Fn::ImportValue'];
    if (typeof imported === 'string') found.imports.add(imported);
    Object.values(record).forEach(visit);
  };
  visit(value);
  return found;
}

/** A value of the shape CloudFormation would put there: an ARN for `Arn` (and for `Ref` to a topic), else a name. */
function placeholder(type: string, logicalId: string, attribute?: string): string {
  const name = logicalId.toLowerCase().slice(0, 40);
  const arns: Record<string, string> = {
    'AWS::Lambda::Function': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
    'AWS::IAM::Role': `arn:aws:iam::${ACCOUNT}:role/${name}`,
    'AWS::S3::Bucket': `arn:aws:s3:::${name}`,
    'AWS::KMS::Key': `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}`,
    'AWS::SNS::Topic': `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`,
    'AWS::SSM::Parameter': `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/${name}`,
  };
  const arn = arns[type] ?? `arn:aws:${type.split('::')[1].toLowerCase()}:${REGION}:${ACCOUNT}:${name}`;
  // A Ref to a topic is its ARN; to the other resources the pipeline refers to, their name.
  if (attribute === undefined) return type === 'AWS::SNS::Topic' ? arn : name;
  return attribute === 'Arn' ? arn : `${name}-${attribute.toLowerCase()}`;
}

/** The parts of a synthesized CloudFormation template this test reads. */
interface Template {
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
  readonly Outputs?: Record<string, { readonly Value: unknown; readonly Export?: { readonly Name: string } }>;
}

/** A value of the right shape for a `Ref` or `Fn::GetAtt` (`value`) to a resource of `template`. */
function resolveReference(template: Template, value: unknown): string {
  const { refs, getAtts } = references(value);
  const [target] = [...refs, ...getAtts];
  const [logicalId, attribute] = target.split('.');
  const resource = template.Resources[logicalId];
  if (resource === undefined) throw new Error(`${target} is not a resource of its template`);
  return placeholder(resource.Type, logicalId, attribute);
}

/**
 * The pipeline's definition as Step Functions would receive it: every `Ref`, `Fn::GetAtt` and
 * `Fn::ImportValue` in the DefinitionString replaced with a value of the right shape for the resource it
 * points at (an ARN, a name), imports by the exporting stack's resource. `output` names the state machine: the
 * pipeline's (`StateMachineArn`), or the detect workflow's (`DetectStateMachineArn`).
 */
function resolvedDefinition(context: Record<string, unknown>, output = 'StateMachineArn'): AslDefinition {
  const app = newApp();
  const { pipeline } = buildApp(
    app,
    loadConfig((key) => context[key]),
  );
  const assembly = app.synth();
  const template = assembly.getStackByName(pipeline.stackName).template as Template;
  const exports = new Map<string, string>();
  for (const stack of assembly.stacks) {
    const exporter = stack.template as Template;
    for (const output of Object.values(exporter.Outputs ?? {})) {
      if (output.Export) exports.set(output.Export.Name, resolveReference(exporter, output.Value));
    }
  }
  const machine = stateMachineResource(AssertionTemplate.fromJSON(template), output);
  const { refs, getAtts, imports } = references(machine.Properties?.DefinitionString);
  const substitutions: Record<string, string> = {
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  for (const target of [...refs, ...getAtts].filter((name) => !name.startsWith('AWS::'))) {
    const [logicalId, attribute] = target.split('.');
    substitutions[target] = resolveReference(
      template,
      attribute === undefined ? { Ref: logicalId } : { 'Fn::GetAtt': [logicalId, attribute] },
    );
  }
  for (const name of imports) {
    const value = exports.get(name);
    if (value === undefined) throw new Error(`No stack of the app exports ${name}`);
    substitutions[name] = value;
  }
  const unresolved: string[] = [];
  const definition = synthesizedDefinition(
    AssertionTemplate.fromJSON(template),
    (intrinsic) => {
      const sub = intrinsic['Fn::Sub'];
      if (typeof sub === 'string') {
        // Only pseudo parameters appear in the pipeline's Fn::Sub strings (the image URI of the training job).
        return sub.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
          if (substitutions[name] === undefined) unresolved.push(whole);
          return substitutions[name] ?? whole;
        });
      }
      const { refs: r, getAtts: g, imports: i } = references(intrinsic);
      const [name] = [...r, ...g, ...i];
      const value = name === undefined ? undefined : substitutions[name];
      if (value === undefined) unresolved.push(JSON.stringify(intrinsic));
      return value;
    },
    output,
  );
  expect(unresolved).toEqual([]);
  return definition;
}

describe('the synthesized state machine definition', () => {
  test.each(CONFIGURATIONS)('passes asl-validator in %s', (_name, context) => {
    const result = validator(resolvedDefinition(context), { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  test.each(CONFIGURATIONS)("the detect workflow's passes asl-validator in %s", (_name, context) => {
    const result = validator(resolvedDefinition(context, 'DetectStateMachineArn'), {
      checkPaths: true,
      checkArn: true,
    });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });
});
