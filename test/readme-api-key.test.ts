import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { DetectionApi } from '../lib/api';
import { newApp } from './app-context';

const root = join(__dirname, '..');
// The API-key section lives in docs/reference.md; aws apigateway commands may appear in either file.
const reference = readFileSync(join(root, 'docs', 'reference.md'), 'utf8');
const docs = [readFileSync(join(root, 'README.md'), 'utf8'), reference].join('\n');

/** The docs/reference.md section under `heading`, up to the next heading of its level or above (code blocks skipped). */
function section(heading: string): string {
  const lines = reference.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`docs/reference.md has no section "${heading}"`);
  const level = heading.indexOf(' ');
  let inCode = false;
  let end = start + 1;
  for (; end < lines.length; end += 1) {
    if (lines[end].startsWith('```')) inCode = !inCode;
    const match = /^(#+) /.exec(lines[end]);
    if (!inCode && match && match[1].length <= level) break;
  }
  return lines.slice(start, end).join('\n');
}

/** An `aws apigateway` command line: its sub-command and its options (`null` for a flag without value). */
interface CliCommand {
  readonly line: string;
  readonly command: string;
  readonly options: Record<string, string | null>;
}

/** Splits on blanks outside quotes; stops at the `)` that closes the `$(` the command is in. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let depth = 0;
  for (const char of text) {
    if (quote) {
      if (char === quote) quote = '';
      else word += char;
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
    } else if (/\s/.test(char)) {
      if (word) words.push(word);
      word = '';
    } else {
      if (char === ')' && depth === 0) break;
      if (char === '(') depth += 1;
      if (char === ')') depth -= 1;
      word += char;
    }
  }
  if (word) words.push(word);
  return words;
}

/** Every `aws apigateway ...` command in the code blocks of the README and docs/reference.md, continuation lines joined. */
function apiGatewayCommands(): CliCommand[] {
  const blocks = [...docs.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1].replace(/\\\n\s*/g, ' '));
  return blocks.flatMap((block) =>
    [...block.matchAll(/aws apigateway ([^\n]*)/g)].map((m) => {
      const [command, ...rest] = shellWords(m[1]);
      const options: Record<string, string | null> = {};
      for (let i = 0; i < rest.length; i += 1) {
        const name = rest[i].replace(/^--/, '');
        const value = rest[i + 1] !== undefined && !rest[i + 1].startsWith('--') ? rest[i + 1] : null;
        options[name] = value;
        if (value !== null) i += 1;
      }
      return { line: `aws apigateway ${m[1]}`, command, options };
    }),
  );
}

/**
 * What is wrong with each command, checked against the API Gateway model of botocore in the project venv
 * (npm run py:env): the operation must exist, every option must be one of its parameters (or a global option),
 * every required parameter must be given, and `key=value` shorthand must use the structure's member names.
 */
function cliViolations(commands: CliCommand[]): string[] {
  const script = `
import json, sys
import botocore.session
from botocore import xform_name
model = botocore.session.get_session().get_service_model('apigateway')
by_cli = {xform_name(name, '-'): name for name in model.operation_names}
GLOBAL = {'query', 'output', 'region', 'profile', 'no-cli-pager'}
problems = []
for c in json.loads(sys.argv[1]):
    operation = by_cli.get(c['command'])
    if operation is None:
        problems.append(f"{c['line']}: no operation {c['command']}")
        continue
    shape = model.operation_model(operation).input_shape
    members = {xform_name(name, '-'): name for name in shape.members}
    for option, value in c['options'].items():
        name = members.get(option) or members.get(option.removeprefix('no-'))
        if option in GLOBAL:
            continue
        if name is None:
            problems.append(f"{c['line']}: {operation} has no parameter --{option}")
            continue
        target = shape.members[name]
        target = target.member if target.type_name == 'list' else target
        if value and target.type_name == 'structure' and '=' in value:
            keys = {pair.split('=')[0] for pair in value.split(',')}
            unknown = keys - set(target.members)
            if unknown:
                problems.append(f"{c['line']}: --{option} has no member {sorted(unknown)}")
    for name in shape.required_members:
        if xform_name(name, '-') not in c['options']:
            problems.append(f"{c['line']}: {operation} needs --{xform_name(name, '-')}")
print(json.dumps(problems))
`;
  const output = execFileSync(
    join(root, '.venv', 'bin', 'python'),
    ['-c', script, JSON.stringify(commands)],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(output) as string[];
}

describe('README: API keys', () => {
  const apiKey = section('### With an API key (`apiAuth=apiKey`)');

  test('says plainly what one shared key protects and what it does not', () => {
    expect(apiKey).toMatch(/not a credential/);
    expect(apiKey).toMatch(/not to\s+use API keys for authentication or authorization/);
    expect(apiKey).toMatch(/share one\s+rate and one quota/);
    expect(apiKey).toMatch(/apiAuth=iam/);
  });

  test('shows how to give each client its own key and plan, and how to revoke one', () => {
    const commands = apiGatewayCommands().filter((c) => apiKey.includes(c.line.split(' --')[0]));
    const used = new Set(commands.map((c) => c.command));
    for (const command of [
      'create-api-key',
      'create-usage-plan',
      'create-usage-plan-key',
      'update-api-key',
    ]) {
      expect([command, used.has(command)]).toEqual([command, true]);
    }
  });

  test('every aws apigateway command in the README and docs/reference.md names a real operation with real parameters', () => {
    const commands = apiGatewayCommands();
    expect(commands.length).toBeGreaterThanOrEqual(8);
    expect(cliViolations(commands)).toEqual([]);
  });

  test('the commands name the stage the API deploys', () => {
    const stack = new Stack(newApp(), 'Stage');
    const liveModel = new ssm.StringParameter(stack, 'LiveModel', { stringValue: '{"version":null}' });
    new DetectionApi(stack, 'Api', { endpointName: 'e', liveModel, auth: 'apiKey' });
    const stages = Object.values(Template.fromStack(stack).findResources('AWS::ApiGateway::Stage')).map(
      (s) => (s.Properties as { StageName: string }).StageName,
    );
    const documented = [...apiKey.matchAll(/stage=([\w-]+)/g)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(0);
    for (const stage of documented) expect(stages).toContain(stage);
  });
});
