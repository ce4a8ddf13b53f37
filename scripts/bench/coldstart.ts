import { execFile } from 'child_process';
import { promisify } from 'util';
import { createServer } from 'http';
import { AddressInfo } from 'net';
import { mkdirSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { lambdaAssets } from './bundles';
import { photoJpeg } from './payload';
import { Section } from './report';
import { median, ms } from './stats';

const ROOT = join(__dirname, '..', '..');

/** Runs in a fresh Node process: require the bundle, call its handler once, print the times. */
const CHILD = `
const start = performance.now();
const bundle = require(process.argv[1]);
const loaded = performance.now();
const event = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
bundle.handler(event, {}).then((result) => {
  const done = performance.now();
  process.stdout.write('\\nCOLDSTART ' + JSON.stringify({ require: loaded - start, total: done - start, status: result.statusCode }) + '\\n');
});
`;

interface ChildTimes {
  require: number;
  total: number;
  status: number;
}

/**
 * Cold start of the API proxy's deployed bundle in a fresh Node process (require + first handler call), with
 * SageMaker answered by a local HTTP server at the network boundary, beside a trivial handler measured the same way.
 */
export async function benchColdStart(cdkOut: string, workDir: string, runs: number): Promise<Section> {
  const proxy = lambdaAssets(cdkOut).find((a) => /Api\/.*Proxy/.test(a.name));
  if (!proxy) throw new Error('no API proxy function in the synthesized app');
  mkdirSync(workDir, { recursive: true });
  const trivial = join(workDir, 'trivial-handler.js');
  writeFileSync(trivial, 'exports.handler = async () => ({ statusCode: 200, body: "" });\n');
  const eventFile = join(workDir, 'coldstart-event.json');
  const jpeg = await photoJpeg();
  writeFileSync(
    eventFile,
    JSON.stringify({
      httpMethod: 'POST',
      path: '/detections',
      resource: '/detections',
      headers: { 'Content-Type': 'image/jpeg' },
      queryStringParameters: null,
      body: jpeg.toString('base64'),
      isBase64Encoded: true,
      requestContext: { requestId: 'bench-cold-start' },
    }),
  );

  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({ model: { version: 'bench' }, image: { width: 1000, height: 800 }, detections: [] }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const env = {
    ...process.env,
    // The bundle leaves out the AWS SDK, which the Lambda runtime provides; here node_modules provides it.
    NODE_PATH: join(ROOT, 'node_modules'),
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: `http://127.0.0.1:${port}`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    ENDPOINT_NAME: 'bench-endpoint',
    LIVE_MODEL_PARAMETER: 'bench-parameter',
    DEFAULT_MIN_SCORE: '0.5',
    POWERTOOLS_METRICS_NAMESPACE: 'Bench',
  };
  // Asynchronous, so this process's stand-in SageMaker server can answer while the child waits.
  const run = promisify(execFile);
  const measure = async (bundle: string): Promise<ChildTimes[]> => {
    const times: ChildTimes[] = [];
    for (let i = 0; i < runs; i++) {
      const { stdout: out } = await run(
        process.execPath,
        ['-e', CHILD, resolve(bundle), resolve(eventFile)],
        { env },
      );
      const line = out.split('\n').find((l) => l.startsWith('COLDSTART '));
      if (!line) throw new Error(`the bundle printed no timing: ${out.slice(0, 200)}`);
      times.push(JSON.parse(line.slice('COLDSTART '.length)) as ChildTimes);
    }
    return times;
  };
  try {
    const ours = await measure(proxy.entry);
    if (ours.some((t) => t.status !== 200))
      throw new Error(`the proxy answered ${ours.map((t) => t.status).join(',')}`);
    const base = await measure(trivial);
    const total = median(ours.map((t) => t.total));
    return {
      title: 'API proxy cold start',
      figures: [
        {
          name: 'require + first POST /detections, fresh process',
          value: ms(total),
          baseline: ms(median(base.map((t) => t.total))),
          goal: '≤ 150 ms (baseline: a trivial handler)',
          met: total <= 150,
        },
        {
          name: '  of which require of the bundle',
          value: ms(median(ours.map((t) => t.require))),
          baseline: ms(median(base.map((t) => t.require))),
          goal: '',
        },
      ],
      explanation:
        'The deployed bundle (minified, AWS SDK left to the runtime) is required in a new Node process and handles ' +
        'one JPEG request; SageMaker Runtime is a local HTTP server, so the figure includes the SDK client creating ' +
        "its first connection but no real network. Lambda's own init (runtime start, fetching code) is not included. " +
        'Bundling the SDK, importing more of Powertools or doing work at module scope would move it up.',
    };
  } finally {
    server.close();
  }
}
