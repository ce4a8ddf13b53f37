import autocannon from 'autocannon';
import { ChildProcess, execFile, spawn } from 'child_process';
import { createWriteStream, mkdirSync, rmSync } from 'fs';
import { cpus, loadavg } from 'os';
import { join } from 'path';
import { createInterface } from 'readline';
import sharp from 'sharp';
import { promisify } from 'util';
import { MAX_IMAGE_BYTES } from '../../lambda/detect/parse';
import { LOOPBACK, freePort, waitForHttp } from '../../local/emulator/net';
import { stopChild, track } from '../../local/emulator/processes';
import {
  LevelSummary,
  MixBodies,
  MixRequest,
  SentRequest,
  buildRequestMix,
  summarizeLevel,
} from './load-mix';
import { photoJpeg } from './payload';
import { Figure, Section } from './report';
import { ms } from './stats';

const ROOT = join(__dirname, '..', '..');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');

/** Concurrent connections per level: one client, the 4 vCPUs of the ml.m5.xlarge the endpoint runs on, 4× that. */
const LEVELS = [1, 4, 16];
/** The level the goal is checked at: the concurrency one ml.m5.xlarge (4 vCPUs) is sized for. */
const GOAL_LEVEL = 4;
/** p99 of valid-image requests at {@link GOAL_LEVEL} must stay under this, in milliseconds. */
const GOAL_P99_MS = 2000;
/** Requests per level, and the share of them that are bad requests. */
const REQUESTS_PER_LEVEL = 200;
const BAD_SHARE = 0.2;
/** A request unanswered after this is a timeout (API Gateway gives up on its integration after 29 s). */
const REQUEST_TIMEOUT_S = 30;
/** A level still running after this is stopped; what was not answered by then counts as unexpected. */
const LEVEL_DEADLINE_MS = 180_000;

/** The bodies of the mix: a 1000×800 JPEG photo, a 640×480 PNG, 64 KiB of noise, and one byte over the limit. */
export async function mixBodies(): Promise<MixBodies> {
  let state = 11;
  const garbage = Buffer.from(
    Array.from({ length: 64 * 1024 }, () => (state = (state * 1103515245 + 12345) % 2 ** 31) >> 23),
  );
  garbage.write('not an image', 0, 'ascii'); // no JPEG or PNG signature, whatever the noise starts with
  const oversized = Buffer.alloc(MAX_IMAGE_BYTES + 1);
  oversized.set([0xff, 0xd8, 0xff]); // a JPEG signature: only the size is wrong
  return {
    jpeg: await photoJpeg(),
    png: await sharp(await photoJpeg(640, 480, 3))
      .png()
      .toBuffer(),
    garbage,
    oversized,
  };
}

/** Spawns `command`, its output to `logFile`; tracked, so it is stopped however the benchmark ends. */
function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const child = track(spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

/**
 * Starts the container's `serve` on a free port of 127.0.0.1 with its default workers and `environment` added (e.g.
 * batch mode); resolves once it answers /ping.
 */
export async function startServe(
  mlRoot: string,
  logFile: string,
  environment: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawnLogged(
    PYTHON,
    [join(ROOT, 'training-container', 'bin', 'serve')],
    {
      ...process.env,
      ML_ROOT: mlRoot,
      MODEL_SERVER_HOST: LOOPBACK,
      SAGEMAKER_BIND_TO_PORT: String(port),
      PYTHONUNBUFFERED: '1',
      ...environment,
    },
    logFile,
  );
  await waitForHttp(
    `http://${LOOPBACK}:${port}/ping`,
    `serve (log: ${logFile})`,
    180_000,
    () => child.exitCode === null,
  );
  return { child, port };
}

/** Starts load-api.ts (runtime shim and the real proxy behind the API Gateway stand-in) for `serve` on `servePort`. */
export async function startApi(
  servePort: number,
  logFile: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnLogged(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'load-api.ts'), String(servePort)],
    process.env,
    logFile,
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`load-api.ts printed no URL within 60 s (log: ${logFile})`)),
      60_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('LOAD_API ')) {
        clearTimeout(timer);
        resolve(line.slice('LOAD_API '.length));
      }
    });
    child.once('exit', (code) => reject(new Error(`load-api.ts exited with code ${code} (log: ${logFile})`)));
  });
  return { child, url };
}

