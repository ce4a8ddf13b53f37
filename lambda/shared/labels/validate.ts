import type { Box, LabelDocument, StoredObject } from '../../../contracts';
import { displayKey, IMAGE_EXTENSION, imageKeyFor, keyPathProblem, PREFIXES } from '../../../contracts';
import { orientBox, placeLabel, PreprocessedImage, swapsAxes } from './orientation';

/** A label file's name (for messages) and its text. */
export interface LabelFile {
  readonly name: string;
  readonly text: string;
  /**
   * The file's path within the directory or S3 prefix imported (`shop/front.xml`), when it was found in one; a
   * VOC file's folders there hint at its image's.
   */
  readonly path?: string;
}

/** Where a label came from, as the operator can find it in their file: "labels.json line 3". */
export type Where = string;

/** One box as a label file states it, in that file's image coordinates, before validation. */
export interface RawBox {
  /** Class name, when the file names it (COCO category, VOC name, Ground Truth class-map entry). */
  readonly className?: string;
  /** Class id, when the file has only an id (a Ground Truth manifest without class-map). */
  readonly classId?: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  readonly where: Where;
}

/** A folder a label file says its image was in, and where the file says it: `<folder>` `shop`. */
export interface FolderHint {
  readonly source: string;
  /** Folder path, `/`-separated: `shop`, `C:/Users/me/photos/shop`. */
  readonly folders: string;
}

/** Every box a label file gives one image. No boxes means "labeled: nothing to detect here". */
export interface RawLabel {
  /** The image as the file names it: `a.jpg`, `images/a.jpg`, `raw/a.png`, `s3://bucket/images/a.jpg`. */
  readonly imageRef: string;
  /**
   * Folders the file says the image was in, for an `imageRef` that is a bare file name several images may share
   * (VOC `<folder>`, `<path>`, the XML file's own folder). Absent: `imageRef` is taken as it is.
   */
  readonly folderHints?: readonly FolderHint[];
  /** The image size the file declares, if any; boxes are in these coordinates. */
  readonly declaredSize?: { readonly width: number; readonly height: number };
  readonly boxes: RawBox[];
  readonly where: Where;
}

/** One thing wrong with a label file. */
export interface LabelProblem {
  readonly where: Where;
  readonly problem: string;
}

/** What a format parser found: labels, and the problems that make the file unusable. */
export interface ParsedLabels {
  readonly labels: RawLabel[];
  readonly problems: LabelProblem[];
  /** Entries deliberately left out (Ground Truth items a worker could not label). */
  readonly skipped: number;
  /** Images left out because a reviewer marked their boxes bad (Ground Truth verification). */
  readonly rejected?: number;
  /** Crowd regions left out (COCO `iscrowd: 1`). */
  readonly crowd?: number;
}

/** Most problems listed in an error message; the rest are counted. */
const MAX_LISTED = 50;

/**
 * The problems of a label file as people read them: a headline saying it was rejected (`outcome`, e.g. "nothing
 * was imported"), one line per problem (the first {@link MAX_LISTED}, the rest counted), then `advice`.
 */
export function describeProblems(
  file: string,
  problems: readonly LabelProblem[],
  advice: readonly string[],
  outcome: string,
): string {
  const listed = problems.slice(0, MAX_LISTED).map((p) => `  ${p.where}: ${p.problem}`);
  if (problems.length > MAX_LISTED) listed.push(`  ...and ${problems.length - MAX_LISTED} more`);
  return [
    `${file} was rejected; ${outcome} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`,
    ...listed,
    ...advice,
  ].join('\n');
}

/** A label file that cannot be imported. Nothing from it is written. */
export class LabelFileError extends Error {
  /**
   * @param advice - lines that say how to fix what several problems have in common (e.g. the classes setting),
   *   printed after the problems
   */
  constructor(
    readonly file: string,
    readonly problems: LabelProblem[],
    readonly advice: readonly string[] = [],
  ) {
    super(
      `${describeProblems(file, problems, advice, 'nothing was imported')}\nFix the file and run the import again.`,
    );
    this.name = 'LabelFileError';
  }
}

