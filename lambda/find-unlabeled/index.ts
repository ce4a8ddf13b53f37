import { S3Client } from '@aws-sdk/client-s3';
import { listKeys, putJsonLines, s3ClientOptions } from '../shared/aws';
import {
  FindUnlabeledEvent,
  FindUnlabeledResult,
  IMAGE_EXTENSION,
  labelingManifestKey,
  labelKeyFor,
  ManifestSource,
  PREFIXES,
} from '../../contracts';

const s3 = new S3Client(s3ClientOptions());

/** Images listed in the result for the notification. */
const SAMPLE_SIZE = 20;

/** Preprocessed image keys (sorted) that have no label document among `labelKeys`. */
export function unlabeledImages(imageKeys: readonly string[], labelKeys: readonly string[]): string[] {
  const labeled = new Set(labelKeys);
  return imageKeys.filter((key) => key.endsWith(IMAGE_EXTENSION) && !labeled.has(labelKeyFor(key))).sort();
}

/** Lists the preprocessed images that have no label yet and writes their labeling manifest. */
export async function handler(event: FindUnlabeledEvent): Promise<FindUnlabeledResult> {
  const [imageKeys, labelKeys] = await Promise.all([
    listKeys(s3, event.datasetBucket, PREFIXES.images),
    listKeys(s3, event.datasetBucket, PREFIXES.labels),
  ]);
  const unlabeled = unlabeledImages(imageKeys, labelKeys);
  const sample = unlabeled.slice(0, SAMPLE_SIZE);
  if (unlabeled.length === 0) return { count: 0, sample };

  const manifestKey = labelingManifestKey(event.executionName);
  const lines = unlabeled.map((key): ManifestSource => ({
    'source-ref': `s3://${event.datasetBucket}/${key}`,
  }));
  await putJsonLines(s3, event.datasetBucket, manifestKey, lines);
  return { count: unlabeled.length, manifestKey, sample };
}
