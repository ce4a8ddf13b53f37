import { S3Client } from '@aws-sdk/client-s3';
import { getText, mapLimit } from '../aws';
import { displayKey, IMAGE_EXTENSION, keyPathProblem, LabelDocument, PREFIXES } from '../../../contracts';

// Label documents read at once.
const CONCURRENCY = 16;

/** A label document as stored: its fields as far as they parse, or undefined when it is not a JSON object. */
export type StoredLabel = Partial<LabelDocument> | undefined;

/** Reads label documents by key; a document that is not a JSON object reads as undefined. */
export async function readLabels(
  s3: S3Client,
  bucket: string,
  labelKeys: readonly string[],
): Promise<Map<string, StoredLabel>> {
  const texts = await mapLimit(labelKeys, CONCURRENCY, (key) => getText(s3, bucket, key));
  return new Map(labelKeys.map((key, i) => [key, parseLabel(texts[i])]));
}

function parseLabel(text: string): StoredLabel {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Partial<LabelDocument>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether an image key is one the pipeline makes and may pass on (to labeling, to a training manifest): under
 * `images/`, ending in `.jpg`, its path free of empty, `.` and `..` segments and of control characters.
 */
export function isUsableImageKey(imageKey: string): boolean {
  return (
    imageKey.startsWith(PREFIXES.images) &&
    imageKey.endsWith(IMAGE_EXTENSION) &&
    keyPathProblem(imageKey.slice(PREFIXES.images.length)) === undefined
  );
}

/** Whether a stored label predates label documents recording their image (it has no `image-etag`). */
export function isLegacyLabel(label: StoredLabel): boolean {
  return label !== undefined && typeof label['image-etag'] !== 'string';
}

/**
 * Why a run cannot go on with label documents written before labels recorded the image they were drawn on (and
 * before image keys kept the photo's extension), and what to do: run the key migration once.
 */
export function legacyLabelsMessage(labelKeys: readonly string[], datasetBucket: string): string {
  const shown = labelKeys.slice(0, 3).map(displayKey).join(', ');
  const more = labelKeys.length > 3 ? `, and ${labelKeys.length - 3} more` : '';
  return (
    `${labelKeys.length} label document${labelKeys.length === 1 ? ' was' : 's were'} written before labels ` +
    `recorded the image they were drawn on and before image keys kept the photo's extension (${shown}${more}). ` +
    `Run "npm run migrate-keys -- --dataset-bucket ${datasetBucket}" once, then start the run again; ` +
    'nothing was asked for or trained.'
  );
}
