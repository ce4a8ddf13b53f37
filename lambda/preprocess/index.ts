import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { isNotFound, mapLimit, normalizeEtag, s3ClientOptions } from '../shared/aws';
import {
  displayKey,
  imageKeyFor,
  MAX_RAW_OBJECT_BYTES,
  PreprocessedImageMetadata,
  PreprocessEvent,
  PreprocessFailure,
  PreprocessResult,
  rawKeyProblem,
  S3Item,
} from '../../contracts';
import { ImageError, toModelImage } from './image';

const s3 = new S3Client(s3ClientOptions());

/** Images handled at once in one invocation: overlaps S3 latency without holding many decoded images. */
const CONCURRENCY = 4;

/** Time kept back from the invocation's limit to report the files not finished and return. */
const RETURN_MARGIN_MS = 10_000;

/** What happened to one raw object: `replaced` is processed, over an image made from an earlier version. */
export type ItemOutcome = 'processed' | 'replaced' | 'skipped' | 'ignored' | PreprocessFailure;

/** User metadata is sent as HTTP headers, which carry ASCII only; other keys are stored URI-encoded. */
export function metadataSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

const MIB = 1024 * 1024;

/** `too large` with the size and the limit, for a file of `bytes`. */
function tooLarge(key: string, bytes: number): PreprocessFailure {
  return {
    key,
    reason:
      `too large: ${(bytes / MIB).toFixed(1)} MiB, over the ${MAX_RAW_OBJECT_BYTES / MIB} MiB limit; ` +
      'downsize or recompress the photo and upload it again',
  };
}

/**
 * Why a listed raw object is refused before anything is read, or undefined: its key ({@link rawKeyProblem}), an
 * empty file, or a file over {@link MAX_RAW_OBJECT_BYTES} by the size the listing gives.
 */
export function refusal(item: S3Item): PreprocessFailure | undefined {
  const problem = rawKeyProblem(item.Key);
  if (problem !== undefined)
    return { key: item.Key, reason: `key refused: the key ${problem}; rename the file` };
  if (item.Size === 0) return { key: item.Key, reason: 'empty file (0 bytes): upload it again' };
  if (item.Size > MAX_RAW_OBJECT_BYTES) return tooLarge(item.Key, item.Size);
  return undefined;
}

/**
 * Preprocesses one raw object into `images/` ({@link imageKeyFor}), unless its output already exists for the same
 * source ETag. Refuses, with the reason and before any read, keys the pipeline cannot use and objects over
 * {@link MAX_RAW_OBJECT_BYTES}. Never writes to, or deletes from, the raw bucket; never throws for a bad image (S3
 * errors are thrown, for {@link handler} to report).
 */
export async function preprocessItem(
  item: S3Item,
  buckets: { rawBucket: string; datasetBucket: string },
  maxSide: number,
  client: S3Client = s3,
): Promise<ItemOutcome> {
  if (item.Key.endsWith('/')) return 'ignored';
  const refused = refusal(item);
  if (refused) return refused;
  const imageKey = imageKeyFor(item.Key);
  const gone: PreprocessFailure = {
    key: item.Key,
    reason: 'deleted from the raw bucket before it was processed',
  };
  let etag = normalizeEtag(item.Etag);
  try {
    if (!etag) {
      const head = await client.send(new HeadObjectCommand({ Bucket: buckets.rawBucket, Key: item.Key }));
      etag = normalizeEtag(head.ETag);
    }
  } catch (error) {
    if (isNotFound(error)) return gone;
    throw error;
  }
  let replaced = false;
  try {
    const existing = await client.send(
      new HeadObjectCommand({ Bucket: buckets.datasetBucket, Key: imageKey }),
    );
    const sourceEtag = existing.Metadata?.['source-etag'];
    // An image made before orientations were recorded is remade once, so label imports can turn boxes upright.
    if (sourceEtag === etag && existing.Metadata?.orientation) return 'skipped';
    replaced = sourceEtag !== etag;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }

  let raw;
  try {
    raw = await client.send(new GetObjectCommand({ Bucket: buckets.rawBucket, Key: item.Key }));
  } catch (error) {
    if (isNotFound(error)) return gone;
    throw error;
  }
  // The object may have been replaced by a larger one since it was listed.
  if ((raw.ContentLength ?? 0) > MAX_RAW_OBJECT_BYTES) {
    (raw.Body as { destroy?: () => void } | undefined)?.destroy?.();
    return tooLarge(item.Key, raw.ContentLength!);
  }
  const bytes = (await raw.Body?.transformToByteArray()) ?? new Uint8Array();
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let image;
  try {
    image = await toModelImage(input, maxSide);
  } catch (error) {
    if (error instanceof ImageError) return { key: item.Key, reason: error.message };
    throw error;
  }
  const metadata: PreprocessedImageMetadata = {
    width: String(image.width),
    height: String(image.height),
    'source-key': metadataSafe(item.Key),
    'source-etag': normalizeEtag(raw.ETag) || etag,
    orientation: String(image.orientation),
    'source-width': String(image.sourceWidth),
    'source-height': String(image.sourceHeight),
  };
  await client.send(
    new PutObjectCommand({
      Bucket: buckets.datasetBucket,
      Key: imageKey,
      Body: image.data,
      ContentType: 'image/jpeg',
      Metadata: { ...metadata },
    }),
  );
  return replaced ? 'replaced' : 'processed';
}

