/**
 * The contracts between the pipeline's parts: what each Lambda handler receives from the state machine and
 * returns to it, and the formats of what they write to S3. The state machine definition (lib/), the handlers
 * (lambda/), the label-import command (scripts/) and local mode all build on these types.
 */

/** Bucket names a handler works on, passed in each event by the state machine. */
export interface Buckets {
  /** Raw uploads (read-only for the pipeline). */
  readonly rawBucket: string;
  /** Preprocessed images, labels, manifests and reports. */
  readonly datasetBucket: string;
}

/** One S3 object as the Distributed Map's S3 item reader lists it. */
export interface S3Item {
  readonly Key: string;
  readonly Size: number;
  readonly Etag?: string;
  readonly LastModified?: string;
}

/** Input of one `preprocess` invocation: a batch of raw objects from the Distributed Map's item batcher. */
export interface PreprocessEvent {
  readonly Items: S3Item[];
  readonly BatchInput: Buckets & {
    /** Longest side of the output image, in pixels; smaller images are never enlarged. */
    readonly maxSide: number;
  };
}

/** Why one raw object was not turned into an image. */
export interface PreprocessFailure {
  readonly key: string;
  readonly reason: string;
}

/** What one `preprocess` invocation did. Corrupt or non-image files are reported here, never thrown. */
export interface PreprocessResult {
  /** Images written under images/. */
  readonly processed: number;
  /** Images whose output already existed for the same source version. */
  readonly skipped: number;
  readonly failed: PreprocessFailure[];
}

/**
 * Object metadata (x-amz-meta-*) on every preprocessed image, so later stages know its size and origin
 * without decoding it.
 */
export interface PreprocessedImageMetadata {
  readonly width: string;
  readonly height: string;
  /** Raw key it was made from. */
  readonly 'source-key': string;
  /** ETag of the raw object version it was made from; a re-run skips an image whose source ETag matches. */
  readonly 'source-etag': string;
  /**
   * EXIF orientation (1–8) of the raw upload, which preprocessing applied to make the image upright; `1` when
   * the upload had none. Images preprocessed before this was recorded lack it (and the two sizes below); a re-run
   * remakes them.
   */
  readonly orientation: string;
  /** Width in pixels of the raw upload as stored, before its orientation was applied and before downsizing. */
  readonly 'source-width': string;
  /** Height in pixels of the raw upload as stored, before its orientation was applied and before downsizing. */
  readonly 'source-height': string;
}

/** Input of `preprocess-report`: the Map's results, collected into one report object. */
export interface PreprocessReportEvent extends Buckets {
  readonly executionName: string;
  /** Where the Distributed Map's ResultWriter wrote its results (the manifest.json's bucket and key). */
  readonly resultWriterDetails?: { readonly Bucket: string; readonly Key: string };
}

/** Summary of preprocessing for one execution; the full list is in the report object. */
export interface PreprocessReportResult {
  readonly processed: number;
  readonly skipped: number;
  readonly failed: number;
  /** Key, in the dataset bucket, of the JSON report listing every failure and its reason. */
  readonly reportKey: string;
}

/** Input of `find-unlabeled`. */
export interface FindUnlabeledEvent extends Buckets {
  readonly executionName: string;
}

/** Result of `find-unlabeled`: the preprocessed images that have no label document yet. */
export interface FindUnlabeledResult {
  readonly count: number;
  /**
   * Key, in the dataset bucket, of a Ground Truth input manifest listing them (one `{"source-ref": ...}` per
   * line); absent when count is 0.
   */
  readonly manifestKey?: string;
  /** Up to 20 of their keys, for the notification. */
  readonly sample: string[];
}

/** Input of `request-labels` (invoked with waitForTaskToken in import mode). */
export interface RequestLabelsEvent extends Buckets {
  readonly taskToken: string;
  readonly executionName: string;
  readonly unlabeled: FindUnlabeledResult;
  readonly topicArn: string;
  /** Class names in class-id order, as configured; the import checks labels against them. */
  readonly classes: string[];
}

