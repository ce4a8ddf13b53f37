/**
 * Writes the parity corpus and what the TypeScript doors make of it, for both test suites to read:
 *
 *   npx tsx test/parity/write-corpus.ts <folder>
 *
 * The container's pytest (`tests/test_parity.py`) runs this into a folder of its own; the jest test calls
 * {@link writeParityCorpus} directly. The folder gets:
 *
 * - `originals/<name>`: each corpus image as a user sends it;
 * - `stored/<name>.jpg`: what the preprocess handler stored for it (uploaded to a raw bucket, preprocessed by
 *   `preprocessItem`), which the training reader reads;
 * - `canonical/<name>.gray`: the reference canonical image (`canonicalImage`, before JPEG), one byte a pixel;
 * - `api/<name>`: the bytes the API proxy forwarded to the endpoint (`route`, with SageMaker Runtime stubbed);
 * - `refusals/<name>`: files every door refuses;
 * - `index.json`: {@link ParityIndex}.
 */
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import {
  ACCEPTED_FORMATS_TEXT,
  IMAGE_FORMATS,
  imageKeyFor,
  MAX_IMAGE_MEGAPIXELS,
  megapixels,
  tooLargeMessage,
  unsupportedFormatMessage,
} from '../../contracts';
import { preprocessItem } from '../../lambda/preprocess';
import { canonicalImage } from '../../lambda/preprocess/image';
import { readImageHeader } from '../../lambda/shared/image-header';
import { imageEvent } from '../handlers/detect/test-helpers';
import { FakeS3 } from '../handlers/fake-s3';
import { parityCorpus, parityRefusals } from './corpus';

/** The preprocess Lambda's `maxSide` the corpus is preprocessed with: the pipeline's default. */
export const PARITY_MAX_SIDE = 1024;

/** One request the API proxy answered, and what it forwarded to the endpoint. */
export interface ApiPassage {
  /** Content-Type the client sent. */
  readonly sent: string;
  readonly status: number;
  /** Content-Type and bytes (file under `api/`) the proxy sent to the endpoint; absent when it refused. */
  readonly forwardedType?: string;
  readonly forwardedFile?: string;
  /** The proxy's error code and message when it refused. */
  readonly error?: { code: string; message: string };
}

/** `index.json`: every file of the corpus folder and what the TypeScript side made of it. */
export interface ParityIndex {
  readonly maxSide: number;
  readonly images: {
    readonly name: string;
    readonly kind: string;
    readonly original: string;
    readonly header: { format: string; width: number; height: number } | null;
    readonly canonical: { file: string; width: number; height: number };
    readonly stored: { file: string; width: number; height: number } | { failure: string };
    readonly api: ApiPassage[];
  }[];
  readonly refusals: {
    readonly name: string;
    readonly file: string;
    readonly reason: string;
    readonly preprocess: string;
    readonly api: ApiPassage;
  }[];
  /** The contract's values and messages, for the Python side to compare with its own. */
  readonly contract: {
    readonly acceptedFormats: { name: string; mediaType: string }[];
    readonly acceptedFormatsText: string;
    readonly maxMegapixels: number;
    readonly unsupported: Record<string, string>;
    readonly tooLarge: { width: number; height: number; megapixels: string; message: string }[];
  };
}

const RAW = 'raw';
const DATASET = 'dataset';

