import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isNotFound, listKeys, mapLimit, normalizeEtag, putJson } from '../aws';
import { labelKeyFor, LabelsImported, MANIFEST_FIELDS, PREFIXES, StoredObject } from '../../../contracts';
import { parseCoco } from './coco';
import { parseGroundTruthManifest } from './groundtruth';
import { PreprocessedImage } from './orientation';
import { imageIndex, resolveLabelImage } from './resolve';
import {
  KeyedDocument,
  LabelFile,
  LabelFileError,
  ImageKeyOf,
  ParsedLabels,
  toLabelDocuments,
} from './validate';
import { parseVoc } from './voc';

/** Label file formats the pipeline imports. */
export const LABEL_FORMATS = ['groundtruth', 'coco', 'voc'] as const;

/** One of {@link LABEL_FORMATS}. */
export type LabelFormat = (typeof LABEL_FORMATS)[number];

// S3 calls in flight while checking images and writing label documents.
const CONCURRENCY = 16;

// A Ground Truth manifest starts with a JSON object that has source-ref first, or on one line.
const SOURCE_REF = `"${MANIFEST_FIELDS.sourceRef}"`;
const MANIFEST_START = new RegExp(`^\\{\\s*${SOURCE_REF}`);
const MANIFEST_FIRST_LINE = new RegExp(`^\\{[^\\n]*${SOURCE_REF}[^\\n]*\\}\\s*(\\n|$)`);

/**
 * Guesses a label file's format: XML (or a directory of it) is VOC, a JSON object with `images` and
 * `annotations` is COCO, JSON lines with `source-ref` are a Ground Truth manifest.
 */
export function detectFormat(files: readonly LabelFile[]): LabelFormat | undefined {
  if (files.length > 1 || files.every((f) => /\.xml$/i.test(f.name) || f.text.trimStart().startsWith('<'))) {
    return 'voc';
  }
  const text = files[0]?.text.trimStart() ?? '';
  if (MANIFEST_START.test(text) || MANIFEST_FIRST_LINE.test(text)) return 'groundtruth';
  if (text.startsWith('{')) return 'coco';
  return undefined;
}

/** Parses label files in the given format. VOC takes any number of files; the other formats exactly one. */
export function parseLabelFiles(
  format: LabelFormat,
  files: readonly LabelFile[],
  labelAttributeName?: string,
): ParsedLabels {
  if (format === 'voc') return parseVoc(files);
  if (files.length !== 1) throw new Error(`A ${format} import takes one file, got ${files.length}`);
  const [{ name, text }] = files;
  return format === 'coco' ? parseCoco(text, name) : parseGroundTruthManifest(text, name, labelAttributeName);
}

/**
 * Reads each preprocessed image's size, and the EXIF orientation preprocessing applied, from its object metadata,
 * and its ETag and size in bytes (a label document records them); undefined for images that do not exist. Images
 * preprocessed before orientations were recorded have none.
 */
export async function readImageSizes(
  s3: S3Client,
  bucket: string,
  imageKeys: readonly string[],
): Promise<Map<string, (PreprocessedImage & StoredObject) | undefined>> {
  const unique = [...new Set(imageKeys)];
  type Checked = PreprocessedImage & StoredObject;
  const sizes = await mapLimit(unique, CONCURRENCY, async (key): Promise<Checked | undefined> => {
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const width = Number(head.Metadata?.width);
      const height = Number(head.Metadata?.height);
      if (!(width > 0 && height > 0)) return undefined;
      const stored = { etag: normalizeEtag(head.ETag), bytes: head.ContentLength ?? 0 };
      const orientation = Number(head.Metadata?.orientation);
      const source = {
        width: Number(head.Metadata?.['source-width']),
        height: Number(head.Metadata?.['source-height']),
      };
      if (!(
        Number.isInteger(orientation) &&
        orientation >= 1 &&
        orientation <= 8 &&
        source.width > 0 &&
        source.height > 0
      )) {
        return { width, height, ...stored };
      }
      return { width, height, orientation, source, ...stored };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  });
  return new Map(unique.map((key, i) => [key, sizes[i]]));
}

/** Inputs of {@link importLabels}. */
export interface ImportLabelsOptions {
  readonly s3: S3Client;
  readonly datasetBucket: string;
  /** Configured class names in class-id order. */
  readonly classes: readonly string[];
  readonly format: LabelFormat;
  /** What the operator would call the input, for messages: a path, a directory, an S3 URI. */
  readonly file: string;
  readonly parsed: ParsedLabels;
  readonly now?: Date;
}

/**
 * Validates parsed labels against the dataset's images and classes and, only if every entry is good, writes one
 * label document per image under labels/. Throws {@link LabelFileError} listing every problem otherwise; nothing
 * is written then.
 */
export async function importLabels(options: ImportLabelsOptions): Promise<LabelsImported> {
  const { s3, datasetBucket, parsed } = options;
  // A reference may name an image in more than one way (a raw name, an image's own name): the images that exist
  // tell which, and say when it is ambiguous.
  const index = imageIndex(await listKeys(s3, datasetBucket, PREFIXES.images));
  const imageKeyOf: ImageKeyOf = (label) => resolveLabelImage(label, index);
  const sizes = await readImageSizes(
    s3,
    datasetBucket,
    parsed.labels.flatMap((l) => imageKeyOf(l).key ?? []),
  );
  const { documents, problems, reoriented, advice } = toLabelDocuments({
    labels: parsed.labels,
    classes: options.classes,
    sizes,
    imageKeyOf,
    datasetBucket,
    source: `${options.format}:${options.file}`,
    labeledAt: (options.now ?? new Date()).toISOString(),
  });
  const all = [...parsed.problems, ...problems];
  if (all.length > 0) throw new LabelFileError(options.file, all, advice);
  if (documents.length === 0) {
    const left = [
      parsed.skipped ? `${parsed.skipped} skipped as not labeled` : '',
      parsed.rejected ? `${parsed.rejected} marked bad by a reviewer` : '',
      parsed.crowd ? `${parsed.crowd} crowd regions` : '',
    ].filter(Boolean);
    const problem = `the file labels no images${left.length ? ` (left out: ${left.join(', ')})` : ''}`;
    throw new LabelFileError(options.file, [{ where: options.file, problem }]);
  }
  await writeLabelDocuments(s3, datasetBucket, documents);
  return {
    imported: documents.length,
    empty: documents.filter((d) => d.document.annotations.length === 0).length,
    format: options.format,
    skipped: parsed.skipped,
    ...(parsed.rejected ? { rejected: parsed.rejected } : {}),
    ...(parsed.crowd ? { crowd: parsed.crowd } : {}),
    ...(reoriented ? { reoriented } : {}),
  };
}

/** Writes label documents at their keys; a new document replaces an image's old one (latest label wins). */
export async function writeLabelDocuments(
  s3: S3Client,
  bucket: string,
  documents: readonly KeyedDocument[],
): Promise<void> {
  await mapLimit(documents, CONCURRENCY, (d) => putJson(s3, bucket, labelKeyFor(d.imageKey), d.document));
}