/** The image keys a reference can mean, or why it names no image. */
export type ImageKeyCandidates =
  | {
      /** Most likely first. */
      readonly keys: readonly string[];
      /** The reference names a key under images/: the first of `keys` that exists is meant, whatever follows. */
      readonly literal: boolean;
      readonly problem?: undefined;
    }
  | { readonly keys?: undefined; readonly problem: string };

/**
 * The preprocessed image keys a label file's image reference can mean (see {@link imageKeyFor}; the extension is
 * part of the name). `s3://<any bucket>/` is dropped first, backslashes become slashes.
 * - `images/shop/a.png.jpg`: that key; failing that, the image of raw `shop/a.png.jpg`. `images/shop/a.png`: the
 *   image of raw `shop/a.png` (`images/shop/a.png.jpg`).
 * - `raw/shop/a.png`: the image of that raw key.
 * - `shop/a.png`, `shop/a.jpg`: the image of that raw path; a path ending in `.jpg` may also be an image's own path
 *   below images/ (`a.png.jpg`, the name of the file a labeler downloaded), and when both exist it is ambiguous.
 */
export function imageKeyCandidates(ref: string): ImageKeyCandidates {
  let key = ref.trim().replace(/\\/g, '/');
  const uri = /^s3:\/\/[^/]+\/(.*)$/.exec(key);
  if (uri) key = uri[1];
  key = key.replace(/^\.?\/+/, '');
  const problem = keyPathProblem(key);
  if (problem !== undefined) return { problem: `${displayKey(ref)} names no image: the name ${problem}` };
  if (key.startsWith(PREFIXES.images)) {
    const keys = key.endsWith(IMAGE_EXTENSION)
      ? [key, `${key}${IMAGE_EXTENSION}`]
      : [`${key}${IMAGE_EXTENSION}`];
    return { keys, literal: true };
  }
  if (key.startsWith(PREFIXES.raw)) return { keys: [imageKeyFor(key)], literal: true };
  const asRaw = imageKeyFor(`${PREFIXES.raw}${key}`);
  const asImage = `${PREFIXES.images}${key}`;
  return { keys: key.endsWith(IMAGE_EXTENSION) ? [asRaw, asImage] : [asRaw], literal: false };
}

/**
 * The preprocessed image key a label file's image reference most likely means, whether or not it exists: the first
 * of {@link imageKeyCandidates}. `a.png` → `images/a.png.jpg`; `images/a.png.jpg` stays as it is.
 * @throws Error with the problem when the reference names no image.
 */
export function resolveImageKey(ref: string): string {
  const candidates = imageKeyCandidates(ref);
  if (candidates.problem !== undefined) throw new Error(candidates.problem);
  return candidates.keys[0];
}

/**
 * The existing preprocessed image a reference means ({@link imageKeyCandidates}), or why it cannot be told: no
 * candidate exists (the message names the image it looked for, and images of the same name with another
 * extension), or two do and the reference does not say which.
 */
export function resolveAmong(
  ref: string,
  exists: (imageKey: string) => boolean,
  sameName: (imageKey: string) => readonly string[] = () => [],
): { key: string; problem?: undefined } | { key?: undefined; problem: string } {
  const candidates = imageKeyCandidates(ref);
  if (candidates.problem !== undefined) return { problem: candidates.problem };
  const found = candidates.keys.filter(exists);
  if (found.length === 1 || (found.length > 1 && candidates.literal)) return { key: found[0] };
  if (found.length > 1) {
    return {
      problem:
        `"${ref}" could be ${found.join(' or ')}; name the image by its key under ${PREFIXES.images} ` +
        `(e.g. "${found[0]}")`,
    };
  }
  const [wanted] = candidates.keys;
  const others = sameName(wanted).filter((key) => key !== wanted);
  const hint = others.length > 0 ? `; images of that name with another extension: ${others.join(', ')}` : '';
  return {
    problem:
      `no preprocessed image ${wanted} (from "${ref}")${hint}; check the name (the extension is part of it), or ` +
      `upload the photo under ${PREFIXES.raw} and let the pipeline preprocess it first`,
  };
}