/**
 * Written by `request-labels` at {@link PENDING_LABEL_REQUEST_KEY}: what the label-import command needs to
 * resume the waiting execution.
 */
export interface PendingLabelRequest {
  readonly taskToken: string;
  readonly executionName: string;
  readonly manifestKey: string;
  readonly count: number;
  readonly requestedAt: string;
  /** Class names in class-id order, as configured when the labels were requested. */
  readonly classes: string[];
}

/** Where the one pending label request is kept, in the dataset bucket (one execution runs at a time). */
export const PENDING_LABEL_REQUEST_KEY = 'manifests/labeling/pending-request.json';

/** Output of the label import sent with SendTaskSuccess, and of `ground-truth-labels`. */
export interface LabelsImported {
  /** Label documents written under labels/. */
  readonly imported: number;
  /** Images the label file had no box for (written as labeled with no objects). */
  readonly empty: number;
  /** Where the labels came from: `coco`, `voc`, `groundtruth`. */
  readonly format: string;
  /** Entries left out because the labeling tool says they were not labeled (Ground Truth worker failures). */
  readonly skipped?: number;
  /**
   * Images left out because a reviewer marked their boxes bad in a Ground Truth verification job; they keep
   * whatever label they had. Present only when not 0.
   */
  readonly rejected?: number;
  /** COCO crowd regions (`iscrowd: 1`) left out: they mark many objects at once, not one. Present only when not 0. */
  readonly crowd?: number;
  /**
   * Images whose boxes were drawn on the stored, unrotated pixels of a photo with an EXIF orientation and were
   * turned to the upright preprocessed image. Present only when not 0.
   */
  readonly reoriented?: number;
}

/** Input of `ground-truth-labels`: the createLabelingJob.sync output's manifest location. */
export interface GroundTruthLabelsEvent extends Buckets {
  /** S3 URI of the labeling job's output manifest (LabelingJobOutput.OutputDatasetS3Uri). */
  readonly outputManifestUri: string;
  /** The labeling job's label attribute name. */
  readonly labelAttributeName: string;
  /**
   * Class names in class-id order, as configured; labels are checked against them by name. When absent, the
   * class ids of the job's own class-map are taken as they are (the job is created with the configured classes).
   */
  readonly classes?: string[];
}

