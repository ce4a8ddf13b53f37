import { join } from 'path';
import { stopChild } from '../../local/emulator/processes';
import { mixBodies, startApi, startServe, throwawayModel } from './load';
import { Section } from './report';

/** Images per measurement: alternately the mix's 1000×800 JPEG photo and its 640×480 PNG. */
const IMAGES = 40;

/** Images per second when `send` is called for each image in turn, one at a time. */
async function perSecond(images: Buffer[], send: (image: Buffer) => Promise<void>): Promise<number> {
  await send(images[0]); // untimed: the first answer of a fresh worker pays for its warm-up
  const started = Date.now();
  for (const image of images) await send(image);
  return images.length / ((Date.now() - started) / 1000);
}

async function post(url: string, image: Buffer, contentType: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: image,
  });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"error"')) {
    throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  }
}

/**
 * Batch detection's throughput on this machine: the container's `serve` in batch mode (BATCH_MODE, as the detect
 * workflow's transform job runs it) sent one image after another (BatchStrategy SingleRecord with one request in
 * flight, the transform job's default), beside the same images sent one at a time through the API (the real proxy
 * in front of `serve`). Both on the load section's model (load_model.py).
 */
export async function benchBatch(workDir: string): Promise<Section> {
  const mlRoot = await throwawayModel(workDir, 'batch-ml-root');
  const { jpeg, png } = await mixBodies();
  const images = Array.from({ length: IMAGES }, (_, i) => (i % 2 ? png : jpeg));

  const batch = await startServe(mlRoot, join(workDir, 'batch-serve.log'), { BATCH_MODE: 'true' });
  let batchRate: number;
  try {
    batchRate = await perSecond(images, (image) =>
      post(`http://127.0.0.1:${batch.port}/invocations`, image, 'application/octet-stream'),
    );
  } finally {
    await stopChild(batch.child);
  }
  const serve = await startServe(mlRoot, join(workDir, 'batch-api-serve.log'));
  const api = await startApi(serve.port, join(workDir, 'batch-api.log')).catch(async (error: Error) => {
    await stopChild(serve.child);
    throw error;
  });
  let apiRate: number;
  try {
    apiRate = await perSecond(images, (image) =>
      post(`${api.url}/detections`, image, image === png ? 'image/png' : 'image/jpeg'),
    );
  } finally {
    await stopChild(api.child);
    await stopChild(serve.child);
  }
  return {
    title: 'Batch detection (local)',
    figures: [
      {
        name: 'images per second, serve in batch mode, one at a time',
        value: `${batchRate.toFixed(2)}/s`,
        baseline: `${apiRate.toFixed(2)}/s`,
        goal: '≥ the API one request at a time',
        met: batchRate >= apiRate,
        ratio: `${(batchRate / apiRate).toFixed(2)}×`,
      },
    ],
    explanation:
      `${IMAGES} images (a 1000×800 JPEG photo and a 640×480 PNG in turn), each sent once the previous one is ` +
      "answered: to `serve` in batch mode, as the detect workflow's Batch Transform job sends them " +
      '(SingleRecord, one request in flight), and through the API proxy in front of `serve` (the baseline, per ' +
      'request). Batch mode skips the API hops (base64 body, proxy checks), so it should be no slower; on AWS a ' +
      'transform job adds its instance start-up (minutes) once per job, and MaxConcurrentTransforms above 1 ' +
      "would use the instance's other vCPUs.",
  };
}