/** The class map of a label document: every configured class, id as a string. */
export function classMap(classes: readonly string[]): Record<string, string> {
  return Object.fromEntries(classes.map((name, id) => [String(id), name]));
}

/**
 * Size and orientation of each preprocessed image, from its object metadata, and the object's ETag and size in
 * bytes (recorded in the label document); undefined when it does not exist.
 */
export type ImageSizes = ReadonlyMap<string, (PreprocessedImage & StoredObject) | undefined>;

/** The preprocessed image key a label means, or why that cannot be told. */
export type ImageKeyOf = (
  label: RawLabel,
) => { key: string; problem?: undefined } | { key?: undefined; problem: string };

/** Inputs of {@link toLabelDocuments}. */
export interface ToDocumentsOptions {
  readonly labels: readonly RawLabel[];
  /** Configured class names in class-id order. */
  readonly classes: readonly string[];
  /** The real size of every referenced image key (see {@link imageKeyCandidates}). */
  readonly sizes: ImageSizes;
  /** Which image each label means; by default {@link resolveAmong} the images in `sizes`. */
  readonly imageKeyOf?: ImageKeyOf;
  readonly datasetBucket: string;
  /** Stored in each document's `source`, e.g. `coco:labels.json`. */
  readonly source: string;
  readonly labeledAt: string;
}

/** A label document and the key it belongs at. */
export interface KeyedDocument {
  readonly imageKey: string;
  readonly document: LabelDocument;
}

// Labeling tools round box edges; a box may overhang the image by this many pixels before it is an error.
const EDGE_TOLERANCE = 1;
// Normalized coordinates may overshoot 0..1 by rounding.
const UNIT_TOLERANCE = 0.01;

/**
 * Whether boxes look normalized (fractions of the image size) rather than pixels: every coordinate lies within
 * 0 to 1 and not all are whole numbers.
 */
export function looksNormalized(boxes: readonly RawBox[]): boolean {
  const values = boxes.flatMap((b) => [b.left, b.top, b.width, b.height]).filter(Number.isFinite);
  return (
    values.length > 0 &&
    values.every((v) => v >= -UNIT_TOLERANCE && v <= 1 + UNIT_TOLERANCE) &&
    values.some((v) => !Number.isInteger(v))
  );
}

/**
 * Validates parsed labels against the configured classes and the real image sizes, and converts them into label
 * documents in the preprocessed image's pixel coordinates. Returns every problem found (empty when the file is
 * good); callers write nothing unless it is empty.
 *
 * A file that declares a different size for an image (e.g. it was labeled on the full-size original) has its
 * boxes scaled, provided the aspect ratio matches; boxes drawn on the stored pixels of a photo preprocessing
 * turned upright by its EXIF orientation are turned too (see {@link placeLabel}). Boxes that look normalized
 * (0 to 1) are refused, one problem per image.
 */
