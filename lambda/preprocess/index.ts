import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isNotFound, mapLimit, s3ClientOptions } from '../shared/aws';
import {
  imageKeyFor,
  PreprocessedImageMetadata,
  PreprocessEvent,
  PreprocessFailure,
  PreprocessResult,
  S3Item,
} from '../../contracts';
import { ImageError, toModelImage } from './image';

const s3 = new S3Client(s3ClientOptions());

/** Images handled at once in one invocation: overlaps S3 latency without holding many decoded images. */
const CONCURRENCY = 4;

/** What happened to one raw object. */
export type ItemOutcome = 'processed' | 'skipped' | 'ignored' | PreprocessFailure;

/** S3 returns ETags in double quotes; the item reader and GetObject may differ in that. */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/"/g, '');
}

/** User metadata is sent as HTTP headers, which carry ASCII only; other keys are stored URI-encoded. */
export function metadataSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/**
 * Preprocesses one raw object into `images/`, unless its output already exists for the same source ETag.
 * Never writes to, or deletes from, the raw bucket; never throws for a bad image.
 */
export async function preprocessItem(
  item: S3Item,
  buckets: { rawBucket: string; datasetBucket: string },
  maxSide: number,
  client: S3Client = s3,
): Promise<ItemOutcome> {
  if (item.Key.endsWith('/')) return 'ignored';
  if (item.Size === 0) return { key: item.Key, reason: 'empty file (0 bytes): upload it again' };
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
  try {
    const existing = await client.send(
      new HeadObjectCommand({ Bucket: buckets.datasetBucket, Key: imageKey }),
    );
    // An image made before orientations were recorded is remade once, so label imports can turn boxes upright.
    if (existing.Metadata?.['source-etag'] === etag && existing.Metadata?.orientation) return 'skipped';
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
  const input = Buffer.from((await raw.Body?.transformToByteArray()) ?? []);
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
  return 'processed';
}

/** Converts a batch of raw images to grayscale, oriented, resized JPEGs under images/. */
export async function handler(event: PreprocessEvent): Promise<PreprocessResult> {
  const { rawBucket, datasetBucket, maxSide } = event.BatchInput;
  const outcomes = await mapLimit(event.Items, CONCURRENCY, (item) =>
    preprocessItem(item, { rawBucket, datasetBucket }, maxSide),
  );
  const failed = outcomes.filter((o): o is PreprocessFailure => typeof o === 'object');
  for (const failure of failed) console.warn(`Not preprocessed: ${failure.key}: ${failure.reason}`);
  return {
    processed: outcomes.filter((o) => o === 'processed').length,
    skipped: outcomes.filter((o) => o === 'skipped').length,
    failed,
  };
}
