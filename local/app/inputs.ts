import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
import { join, relative, resolve, sep } from 'path';
import {
  LabelDocument,
  imageKeyFor,
  keyPathProblem,
  PREFIXES,
  rawKeyForImage,
  StoredObject,
} from '../../contracts';
import { LabelFormat, detectFormat, parseLabelFiles } from '../../lambda/shared/labels/import';
import { PreprocessedImage, swapsAxes } from '../../lambda/shared/labels/orientation';
import { imageIndex, resolveLabelImage } from '../../lambda/shared/labels/resolve';
import {
  LabelProblem,
  ParsedLabels,
  RawLabel,
  describeProblems,
  imageKeyCandidates,
  toLabelDocuments,
} from '../../lambda/shared/labels/validate';
import { toModelImage } from '../../lambda/preprocess/image';
import { readLabelFiles } from '../../scripts/import-labels';
import { CocoFile, generateDataset, toCoco } from './dataset';

/** An image sent through the API after the run, with its true boxes when known. */
export interface ApiImage {
  readonly name: string;
  readonly data: Buffer;
  readonly truth?: { left: number; top: number; width: number; height: number }[];
}

// What preprocessing accepts, by file name (ACCEPTED_FORMATS of lambda/preprocess/image.ts).
const IMAGE_FILE = /\.(jpe?g|png|webp|tiff?)$/i;

/** Your own images and label file, read and parsed before anything starts ({@link readOwnInputs}). */
export interface OwnInputs {
  /** The `--images` folder. */
  readonly imagesDir: string;
  /** Image files in it and its sub-folders: `/`-separated paths relative to it, sorted. */
  readonly files: string[];
  /** Other files found there (not uploaded), the label file excepted; hidden files are not listed. */
  readonly skipped: string[];
  /** The `--labels` file or folder. */
  readonly labels: string;
  readonly format: LabelFormat;
  readonly parsed: ParsedLabels;
}

/** A message naming the label file's problems, for local mode: nothing has started, and how to go on. */
function rejected(labels: string, problems: readonly LabelProblem[], advice: readonly string[]): Error {
  return new Error(
    `${describeProblems(labels, problems, advice, 'the run did not start')}\n` +
      'Fix the labels (or the --images folder) and run npm start again.',
  );
}

/** Files under `dir`, `/`-separated and relative to it, sorted; hidden files and folders are left out. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((path) => path.split(sep).join('/'))
    .filter((path) => !path.split('/').some((part) => part.startsWith('.')))
    .filter((path) => statSync(join(dir, path), { throwIfNoEntry: false })?.isFile())
    .sort();
}

/**
 * Reads `--images` and `--labels` as the label import would, before anything starts: every image in the folder
 * and its sub-folders, and a label file in any format the import command takes (COCO JSON, a Ground Truth output
 * manifest, Pascal VOC XML as a file or a folder of files), its format recognised from its content. Throws a
 * message naming the path and what is wrong: no such folder or file, no images, two images that would
 * preprocess to the same key, an unrecognised format, or a file that does not parse.
 */