export function toLabelDocuments(options: ToDocumentsOptions): {
  documents: KeyedDocument[];
  problems: LabelProblem[];
  /** Images whose boxes were turned from a photo's stored pixels to the upright image. */
  reoriented: number;
  /** What to do about the problems several boxes share (see {@link LabelFileError}); empty when none. */
  advice: string[];
} {
  const { classes, sizes } = options;
  const problems: LabelProblem[] = [];
  const documents: KeyedDocument[] = [];
  const seen = new Map<string, Where>();
  const classIds = new Map(classes.map((name, id) => [name, id]));
  const configured = classes.map((c) => `"${c}"`).join(', ');
  const imageKeyOf: ImageKeyOf =
    options.imageKeyOf ?? ((l) => resolveAmong(l.imageRef, (key) => sizes.get(key) !== undefined));
  // A class the configuration lacks is one problem however many boxes use it: where it is first, and a count.
  const unknownClasses = new Map<string, { index: number; count: number; name?: string }>();
  let reoriented = 0;

  for (const label of options.labels) {
    const resolved = imageKeyOf(label);
    if (resolved.problem !== undefined) {
      problems.push({ where: label.where, problem: resolved.problem });
      continue;
    }
    const imageKey = resolved.key;
    const previous = seen.get(imageKey);
    if (previous !== undefined) {
      problems.push({
        where: label.where,
        problem: `${imageKey} is labeled twice (also at ${previous}); keep one entry per image`,
      });
      continue;
    }
    seen.set(imageKey, label.where);
    const size = sizes.get(imageKey);
    if (!size) {
      problems.push({
        where: label.where,
        problem:
          `no preprocessed image ${imageKey} (from "${label.imageRef}"); check the name, or upload the photo ` +
          `under ${PREFIXES.raw} and let the pipeline preprocess it first`,
      });
      continue;
    }
    if (looksNormalized(label.boxes)) {
      const [b] = label.boxes;
      problems.push({
        where: label.where,
        problem:
          `boxes look normalized: every coordinate is between 0 and 1 (the first is left ${b.left}, top ` +
          `${b.top}, width ${b.width}, height ${b.height}), but this format gives boxes in pixels of the ` +
          'image; export the labels with absolute pixel coordinates, not normalized (relative) ones',
      });
      continue;
    }
    const placement = placeLabel(label.declaredSize, size, imageKey);
    if (placement.problem !== undefined) {
      problems.push({ where: label.where, problem: placement.problem });
      continue;
    }
    const { frame, orientation } = placement;
    const upright = swapsAxes(orientation) ? { width: frame.height, height: frame.width } : frame;
    const scaleX = size.width / upright.width;
    const scaleY = size.height / upright.height;
    const annotations: Box[] = [];
    for (const box of label.boxes) {
      const classId = box.className !== undefined ? classIds.get(box.className) : box.classId;
      if (classId === undefined || !Number.isInteger(classId) || classId < 0 || classId >= classes.length) {
        const named = box.className !== undefined ? `class "${box.className}"` : `class id ${box.classId}`;
        const known = unknownClasses.get(named);
        if (known) {
          known.count++;
        } else {
          unknownClasses.set(named, { index: problems.length, count: 1, name: box.className });
          problems.push({
            where: box.where,
            problem: `${named} is not a configured class (configured: ${configured})`,
          });
        }
        continue;
      }
      const { left, top, width, height } = box;
      if (![left, top, width, height].every(Number.isFinite)) {
        problems.push({ where: box.where, problem: 'box coordinates must be numbers' });
        continue;
      }
      if (width <= 0 || height <= 0) {
        problems.push({
          where: box.where,
          problem: `box has no area (width ${width}, height ${height}); width and height must be positive`,
        });
        continue;
      }
      if (
        left < -EDGE_TOLERANCE ||
        top < -EDGE_TOLERANCE ||
        left + width > frame.width + EDGE_TOLERANCE ||
        top + height > frame.height + EDGE_TOLERANCE
      ) {
        problems.push({
          where: box.where,
          problem:
            `box (left ${left}, top ${top}, width ${width}, height ${height}) lies outside the ` +
            `${frame.width}x${frame.height} image`,
        });
        continue;
      }
      const turned = orientBox(box, frame, orientation);
      const x0 = Math.max(0, Math.round(turned.left * scaleX));
      const y0 = Math.max(0, Math.round(turned.top * scaleY));
      const x1 = Math.min(size.width, Math.round((turned.left + turned.width) * scaleX));
      const y1 = Math.min(size.height, Math.round((turned.top + turned.height) * scaleY));
      if (x1 <= x0 || y1 <= y0) {
        problems.push({
          where: box.where,
          problem:
            `box (width ${width}, height ${height} in the file's ${frame.width}x${frame.height} image) is less ` +
            `than a pixel wide or high in ${imageKey} (${size.width}x${size.height}); draw it larger or leave it out`,
        });
        continue;
      }
      annotations.push({ class_id: classId, left: x0, top: y0, width: x1 - x0, height: y1 - y0 });
    }
    if (orientation !== 1 && annotations.length > 0) reoriented++;
    documents.push({
      imageKey,
      document: {
        'source-ref': `s3://${options.datasetBucket}/${imageKey}`,
        image_size: [{ width: size.width, height: size.height, depth: 1 }],
        annotations,
        'class-map': classMap(classes),
        source: options.source,
        'labeled-at': options.labeledAt,
        'image-etag': size.etag,
        'image-bytes': size.bytes,
      },
    });
  }
  for (const { index, count } of unknownClasses.values()) {
    if (count > 1) {
      const { where, problem } = problems[index];
      problems[index] = { where: `${where} and ${count - 1} more box${count === 2 ? '' : 'es'}`, problem };
    }
  }
  return { documents, problems, reoriented, advice: classAdvice([...unknownClasses.values()], classes) };
}

