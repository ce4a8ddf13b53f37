// The SDK's Node.js version warning is switched off as for the project's commands (the handler builds clients).
import '../../scripts/node-version';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { IncomingHttpHeaders, Server, createServer } from 'http';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { promisify } from 'util';
import { LocalApi, startApiServer } from '../emulator/api-gateway';
import { RuntimeShim, startRuntimeShim } from '../emulator/runtime-shim';

// The client examples run as a user runs them, against the real proxy handler (lambda/detect) behind the local API
// server; the SageMaker runtime shim forwards its InvokeEndpoint to a stand-in model server answering canned
// detections (the endpoint is AWS's boundary: what the model finds is not under test here).
const root = join(__dirname, '..', '..');
const run = promisify(execFile);
const ENDPOINT = 'examples-detector';

/** The model's answer: what the serving container returns (lambda/detect/model.ts `ModelOutput`). */
const MODEL_ANSWER = {
  model: { version: 'train-example-0001' },
  image: { width: 64, height: 48 },
  detections: [
    { label: 'logo', score: 0.93, box: { left: 12.5, top: 8.1, width: 20.4, height: 16 } },
    { label: 'logo', score: 0.41, box: { left: 40, top: 30, width: 10, height: 9.5 } },
    { label: 'logo', score: 0.05, box: { left: 1, top: 1, width: 2, height: 2 } },
  ],
};
const PRINTED = [
  'model train-example-0001, image 64x48, 2 detection(s)',
  'logo 0.93 left=12.5 top=8.1 width=20.4 height=16',
  'logo 0.41 left=40 top=30 width=10 height=9.5',
];
const clients: [string, (url: string, image: string, ...flags: string[]) => Promise<Output>][] = [
  [
    'detect.ts',
    (url, image, ...flags) =>
      output(join(root, 'node_modules', '.bin', 'tsx'), 'detect.ts', url, image, flags),
  ],
  [
    'detect.py',
    (url, image, ...flags) => output(join(root, '.venv', 'bin', 'python'), 'detect.py', url, image, flags),
  ],
];

interface Output {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one example to its end (asynchronously: the API answering it runs in this process). */
async function output(
  program: string,
  script: string,
  url: string,
  image: string,
  flags: string[],
): Promise<Output> {
  try {
    const { stdout, stderr } = await run(program, [join(root, 'examples', script), url, image, ...flags], {
      cwd: root,
      env: { ...process.env, API_KEY: '' },
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('client examples against the local API', () => {
  const savedEnv = { ...process.env };
  let model: Server;
  let shim: RuntimeShim;
  let api: LocalApi;
  let dir: string;
  let seen: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  let png: string;

  beforeAll(async () => {
    model = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(MODEL_ANSWER));
      });
    });
    await new Promise<void>((resolve) => model.listen(0, '127.0.0.1', resolve));
    const modelPort = (model.address() as AddressInfo).port;
    shim = await startRuntimeShim((name) => (name === ENDPOINT ? modelPort : undefined));

    // The handler builds its SDK clients as its module loads: the environment comes first.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: shim.endpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      ENDPOINT_NAME: ENDPOINT,
      LIVE_MODEL_PARAMETER: 'unused-by-post-detections',
      DEFAULT_MIN_SCORE: '0.3',
      POWERTOOLS_LOG_LEVEL: 'CRITICAL',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_METRICS_NAMESPACE: 'logo-detection-test',
    });
    const { handler } = (await import('../../lambda/detect')) as {
      handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
    };
    api = await startApiServer((event) => handler(event));

    dir = mkdtempSync(join(tmpdir(), 'examples-'));
    png = join(dir, 'photo.png');
    writeFileSync(
      png,
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
        .png()
        .toBuffer(),
    );
    writeFileSync(join(dir, 'notes.txt'), 'not an image at all');
  });
  beforeEach(() => {
    seen = [];
  });
  afterAll(async () => {
    await api?.close();
    await shim?.close();
    await new Promise<void>((resolve) => model.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
    process.env = savedEnv;
  });

  test.each(clients)(
    '%s posts the image bytes raw and prints each box the API answers',
    async (_, client) => {
      const result = await client(`${api.url}/`, png);

      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout.trimEnd().split('\n')).toEqual(PRINTED);
      // The model got the very bytes of the file, recognised as PNG by the proxy from an octet-stream body.
      expect(seen).toHaveLength(1);
      expect(seen[0].body.equals(readFileSync(png))).toBe(true);
      expect(seen[0].headers['content-type']).toBe('image/png');
    },
  );

  test.each(clients)('%s passes minScore and maxResults as query parameters', async (_, client) => {
    const result = await client(api.url, png, '--min-score', '0.9', '--max-results', '1');

    expect(result.status).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'model train-example-0001, image 64x48, 1 detection(s)',
      PRINTED[1],
    ]);
  });

  test.each(clients)(
    "%s prints the API's error code, message and request id and exits 1",
    async (_, client) => {
      const result = await client(api.url, join(dir, 'notes.txt'));

      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^415 UnsupportedMediaType: .+ \(request id [0-9a-f-]{36}\)\n$/);
      expect(seen).toHaveLength(0);
    },
  );
});
