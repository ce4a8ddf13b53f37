/**
 * The contracts between the pipeline's parts: what each Lambda handler receives from the state machine and
 * returns to it, and the records they write to S3 (where: s3-layout.ts; manifest fields: manifest.ts). The state
 * machine definition (lib/), the handlers (lambda/), the label-import command (scripts/) and local mode all build
 * on these types.
 */
import type { LiveModel } from './live-model';

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

/**
 * Largest raw object preprocessing reads, in bytes (50 MiB): checked against the `Size` the Distributed Map's
 * listing gives, before any read, and again against the size GetObject answers. A larger object is reported as too
 * large and skipped, so one huge file cannot exhaust a batch's memory (the `preprocess` Lambda has 2048 MB and works
 * on 4 files at once). A 50-megapixel camera JPEG is about 25 MB.
 */
export const MAX_RAW_OBJECT_BYTES = 50 * 1024 * 1024;

/** Why one raw object was not turned into an image. */
export interface PreprocessFailure {
  readonly key: string;
  readonly reason: string;
  /**
   * Set when the file was not at fault: an S3 or runtime error, a batch that ran out of time or failed as a whole.
   * Only these count against `preprocessToleratedFailurePercentage`; a file refused for what it is (its key, its
   * size, not an image) is reported and never fails a run. Either way the next run tries the file again.
   */
  readonly error?: true;
}

/**
 * What one `preprocess` invocation did. Every item ends up in exactly one of `processed`, `skipped` or `failed`
 * (folder markers, keys ending in `/`, in none); the handler never throws for one file.
 */
export interface PreprocessResult {
  /** Images written under images/. */
  readonly processed: number;
  /** Images whose output already existed for the same source version. */
  readonly skipped: number;
  readonly failed: PreprocessFailure[];
  /**
   * Raw keys, among `processed`, whose image already existed for an earlier version of the photo: the photo was
   * replaced under the same key, so a label drawn on the old image no longer applies. Present only when not empty.
   */
  readonly replaced?: string[];
  /**
   * The invocation's duration as the handler measured it × its configured memory, in GB-seconds (what Lambda bills,
   * less the cold start's initialization). Absent when the handler was not told its memory size.
   */
  readonly gbSeconds?: number;
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
  /**
   * Percentage of the raw files listed that may fail with an error ({@link PreprocessFailure.error}) before the
   * run fails; counted in files, whatever the batch size.
   */
  readonly toleratedFailurePercentage: number;
}

/** Summary of preprocessing for one execution; the full list is in the report object. */
export interface PreprocessReportResult {
  readonly processed: number;
  readonly skipped: number;
  /** Files not turned into images, refused or failed. */
  readonly failed: number;
  /** Of `failed`, the files that failed with an error (counted against the tolerated percentage). */
  readonly errors: number;
  /** Photos replaced under the same key since their image was made (among `processed`): their labels are redone. */
  readonly replaced: number;
  /** Key, in the dataset bucket, of the JSON report listing every failure and its reason. */
  readonly reportKey: string;
  /**
   * GB-seconds the `preprocess` invocations measured of themselves, summed (for the run's cost): batches that
   * failed as a whole, and the initialization of cold starts, are not in it.
   */
  readonly lambdaGbSeconds: number;
  /** Invocations that reported their GB-seconds. */
  readonly lambdaInvocations: number;
}

/** Input of `find-unlabeled`. */
export interface FindUnlabeledEvent extends Buckets {
  readonly executionName: string;
}

/**
 * Result of `find-unlabeled`: the preprocessed images that need a label, because they have no label document yet or
 * because their label was drawn on an earlier version of the image (their photo was replaced since).
 */