export async function readOwnInputs(imagesDir: string, labels: string): Promise<OwnInputs> {
  if (!existsSync(imagesDir)) throw new Error(`--images ${imagesDir}: no such folder`);
  if (!statSync(imagesDir).isDirectory()) {
    throw new Error(`--images ${imagesDir} is a file; give the folder your images are in`);
  }
  if (labels.startsWith('s3://')) {
    throw new Error(`--labels ${labels}: local mode reads a local file or folder, not S3`);
  }
  if (!existsSync(labels)) throw new Error(`--labels ${labels}: no such file or folder`);
  const all = filesUnder(imagesDir);
  const files = all.filter((path) => IMAGE_FILE.test(path));
  if (files.length === 0) {
    throw new Error(
      `--images ${imagesDir}: no images (.jpg, .jpeg, .png, .webp, .tif, .tiff) in it or its sub-folders`,
    );
  }
  const labelsPath = resolve(labels);
  const isLabelFile = (path: string) => {
    const rel = relative(labelsPath, resolve(imagesDir, path));
    return rel === '' || !(rel.startsWith('..') || rel.startsWith(sep));
  };
  const skipped = all.filter((path) => !IMAGE_FILE.test(path) && !isLabelFile(path));

  let labelFiles;
  try {
    labelFiles = await readLabelFiles(new S3Client({}), labels);
  } catch (error) {
    throw new Error(`--labels ${labels}: ${(error as Error).message}`);
  }
  const format = detectFormat(labelFiles);
  if (!format) {
    throw new Error(
      `--labels ${labels}: not a label file local mode recognises. It takes what npm run import-labels takes: ` +
        'COCO JSON, a Ground Truth output manifest (JSON lines), or Pascal VOC XML (a file, or a folder of them).',
    );
  }
  let parsed: ParsedLabels;
  try {
    parsed = parseLabelFiles(format, labelFiles);
  } catch (error) {
    throw new Error(`--labels ${labels} (${format}): ${(error as Error).message}`);
  }
  if (parsed.problems.length > 0) throw rejected(labels, parsed.problems, []);
  return { imagesDir, files, skipped, labels, format, parsed };
}

/** One of your images, as preprocessing will make it and as you took it. */
interface OwnImage {
  readonly file: string;
  /** Its preprocessed image's key (`shop/a.png` → `images/shop/a.png.jpg`). */
  readonly key: string;
  readonly preprocessed: PreprocessedImage;
  /** Size of the photo upright (EXIF orientation applied), in which the API answers. */
  readonly upright: { readonly width: number; readonly height: number };
}

/** Your images and labels once checked ({@link checkOwnLabels}). */
export interface CheckedInputs extends OwnInputs {
  /** The label document the import will write for each labeled image, by preprocessed image key. */
  readonly documents: ReadonlyMap<string, LabelDocument>;
  /** Images the labels do not mention: uploaded, but not trained on (the pipeline asks for their labels). */
  readonly unlabeled: string[];
  /** Images preprocessing cannot read, with why: the pipeline skips them. */
  readonly unreadable: string[];
  /** Size of each readable image, by file. */
  readonly images: ReadonlyMap<string, OwnImage>;
}

/**
 * Checks your labels against your images as the label import will check them against the preprocessed ones,
 * before anything starts: each image is preprocessed in memory (same code, same `maxSide`), and the labels go
 * through the import's own validation (classes, image names, sizes, EXIF orientation, boxes). Throws one message
 * listing every problem, with what to do; images the labels do not mention, and images that cannot be read and
 * have no labels, are reported in the result rather than refused.
 */
