/**
 * Where every object of logo-detection lives in S3: the prefixes of the raw, dataset and artifacts buckets, the
 * fixed keys under them, and the rules that derive one key from another. The buckets themselves (lib/data.ts),
 * the IAM grants of each stage, the handlers, the label-import command and local mode all build keys from here.
 */

/** Top-level prefixes, by bucket. Every stage reads and writes only its own prefixes. */
export const PREFIXES = {
  /** Raw uploads, in the raw bucket. Never modified by the pipeline. */
  raw: 'raw/',
  /** Grayscale, resized images, in the dataset bucket, keyed from the raw key by {@link imageKeyFor}. */
  images: 'images/',
  /** Label documents, one JSON document per image ({@link labelKeyFor}), in the dataset bucket. */
  labels: 'labels/',
  /** Label files operators upload for import (Ground Truth manifest, COCO, Pascal VOC), in the dataset bucket. */
  labelImports: 'label-imports/',
  /** Dataset manifests (cumulative, train and validation splits) and labeling-job files, in the dataset bucket. */
  manifests: 'manifests/',
  /** Preprocessing and run reports, in the dataset bucket. */
  reports: 'reports/',
  /** Ground Truth labeling job output, in the dataset bucket. */
  groundTruth: 'ground-truth/',
  /** Pretrained weights supplied by the operator, in the artifacts bucket (the `pretrained` training channel). */
  pretrained: 'pretrained/',
  /** Training job output (model tarballs), in the artifacts bucket. */
  models: 'models/',
  /** Spot training checkpoints, in the artifacts bucket, one folder per execution. */
  checkpoints: 'checkpoints/',
} as const;

/** Prefixes of the access-log bucket: each logged bucket delivers its S3 server access logs under its own. */
export const ACCESS_LOG_PREFIXES = {
  raw: 'raw/',
  dataset: 'dataset/',
  artifacts: 'artifacts/',
} as const;

/** Extension of every preprocessed image key (images are always written as JPEG). */
export const IMAGE_EXTENSION = '.jpg';

/** Extension of every label document key. */
export const LABEL_EXTENSION = '.json';

/**
 * The training manifests `assemble-dataset` writes, in the dataset bucket: all images, and the train and
 * validation splits, each split in a folder of its own so a File-mode channel can point at the folder.
 */
export const DATASET_MANIFEST_KEYS = {
  all: `${PREFIXES.manifests}dataset.manifest`,
  train: `${PREFIXES.manifests}train/train.manifest`,
  validation: `${PREFIXES.manifests}validation/validation.manifest`,
} as const;

/** The folder of the train split's manifest: the `train` channel's S3 prefix. */
export const TRAIN_MANIFEST_PREFIX = `${PREFIXES.manifests}train/`;

/** The folder of the validation split's manifest: the `validation` channel's S3 prefix. */
export const VALIDATION_MANIFEST_PREFIX = `${PREFIXES.manifests}validation/`;

/** Labeling files in the dataset bucket: input manifests, the pending request, the worker UI and categories. */
export const LABELING_PREFIX = `${PREFIXES.manifests}labeling/`;

/**
 * Prefix of the pending label requests in the dataset bucket, one object per waiting execution. Usually one
 * (one run at a time), but a run stopped while it waited leaves its request behind, and the next run must not
 * overwrite it with its own task token.
 */
export const PENDING_LABEL_REQUESTS_PREFIX = `${LABELING_PREFIX}pending/`;

/**
 * Key of an execution's pending label request in the dataset bucket: `manifests/labeling/pending/<execution
 * name>.json` (execution names cannot contain `/`).
 */
export function pendingLabelRequestKey(executionName: string): string {
  return `${PENDING_LABEL_REQUESTS_PREFIX}${executionName}.json`;
}

/** The Ground Truth worker UI template and label categories the labeling stage writes, in the dataset bucket. */
export const LABELING_JOB_KEYS = {
  template: `${LABELING_PREFIX}bounding-box.liquid.html`,
  categories: `${LABELING_PREFIX}label-categories.json`,
} as const;

/**
 * Where the preprocessing Distributed Map's ResultWriter writes, in the dataset bucket (without a trailing slash:
 * Step Functions adds `/<map run id>/manifest.json` and the result files).
 */
export const PREPROCESS_RESULTS_PREFIX = `${PREFIXES.reports}preprocess`;

/** Key of the labeling input manifest of one execution: `manifests/labeling/<executionName>.manifest`. */
export function labelingManifestKey(executionName: string): string {
  return `${LABELING_PREFIX}${executionName}.manifest`;
}

/** Key of one execution's preprocessing report: `reports/<executionName>/preprocess.json`. */
export function preprocessReportKey(executionName: string): string {
  return `${PREFIXES.reports}${executionName}/preprocess.json`;
}

/** Key of the preprocessed image made from a raw key: `raw/a/b.PNG` → `images/a/b.jpg`. */
export function imageKeyFor(rawKey: string, rawPrefix: string = PREFIXES.raw): string {
  const relative = rawKey.startsWith(rawPrefix) ? rawKey.slice(rawPrefix.length) : rawKey;
  return `${PREFIXES.images}${withoutExtension(relative)}${IMAGE_EXTENSION}`;
}

/**
 * Key of the label document of a preprocessed image: `images/a/b.jpg` → `labels/a/b.json`.
 * @throws Error naming the key when it is not under `images/`.
 */
export function labelKeyFor(imageKey: string): string {
  if (!imageKey.startsWith(PREFIXES.images)) throw new Error(`Not a preprocessed image key: ${imageKey}`);
  return `${PREFIXES.labels}${withoutExtension(imageKey.slice(PREFIXES.images.length))}${LABEL_EXTENSION}`;
}

/**
 * Key of the preprocessed image a label document belongs to, the inverse of {@link labelKeyFor}:
 * `labels/a/b.json` → `images/a/b.jpg`.
 * @throws Error naming the key when it is not under `labels/`.
 */
export function imageKeyForLabel(labelKey: string): string {
  if (!labelKey.startsWith(PREFIXES.labels)) throw new Error(`Not a label document key: ${labelKey}`);
  const relative = labelKey.slice(PREFIXES.labels.length);
  const stem = relative.endsWith(LABEL_EXTENSION) ? relative.slice(0, -LABEL_EXTENSION.length) : relative;
  return `${PREFIXES.images}${stem}${IMAGE_EXTENSION}`;
}

/** `a/b.PNG` → `a/b`; only the last path segment's extension goes. */
function withoutExtension(key: string): string {
  return key.replace(/\.[^./]*$/, '');
}