export interface FindUnlabeledResult {
  /** Images that need a label, `relabel` included. */
  readonly count: number;
  /**
   * Of `count`, images that have a label document drawn on an earlier version of the image; assembly leaves them
   * out until they are labeled again. Present only when not 0.
   */
  readonly relabel?: number;
  /**
   * Key, in the dataset bucket, of a Ground Truth input manifest listing them (one `{"source-ref": ...}` per
   * line); absent when count is 0.
   */
  readonly manifestKey?: string;
  /** Up to 20 of their keys, for the notification. */
  readonly sample: string[];
  /** Up to 20 of the keys counted in `relabel`. Present only when `relabel` is. */
  readonly relabelSample?: string[];
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
 * Written by `request-labels` at {@link pendingLabelRequestKey} of its execution: what the label-import command
 * needs to resume the waiting execution.
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

/** Input of `assemble-dataset`. */
export interface AssembleDatasetEvent extends Buckets {
  /** Class names in class-id order, as configured. */
  readonly classes: string[];
  /** Percentage of images held out for validation (split by a hash of the image key). */
  readonly validationPercent: number;
}

/**
 * Result of `assemble-dataset`. It writes the three {@link DATASET_MANIFEST_KEYS} in Ground Truth's
 * output-manifest format ({@link ManifestLine}, label attribute {@link DATASET_LABEL_ATTRIBUTE}), one line per
 * image.
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
  /**
   * Label documents left out because their image changed since they were drawn (or is gone): the run asked for
   * these images to be labeled again. Present only when not 0.
   */
  readonly outdated?: number;
  /** S3 URI prefixes of the two channel folders ({@link TRAIN_MANIFEST_PREFIX}, {@link VALIDATION_MANIFEST_PREFIX}). */
  readonly trainManifestPrefix: string;
  readonly validationManifestPrefix: string;
}

/**
 * Tag key the state machine puts on every SageMaker model and endpoint config it creates, with the pipeline
 * stack's name as value; the cleanup custom resource deletes what carries it when the stack is deleted.
 */
export const STACK_TAG_KEY = 'logo-detection:stack';

/** Input of `publish-report`. */
export interface PublishReportEvent {
  /** The training job's name: the report's folder ({@link evaluationReportKey}). */
  readonly trainingJobName: string;
  /** S3 URI of the job's `model.tar.gz` (DescribeTrainingJob's `ModelArtifacts.S3ModelArtifacts`). */
  readonly modelArtifacts: string;
  /** The training job's FinalMetricDataList, as DescribeTrainingJob returns it. */
  readonly finalMetrics: { readonly MetricName: string; readonly Value: number }[];
  /** The bucket the report is published to (the artifacts bucket), under `reports/`. */
  readonly reportBucket: string;
}

/** Where a published evaluation report is. */
export interface PublishedReport {
  /** S3 URI of `report.html`. */
  readonly uri: string;
  /** The S3 console's page of `report.html` (open it there, or download it and open it in a browser). */
  readonly consoleUrl: string;
  /** S3 URI of `evaluation.json`. */
  readonly figuresUri: string;
}

/**
 * Result of `publish-report`: where the model's evaluation report was published and what it says, for the
 * live-model record and the notifications. Every field is present, null when unknown, so the state machine can read
 * each one; {@link record} holds only the known ones.
 */
export interface PublishReportResult {
  /** The published report, or null when `model.tar.gz` holds none (a model trained by an older image). */
  readonly report: PublishedReport | null;
  /** AP per class of the serving variant ({@link LiveModel.apPerClass}), or null without a report. */
  readonly apPerClass: Record<string, number> | null;
  /** The calibrated score threshold ({@link LiveModel.threshold}), or null when unknown. */
  readonly threshold: number | null;
  /** Which export serves, from the `serving_int8` metric; null when the job did not print it. */
  readonly variant: 'int8' | 'fp32' | null;
  /** Validation mAP of the int8 variant, from the `int8_val_mAP` metric; null when none was made. */
  readonly mapInt8: number | null;
  /** Validation mAP of the fp32 export measured the same way (the report's `variants`); null without a report. */
  readonly mapFp32: number | null;
  /** What the live-model record gains: the fields of {@link LiveModel} above that are known, and no others. */
  readonly record: Pick<LiveModel, 'apPerClass' | 'threshold' | 'variant' | 'mapInt8' | 'reportUri'>;
  /**
   * Two sentences for the notifications: which variant serves, with both mAPs, and where the report is (or that
   * the model has none, and why).
   */
  readonly summary: string;
}

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
 * Largest image batch detection sends to the model, in bytes (6 MiB): serve's request limit, and the transform
 * job's MaxPayloadInMB. Batch Transform fails the whole job on a larger object, so the prepare step leaves such
 * objects out of the job's manifest (from the listing, unread) and lists them with the reason.
 */
