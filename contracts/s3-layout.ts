/**
 * Where every object of logo-detection lives in S3: the prefixes of the raw, dataset and artifacts buckets, the
 * fixed keys under them, and the rules that derive one key from another. The buckets themselves (lib/data.ts),
 * the IAM grants of each stage, the handlers, the label-import command and local mode all build keys from here.
 */

/** Top-level prefixes, by bucket. Every stage reads and writes only its own prefixes. */
export const PREFIXES = {
  /** Raw uploads, in the raw bucket. Never modified by the pipeline. */
  raw: 'raw/',
  /**
   * Grayscale, resized images, in the dataset bucket: `images/<raw path, extension included>.jpg`
   * ({@link imageKeyFor}).
   */
  images: 'images/',
  /**
   * Label documents, one JSON document per image, in the dataset bucket: `labels/<raw path>.json`
   * ({@link labelKeyFor}).
   */
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
  /**
   * Evaluation reports of trained models, in the artifacts bucket, one folder per training job
   * ({@link evaluationReportKey}). Written once, after training: a later run never overwrites one.
   */
  evaluationReports: 'reports/',
  /**
   * Batch detection jobs, in the artifacts bucket, one folder per detect execution
   * ({@link detectionJobKeys}). The inputs stay where the operator put them; nothing is written next to them.
   */
  detections: 'detections/',
} as const;

/** Prefixes of the access-log bucket: each logged bucket delivers its S3 server access logs under its own. */
export const ACCESS_LOG_PREFIXES = {
  raw: 'raw/',
  dataset: 'dataset/',
  artifacts: 'artifacts/',
} as const;

/** Appended to the raw path to make every preprocessed image key (images are always written as JPEG). */
export const IMAGE_EXTENSION = '.jpg';

/** Appended to the raw path to make every label document key. */
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

/**
 * Key, in the artifacts bucket, of one file of a training job's published evaluation report:
 * `reports/<training job name>/<file>`, e.g. `reports/logodet-8e449b-train-<run id>/report.html`. Job names are
 * unique per run, so no run writes into another's folder.
 * @throws Error naming the value when the job name or the file name is not one path segment.
 */
export function evaluationReportKey(trainingJobName: string, file: string): string {
  for (const [what, value] of [
    ['training job name', trainingJobName],
    ['file name', file],
  ]) {
    if (value.includes('/') || keyPathProblem(value) !== undefined) {
      throw new Error(`The ${what} ${displayKey(value)} cannot be one segment of an evaluation report key`);
    }
  }
  return `${PREFIXES.evaluationReports}${trainingJobName}/${file}`;
}

/** Key of one execution's preprocessing report: `reports/<executionName>/preprocess.json`. */
export function preprocessReportKey(executionName: string): string {
  return `${PREFIXES.reports}${executionName}/preprocess.json`;
}

/**
 * Characters no key may hold: control characters (line breaks and tabs included), Unicode line and paragraph
 * separators, and the bidirectional controls that make text display in another order than it is stored.
 */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u;

/**
 * What makes a path below a prefix (`shop/front.jpg`) unusable as part of a key, or undefined when nothing does:
 * an empty path or an empty segment (`a//b`, a leading or trailing `/`), a `.` or `..` segment (`../x.png`), or a
 * control character ({@link UNSAFE_CHARACTERS}). Such keys would resolve elsewhere once they are a file path (in the
 * training container's channels, in a labeling tool's folder), or break the line of a message that quotes them.
 * The answer completes "the key ...": `has a "." or ".." path segment`.
 */
export function keyPathProblem(path: string): string | undefined {
  if (UNSAFE_CHARACTERS.test(path)) return 'contains a control character (a line break, tab or similar)';
  const segments = path.split('/');
  if (segments.some((segment) => segment === '')) {
    return 'has an empty path segment (two slashes in a row, or a leading or trailing slash)';
  }
  if (segments.some((segment) => segment === '.' || segment === '..'))
    return 'has a "." or ".." path segment';
  return undefined;
}

/**
 * What makes a raw key unusable, or undefined when nothing does: it must be under `raw/`, and its path below must
 * pass {@link keyPathProblem}. The answer completes "the key ...".
 */
export function rawKeyProblem(rawKey: string): string | undefined {
  if (!rawKey.startsWith(PREFIXES.raw)) return `is not under ${PREFIXES.raw}`;
  return keyPathProblem(rawKey.slice(PREFIXES.raw.length));
}

/**
 * Key of the preprocessed image made from a raw key: `images/`, the raw key's whole path below `raw/` (its
 * extension included), then `.jpg`: `raw/shop/front.PNG` → `images/shop/front.PNG.jpg`, `raw/front.jpg` →
 * `images/front.jpg.jpg`, `raw/front` → `images/front.jpg`. A fixed prefix and suffix around the whole path: two
 * raw objects never share an image key, and the raw key can be read back ({@link rawKeyForImage}).
 * @throws Error naming the key and the problem when {@link rawKeyProblem} refuses it.
 */
