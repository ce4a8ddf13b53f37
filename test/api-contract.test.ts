import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { DetectionApi } from '../lib/api';
import { OPENAPI } from './handlers/detect/test-helpers';
import { newApp } from './app-context';

const specText = readFileSync(join(__dirname, '..', 'openapi', 'detection-api.yaml'), 'utf8');

describe('openapi/detection-api.yaml', () => {
  test('is OpenAPI 3 and every $ref in it resolves', () => {
    expect(OPENAPI).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
    const refs = [...specText.matchAll(/\$ref: '#\/([^']+)'/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const target = ref
        .split('/')
        .reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], OPENAPI);
      expect([ref, target !== undefined]).toEqual([ref, true]);
    }
  });

  test('documents exactly the routes the API deploys', () => {
    const stack = new Stack(newApp(), 'Routes');
    const liveModel = new ssm.StringParameter(stack, 'LiveModel', { stringValue: '{"version":null}' });
    new DetectionApi(stack, 'Api', { endpointName: 'e', liveModel });
    const template = Template.fromStack(stack).toJSON();
    const resources = template.Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown> }
    >;
    const deployed = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGateway::Method')
      .map((m) => {
        const { Ref } = m.Properties.ResourceId as { Ref: string };
        return `${m.Properties.HttpMethod} /${resources[Ref].Properties.PathPart}`;
      })
      .sort();
    const documented = Object.entries(OPENAPI.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    expect(deployed).toEqual(documented);
  });

  test('documents every error code the proxy and API Gateway answer', () => {
    const dir = join(__dirname, '..', 'lambda', 'detect');
    const source = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && !f.includes('.test.'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    const proxyCodes = [...source.matchAll(/new ApiError\(\s*(\d{3}|status),\s*'(\w+)'/g)].map((m) => m[2]);
    const gatewayCodes = [
      ...readFileSync(join(__dirname, '..', 'lib', 'api.ts'), 'utf8').matchAll(
        /ResponseType\.\w+,\s*'(\w+)'/g,
      ),
    ].map((m) => m[1]);
    expect(proxyCodes.length).toBeGreaterThan(10);
    expect(gatewayCodes.length).toBeGreaterThan(10);
    // The proxy's NotFound is unreachable through API Gateway, which answers unknown routes itself.
    const generic = ['NotFound'];
    const undocumented = [...new Set([...proxyCodes, ...gatewayCodes])].filter(
      (code) => !generic.includes(code) && !specText.includes(`\`${code}\``),
    );
    expect(undocumented).toEqual([]);
  });
});
