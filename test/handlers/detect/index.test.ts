import {
  InvokeEndpointCommand,
  InvokeEndpointCommandOutput,
  ModelError,
  ModelNotReadyException,
  SageMakerRuntimeClient,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { apiEvent, contractViolations, imageEvent, makeImage } from './test-helpers';

process.env.ENDPOINT_NAME = 'LogoDetectionPipeline-detector';
process.env.LIVE_MODEL_PARAMETER = '/test/live-model';
process.env.DEFAULT_MIN_SCORE = '0.5';
process.env.CORS_ORIGINS = 'https://app.example.com';
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
// Dev mode sends logs and metrics through the global console, where the tests read them.
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'false';

const sagemaker = mockClient(SageMakerRuntimeClient);
const ssm = mockClient(SSMClient);
let output: string[] = [];
let handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

beforeAll(async () => {
  // Imported after the environment is set: the logger reads its level when the module loads.
  ({ handler } = await import('../../../lambda/detect/index'));
});

beforeEach(() => {
  sagemaker.reset();
  ssm.reset();
  output = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      output.push(String(args[0]));
    });
  }
});

afterEach(() => jest.restoreAllMocks());

const modelAnswer = (detections: object[] = [], extra: object = {}) => ({
  model: { version: 'train-2026-11-20-abc' },
  image: { width: 64, height: 48 },
  detections,
  ...extra,
});
const logo = (score: number, left = 1) => ({
  label: 'logo',
  score,
  box: { left, top: 2, width: 10, height: 8 },
});

function answerWith(body: unknown) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  sagemaker
    .on(InvokeEndpointCommand)
    .resolves({ Body: new TextEncoder().encode(text) as InvokeEndpointCommandOutput['Body'] });
}

/** Calls the handler and checks the answer against the OpenAPI contract. */
async function call(event: APIGatewayProxyEvent) {
  const response = await handler(event);
  expect(contractViolations(event.httpMethod, event.resource, response)).toEqual([]);
  expect(response.headers?.['x-request-id']).toBe('req-123');
  const body = JSON.parse(response.body);
  expect(body.requestId).toBe('req-123');
  return { response, body };
}

const invocations = () => sagemaker.commandCalls(InvokeEndpointCommand);