export const MAX_DETECT_IMAGE_BYTES = 6 * 1024 * 1024;

/** What starts the detect workflow (`npm run detect`): an S3 prefix of images, and what to do with them. */
export interface DetectRequest {
  /** `s3://bucket/prefix/`: every object under it is one image (sub-folders included). */
  readonly input: string;
  /** Lowest score of a detection kept, 0 to 1. @default the API's default minScore (apiDefaultMinScore) */
  readonly minScore?: number;
  /** Also write a copy of each image with its boxes drawn. @default false */
  readonly annotate?: boolean;
}

/** One image batch detection did not answer, and why. */
export interface DetectFailure {
  /** `s3://bucket/key` of the image. */
  readonly image: string;
  /** Why, written for the operator. */
  readonly reason: string;
  /** Short code: `too_large`, `empty`, or the error code the model answered (`unsupported_image`, ...). */
  readonly code: string;
}

/** Input of `detect-prepare`: lists the input prefix and writes the transform job's manifest. */
export interface DetectPrepareEvent {
  readonly executionName: string;
  /** The execution's input, as given (checked here). */
  readonly request: DetectRequest;
  /** Holds the job's folder under `detections/`. */
  readonly artifactsBucket: string;
}

/** Result of `detect-prepare`. */
export interface DetectPrepareResult {
  /** The input prefix as an S3 URI ending in `/` (or the bucket's root). */
  readonly input: string;
  /** Images in the transform job's manifest (0: nothing to send, the transform job is skipped). */
  readonly images: number;
  /** Objects left out of the job, listed in the failures file with their reason. */
  readonly refused: number;
  /** `s3://` URI of the transform job's manifest. */
  readonly manifestUri: string;
  /** `s3://` URI of the folder the transform job writes its `.out` answers to. */
  readonly transformOutputUri: string;
  /** The live model's version (its training job name). */
  readonly modelVersion: string;
  /** The SageMaker model the transform job runs ({@link modelNameForVersion}). */
  readonly modelName: string;
  /** The minScore the model is asked for, as text (an environment variable of the transform job). */
  readonly minScore: string;
  readonly annotate: boolean;
}

/** Input of `detect-results`: turns the transform job's answers into the job's JSON Lines and annotated copies. */
export interface DetectResultsEvent {
  readonly executionName: string;
  readonly artifactsBucket: string;
  readonly prepared: DetectPrepareResult;
}

/** Result of `detect-results`, which the notification reports. */
export interface DetectResultsResult {
  /** Images the model answered with detections (possibly none), one JSON line each. */
  readonly answered: number;
  /** Of `answered`, images with at least one detection. */
  readonly withDetections: number;
  /** Detections in all, over every answered image. */
  readonly detections: number;
  /** Images not answered (refused before the job, or answered with an error), one JSON line each. */
  readonly failed: number;
  /** Annotated copies written (0 unless asked for). */
  readonly annotated: number;
  /** `s3://` URI of the detections (JSON Lines). */
  readonly detectionsUri: string;
  /** `s3://` URI of the failures (JSON Lines). */
  readonly failuresUri: string;
  /** `s3://` URI of the folder of annotated copies, when asked for. */
  readonly annotatedUri?: string;
  /** Up to 10 failures, for the notification. */
  readonly failureSample: DetectFailure[];
}

/** One line of a detection job's detections file ({@link DetectResultsResult.detectionsUri}). */
export interface DetectionLine {
  /** `s3://bucket/key` of the image. */
  readonly image: string;
  /** The model version that answered. */
  readonly model: string;
  /** The image's size in pixels, as the model saw it (upright). */
  readonly width: number;
  readonly height: number;
  /** As the API answers them: label, score, box in the image's pixels, best first. */
  readonly detections: Detection[];
}

/**
 * One object found, as the serving container's `/invocations`, the API and batch detection answer it: class label,
 * confidence (0 to 1) and box in the pixel coordinates of the image sent (upright).
 */
export interface Detection {
  readonly label: string;
  readonly score: number;
  readonly box: {
    readonly left: number;
    readonly top: number;
    readonly width: number;
    readonly height: number;
  };
}
