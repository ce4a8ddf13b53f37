import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { getText, listKeys, listObjects, mapLimit, putJsonLines, s3ClientOptions } from '../shared/aws';
import {
  AssembleDatasetEvent,
  AssembleDatasetResult,
  Box,
  DATASET_LABEL_ATTRIBUTE,
  DATASET_MANIFEST_KEYS,
  displayKey,
  LABEL_EXTENSION,
  labelIsCurrent,
  LabelDocument,
  ManifestLine,
  metadataAttribute,
  PREFIXES,
  StoredObject,
  TRAIN_MANIFEST_PREFIX,
  VALIDATION_MANIFEST_PREFIX,
} from '../../contracts';
import { isLegacyLabel, isUsableImageKey, legacyLabelsMessage } from '../shared/labels/tracking';
import { classMap } from '../shared/labels/validate';

const s3 = new S3Client(s3ClientOptions());

/** The dataset cannot be trained on as it is; the message says what to do. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/**
 * Whether an image belongs to the validation split: the first 32 bits of SHA-256 of its key, modulo 100, below
 * the percentage. Depends on nothing but the key, so an image never changes split as the dataset grows.
 */
export function isValidation(imageKey: string, validationPercent: number): boolean {
  const bucket = createHash('sha256').update(imageKey).digest().readUInt32BE(0) % 100;
  return bucket < validationPercent;
}

/** The assembled dataset: manifest lines by split, and counts. */
export interface AssembledDataset {
  readonly train: ManifestLine[];
  readonly validation: ManifestLine[];
  readonly boxes: number;
  readonly negatives: number;
}

/**
 * Merges label documents into manifest lines with class ids renumbered to the configured class order (by name),
 * one line per image (the most recently labeled document wins), sorted by image, split by {@link isValidation}.
 * Throws {@link DatasetError} when there is nothing to train on, no validation image with a box, a class without a
 * training example, or a label of a class that is no longer configured.
 */
