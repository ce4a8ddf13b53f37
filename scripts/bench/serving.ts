import { execFileSync } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import sharp from 'sharp';
import { MAX_IMAGE_MEGAPIXELS, MAX_IMAGE_PIXELS } from '../../contracts';
import { photoJpeg } from './payload';
import { Figure, Section } from './report';
import { median, ms, percentile } from './stats';

const PYTHON = join(__dirname, '..', '..', '.venv', 'bin', 'python');

interface Costs {
  readonly ms: number[];
  readonly peakMb: number[];
}

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
 * Time and peak memory of `/invocations` for a 1024×768 photo and for the worst image under the pixel limit, beside
 * the bare forward pass of the same model.
 */
export async function benchServing(workDir: string, runs: number): Promise<Section> {
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
  const result = JSON.parse(out.trim().split('\n').pop()!) as {
    images: Record<string, Costs>;
    idleMb: number;
    forward: { ms: number[]; peakMb: number };
  };
  const normal = result.images.photo;
  const [worstName, worstCosts] = Object.entries(result.images)
    .filter(([name]) => name !== 'photo')
    .reduce((a, b) => (median(b[1].ms) > median(a[1].ms) ? b : a));
  const mb = (n: number) => `${n.toFixed(0)} MiB`;
  const latency = (p: number): Figure => {
    const [s, f] = [percentile(normal.ms, p), percentile(result.forward.ms, p)];
    return {
      name: `/invocations p${p} (1024×768 JPEG, CPU)`,
      value: ms(s),
      baseline: ms(f),
      ratio: `${(s / f).toFixed(2)}×`,
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
    title: 'Serving latency',
    figures: [
      latency(50),
      latency(95),
      {
        name: `/invocations p50, worst image under the ${MAX_IMAGE_MEGAPIXELS} MP limit (${worstName})`,
        value: ms(worstMs),
        baseline: ms(normalMs),
        ratio: `${(worstMs / normalMs).toFixed(2)}×`,
        goal: '≤ 3× the 1024×768 JPEG',
        met: worstMs / normalMs <= 3,
      },
      {
        name: 'peak worker memory, worst image under the limit',
        value: mb(worstPeak),
        baseline: mb(normalPeak),
        ratio: `${(worstPeak / normalPeak).toFixed(2)}×`,
        goal: '≤ 3× the 1024×768 JPEG',
        met: worstPeak / normalPeak <= 3,
      },
      {
        name: 'peak worker memory, 1024×768 JPEG (baseline: bare forward pass process)',
        value: mb(normalPeak),
        baseline: mb(result.forward.peakMb),
        ratio: `${(normalPeak / result.forward.peakMb).toFixed(2)}×`,
        goal: '',
      },
    ],
    explanation:
      `${runs} requests per image after a warm-up, to the container's serve (gunicorn, one worker with every core) ` +
      'on this machine, beside the bare forward pass of the same exported SSD-512 MobileNet on the same ' +
      "preprocessed input in one Python process. Peak memory is the worker's peak resident set during a request " +
      `(it was ${mb(result.idleMb)} idle, before the first image: the model and MXNet). The worst image is the ` +
      `slowest of the candidates at the pixel limit; the others: ${others.join('; ')}. The difference between a ` +
      'request and the forward pass is HTTP, decoding straight to 8-bit at reduced size where the codec allows, ' +
      'the gray conversion and resize, and mapping boxes back to the sent image. An ml.m5.xlarge has 4 vCPUs, so ' +
      'absolute figures there differ; a higher pixel limit would raise the worst case in proportion.',
  };
}
