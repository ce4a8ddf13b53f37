import { execFileSync } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import sharp from 'sharp';
import { MAX_IMAGE_MEGAPIXELS, MAX_IMAGE_PIXELS } from '../../contracts';
import { photoJpeg } from './payload';
import { Figure, Section } from './report';
import { median, ms, percentile } from './stats';

const PYTHON = join(__dirname, '..', '..', '.venv', 'bin', 'python');

/** What scripts/bench/serving.py prints: milliseconds, the graph's GFLOP and this machine's sgemm rate. */
interface ServingResult {
  /**
   * Forward-pass milliseconds per variant, then per MXNet thread count ("1", "2"). `int8` is the `gluoncv` recipe
   * (every convolution in int8), `int8 float-ends` the recipe that keeps the first and last layers in float32.
   */
  readonly forward: Record<'fp32' | 'int8' | 'int8 float-ends', Record<string, number[]>>;
  /** GFLOP of one 512×512 image through the network's 47 convolutions (2 per multiply-add). */
  readonly gflop: number;
  /** GFLOP/s of one core on a large float32 matrix product (numpy's OpenBLAS), the best of five. */
  readonly sgemm_gflops: number;
  /** Peak resident MiB of the process running fp32's forward pass on every core. */
  readonly forwardPeakMb: number;
  /** Per image sent (`photo` and the worst candidates), `/invocations` under today's serving, one worker. */
  readonly images: Record<string, Costs>;
  /** Resident MiB of that worker before the first image: the model and MXNet. */
  readonly idleMb: number;
  /** Today's serving (fp32, one gunicorn worker with every core) and the new default (int8, sized by serve). */
  readonly today: Served;
  readonly now: Served;
}

/** One image's `/invocations` requests: milliseconds and the worker's peak resident MiB during each. */
interface Costs {
  readonly ms: number[];
  readonly peakMb: number[];
}

