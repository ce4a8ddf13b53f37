import {
  InvokeEndpointCommand,
  InvokeEndpointCommandOutput,
  SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import type { Settings } from '../../../lambda/detect/index';
import { apiEvent, contractViolations, makeImage } from './test-helpers';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const sagemaker = mockClient(SageMakerRuntimeClient);
const ssm = mockClient(SSMClient);
const settings: Settings = {
  endpointName: 'LogoDetectionPipeline-detector',
  liveModelParameter: '/test/live-model',
  defaultMinScore: 0.5,
  corsOrigins: [],
};

let route: typeof import('../../../lambda/detect/index').route;

beforeAll(async () => {
  // Imported after the environment is set: the logger and metrics read it when the module loads.
  ({ route } = await import('../../../lambda/detect/index'));
});

beforeEach(() => {
  sagemaker.reset();
  ssm.reset();
  // The SDK succeeds, so any 5xx would be the proxy blaming itself for a client's mistake.
  const answer = {
    model: { version: 'v1' },
    image: { width: 64, height: 48 },
    detections: [{ label: 'logo', score: 0.9, box: { left: 1, top: 2, width: 3, height: 4 } }],
  };
  sagemaker.on(InvokeEndpointCommand).resolves({
    Body: new TextEncoder().encode(JSON.stringify(answer)) as InvokeEndpointCommandOutput['Body'],
  });
  ssm
    .on(GetParameterCommand)
    .resolves({ Parameter: { Value: '{"version":"v1","map":0.8,"apPerClass":{}}' } });
});

test('never throws and never answers a client mistake with a 5xx, whatever the bytes, headers and query', async () => {
  const jpeg = await makeImage('jpeg', 8, 8);
  const png = await makeImage('png', 8, 8);
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.concat([jpeg.subarray(0, 3), b])),
    fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.concat([png.subarray(0, 8), b])),
    fc.constantFrom(jpeg, png),
  );
  const contentType = fc.oneof(
    fc.constantFrom('image/jpeg', 'image/png', 'application/json', 'IMAGE/PNG; q=1', 'text/plain', ''),
    fc.string({ maxLength: 20 }),
  );
  const body = fc.oneof(
    bytes.map((b) => ({ body: b.toString('base64'), isBase64Encoded: true })),
    fc.string({ maxLength: 40 }).map((s) => ({ body: s, isBase64Encoded: false })),
    bytes.map((b) => ({ body: JSON.stringify({ image: b.toString('base64') }), isBase64Encoded: false })),
    fc.jsonValue().map((v) => ({ body: JSON.stringify(v) ?? '', isBase64Encoded: false })),
    fc.constant({ body: null, isBase64Encoded: false }),
  );
  const queryValue = fc.oneof(fc.string({ maxLength: 6 }), fc.double().map(String), fc.integer().map(String));
  const query = fc.option(
    fc.dictionary(
      fc.oneof(fc.constantFrom('minScore', 'maxResults'), fc.string({ maxLength: 8 })),
      fc.array(queryValue, { minLength: 1, maxLength: 2 }),
    ),
    { nil: undefined },
  );
  const headers = fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }));
  const route$ = fc.oneof(
    fc.constantFrom(['POST', '/detections'], ['GET', '/model']),
    fc.tuple(fc.constantFrom('GET', 'PUT', 'POST', 'OPTIONS'), fc.string({ maxLength: 10 })),
  );

  await fc.assert(
    fc.asyncProperty(
      route$,
      contentType,
      body,
      query,
      headers,
      async ([method, resource], type, payload, q, extra) => {
        const event = apiEvent({
          method,
          resource,
          headers: { ...extra, 'Content-Type': type },
          query: q,
          ...payload,
        });
        const response = await route(event, () => settings);
        expect(response.statusCode).toBeLessThan(500);
        expect(JSON.parse(response.body).requestId).toBe('req-123');
        if (
          (method === 'POST' && resource === '/detections') ||
          (method === 'GET' && resource === '/model')
        ) {
          expect(contractViolations(method, resource, response)).toEqual([]);
        }
      },
    ),
    { numRuns: 400 },
  );
});