export function assemble(
  documents: readonly LabelDocument[],
  classes: readonly string[],
  validationPercent: number,
): AssembledDataset {
  const latest = new Map<string, LabelDocument>();
  for (const doc of documents) {
    const previous = latest.get(doc['source-ref']);
    if (!previous || previous['labeled-at'] <= doc['labeled-at']) latest.set(doc['source-ref'], doc);
  }
  if (latest.size === 0) {
    throw new DatasetError(
      'No labeled images: import labels (npm run import-labels) or label with Ground Truth, then run the pipeline again.',
    );
  }
  const ids = new Map(classes.map((name, id) => [name, id]));
  const map = classMap(classes);
  const unknown = new Map<string, number>();
  const train: ManifestLine[] = [];
  const validation: ManifestLine[] = [];
  const trainCounts = new Array<number>(classes.length).fill(0);
  let boxes = 0;
  let negatives = 0;

  for (const ref of [...latest.keys()].sort()) {
    const doc = latest.get(ref)!;
    const annotations: Box[] = [];
    for (const box of doc.annotations) {
      const name = doc['class-map'][String(box.class_id)] ?? `class id ${box.class_id}`;
      const id = ids.get(name);
      if (id === undefined) unknown.set(name, (unknown.get(name) ?? 0) + 1);
      else annotations.push({ ...box, class_id: id });
    }
    const imageKey = ref.replace(/^s3:\/\/[^/]+\//, '');
    const split = isValidation(imageKey, validationPercent) ? validation : train;
    if (split === train) for (const box of annotations) trainCounts[box.class_id]++;
    boxes += annotations.length;
    if (annotations.length === 0) negatives++;
    const line: ManifestLine = {
      'source-ref': ref,
      [DATASET_LABEL_ATTRIBUTE]: { image_size: doc.image_size, annotations },
      [metadataAttribute(DATASET_LABEL_ATTRIBUTE)]: {
        'class-map': map,
        type: 'groundtruth/object-detection',
        'human-annotated': 'yes',
        'creation-date': doc['labeled-at'],
        'job-name': doc.source,
      },
    };
    split.push(line);
  }

  if (unknown.size > 0) {
    const list = [...unknown].map(([name, n]) => `"${name}" (${n} box${n === 1 ? '' : 'es'})`).join(', ');
    throw new DatasetError(
      `Labels use classes that are not configured: ${list}. Add them to the "classes" setting, or re-import ` +
        `labels for those images with only the configured classes (${classes.join(', ')}).`,
    );
  }
  if (validation.length === 0) {
    throw new DatasetError(
      `No image falls in the validation split (${latest.size} labeled images, validation ${validationPercent}%). ` +
        'Label more images, or raise the validation percentage.',
    );
  }
  // The training container skips images without boxes, and validates on the rest: without one, the job would fail.
  if (validation.every((line) => line[DATASET_LABEL_ATTRIBUTE].annotations.length === 0)) {
    throw new DatasetError(
      `No image in the validation split has a box (its ${validation.length} image${validation.length === 1 ? ' is' : 's are'} ` +
        'labeled as showing none of the classes), so validation mAP cannot be measured. Label more images that show the classes.',
    );
  }
  const missing = classes.filter((_, id) => trainCounts[id] === 0);
  if (missing.length > 0) {
    throw new DatasetError(
      `No training example of class ${missing.map((c) => `"${c}"`).join(', ')}: label images that show it ` +
        '(the validation split is chosen by image name, so add a few), or remove it from the "classes" setting.',
    );
  }
  return { train, validation, boxes, negatives };
}

/** Parses one label document; a damaged one stops the run with the key to fix. */
export function readLabelDocument(key: string, text: string): LabelDocument {
  let doc: Partial<LabelDocument>;
  try {
    doc = JSON.parse(text) as Partial<LabelDocument>;
  } catch {
    doc = {};
  }
  if (
    typeof doc['source-ref'] !== 'string' ||
    !Array.isArray(doc.annotations) ||
    !Array.isArray(doc.image_size) ||
    typeof doc['class-map'] !== 'object'
  ) {
    throw new DatasetError(
      `${key} is not a label document (it needs source-ref, image_size, annotations and class-map); ` +
        'delete it, or import labels for its image again.',
    );
  }
  return doc as LabelDocument;
}

/** The label documents assembly uses, and those it leaves out with the reason. */
export interface UsableLabels {
  readonly documents: LabelDocument[];
  readonly leftOut: { readonly key: string; readonly reason: string }[];
}

/**
 * Keeps the label documents that still belong to their image ({@link labelIsCurrent}); leaves out, with the reason,
 * those whose image was made again from a replaced photo or is gone (the run asked for them to be labeled again), and
 * those naming an image key the pipeline would not make (e.g. with a `..` segment), which would send training
 * outside its images channel. Throws {@link DatasetError} for documents of existing images written before labels
 * recorded their image.
 */
export function usableLabels(
  documents: ReadonlyMap<string, LabelDocument>,
  images: ReadonlyMap<string, StoredObject>,
  datasetBucket: string,
): UsableLabels {
  const usable: LabelDocument[] = [];
  const leftOut: UsableLabels['leftOut'] = [];
  const legacy: string[] = [];
  for (const [key, doc] of documents) {
    const imageKey = doc['source-ref'].replace(/^s3:\/\/[^/]+\//, '');
    if (!isUsableImageKey(imageKey)) {
      leftOut.push({ key, reason: `its image ${displayKey(imageKey)} is not a key the pipeline makes` });
    } else if (!images.has(imageKey)) {
      leftOut.push({ key, reason: `its image ${imageKey} no longer exists` });
    } else if (isLegacyLabel(doc)) {
      legacy.push(key);
    } else if (!labelIsCurrent(doc, images.get(imageKey))) {
      leftOut.push({
        key,
        reason: `its image ${imageKey} was made again from a replaced photo: label it again`,
      });
    } else {
      usable.push(doc);
    }
  }
  if (legacy.length > 0) throw new DatasetError(legacyLabelsMessage(legacy, datasetBucket));
  return { documents: usable, leftOut };
}

/**
 * Merges the label documents that still belong to their image into the cumulative dataset manifest and its
 * train/validation split.
 */
export async function handler(event: AssembleDatasetEvent): Promise<AssembleDatasetResult> {
  const bucket = event.datasetBucket;
  const [keys, images] = await Promise.all([
    listKeys(s3, bucket, PREFIXES.labels).then((all) => all.filter((k) => k.endsWith(LABEL_EXTENSION))),
    listObjects(s3, bucket, PREFIXES.images),
  ]);
  const documents = await mapLimit(keys, 16, async (key) =>
    readLabelDocument(key, await getText(s3, bucket, key)),
  );
  const { documents: usable, leftOut } = usableLabels(
    new Map(keys.map((key, i) => [key, documents[i]])),
    images,
    bucket,
  );
  for (const { key, reason } of leftOut) console.warn(`Label left out: ${displayKey(key)}: ${reason}`);
  const dataset = assemble(usable, event.classes, event.validationPercent);
  const all = [...dataset.train, ...dataset.validation].sort((a, b) =>
    a['source-ref'].localeCompare(b['source-ref']),
  );
  const put = (key: string, lines: readonly ManifestLine[]) => putJsonLines(s3, bucket, key, lines);
  await Promise.all([
    put(DATASET_MANIFEST_KEYS.all, all),
    put(DATASET_MANIFEST_KEYS.train, dataset.train),
    put(DATASET_MANIFEST_KEYS.validation, dataset.validation),
  ]);
  return {
    images: all.length,
    boxes: dataset.boxes,
    train: dataset.train.length,
    validation: dataset.validation.length,
    negatives: dataset.negatives,
    ...(leftOut.length > 0 ? { outdated: leftOut.length } : {}),
    trainManifestPrefix: `s3://${bucket}/${TRAIN_MANIFEST_PREFIX}`,
    validationManifestPrefix: `s3://${bucket}/${VALIDATION_MANIFEST_PREFIX}`,
  };
}
