import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { IncomingHttpHeaders, Server, createServer } from 'http';
import { AddressInfo } from 'net';
import { RuntimeShim, startRuntimeShim } from '../emulator/runtime-shim';

// The model server here is a plain HTTP server standing in for the container's `serve`, so each answer the
// shim must translate can be produced on demand; the client is the real SDK client the API proxy uses.
describe('SageMaker runtime shim', () => {
  let model: Server;
  let modelPort = 0;
  let shim: RuntimeShim;
  let client: SageMakerRuntimeClient;
  let seen: { url?: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  let answer: { status: number; body: string; headers?: Record<string, string> };

  beforeAll(async () => {
    model = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({ url: request.url, headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
        response.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => model.listen(0, '127.0.0.1', resolve));
    modelPort = (model.address() as AddressInfo).port;
    shim = await startRuntimeShim((name) => (name === 'detector' ? modelPort : undefined));
    client = new SageMakerRuntimeClient({
      endpoint: shim.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });
  beforeEach(() => {
    seen = [];
  });
  afterAll(async () => {
    await shim.close();
    await new Promise<void>((resolve) => model.close(() => resolve()));
  });

  test('forwards the image, Content-Type, Accept and custom attributes to /invocations and returns the answer', async () => {
    answer = {
      status: 200,
      body: '{"detections":[]}',
      headers: { 'X-Amzn-SageMaker-Custom-Attributes': 'served=1' },
    };
    const image = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    const result = await client.send(
      new InvokeEndpointCommand({
        EndpointName: 'detector',
        Body: image,
        ContentType: 'image/jpeg',
        Accept: 'application/json',
        CustomAttributes: 'minScore=0.4;maxResults=3',
      }),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe('/invocations');
    expect(seen[0].body.equals(image)).toBe(true);
    expect(seen[0].headers).toMatchObject({
      'content-type': 'image/jpeg',
      accept: 'application/json',
      'x-amzn-sagemaker-custom-attributes': 'minScore=0.4;maxResults=3',
    });
    expect(Buffer.from(result.Body!).toString()).toBe('{"detections":[]}');
    expect(result.ContentType).toBe('application/json');
    expect(result.CustomAttributes).toBe('served=1');
    expect(result.InvokedProductionVariant).toBe('AllTraffic');
  });

  test('a 4xx from the model is a ModelError with its status and message, as SageMaker reports it', async () => {
    answer = { status: 415, body: 'not an image' };
    const error = await client
      .send(
        new InvokeEndpointCommand({
          EndpointName: 'detector',
          Body: Buffer.from('x'),
          ContentType: 'text/plain',
        }),
      )
      .catch((e: Error & { OriginalStatusCode?: number; OriginalMessage?: string }) => e);
    expect(error).toMatchObject({
      name: 'ModelError',
      OriginalStatusCode: 415,
      OriginalMessage: 'not an image',
    });
    expect((error as Error).message).toMatch(/client error \(415\)/);
  });

  test('an endpoint nobody serves is a ValidationError naming it', async () => {
    const error = await client
      .send(new InvokeEndpointCommand({ EndpointName: 'other', Body: Buffer.from('x') }))
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'ValidationError' });
    expect((error as Error).message).toMatch(/Endpoint other of account \d+ not found/);
    expect(seen).toHaveLength(0);
  });
});
