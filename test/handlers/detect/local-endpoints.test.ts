import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { apiEvent, contractViolations, imageEvent, makeImage } from './test-helpers';

/**
 * The real handler and real SDK clients, pointed by AWS_ENDPOINT_URL_* at one local HTTP server playing
 * SageMaker Runtime and SSM: what local mode does. Checks the wire format both ways, no SDK mock involved.
 */
interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}
let server: Server;
let seen: Seen[] = [];
let answer: (req: Seen, res: ServerResponse) => void;
let handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(request);
      answer(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: url,
    AWS_ENDPOINT_URL_SSM: url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    ENDPOINT_NAME: 'LogoDetectionPipeline-detector',
    LIVE_MODEL_PARAMETER: '/local/live-model',
    DEFAULT_MIN_SCORE: '0.5',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  ({ handler } = await import('../../../lambda/detect/index'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

function reply(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

test('sends the image bytes, type and CustomAttributes to the endpoint and answers its detections', async () => {
  const png = await makeImage('png');
  const detections = [{ label: 'logo', score: 0.9, box: { left: 1, top: 2, width: 3, height: 4 } }];
  answer = (_req, res) =>
    reply(res, 200, { model: { version: 'v7' }, image: { width: 64, height: 48 }, detections });

  const response = await handler(imageEvent(png, 'image/png', { minScore: ['0.25'], maxResults: ['3'] }));

  expect(contractViolations('POST', '/detections', response)).toEqual([]);
  expect(JSON.parse(response.body)).toMatchObject({ model: { version: 'v7' }, detections });
  expect(seen).toHaveLength(1);
  expect(seen[0].path).toBe('/endpoints/LogoDetectionPipeline-detector/invocations');
  expect(seen[0].headers['content-type']).toBe('image/png');
  expect(seen[0].headers.accept).toBe('application/json');
  expect(seen[0].headers['x-amzn-sagemaker-custom-attributes']).toBe('minScore=0.25;maxResults=3');
  expect(seen[0].body.equals(png)).toBe(true);
});

test('answers 503 with Retry-After when SageMaker says the endpoint is not found', async () => {
  answer = (_req, res) =>
    reply(
      res,
      400,
      { message: 'Endpoint LogoDetectionPipeline-detector of account 123456789012 not found.' },
      { 'x-amzn-ErrorType': 'ValidationError' },
    );
  const response = await handler(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
  expect(response.statusCode).toBe(503);
  expect(response.headers?.['Retry-After']).toBeDefined();
  expect(contractViolations('POST', '/detections', response)).toEqual([]);
});

test('answers 502 when the model container fails, and 400 when it cannot decode the image', async () => {
  const modelError = (status: number) => (_req: Seen, res: ServerResponse) =>
    reply(
      res,
      424,
      {
        message: `Received error (${status}) from primary`,
        OriginalStatusCode: status,
        OriginalMessage: 'boom',
      },
      { 'x-amzn-ErrorType': 'ModelError' },
    );
  answer = modelError(500);
  expect((await handler(imageEvent(await makeImage('jpeg'), 'image/jpeg'))).statusCode).toBe(502);
  answer = modelError(400);
  const undecodable = await handler(imageEvent(await makeImage('jpeg'), 'image/jpeg'));
  expect(undecodable.statusCode).toBe(400);
  expect(JSON.parse(undecodable.body).error.code).toBe('InvalidImage');
});

test('reads GET /model from the SSM parameter', async () => {
  answer = (req, res) => {
    expect(req.headers['x-amz-target']).toBe('AmazonSSM.GetParameter');
    expect(JSON.parse(req.body.toString())).toEqual({ Name: '/local/live-model' });
    reply(
      res,
      200,
      { Parameter: { Name: '/local/live-model', Value: '{"version":"v7","map":0.7}' } },
      {
        'Content-Type': 'application/x-amz-json-1.1',
      },
    );
  };
  const response = await handler(apiEvent({ method: 'GET', resource: '/model' }));
  expect(contractViolations('GET', '/model', response)).toEqual([]);
  expect(JSON.parse(response.body).model).toMatchObject({ version: 'v7', map: 0.7 });
});
