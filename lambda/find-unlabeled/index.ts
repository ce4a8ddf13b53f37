import { S3Client } from '@aws-sdk/client-s3';
import { listKeys, listObjects, putJsonLines, s3ClientOptions } from '../shared/aws';
import {
  displayKey,
  FindUnlabeledEvent,
  FindUnlabeledResult,
  labelIsCurrent,
  labelingManifestKey,
  labelKeyFor,
  ManifestSource,
  PREFIXES,
  StoredObject,
} from '../../contracts';
import {
  isLegacyLabel,
  isUsableImageKey,
  legacyLabelsMessage,
  readLabels,
  StoredLabel,
} from '../shared/labels/tracking';

const s3 = new S3Client(s3ClientOptions());

/** Images listed in the result for the notification. */
const SAMPLE_SIZE = 20;

/** Label documents written before labels recorded their image: the key migration must run first. */
export class MigrationNeededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationNeededError';
  }
}

/** The images that need a label, sorted by key. */
export interface LabelNeeds {
  /** Images without a label document. */
  readonly unlabeled: string[];
  /** Images whose label document was drawn on another version of the image, or cannot be read. */
  readonly relabel: string[];
  /** Label documents (keys) that record no image: written before labels did. */
  readonly legacy: string[];
}

/**
 * Which images need a label: those without a label document, and those whose document no longer belongs to the
 * image ({@link labelIsCurrent}: the photo was replaced and its image made again). Image keys the pipeline would
 * not make ({@link isUsableImageKey}) are left out. `labels` holds the stored documents by label key.
 */
export function labelNeeds(
  images: ReadonlyMap<string, StoredObject>,
  labels: ReadonlyMap<string, StoredLabel>,
): LabelNeeds {
  const unlabeled: string[] = [];
  const relabel: string[] = [];
  const legacy: string[] = [];
  for (const [imageKey, image] of [...images].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!isUsableImageKey(imageKey)) continue;
    const labelKey = labelKeyFor(imageKey);
    if (!labels.has(labelKey)) unlabeled.push(imageKey);
    else if (isLegacyLabel(labels.get(labelKey))) legacy.push(labelKey);
    else if (!labelIsCurrent(labels.get(labelKey) ?? {}, image)) relabel.push(imageKey);
  }
  return { unlabeled, relabel, legacy };
}

/**
 * Lists the preprocessed images that need a label (none yet, or one drawn on an earlier version of the image) and
 * writes their labeling manifest. Throws {@link MigrationNeededError} when label documents predate labels recording
 * their image.
 */
export async function handler(event: FindUnlabeledEvent): Promise<FindUnlabeledResult> {
  const [images, labelKeys] = await Promise.all([
    listObjects(s3, event.datasetBucket, PREFIXES.images),
    listKeys(s3, event.datasetBucket, PREFIXES.labels),
  ]);
  for (const key of images.keys()) {
    if (!isUsableImageKey(key))
      console.warn(`Not an image key the pipeline makes, left out: ${displayKey(key)}`);
  }
  // Only the documents of existing images matter; each is read to compare the image it records with the listing.
  const wanted = new Set([...images.keys()].filter(isUsableImageKey).map(labelKeyFor));
  const labels = await readLabels(
    s3,
    event.datasetBucket,
    labelKeys.filter((key) => wanted.has(key)),
  );
  const { unlabeled, relabel, legacy } = labelNeeds(images, labels);
  if (legacy.length > 0) throw new MigrationNeededError(legacyLabelsMessage(legacy, event.datasetBucket));

  const needed = [...unlabeled, ...relabel].sort();
  const changed =
    relabel.length > 0 ? { relabel: relabel.length, relabelSample: relabel.slice(0, SAMPLE_SIZE) } : {};
  const sample = needed.slice(0, SAMPLE_SIZE);
  if (needed.length === 0) return { count: 0, sample };

  const manifestKey = labelingManifestKey(event.executionName);
  const lines = needed.map((key): ManifestSource => ({ 'source-ref': `s3://${event.datasetBucket}/${key}` }));
  await putJsonLines(s3, event.datasetBucket, manifestKey, lines);
  return { count: needed.length, manifestKey, sample, ...changed };
}