describe('POST /detections', () => {
  test('sends a raw JPEG to the endpoint as sent and answers its detections with the request id', async () => {
    const jpeg = await makeImage('jpeg');
    answerWith(modelAnswer([logo(0.9)]));

    const { response, body } = await call(imageEvent(jpeg, 'image/jpeg'));

    expect(response.statusCode).toBe(200);
    expect(body).toEqual({ requestId: 'req-123', ...modelAnswer([logo(0.9)]) });
    expect(invocations()).toHaveLength(1);
    const input = invocations()[0].args[0].input;
    expect(input).toMatchObject({
      EndpointName: 'LogoDetectionPipeline-detector',
      ContentType: 'image/jpeg',
      Accept: 'application/json',
      CustomAttributes: 'minScore=0.5;maxResults=20',
    });
    expect(Buffer.from(input.Body as Uint8Array).equals(jpeg)).toBe(true);
  });

  test('decodes a base64 PNG from JSON and sends the bytes with the sniffed type', async () => {
    const png = await makeImage('png');
    answerWith(modelAnswer());

    const { response, body } = await call(
      apiEvent({
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ image: png.toString('base64') }),
      }),
    );

    expect(response.statusCode).toBe(200);
    expect(body.detections).toEqual([]);
    const input = invocations()[0].args[0].input;
    expect(input.ContentType).toBe('image/png');
    expect(Buffer.from(input.Body as Uint8Array).equals(png)).toBe(true);
  });

  test('passes minScore and maxResults to the model and holds its answer to them, best first', async () => {
    answerWith(modelAnswer([logo(0.65, 1), logo(0.2, 2), logo(0.95, 3), logo(0.8, 4)]));

    const { body } = await call(
      imageEvent(await makeImage('jpeg'), 'image/jpeg', { minScore: ['0.6'], maxResults: ['2'] }),
    );

    expect(invocations()[0].args[0].input.CustomAttributes).toBe('minScore=0.6;maxResults=2');
    expect(body.detections).toEqual([logo(0.95, 3), logo(0.8, 4)]);
  });

  test.each([
    ['an empty body', 400, 'EmptyBody', imageEvent(Buffer.alloc(0), 'image/jpeg')],
    [
      'a JSON body that is not JSON',
      400,
      'InvalidJson',
      apiEvent({ headers: { 'Content-Type': 'application/json' }, body: '{"image":' }),
    ],
    [
      'a JSON array',
      400,
      'InvalidJson',
      apiEvent({ headers: { 'Content-Type': 'application/json' }, body: '[]' }),
    ],
    [
      'JSON without image',
      400,
      'InvalidJson',
      apiEvent({ headers: { 'Content-Type': 'application/json' }, body: '{"img":"AAAA"}' }),
    ],
    [
      'invalid base64',
      400,
      'InvalidBase64',
      apiEvent({ headers: { 'Content-Type': 'application/json' }, body: '{"image":"not*base64!"}' }),
    ],
    [
      'a data: URL of a PNG signature alone',
      400,
      'InvalidImage',
      apiEvent({
        headers: { 'Content-Type': 'application/json' },
        body: '{"image":"data:image/png;base64,iVBORw0KGgo="}',
      }),
    ],
    [
      'a wrong content type',
      415,
      'UnsupportedMediaType',
      apiEvent({ headers: { 'Content-Type': 'text/plain' }, body: 'hello' }),
    ],
    ['no content type', 415, 'UnsupportedMediaType', apiEvent({ body: 'hello' })],
    [
      'a GIF declared as JPEG',
      415,
      'UnsupportedMediaType',
      imageEvent(Buffer.from('GIF89a\x01\x00\x01\x00'), 'image/jpeg'),
    ],
  ])('answers %s with %i %s and does not call the model', async (_name, status, code, event) => {
    const { response, body } = await call(event);
    expect(response.statusCode).toBe(status);
    expect(body.error.code).toBe(code);
    expect(invocations()).toHaveLength(0);
  });

  test('rejects a 7 MB body with 413 and says the limit', async () => {
    const big = Buffer.concat([await makeImage('jpeg'), Buffer.alloc(7 * 1000 * 1000)]);
    const { response, body } = await call(imageEvent(big, 'image/jpeg'));
    expect(response.statusCode).toBe(413);
    expect(body.error.message).toContain('4194304 bytes (4 MiB)');
    expect(invocations()).toHaveLength(0);
  });

  test('rejects a base64 image over 4 MiB in JSON with 413 before decoding it', async () => {
    const big = Buffer.concat([await makeImage('png'), Buffer.alloc(4 * 1024 * 1024)]);
    const { response } = await call(
      apiEvent({
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ image: big.toString('base64') }),
      }),
    );
    expect(response.statusCode).toBe(413);
  });

  test('takes a PNG sent as image/jpeg and sends it to the model as the PNG it is', async () => {
    const png = await makeImage('png');
    answerWith(modelAnswer());

    const { response } = await call(imageEvent(png, 'image/jpeg'));

    expect(response.statusCode).toBe(200);
    expect(invocations()[0].args[0].input).toMatchObject({ ContentType: 'image/png', Body: png });
  });

  test('forwards a PNG with a sound header and garbage data to the model and passes its 400 on as InvalidImage', async () => {
    const garbage = Buffer.concat([(await makeImage('png')).subarray(0, 33), Buffer.from('garbage')]);
    sagemaker.on(InvokeEndpointCommand).rejects(
      new ModelError({
        message: 'Received client error (400) from primary with message "cannot identify image file"',
        $metadata: {},
        OriginalStatusCode: 400,
        OriginalMessage: 'cannot identify image file <_io.BytesIO object at 0x7f>',
      }),
    );

    const { response, body } = await call(imageEvent(garbage, 'image/png'));

    expect(invocations()).toHaveLength(1);
    expect(response.statusCode).toBe(400);
    expect(body.error.code).toBe('InvalidImage');
    expect(response.body).not.toContain('BytesIO');
  });

  test.each([
    [{ foo: ['1'], MinScore: ['0.2'] }, 'UnknownParameter', 'foo, MinScore'],
    [{ minScore: ['1.5'] }, 'InvalidParameter', 'minScore'],
    [{ minScore: ['-0.1'] }, 'InvalidParameter', 'minScore'],
    [{ minScore: ['abc'] }, 'InvalidParameter', 'minScore'],
    [{ maxResults: ['0'] }, 'InvalidParameter', 'maxResults'],
    [{ maxResults: ['101'] }, 'InvalidParameter', 'maxResults'],
    [{ maxResults: ['2.5'] }, 'InvalidParameter', 'maxResults'],
    [{ maxResults: ['5', '6'] }, 'InvalidParameter', 'more than once'],
  ])('answers query %j with 400 %s naming %s', async (query, code, named) => {
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg', query));
    expect(response.statusCode).toBe(400);
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(named);
    expect(invocations()).toHaveLength(0);
  });

  test('answers 503 NoModelDeployed with Retry-After when the endpoint does not exist yet', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(
      new ValidationError({
        message: 'Endpoint LogoDetectionPipeline-detector of account 123456789012 not found.',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(response.statusCode).toBe(503);
    expect(body.error.code).toBe('NoModelDeployed');
    expect(Number(response.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect(response.body).not.toContain('123456789012');
  });

  test('answers 503 ModelUnavailable with Retry-After when the endpoint is not ready', async () => {
    sagemaker
      .on(InvokeEndpointCommand)
      .rejects(new ModelNotReadyException({ message: 'not ready', $metadata: {} }));
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(response.statusCode).toBe(503);
    expect(body.error.code).toBe('ModelUnavailable');
    expect(response.headers?.['Retry-After']).toBeDefined();
  });

  test('answers 502 ModelError without internals when the model container fails', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(
      new ModelError({
        message: 'Received server error (500) from primary',
        $metadata: {},
        OriginalStatusCode: 500,
        OriginalMessage: 'Traceback (most recent call last): File "/opt/program/serve.py"',
        LogStreamArn: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x',
      }),
    );
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(response.statusCode).toBe(502);
    expect(body.error.code).toBe('ModelError');
    expect(response.body).not.toMatch(/Traceback|arn:aws|serve\.py/);
  });

  test('answers 504 ModelTimeout when the model does not answer in time', async () => {
    sagemaker
      .on(InvokeEndpointCommand)
      .rejects(
        Object.assign(new Error('the request socket timed out after 20000 ms'), { name: 'TimeoutError' }),
      );
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(response.statusCode).toBe(504);
    expect(body.error.code).toBe('ModelTimeout');
  });

  test.each([
    ['not JSON', '<html>oops</html>'],
    ['no detections', { model: { version: 'v1' }, image: { width: 1, height: 1 } }],
    ['a score above 1', modelAnswer([logo(1.5)])],
    [
      'a box without height',
      modelAnswer([{ label: 'logo', score: 0.9, box: { left: 0, top: 0, width: 1 } }]),
    ],
    ['no model version', { ...modelAnswer(), model: {} }],
  ])('answers 502 InvalidModelResponse when the model answers %s', async (_name, answer) => {
    answerWith(answer);
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(response.statusCode).toBe(502);
    expect(body.error.code).toBe('InvalidModelResponse');
  });

  test('answers 500 InternalError without the stack trace for an unexpected failure, and logs it', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(new Error('socket hang up at secret-host:443'));
    const { response, body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(response.statusCode).toBe(500);
    expect(body.error).toEqual({ code: 'InternalError', message: 'Internal error.' });
    const errorLog = output.map((line) => JSON.parse(line)).find((entry) => entry.level === 'ERROR');
    expect(errorLog).toMatchObject({ requestId: 'req-123', code: 'InternalError' });
    expect(JSON.stringify(errorLog)).toContain('secret-host');
  });

  test('logs the request id, latency and detection count as JSON and publishes EMF metrics', async () => {
    answerWith(modelAnswer([logo(0.9), logo(0.8)]));
    await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    const entries = output.map((line) => JSON.parse(line));
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: 'request done',
        requestId: 'req-123',
        status: 200,
        detectionCount: 2,
        latencyMs: expect.any(Number),
      }),
    );
    const emf = entries.find((entry) => entry._aws);
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('LogoDetection');
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toEqual(
      expect.arrayContaining(['Latency', 'ModelLatency', 'Detections']),
    );
    expect(emf.Detections).toBe(2);
  });
});

