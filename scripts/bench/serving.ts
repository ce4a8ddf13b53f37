import { execFileSync } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { photoJpeg } from './payload';
import { Section } from './report';
import { ms, percentile } from './stats';

const PYTHON = join(__dirname, '..', '..', '.venv', 'bin', 'python');

/** p50/p95 of `/invocations` for a 1000×800 JPEG beside the bare forward pass of the same model on the same input. */
export async function benchServing(workDir: string, runs: number): Promise<Section> {
  const image = join(workDir, 'photo-1000x800.jpg');
  writeFileSync(image, await photoJpeg());
  const out = execFileSync(PYTHON, [join(__dirname, 'serving.py'), image, String(runs), workDir], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { serve, forward } = JSON.parse(out.trim().split('\n').pop()!) as {
    serve: number[];
    forward: number[];
  };
  const figure = (p: number) => {
    const [s, f] = [percentile(serve, p), percentile(forward, p)];
    return {
      name: `/invocations p${p} (1000×800 JPEG, CPU)`,
      value: ms(s),
      baseline: ms(f),
      ratio: `${(s / f).toFixed(2)}×`,
      goal: '≤ 1.3× the bare forward pass',
      met: s / f <= 1.3,
    };
  };
  return {
    title: 'Serving latency',
    figures: [figure(50), figure(95)],
    explanation:
      `${runs} requests after a warm-up, to the container's serve (gunicorn, one worker with every core) on this ` +
      'machine, beside the bare forward pass of the same exported SSD-512 MobileNet on the same preprocessed ' +
      'input in one Python process. The difference is HTTP, JPEG decoding, grayscale and resize, and mapping boxes ' +
      'back to the sent image. An ml.m5.xlarge has 4 vCPUs, so absolute figures there differ; larger photos add ' +
      'decode time; more workers than cores would add contention.',
  };
}