/** Sends `request` once and throws unless it is answered 200: the whole path works before load is put on it. */
async function warmUp(url: string, request: MixRequest): Promise<void> {
  const response = await fetch(`${url}${request.path}`, {
    method: 'POST',
    headers: { 'Content-Type': request.contentType },
    body: request.body,
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(
      `the API answered a valid ${request.kind} with ${response.status}: ${text.slice(0, 200)}`,
    );
  }
}

/** Per-connection state autocannon keeps for us: which entry of `sent` the connection's request is. */
interface Connection {
  index?: number;
}

/**
 * Sends `mix` with `connections` concurrent keep-alive connections (each waits for its answer before sending the
 * next), every request taken in turn from `mix`, and records each one's status and latency. Stops by itself
 * after `mix.length` requests, or at `deadlineMs`.
 */
async function runLevel(
  url: string,
  connections: number,
  mix: MixRequest[],
  deadlineMs: number,
): Promise<{ requests: SentRequest[]; wallMs: number }> {
  const sent: { kind: MixRequest['kind']; at: number; status?: number; latencyMs?: number }[] = [];
  const started = performance.now();
  let deadline: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        amount: mix.length,
        timeout: REQUEST_TIMEOUT_S,
        requests: [
          {
            method: 'POST',
            // Called once per request, just before it is written to its connection.
            setupRequest: (request, context) => {
              const next = mix[sent.length % mix.length];
              (context as Connection).index = sent.length;
              sent.push({ kind: next.kind, at: performance.now() });
              return {
                ...request,
                path: next.path,
                headers: { 'content-type': next.contentType },
                body: next.body,
              };
            },
            onResponse: (status, _body, context) => {
              const record = sent[(context as Connection).index!];
              record.status = status;
              record.latencyMs = performance.now() - record.at;
            },
          },
        ],
      },
      (error: Error | null) => {
        clearTimeout(deadline);
        if (error) reject(error);
        else resolve();
      },
    );
    deadline = setTimeout(() => instance.stop(), deadlineMs);
  });
  // autocannon reports on its next one-second tick; the level ends with its last answer.
  const answeredAt = sent.filter((r) => r.latencyMs !== undefined).map((r) => r.at + r.latencyMs!);
  const ended = answeredAt.length ? Math.max(...answeredAt) : performance.now();
  return { requests: sent, wallMs: ended - started };
}

const statusText = (summary: LevelSummary) =>
  Object.entries(summary.byStatus)
    .map(([status, count]) => `${status}×${count}`)
    .join(', ');

/**
 * Writes a throwaway SSD-512 model (random weights, the container's layout) to a fresh `<workDir>/<folder>` with
 * load_model.py, for the sections that need `serve` to answer but not a trained model.
 * @returns the model's ML_ROOT
 */
export async function throwawayModel(workDir: string, folder: string): Promise<string> {
  const mlRoot = join(workDir, folder);
  rmSync(mlRoot, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  await promisify(execFile)(PYTHON, [join(__dirname, 'load_model.py'), mlRoot], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 600_000,
  });
  return mlRoot;
}

/**
 * Load on the local API: the real proxy handler behind the API Gateway stand-in, through the SageMaker runtime
 * shim, to the container's `serve` with a throwaway SSD-512 model, all on 127.0.0.1. For each of {@link LEVELS},
 * autocannon sends {@link REQUESTS_PER_LEVEL} requests, a fifth of them bad, and the answers are counted by status
 * and checked against what each request should get. Leaves nothing running.
 */
export async function benchLoad(workDir: string): Promise<Section> {
  const mlRoot = await throwawayModel(workDir, 'load-ml-root');
  const mix = buildRequestMix(REQUESTS_PER_LEVEL, BAD_SHARE, await mixBodies());
  let load = 0;
  const children: ChildProcess[] = [];
  const summaries: LevelSummary[] = [];
  try {
    const serve = await startServe(mlRoot, join(workDir, 'load-serve.log'));
    children.push(serve.child);
    const api = await startApi(serve.port, join(workDir, 'load-api.log'));
    children.push(api.child);
    // Two JPEGs and two PNGs at once, untimed: serve's workers and the proxy's connections have answered before.
    await Promise.all(
      mix
        .filter((r) => r.kind === 'jpeg' || r.kind === 'png')
        .slice(0, 4)
        .map((r) => warmUp(api.url, r)),
    );
    load = loadavg()[0];
    for (const level of LEVELS) {
      process.stderr.write(`bench: load at concurrency ${level} (${mix.length} requests)...\n`);
      const { requests, wallMs } = await runLevel(api.url, level, mix, LEVEL_DEADLINE_MS);
      summaries.push(summarizeLevel(level, requests, wallMs));
    }
  } finally {
    for (const child of children.reverse()) await stopChild(child);
  }
  return loadSection(summaries, load);
}