export async function checkOwnLabels(
  own: OwnInputs,
  settings: { readonly classes: readonly string[]; readonly maxSide: number },
): Promise<CheckedInputs> {
  const images = new Map<string, OwnImage>();
  // What the import will check the labels against: each image's size and orientation, ETag and bytes.
  const byKey = new Map<string, PreprocessedImage & StoredObject>();
  const keys = new Map<string, string>();
  const unreadable: string[] = [];
  for (const file of own.files) {
    const refused = keyPathProblem(file);
    if (refused !== undefined) {
      unreadable.push(`${file} (key refused: the key ${refused}; rename the file)`);
      continue;
    }
    const key = imageKeyFor(`${PREFIXES.raw}${file}`);
    keys.set(key, file);
    try {
      const image = await toModelImage(readFileSync(join(own.imagesDir, file)), settings.maxSide);
      const source = { width: image.sourceWidth, height: image.sourceHeight };
      const entry: OwnImage = {
        file,
        key,
        preprocessed: { width: image.width, height: image.height, orientation: image.orientation, source },
        upright: swapsAxes(image.orientation) ? { width: source.height, height: source.width } : source,
      };
      images.set(file, entry);
      byKey.set(key, { ...entry.preprocessed, ...storedAs(image.data) });
    } catch (error) {
      unreadable.push(`${file} (${(error as Error).message})`);
    }
  }

  // Every image of the folder, readable or not, as the import will find them under images/.
  const index = imageIndex(keys.keys());
  const missing: LabelProblem[] = [];
  const present: RawLabel[] = [];
  for (const label of own.parsed.labels) {
    const resolved = resolveLabelImage(label, index);
    const absent = resolved.key === undefined ? absentImage(label, index) : undefined;
    const key = resolved.key ?? absent;
    if (key !== undefined && !byKey.has(key)) {
      const name = rawKeyForImage(key).slice(PREFIXES.raw.length);
      const why = keys.has(key) ? 'it cannot be read' : 'there is none';
      const others = own.files.filter((f) => f !== name && stemOf(f) === stemOf(name));
      missing.push({
        where: label.where,
        problem:
          `no image ${name} in ${own.imagesDir} for "${label.imageRef}" (${why})` +
          `${others.length > 0 ? `; of that name with another extension: ${others.join(', ')}` : ''}; names are ` +
          'relative to the --images folder, sub-folders included, and the extension is part of the name (shop/a.jpg)',
      });
    } else {
      present.push(label);
    }
  }
  const { documents, problems, advice } = toLabelDocuments({
    labels: present,
    classes: settings.classes,
    sizes: byKey,
    imageKeyOf: (label) => resolveLabelImage(label, index),
    datasetBucket: 'local',
    source: `${own.format}:${own.labels}`,
    labeledAt: new Date().toISOString(),
  });
  if (missing.length + problems.length > 0) throw rejected(own.labels, [...missing, ...problems], advice);
  if (documents.length === 0) {
    throw rejected(own.labels, [{ where: own.labels, problem: 'the file labels none of the images' }], []);
  }
  const byImage = new Map(documents.map((d) => [d.imageKey, d.document]));
  return {
    ...own,
    documents: byImage,
    unlabeled: own.files.filter((file) => images.has(file) && !byImage.has(images.get(file)!.key)),
    unreadable,
    images,
  };
}

/**
 * The image a label names that the folder lacks: the key it would resolve to if that image were there, or undefined
 * when the label's problem is another (a name that is no key, a name several images answer to).
 */
function absentImage(label: RawLabel, index: ReturnType<typeof imageIndex>): string | undefined {
  const wanted = imageKeyCandidates(label.imageRef).keys?.[0];
  if (wanted === undefined || index.keys.has(wanted)) return undefined;
  return resolveLabelImage(label, imageIndex([...index.keys, wanted])).key === wanted ? wanted : undefined;
}

/** `shop/a.png` → `shop/a`: the path without its last extension. */
const stemOf = (name: string) => name.replace(/\.[^./]*$/, '');

/**
 * The ETag and size S3 gives a preprocessed image once stored: preprocessing writes it with one PutObject, and
 * the ETag of a single-part upload is the MD5 of its bytes (hex, here without S3's quotes, as label documents
 * record it). The image is encoded by the same code with the same settings, so the documents checked here record
 * what the import will record.
 */
function storedAs(data: Buffer): StoredObject {
  return { etag: createHash('md5').update(data).digest('hex'), bytes: data.length };
}

/** What {@link uploadInputs} needs. */
export interface InputOptions {
  /** Your own images and labels, checked; otherwise images are generated. */
  readonly own?: CheckedInputs;
  /** Images to generate. */
  readonly count: number;
  /**
   * Images sent through the API: generated ones are held out of the pipeline (extra); of your own, the first
   * few, which were trained on.
   */
  readonly apiImages: number;
  readonly seed: number;
  readonly classes: string[];
  /** Longest side of generated images. */
  readonly maxSide: number;
  /** Where the generated label file is written. */
  readonly workDir: string;
  readonly stage: (text: string) => void;
  readonly step: (text: string) => void;
}

/** What {@link uploadInputs} put in place. */
export interface UploadedInputs {
  /** The label file (or folder) the label import reads. */
  readonly labelFile: string;
  /** Labeled images and their boxes. */
  readonly labeled: { readonly images: number; readonly boxes: number };
  /** Images for the API, with their true boxes in the coordinates the API answers in. */
  readonly apiImages: ApiImage[];
  /** Whether the API images were trained on (your own) rather than held out (generated). */
  readonly apiImagesTrainedOn: boolean;
  /** The generated label file's content (in `labelFile`); undefined for your own labels. */
  readonly coco?: CocoFile;
}