/** One bounding box in the pixel coordinates of the preprocessed image. */
export interface Box {
  readonly class_id: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * One label document per image, at `labels/<image key without "images/">.json` in the dataset bucket. Writing
 * a new document replaces the old one: the latest label wins.
 */
export interface LabelDocument {
  /** `s3://<dataset bucket>/images/...` */
  readonly 'source-ref': string;
  readonly image_size: [{ readonly width: number; readonly height: number; readonly depth: number }];
  readonly annotations: Box[];
  /** Class id (as a string) to class name, covering every configured class. */
  readonly 'class-map': Record<string, string>;
  /** `coco`, `voc` or `groundtruth`, and the file or job it came from. */
  readonly source: string;
  readonly 'labeled-at': string;
}

/** Input of `assemble-dataset`. */
export interface AssembleDatasetEvent extends Buckets {
  /** Class names in class-id order, as configured. */
  readonly classes: string[];
  /** Percentage of images held out for validation (split by a hash of the image key). */
  readonly validationPercent: number;
}

/**
 * Result of `assemble-dataset`. It writes three manifests in Ground Truth's output-manifest format, label
 * attribute {@link DATASET_LABEL_ATTRIBUTE}, one line per image: `manifests/dataset.manifest` (all),
 * `manifests/train/train.manifest` and `manifests/validation/validation.manifest` (each in a folder of its own,
 * so a File-mode channel can point at the folder).
 */
export interface AssembleDatasetResult {
  readonly images: number;
  readonly boxes: number;
  readonly train: number;
  readonly validation: number;
  /**
   * Images labeled as showing none of the classes; they stay in the manifests, but the training container skips
   * lines without boxes. Always set by the handler.
   */
  readonly negatives?: number;
  /** S3 URI prefixes of the two channel folders. */
  readonly trainManifestPrefix: string;
  readonly validationManifestPrefix: string;
}

/**
 * Tag key the state machine puts on every SageMaker model and endpoint config it creates, with the pipeline
 * stack's name as value; the cleanup custom resource deletes what carries it when the stack is deleted.
 */
export const STACK_TAG_KEY = 'logo-detection:stack';

/** The label attribute name used in the dataset manifests. */
export const DATASET_LABEL_ATTRIBUTE = 'bounding-box';

/** Input of `quality-gate`. */
export interface QualityGateEvent {
  /** The training job's FinalMetricDataList, as DescribeTrainingJob returns it. */
  readonly finalMetrics: { readonly MetricName: string; readonly Value: number }[];
  readonly minMap: number;
  readonly tolerance: number;
}

/** Decision of `quality-gate` (it reads the live-model record itself). */
export interface QualityGateResult {
  readonly accept: boolean;
  /** The new model's best validation mAP. */
  readonly map: number;
  /** The live model's mAP, or null when none is deployed. */
  readonly liveMap: number | null;
  /** One sentence a person can act on, e.g. "mAP 0.41 is below the minimum 0.50". */
  readonly reason: string;
}

/**
 * The metric the training container prints once at the end, for the best epoch, as `best_val_mAP=<float>`;
 * the quality gate reads it from FinalMetricDataList. During training it prints `epoch=<n> train_loss=<float>`
 * and `epoch=<n> val_mAP=<float>`.
 */
export const BEST_MAP_METRIC = 'best_val_mAP';

/**
 * Printed once at the end as `int8_val_mAP=<float>`: the int8 variant's validation mAP (VOC07, IoU 0.5), measured
 * through the serving path like the fp32 one beside it in metrics.json. Absent when the image could not quantize.
 */
export const INT8_MAP_METRIC = 'int8_val_mAP';

/**
 * Printed once at the end as `serving_int8=1` when model.json names the int8 variant (its mAP is within the
 * `int8_tolerance` hyperparameter of fp32's), `serving_int8=0` when fp32 serves. The live-model record's `variant`.
 */
export const SERVING_INT8_METRIC = 'serving_int8';

/** Regular expressions of the training job's metric definitions, shared by CDK and local mode. */
export const METRIC_DEFINITIONS = [
  { Name: 'train_loss', Regex: 'train_loss=([0-9.eE+-]+)' },
  { Name: 'val_mAP', Regex: 'epoch=[0-9]+ val_mAP=([0-9.eE+-]+)' },
  { Name: BEST_MAP_METRIC, Regex: 'best_val_mAP=([0-9.eE+-]+)' },
  { Name: INT8_MAP_METRIC, Regex: 'int8_val_mAP=([0-9.eE+-]+)' },
  { Name: SERVING_INT8_METRIC, Regex: 'serving_int8=([01])' },
] as const;

/** Key of the preprocessed image made from a raw key: `raw/a/b.PNG` → `images/a/b.jpg`. */
export function imageKeyFor(rawKey: string, rawPrefix = 'raw/'): string {
  const relative = rawKey.startsWith(rawPrefix) ? rawKey.slice(rawPrefix.length) : rawKey;
  return `images/${relative.replace(/\.[^./]*$/, '')}.jpg`;
}

/** Key of the label document of a preprocessed image: `images/a/b.jpg` → `labels/a/b.json`. */
export function labelKeyFor(imageKey: string): string {
  if (!imageKey.startsWith('images/')) throw new Error(`Not a preprocessed image key: ${imageKey}`);
  return `labels/${imageKey.slice('images/'.length).replace(/\.[^./]*$/, '')}.json`;
}