export function imageKeyFor(rawKey: string): string {
  const problem = rawKeyProblem(rawKey);
  if (problem !== undefined) throw new Error(`The raw key ${displayKey(rawKey)} ${problem}`);
  return `${PREFIXES.images}${rawKey.slice(PREFIXES.raw.length)}${IMAGE_EXTENSION}`;
}

/**
 * The raw key an image key was made from, the inverse of {@link imageKeyFor}: `images/shop/front.PNG.jpg` →
 * `raw/shop/front.PNG`.
 * @throws Error naming the key when it is not under `images/` or does not end in `.jpg`.
 */
export function rawKeyForImage(imageKey: string): string {
  return `${PREFIXES.raw}${imagePath(imageKey)}`;
}

/**
 * Key of the label document of a preprocessed image: `labels/`, the image's path without the `.jpg` that
 * {@link imageKeyFor} appended, then `.json`: `images/shop/front.PNG.jpg` → `labels/shop/front.PNG.json`.
 * @throws Error naming the key when it is not under `images/` or does not end in `.jpg`.
 */
export function labelKeyFor(imageKey: string): string {
  return `${PREFIXES.labels}${imagePath(imageKey)}${LABEL_EXTENSION}`;
}

/**
 * Key of the preprocessed image a label document belongs to, the inverse of {@link labelKeyFor}:
 * `labels/shop/front.PNG.json` → `images/shop/front.PNG.jpg`.
 * @throws Error naming the key when it is not under `labels/`.
 */
export function imageKeyForLabel(labelKey: string): string {
  if (!labelKey.startsWith(PREFIXES.labels))
    throw new Error(`Not a label document key: ${displayKey(labelKey)}`);
  const relative = labelKey.slice(PREFIXES.labels.length);
  const path = relative.endsWith(LABEL_EXTENSION) ? relative.slice(0, -LABEL_EXTENSION.length) : relative;
  return `${PREFIXES.images}${path}${IMAGE_EXTENSION}`;
}

/** `images/a/b.png.jpg` → `a/b.png`: the raw path an image key was made from. */
function imagePath(imageKey: string): string {
  if (!imageKey.startsWith(PREFIXES.images) || !imageKey.endsWith(IMAGE_EXTENSION)) {
    throw new Error(`Not a preprocessed image key (images/...${IMAGE_EXTENSION}): ${displayKey(imageKey)}`);
  }
  return imageKey.slice(PREFIXES.images.length, -IMAGE_EXTENSION.length);
}

const DISPLAY_ESCAPES = new RegExp(UNSAFE_CHARACTERS.source, 'gu');

/**
 * A key as messages show it: as it is when it holds none of the characters {@link keyPathProblem} refuses, else
 * in double quotes with those characters (and quotes and backslashes) escaped as `\n` or `\u2028`, so a key can
 * never break a message's line, nor make what follows it on the line read differently.
 */
export function displayKey(key: string): string {
  if (!UNSAFE_CHARACTERS.test(key)) return key;
  const escaped = key
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(DISPLAY_ESCAPES, (c) => {
      const short: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
      return short[c] ?? `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;
    });
  return `"${escaped}"`;
}

/**
 * Where one batch detection job (one execution of the detect workflow) keeps its files, in the artifacts bucket,
 * under `detections/<executionName>/`: the transform job's input manifest, the transform job's raw `.out` answers,
 * the detections as JSON Lines (one line per image answered), the images that got none with the reason (JSON
 * Lines), and the annotated copies when asked for (`annotated/<path below the input prefix>.annotated.jpg`).
 */
export function detectionJobKeys(executionName: string): {
  readonly folder: string;
  readonly manifest: string;
  readonly transformOutput: string;
  readonly detections: string;
  readonly failures: string;
  readonly annotated: string;
} {
  const problem = keyPathProblem(executionName);
  if (problem !== undefined || executionName.includes('/')) {
    throw new Error(`The execution name ${displayKey(executionName)} cannot name a detection job folder`);
  }
  const folder = `${PREFIXES.detections}${executionName}/`;
  return {
    folder,
    manifest: `${folder}input.manifest`,
    transformOutput: `${folder}transform/`,
    detections: `${folder}detections.jsonl`,
    failures: `${folder}failures.jsonl`,
    annotated: `${folder}annotated/`,
  };
}

/** Appended to an input's path below the input prefix to name its annotated copy. */
export const ANNOTATED_EXTENSION = '.annotated.jpg';

/** Appended by Batch Transform to an input's path below the input prefix to name its answer. */
export const TRANSFORM_OUTPUT_EXTENSION = '.out';