/**
 * Puts the pipeline's input in place: images under `raw/` in the raw bucket (generated, or your folder with its
 * sub-folders, each image at its path within it), and the label file the label import will read (generated
 * beside them, or yours as it is).
 */
export async function uploadInputs(
  s3: S3Client,
  rawBucket: string,
  options: InputOptions,
): Promise<UploadedInputs> {
  const upload = (key: string, body: Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: rawBucket, Key: `${PREFIXES.raw}${key}`, Body: body }));
  const { own } = options;
  if (own) {
    const folders = new Set(own.files.map((f) => f.split('/').slice(0, -1).join('/')).filter(Boolean));
    options.stage(
      `Uploading ${own.files.length} images from ${own.imagesDir}` +
        `${folders.size ? ` (with ${folders.size} sub-folder${folders.size === 1 ? '' : 's'})` : ''} to s3://${rawBucket}/${PREFIXES.raw}`,
    );
    if (own.skipped.length > 0) {
      options.step(`not images, not uploaded: ${listed(own.skipped)}`);
    }
    if (own.unreadable.length > 0) {
      options.step(`preprocessing cannot read, and will skip: ${listed(own.unreadable)}`);
    }
    if (own.unlabeled.length > 0) {
      options.step(
        `no labels in ${own.labels}, so not trained on (the pipeline asks for their labels): ${listed(own.unlabeled)}`,
      );
    }
    for (const file of own.files) await upload(file, readFileSync(join(own.imagesDir, file)));
    const boxes = [...own.documents.values()].reduce((sum, d) => sum + d.annotations.length, 0);
    const apiImages = own.files
      .filter((file) => own.documents.has(own.images.get(file)?.key ?? ''))
      .slice(0, options.apiImages)
      .map((file) => {
        const image = own.images.get(file)!;
        const scale = image.upright.width / image.preprocessed.width;
        const truth = own.documents.get(image.key)!.annotations.map((a) => ({
          left: a.left * scale,
          top: a.top * scale,
          width: a.width * scale,
          height: a.height * scale,
        }));
        return { name: file, data: readFileSync(join(own.imagesDir, file)), truth };
      });
    return {
      labelFile: own.labels,
      labeled: { images: own.documents.size, boxes },
      apiImages,
      apiImagesTrainedOn: true,
    };
  }
  options.stage(
    `Generating ${options.count} images (+${options.apiImages} held out for the API), seed ${options.seed}`,
  );
  const images = await generateDataset({
    count: options.count + options.apiImages,
    seed: options.seed,
    maxSide: options.maxSide,
  });
  const training = images.slice(0, options.count);
  for (const image of training) await upload(image.fileName, image.data);
  const coco = toCoco(training, options.classes);
  const labelFile = join(options.workDir, 'labels.coco.json');
  writeFileSync(labelFile, JSON.stringify(coco));
  options.step(
    `${training.length} images with ${coco.annotations.length} logos uploaded to s3://${rawBucket}/${PREFIXES.raw}`,
  );
  const apiImages = images
    .slice(options.count)
    .map((image) => ({ name: image.fileName, data: image.data, truth: image.boxes }));
  return {
    labelFile,
    labeled: { images: training.length, boxes: coco.annotations.length },
    apiImages,
    apiImagesTrainedOn: false,
    coco,
  };
}

/** The first few of a list, and how many more. */
function listed(items: readonly string[], shown = 5): string {
  const more = items.length - shown;
  return `${items.slice(0, shown).join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/**
 * Uploads the files of `dir` (pretrained weights the operator put there) under `pretrained/` in the artifacts
 * bucket, where the pipeline looks for them; returns their names (none when the folder does not exist).
 */
export async function uploadPretrained(
  dir: string,
  s3: S3Client,
  artifactsBucket: string,
): Promise<string[]> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()) : [];
  for (const file of files) {
    await s3.send(
      new PutObjectCommand({
        Bucket: artifactsBucket,
        Key: `${PREFIXES.pretrained}${file}`,
        Body: readFileSync(join(dir, file)),
      }),
    );
  }
  return files;
}