interface Served {
  /** `/invocations` milliseconds, one request at a time. */
  readonly ms: number[];
  /** Requests per second with four requests in flight. */
  readonly rps: number;
  /** Server CPU milliseconds per request at saturation. */
  readonly cpu_ms: number;
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/**
 * The images that cost the endpoint most to decode while staying under the pixel limit: at the limit, flat (so
 * they stay far under the byte limit), in the formats no codec decodes at reduced size, plus a progressive JPEG
 * (which libjpeg buffers whole before it can scale it down).
 */
async function worstCandidates(workDir: string): Promise<Record<string, string>> {
  const width = Math.floor(Math.sqrt((MAX_IMAGE_PIXELS * 4) / 3));
  const height = Math.floor(MAX_IMAGE_PIXELS / width);
  const flat = () =>
    sharp({ create: { width, height, channels: 4, background: { r: 200, g: 30, b: 30, alpha: 0.5 } } });
  const candidates = {
    [`${width}×${height} RGBA PNG`]: await flat().png().toBuffer(),
    [`${width}×${height} lossless RGBA WebP`]: await flat().webp({ lossless: true }).toBuffer(),
    [`${width}×${height} progressive JPEG`]: await flat().flatten().jpeg({ progressive: true }).toBuffer(),
  };
  return Object.fromEntries(
    Object.entries(candidates).map(([name, bytes], i) => {
      const path = join(workDir, `worst-${i}`);
      writeFileSync(path, bytes);
      return [name, path];
    }),
  );
}

/**
 * The forward pass of both variants on 1 and 2 threads beside the FLOP floor; `/invocations` end to end (p50,
 * p99, saturation) for today's serving beside the new default; and the time and peak memory of `/invocations` for
 * a 1024×768 photo and for the worst image under the pixel limit, beside the bare forward pass. All in one run.
 */
export async function benchServing(workDir: string, runs: number): Promise<Section[]> {
  mkdirSync(workDir, { recursive: true });
  const photo = join(workDir, 'photo-1024x768.jpg');
  writeFileSync(photo, await photoJpeg(1024, 768));
  const worst = await worstCandidates(workDir);
  const args = [`photo=${photo}`, ...Object.entries(worst).map(([name, path]) => `${name}=${path}`)];
  const out = execFileSync(PYTHON, [join(__dirname, 'serving.py'), String(runs), workDir, ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result = JSON.parse(out.trim().split('\n').pop()!) as ServingResult;
  return [forwardSection(result, runs), latencySection(result, runs), imageCostSection(result, runs)];
}

function forwardSection(result: ServingResult, runs: number): Section {
  const floor = (threads: number) => (result.gflop / (result.sgemm_gflops * threads)) * 1000;
  const forward = (variant: keyof ServingResult['forward'], threads: number) =>
    median(result.forward[variant][String(threads)]);
  const figures: Figure[] = [];
  for (const threads of [1, 2]) {
    const fp32 = forward('fp32', threads);
    figures.push({
      name: `forward fp32, ${threads} thread${threads > 1 ? 's' : ''}`,
      value: ms(fp32),
      baseline: `${ms(floor(threads))} floor`,
      ratio: ratio(fp32, floor(threads)),
      goal: '(the FLOP floor: GFLOP / sgemm rate)',
    });
  }
  for (const threads of [1, 2]) {
    const [int8, fp32] = [forward('int8', threads), forward('fp32', threads)];
    figures.push({
      name: `forward int8, ${threads} thread${threads > 1 ? 's' : ''}`,
      value: ms(int8),
      baseline: `${ms(fp32)} fp32`,
      ratio: ratio(int8, fp32),
      goal: threads === 1 ? '≤ 0.33× fp32 on 1 thread' : '',
      met: threads === 1 ? int8 / fp32 <= 0.33 : undefined,
    });
  }
  const [ends, fp32] = [forward('int8 float-ends', 1), forward('fp32', 1)];
  figures.push({
    name: 'forward int8 float-ends, 1 thread',
    value: ms(ends),
    baseline: `${ms(fp32)} fp32`,
    ratio: ratio(ends, fp32),
    goal: '(the recipe tried when all-int8 loses mAP)',
  });
  return {
    title: 'Serving: the forward pass',
    figures,
    explanation:
      `Median of ${runs} forward passes of the exported SSD-512 MobileNet 1.0 (NMS inside) on one 512×512 input, ` +
      'each variant and thread count in a fresh process (MXNet fixes its thread pools when it loads). The floor is ' +
      `the graph's ${result.gflop.toFixed(2)} GFLOP (two per multiply-add, summed over its 47 convolutions from ` +
      `their inferred shapes) at this machine's sgemm rate, ${result.sgemm_gflops.toFixed(0)} GFLOP/s per core ` +
      '(a 2048² float32 product, best of five): the time fp32 would take if every convolution ran as fast as a ' +
      "large matrix product. int8 is MXNet's oneDNN post-training quantization as training writes it, every " +
      'convolution in int8 (recipe gluoncv) or the first five and the prediction heads in float32 (float-ends). ' +
      'Its speed depends on VNNI (Cascade Lake and later); a CPU without it gains far less. Each figure pools ' +
      'three rounds taken in turn, so that other load on a shared machine falls on all of them alike; it still ' +
      'moves them.',
  };
}

function latencySection(result: ServingResult, runs: number): Section {
  const { today, now } = result;
  const p = (served: Served, q: number) => percentile(served.ms, q);
  return {
    title: 'Serving latency',
    figures: [
      {
        name: '/invocations p50 (1024×768 JPEG)',
        value: ms(p(now, 50)),
        baseline: `${ms(p(today, 50))} today`,
        ratio: ratio(p(now, 50), p(today, 50)),
        goal: '≤ 0.4× today',
        met: p(now, 50) / p(today, 50) <= 0.4,
      },
      {
        name: '/invocations p99 (1024×768 JPEG)',
        value: ms(p(now, 99)),
        baseline: `${ms(p(today, 99))} today`,
        ratio: ratio(p(now, 99), p(today, 99)),
        goal: '',
      },
      {
        name: 'requests/s at saturation, one serve',
        value: now.rps.toFixed(1),
        baseline: `${today.rps.toFixed(1)} today`,
        ratio: ratio(now.rps, today.rps),
        goal: '',
      },
      {
        name: 'server CPU per request at saturation',
        value: ms(now.cpu_ms),
        baseline: `${ms(today.cpu_ms)} today`,
        ratio: ratio(now.cpu_ms, today.cpu_ms),
        goal: '',
      },
    ],
    explanation:
      `${runs} requests one at a time after a warm-up, then four in flight for ten seconds, to the container's ` +
      "serve on this machine. 'Today' is the fp32 model under one gunicorn worker with every core, as this " +
      'benchmark measured serving before the int8 model; the new ' +
      "default is the int8 model with serve's own sizing (one worker per vCPU, one inference thread each). " +
      'End to end includes HTTP, JPEG decoding, grayscale and resize, and mapping boxes back. CPU per request ' +
      'hardly moves with other load on the machine; requests per second do. An ml.m5.xlarge has 4 vCPUs (2 cores), ' +
      'so absolute figures there differ, and a Xeon without VNNI gains far less from int8.',
  };
}

function imageCostSection(result: ServingResult, runs: number): Section {
  const normal = result.images.photo;
  const [worstName, worstCosts] = Object.entries(result.images)
    .filter(([name]) => name !== 'photo')
    .reduce((a, b) => (median(b[1].ms) > median(a[1].ms) ? b : a));
  const everyCore = Object.keys(result.forward.fp32)
    .map(Number)
    .reduce((a, b) => Math.max(a, b));
  const bare = result.forward.fp32[String(everyCore)];
  const mb = (n: number) => `${n.toFixed(0)} MiB`;
  const latency = (p: number): Figure => {
    const [s, f] = [percentile(normal.ms, p), percentile(bare, p)];
    return {
      name: `/invocations p${p} (1024×768 JPEG, fp32, CPU)`,
      value: ms(s),
      baseline: ms(f),
      ratio: ratio(s, f),
      goal: '≤ 1.3× the bare forward pass',
      met: s / f <= 1.3,
    };
  };
  const [worstMs, normalMs] = [median(worstCosts.ms), median(normal.ms)];
  const [worstPeak, normalPeak] = [Math.max(...worstCosts.peakMb), Math.max(...normal.peakMb)];
  const others = Object.entries(result.images)
    .filter(([name]) => name !== 'photo' && name !== worstName)
    .map(([name, costs]) => `${name} ${ms(median(costs.ms))}, ${mb(Math.max(...costs.peakMb))}`);
  return {
    title: 'Serving cost per image',
    figures: [
      latency(50),
      latency(95),
      {
        name: `/invocations p50, worst image under the ${MAX_IMAGE_MEGAPIXELS} MP limit (${worstName})`,
        value: ms(worstMs),
        baseline: ms(normalMs),
        ratio: ratio(worstMs, normalMs),
        goal: '≤ 3× the 1024×768 JPEG',
        met: worstMs / normalMs <= 3,
      },
      {
        name: 'peak worker memory, worst image under the limit',
        value: mb(worstPeak),
        baseline: mb(normalPeak),
        ratio: ratio(worstPeak, normalPeak),
        goal: '≤ 3× the 1024×768 JPEG',
        met: worstPeak / normalPeak <= 3,
      },
      {
        name: 'peak worker memory, 1024×768 JPEG (baseline: bare forward pass process)',
        value: mb(normalPeak),
        baseline: mb(result.forwardPeakMb),
        ratio: ratio(normalPeak, result.forwardPeakMb),
        goal: '',
      },
    ],
    explanation:
      `${runs} requests per image after a warm-up, to the container's serve with the fp32 model (gunicorn, one ` +
      `worker with every core) on this machine, beside the bare forward pass of the same exported SSD-512 ` +
      `MobileNet on ${everyCore} thread${everyCore > 1 ? 's' : ''} in a process of its own. Peak memory is the ` +
      `worker's peak resident set during a request (it was ${mb(result.idleMb)} idle, before the first image: the ` +
      'model and MXNet). The worst image is the slowest of the candidates at the pixel limit; the others: ' +
      `${others.join('; ')}. The difference between a request and the forward pass is HTTP, decoding straight to ` +
      '8-bit at reduced size where the codec allows, the gray conversion and resize, and mapping boxes back to the ' +
      'sent image. An ml.m5.xlarge has 4 vCPUs, so absolute figures there differ; a higher pixel limit would raise ' +
      'the worst case in proportion.',
  };
}