/**
 * What to do about classes a file uses that are not configured: a name that differs from a configured one only in
 * case is pointed out, and the `classes` setting is named (it is the configuration the file must match).
 */
function classAdvice(unknown: readonly { name?: string }[], classes: readonly string[]): string[] {
  if (unknown.length === 0) return [];
  const nearMisses = unknown.flatMap(({ name }) => {
    const match =
      name === undefined ? undefined : classes.find((c) => c.toLowerCase() === name.toLowerCase());
    return match === undefined ? [] : [`"${name}" is not "${match}"`];
  });
  return [
    ...(nearMisses.length > 0
      ? [`Class names must match exactly, case included: ${nearMisses.join(', ')}.`]
      : []),
    'Rename the classes in the file to configured ones, or configure the classes you labeled: the "classes" ' +
      "setting in cdk.json's context, or -c classes=<name,...> (a deployed pipeline takes it at its next deploy).",
  ];
}

/** Line and column of a character offset, for error messages about text files. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

const LITERAL = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null/y;

/**
 * Offset of the first JSON syntax error in `text` (Node 20's JSON.parse does not always say where).
 * Only called on text JSON.parse rejected.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const string = (): void => {
    i++;
    while (i < text.length) {
      if (text[i] === '"') {
        i++;
        return;
      }
      if (text[i] < ' ') fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    fail();
  };
  const sequence = (close: string, item: () => void): void => {
    i++;
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      if (text[i] !== ',') fail();
      i++;
    }
  };
  const value = (): void => {
    space();
    if (text[i] === '{') {
      sequence('}', () => {
        space();
        if (text[i] !== '"') fail();
        string();
        space();
        if (text[i] !== ':') fail();
        i++;
        value();
      });
    } else if (text[i] === '[') {
      sequence(']', value);
    } else if (text[i] === '"') {
      string();
    } else {
      LITERAL.lastIndex = i;
      if (!LITERAL.test(text)) fail();
      i = LITERAL.lastIndex;
    }
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return Math.min(i, text.length);
  } catch (offset) {
    if (typeof offset === 'number') return Math.min(offset, text.length);
    throw offset;
  }
}

/** Parses JSON, turning a syntax error into a message with the line and column where it is. */
export function parseJson(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    const offset = jsonErrorOffset(text);
    const { line, column } = lineAndColumn(text, offset);
    const near = text.slice(offset, offset + 20).split('\n')[0];
    const what = near ? `near ${JSON.stringify(near)}` : 'unexpected end of text';
    return { error: `not valid JSON at line ${line}, column ${column} (${what})` };
  }
}

/** A finite number from a JSON or XML value, or undefined. */
export function toNumber(value: unknown): number | undefined {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  return Number.isFinite(n) ? n : undefined;
}