describe('default minScore', () => {
  let clearThresholdCache: () => void;
  beforeAll(async () => {
    ({ clearThresholdCache } = await import('../../../lambda/detect/live-model'));
  });
  beforeEach(() => {
    clearThresholdCache();
    delete process.env.DEFAULT_MIN_SCORE;
  });
  afterAll(() => {
    process.env.DEFAULT_MIN_SCORE = '0.5';
  });

  const record = (fields: object) =>
    ssm
      .on(GetParameterCommand, { Name: '/test/live-model' })
      .resolves({ Parameter: { Value: JSON.stringify({ version: 'v1', map: 0.8, ...fields }) } });
  const sentMinScore = () => invocations().map((call) => call.args[0].input.CustomAttributes);

  test('a request without minScore gets the live model’s calibrated threshold, read once a minute', async () => {
    record({ threshold: 0.4375 });
    answerWith(modelAnswer([logo(0.9), logo(0.44, 2), logo(0.43, 3)]));

    const { body } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));

    expect(sentMinScore()).toEqual(['minScore=0.4375;maxResults=20', 'minScore=0.4375;maxResults=20']);
    expect(body.detections).toEqual([logo(0.9), logo(0.44, 2)]);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  test('a request that sends minScore keeps it, without reading the record', async () => {
    record({ threshold: 0.4375 });
    answerWith(modelAnswer());
    await call(imageEvent(await makeImage('jpeg'), 'image/jpeg', { minScore: ['0.7'] }));
    expect(sentMinScore()).toEqual(['minScore=0.7;maxResults=20']);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  test('a configured apiDefaultMinScore overrides the calibrated threshold', async () => {
    process.env.DEFAULT_MIN_SCORE = '0.65';
    record({ threshold: 0.4375 });
    answerWith(modelAnswer());
    await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
    expect(sentMinScore()).toEqual(['minScore=0.65;maxResults=20']);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  test('falls back to 0.5 when the record has no threshold or cannot be read, and still answers', async () => {
    record({});
    answerWith(modelAnswer());
    await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));

    clearThresholdCache();
    ssm.reset();
    ssm
      .on(GetParameterCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { response } = await call(imageEvent(await makeImage('jpeg'), 'image/jpeg'));

    expect(response.statusCode).toBe(200);
    expect(sentMinScore()).toEqual(['minScore=0.5;maxResults=20', 'minScore=0.5;maxResults=20']);
    expect(output.some((line) => line.includes('default minScore falls back'))).toBe(true);
  });
});

describe('GET /model', () => {
  const getModel = () => apiEvent({ method: 'GET', resource: '/model' });

  test('answers the live model version and validation mAP from the SSM record', async () => {
    ssm.on(GetParameterCommand, { Name: '/test/live-model' }).resolves({
      Parameter: {
        Value: JSON.stringify({
          version: 'train-2026-11-20-abc',
          map: 0.81,
          apPerClass: { logo: 0.81 },
          endpointName: 'LogoDetectionPipeline-detector',
          deployedAt: '2026-11-20T10:00:00.000Z',
        }),
      },
    });
    const { response, body } = await call(getModel());
    expect(response.statusCode).toBe(200);
    expect(body.model).toEqual({
      version: 'train-2026-11-20-abc',
      map: 0.81,
      variant: null,
      mapInt8: null,
      apPerClass: { logo: 0.81 },
      threshold: null,
      reportUri: null,
      deployedAt: '2026-11-20T10:00:00.000Z',
    });
  });

  test('answers the calibrated threshold, AP per class and report location the pipeline recorded', async () => {
    ssm.on(GetParameterCommand, { Name: '/test/live-model' }).resolves({
      Parameter: {
        Value: JSON.stringify({
          version: 'train-2026-12-01-report',
          map: 0.84,
          variant: 'fp32',
          apPerClass: { logo: 0.9, badge: 0.78 },
          threshold: 0.4375,
          reportUri: 's3://artifacts/reports/train-2026-12-01-report/report.html',
          deployedAt: '2026-12-01T10:00:00.000Z',
        }),
      },
    });
    const { body } = await call(getModel());
    expect(body.model).toMatchObject({
      apPerClass: { logo: 0.9, badge: 0.78 },
      threshold: 0.4375,
      reportUri: 's3://artifacts/reports/train-2026-12-01-report/report.html',
    });
  });

  test('answers which variant serves and the int8 mAP when the record has them', async () => {
    ssm.on(GetParameterCommand, { Name: '/test/live-model' }).resolves({
      Parameter: {
        Value: JSON.stringify({
          version: 'train-2026-12-01-int8',
          map: 0.81,
          variant: 'int8',
          mapInt8: 0.805,
          deployedAt: '2026-12-01T10:00:00.000Z',
        }),
      },
    });
    const { response, body } = await call(getModel());
    expect(response.statusCode).toBe(200);
    expect(body.model).toMatchObject({ version: 'train-2026-12-01-int8', variant: 'int8', mapInt8: 0.805 });
  });

  test('answers null for a variant it does not know rather than passing it on', async () => {
    ssm.on(GetParameterCommand).resolves({
      Parameter: { Value: '{"version":"v2","variant":"int4","mapInt8":"0.8"}' },
    });
    const { body } = await call(getModel());
    expect(body.model).toMatchObject({ version: 'v2', variant: null, mapInt8: null });
  });

  test('answers 404 NoModelDeployed before the first deployment', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: '{"version":null}' } });
    const { response, body } = await call(getModel());
    expect(response.statusCode).toBe(404);
    expect(body.error.code).toBe('NoModelDeployed');
  });

  test('answers 500 without internals when SSM fails', async () => {
    ssm
      .on(GetParameterCommand)
      .rejects(
        Object.assign(new Error('AccessDenied on arn:aws:ssm:...'), { name: 'AccessDeniedException' }),
      );
    const { response } = await call(getModel());
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('arn:aws');
  });
});

describe('routing and CORS', () => {
  test('answers an unknown route with 404 NotFound', async () => {
    const response = await handler(apiEvent({ method: 'DELETE', resource: '/detections' }));
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).error.code).toBe('NotFound');
  });

  test('echoes an allowed origin and ignores any other', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: '{"version":null}' } });
    const allowed = await handler(
      apiEvent({ method: 'GET', resource: '/model', headers: { Origin: 'https://app.example.com' } }),
    );
    expect(allowed.headers?.['Access-Control-Allow-Origin']).toBe('https://app.example.com');
    const other = await handler(
      apiEvent({ method: 'GET', resource: '/model', headers: { Origin: 'https://evil.example' } }),
    );
    expect(other.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });

  test('answers 500 InternalError, not a crash, when the function is misconfigured', async () => {
    const { route } = await import('../../../lambda/detect/index');
    const response = await route(apiEvent({ method: 'GET', resource: '/model' }), () => {
      throw new Error('Environment variable ENDPOINT_NAME is not set');
    });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('ENDPOINT_NAME');
  });
});