/**
 * The section: a row per level, and the goal figures at {@link GOAL_LEVEL} and over every level.
 * @param load - the machine's one-minute load average when the levels started (others' work slows ours)
 */
function loadSection(summaries: LevelSummary[], load: number): Section {
  const atGoal = summaries.find((s) => s.concurrency === GOAL_LEVEL);
  if (!atGoal) throw new Error(`no level at concurrency ${GOAL_LEVEL}, where the goal is checked`);
  const unexpected = summaries.reduce((sum, s) => sum + s.unexpected, 0);
  const sent = summaries.reduce((sum, s) => sum + s.sent, 0);
  const whatWentWrong = (s: LevelSummary) =>
    Object.entries(s.unexpectedByKind)
      .map(([key, count]) => `${key} ×${count}`)
      .join(', ');
  const figures: Figure[] = [
    {
      name: `p99 at concurrency ${GOAL_LEVEL}, valid images`,
      value: atGoal.p99 === undefined ? 'no answer' : ms(atGoal.p99),
      baseline: ms(GOAL_P99_MS),
      goal: `< ${GOAL_P99_MS / 1000} s (one ml.m5.xlarge: 4 vCPUs)`,
      met: atGoal.p99 !== undefined && atGoal.p99 < GOAL_P99_MS,
    },
    {
      name: `unexpected answers at concurrency ${GOAL_LEVEL}`,
      value: `${atGoal.unexpected} of ${atGoal.sent}`,
      baseline: '0',
      goal: 'none: 200 for images, the intended 4xx for bad requests',
      met: atGoal.unexpected === 0,
    },
    {
      name: 'unexpected answers, every level',
      value: `${unexpected} of ${sent}`,
      baseline: '0',
      goal: 'none',
      met: unexpected === 0,
    },
  ];
  return {
    title: 'API under load',
    figures,
    table: {
      header: [
        'concurrency',
        'requests',
        'throughput',
        'p50, images',
        'p99, images',
        'answers by status',
        'unexpected',
      ],
      rows: summaries.map((s) => [
        String(s.concurrency),
        `${s.sent}`,
        `${s.throughput.toFixed(1)} req/s`,
        s.p50 === undefined ? 'n/a' : ms(s.p50),
        s.p99 === undefined ? 'n/a' : ms(s.p99),
        statusText(s),
        s.unexpected === 0 ? '0' : `${s.unexpected} (${whatWentWrong(s)})`,
      ]),
    },
    explanation:
      `autocannon on 127.0.0.1 sends ${REQUESTS_PER_LEVEL} requests per level, each connection waiting for its ` +
      `answer before the next, to the local API: the real proxy handler behind the API Gateway stand-in, the ` +
      "SageMaker runtime shim and the container's `serve` (its default workers) with a throwaway SSD-512 model. " +
      `${BAD_SHARE * 100} % of the requests are bad, evenly spread: bytes that are no image (415), an empty body ` +
      `(400), a body one byte over the ${MAX_IMAGE_BYTES / 1024 / 1024} MiB image limit (413) and minScore=2 ` +
      '(400); the rest alternate a 1000×800 JPEG photo and a 640×480 PNG. Unexpected is any other status, or ' +
      `no answer within ${REQUEST_TIMEOUT_S} s. Throughput counts every answer; p50 and p99 are over the ` +
      'valid images only (the bad ones are answered without the model in milliseconds). Here the load ' +
      'generator, the proxy and `serve` share this machine, and the proxy runs in one Node process, where Lambda ' +
      'gives each concurrent request its own; on an ml.m5.xlarge `serve` alone has 4 vCPUs. More `serve` ' +
      'workers than cores, larger photos, or a larger model input would move p99 up; API Gateway throttling ' +
      `is not emulated. This machine's load average when the levels started: ${load.toFixed(1)} on ` +
      `${cpus().length} cores.`,
  };
}