/** Writes the corpus and the TypeScript doors' outputs to `folder`; returns the index it wrote. */
export async function writeParityCorpus(folder: string): Promise<ParityIndex> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const { route } = await import('../../lambda/detect');
  for (const sub of ['originals', 'stored', 'canonical', 'api', 'refusals']) {
    mkdirSync(join(folder, sub), { recursive: true });
  }
  const s3 = new FakeS3();
  const sagemaker = mockClient(SageMakerRuntimeClient);
  sagemaker.on(InvokeEndpointCommand).resolves({
    Body: new TextEncoder().encode(
      JSON.stringify({ model: { version: 'parity' }, image: { width: 1, height: 1 }, detections: [] }),
    ) as never,
  });
  const settings = () => ({
    endpointName: 'parity-endpoint',
    liveModelParameter: '/parity/live-model',
    defaultMinScore: 0.5,
    corsOrigins: [],
  });

  /** Sends one request through the proxy; records the answer and the bytes forwarded. */
  async function throughApi(name: string, contentType: string, body: Buffer): Promise<ApiPassage> {
    sagemaker.resetHistory();
    const response = await route(imageEvent(body, contentType), settings);
    const calls = sagemaker.commandCalls(InvokeEndpointCommand);
    if (response.statusCode !== 200 || calls.length !== 1) {
      return { sent: contentType, status: response.statusCode, error: JSON.parse(response.body).error };
    }
    const input = calls[0].args[0].input;
    const file = `api/${name}.${contentType.replace(/\W+/g, '-')}`;
    writeFileSync(join(folder, file), Buffer.from(input.Body as Uint8Array));
    return { sent: contentType, status: 200, forwardedType: input.ContentType, forwardedFile: file };
  }

  /** Uploads one file to the raw bucket and runs the preprocess handler's item function on it. */
  async function preprocess(name: string, bytes: Buffer) {
    const key = `raw/${name}`;
    const etag = s3.put(RAW, key, bytes);
    const outcome = await preprocessItem(
      { Key: key, Size: bytes.length, Etag: etag },
      { rawBucket: RAW, datasetBucket: DATASET },
      PARITY_MAX_SIDE,
    );
    return { outcome, stored: s3.get(DATASET, imageKeyFor(key)) };
  }

  const images: ParityIndex['images'][number][] = [];
  for (const image of await parityCorpus()) {
    writeFileSync(join(folder, 'originals', image.name), image.bytes);
    const reference = await canonicalImage(image.bytes, PARITY_MAX_SIDE);
    const canonicalFile = `canonical/${image.name}.gray`;
    writeFileSync(join(folder, canonicalFile), reference.pixels);
    const { outcome, stored } = await preprocess(image.name, image.bytes);
    const storedFile = `stored/${image.name}.jpg`;
    if (stored) writeFileSync(join(folder, storedFile), stored.body);
    const header = readImageHeader(image.bytes) ?? null;
    const mediaType = header
      ? IMAGE_FORMATS[header.format as keyof typeof IMAGE_FORMATS].mediaType
      : 'image/jpeg';
    const json = Buffer.from(
      JSON.stringify({ image: `data:${mediaType};base64,${image.bytes.toString('base64')}` }),
    );
    images.push({
      name: image.name,
      kind: image.kind,
      original: `originals/${image.name}`,
      header,
      canonical: { file: canonicalFile, width: reference.width, height: reference.height },
      stored:
        outcome === 'processed' && stored
          ? { file: storedFile, width: Number(stored.metadata.width), height: Number(stored.metadata.height) }
          : { failure: typeof outcome === 'object' ? outcome.reason : outcome },
      api: [
        await throughApi(image.name, mediaType, image.bytes),
        await throughApi(image.name, 'application/octet-stream', image.bytes),
        await throughApi(image.name, 'application/json', json),
      ],
    });
  }

  const refusals: ParityIndex['refusals'][number][] = [];
  for (const refusal of await parityRefusals()) {
    const file = `refusals/${refusal.name}`;
    writeFileSync(join(folder, file), refusal.bytes);
    const { outcome } = await preprocess(refusal.name, refusal.bytes);
    refusals.push({
      name: refusal.name,
      file,
      reason: refusal.reason,
      preprocess: typeof outcome === 'object' ? outcome.reason : outcome,
      api: await throughApi(refusal.name, 'application/octet-stream', refusal.bytes),
    });
  }
  sagemaker.restore();
  s3.mock.restore();

  const index: ParityIndex = {
    maxSide: PARITY_MAX_SIDE,
    images,
    refusals,
    contract: {
      acceptedFormats: Object.values(IMAGE_FORMATS).map(({ name, mediaType }) => ({ name, mediaType })),
      acceptedFormatsText: ACCEPTED_FORMATS_TEXT,
      maxMegapixels: MAX_IMAGE_MEGAPIXELS,
      unsupported: Object.fromEntries(
        ['', 'GIF', 'TIFF', 'HEIC', 'HEIF', 'AVIF', 'BMP'].map((other) => [
          other,
          unsupportedFormatMessage(other || undefined),
        ]),
      ),
      tooLarge: [
        [8000, 7000],
        [7071, 7071],
        [6325, 6325],
        [250, 1010],
        [5050, 5000],
      ].map(([width, height]) => ({
        width,
        height,
        megapixels: megapixels(width, height),
        message: tooLargeMessage(width, height),
      })),
    },
  };
  writeFileSync(join(folder, 'index.json'), JSON.stringify(index, null, 2));
  return index;
}

if (require.main === module) {
  const folder = process.argv[2];
  if (!folder) {
    console.error('usage: tsx test/parity/write-corpus.ts <folder>');
    process.exit(2);
  }
  writeParityCorpus(folder).then(
    (index) =>
      console.log(
        `parity corpus: ${index.images.length} images, ${index.refusals.length} refusals in ${folder}`,
      ),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
