/**
 * The fields of Ground Truth's bounding-box manifests, as the pipeline writes and reads them: labeling-job input
 * manifests (`find-unlabeled`), output manifests (Ground Truth, label import), the dataset manifests the training
 * container reads (`assemble-dataset`), and the per-image label documents built from the same fields.
 */

/** The label attribute name used in the dataset manifests and given to Ground Truth labeling jobs. */
export const DATASET_LABEL_ATTRIBUTE = 'bounding-box';

/** One bounding box (a manifest annotation) in the pixel coordinates of the preprocessed image. */
export interface Box {
  /** Index of the class in the configured class order. */
  readonly class_id: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Size of the image the boxes of a label refer to, in pixels; depth 1 for the grayscale images. */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
}

/** Every manifest line names its image: the only field of a labeling-job input manifest line. */
export interface ManifestSource {
  /** `s3://<dataset bucket>/images/...` */
  readonly 'source-ref': string;
}

/** The value of the label attribute on an output manifest line. */
export interface BoundingBoxLabel {
  /** Always one entry. */
  readonly image_size: [ImageSize];
  /** No annotations: labeled as showing none of the classes. */
  readonly annotations: Box[];
}

/** The value of `<label attribute>-metadata` on an output manifest line. */
export interface BoundingBoxMetadata {
  /** Class id (as a string) to class name. */
  readonly 'class-map': Record<string, string>;
  readonly type: 'groundtruth/object-detection';
  readonly 'human-annotated'?: 'yes' | 'no';
  readonly 'creation-date'?: string;
  readonly 'job-name'?: string;
  /** Set by Ground Truth, instead of a label, when a worker could not label the image. */
  readonly 'failure-reason'?: string;
}

/** One line of a bounding-box output manifest whose label attribute is `A`. */
export type ManifestLine<A extends string = typeof DATASET_LABEL_ATTRIBUTE> = ManifestSource & {
  readonly [K in A]: BoundingBoxLabel;
} & { readonly [K in `${A}-metadata`]: BoundingBoxMetadata };

/** The name of a label attribute's metadata sibling: `bounding-box` → `bounding-box-metadata`. */
export function metadataAttribute<A extends string>(labelAttribute: A): `${A}-metadata` {
  return `${labelAttribute}${METADATA_SUFFIX}`;
}

/** Suffix that makes a label attribute's metadata key; readers find the label attribute by it. */
export const METADATA_SUFFIX = '-metadata';

/**
 * The field names above, for code that reads manifests as untyped JSON (the label parsers). Each is checked
 * against the interfaces, so a renamed field fails to compile here.
 */
export const MANIFEST_FIELDS = {
  sourceRef: 'source-ref',
  imageSize: 'image_size',
  annotations: 'annotations',
  classMap: 'class-map',
  failureReason: 'failure-reason',
  classId: 'class_id',
} as const satisfies {
  sourceRef: keyof ManifestSource;
  imageSize: keyof BoundingBoxLabel;
  annotations: keyof BoundingBoxLabel;
  classMap: keyof BoundingBoxMetadata;
  failureReason: keyof BoundingBoxMetadata;
  classId: keyof Box;
};

/** The pixel coordinates of an annotation, in the order a box is written: left, top, width, height. */
export const BOX_COORDINATES = ['left', 'top', 'width', 'height'] as const satisfies readonly (keyof Box)[];

/**
 * One label document per image, at `labels/<raw path>.json` in the dataset bucket (labelKeyFor). Writing a new
 * document replaces the old one: the latest label wins. `assemble-dataset` turns the documents into manifest lines.
 */
export interface LabelDocument extends ManifestSource, BoundingBoxLabel {
  /** Class id (as a string) to class name, covering every configured class. */
  readonly 'class-map': BoundingBoxMetadata['class-map'];
  /** `coco`, `voc` or `groundtruth`, and the file or job it came from. */
  readonly source: string;
  readonly 'labeled-at': string;
  /**
   * ETag (without quotes) of the preprocessed image the boxes were checked against and placed on, as S3 gave it
   * when the label was written. With `image-bytes`, how a later run tells the image is still the one labeled
   * ({@link labelIsCurrent}).
   */
  readonly 'image-etag': string;
  /** Size in bytes of that image object. */
  readonly 'image-bytes': number;
}

/** A stored object as a listing gives it: ETag without quotes, size in bytes. */
export interface StoredObject {
  readonly etag: string;
  readonly bytes: number;
}

/**
 * Whether a label document still belongs to its image: the image exists and has the ETag and size the document
 * recorded. An image remade from a replaced photo has another ETag, so its old label is not used again; a document
 * that records no image (written before labels recorded it) is never current.
 */
export function labelIsCurrent(
  document: Partial<Pick<LabelDocument, 'image-etag' | 'image-bytes'>>,
  image: StoredObject | undefined,
): boolean {
  return (
    image !== undefined &&
    typeof document['image-etag'] === 'string' &&
    document['image-etag'] === image.etag &&
    document['image-bytes'] === image.bytes
  );
}