/**
 * GB-seconds of one invocation: its duration as the handler measured it (from the handler's start to its return,
 * so without the cold start's initialization, which Lambda also bills), rounded up to the millisecond as Lambda
 * bills, × the configured memory.
 */
export function invocationGbSeconds(durationMs: number, memoryMB: number): number {
  return (Math.ceil(durationMs) / 1000) * (memoryMB / 1024);
}

/** A file that failed with an error rather than for what it is: counted against the tolerated percentage. */
function errorFailure(key: string, reason: string): PreprocessFailure {
  return { key, reason: `${reason}; the next run tries it again`, error: true };
}

/**
 * Converts a batch of raw images to grayscale, oriented, resized JPEGs under images/. One file never fails the
 * batch: an error on one file is reported for that file, and files not finished when the invocation's time is
 * nearly up are reported as not finished, so the invocation returns before Lambda stops it. With the context's
 * memory size, the result also says the invocation's GB-seconds, for the run's cost.
 */
export async function handler(
  event: PreprocessEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'memoryLimitInMB'>>,
): Promise<PreprocessResult> {
  const started = Date.now();
  const { rawBucket, datasetBucket, maxSide } = event.BatchInput;
  const timeLeft = context ? context.getRemainingTimeInMillis() - RETURN_MARGIN_MS : Infinity;
  const deadline = Date.now() + timeLeft;
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<void>((resolve) => {
    if (Number.isFinite(timeLeft)) timer = setTimeout(resolve, Math.max(0, timeLeft));
  });
  const outcomes = await mapLimit(event.Items, CONCURRENCY, async (item): Promise<ItemOutcome> => {
    if (Date.now() >= deadline) return errorFailure(item.Key, 'not started: its batch ran out of time');
    const work = preprocessItem(item, { rawBucket, datasetBucket }, maxSide).catch((error: Error) =>
      errorFailure(item.Key, `could not be processed (${error.name}: ${error.message})`),
    );
    const late = timeUp.then(() =>
      errorFailure(
        item.Key,
        'not finished: its batch ran out of time (a photo that keeps doing this may be too large to decode)',
      ),
    );
    return Promise.race([work, late]);
  });
  clearTimeout(timer);
  const failed = outcomes.filter((o): o is PreprocessFailure => typeof o === 'object');
  for (const failure of failed)
    console.warn(`Not preprocessed: ${displayKey(failure.key)}: ${failure.reason}`);
  const replaced = event.Items.filter((_, i) => outcomes[i] === 'replaced').map((item) => item.Key);
  const memoryMB = Number(context?.memoryLimitInMB);
  return {
    processed: outcomes.filter((o) => o === 'processed' || o === 'replaced').length,
    skipped: outcomes.filter((o) => o === 'skipped').length,
    failed,
    ...(replaced.length > 0 ? { replaced } : {}),
    ...(memoryMB > 0 ? { gbSeconds: invocationGbSeconds(Date.now() - started, memoryMB) } : {}),
  };
}
