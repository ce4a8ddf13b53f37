import {
  BOX_COORDINATES,
  MANIFEST_FIELDS as F,
  METADATA_SUFFIX,
  metadataAttribute,
} from '../../../contracts';
import { LabelProblem, ParsedLabels, parseJson, RawBox, RawLabel, toNumber } from './validate';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What each label attribute on an output-manifest line is. Followed: the SageMaker Developer Guide pages
 * "Labeling job output data" (sms-data-output: bounding box job output, its adjustment job output with
 * `adjustment-status`, label verification job output) and "Label verification and adjustment data in the output
 * manifest" (sms-data-verify-manifest). A verification job judges all of an image's boxes at once: its attribute
 * holds the index of the verdict the reviewer chose and its metadata (`type` `groundtruth/label-verification`)
 * the verdict's `class-name`; the pages document no per-box verdict for images, so none is read, and the
 * verdict names are the job creator's own (the example uses "bad"). Not on those pages, and kept unverified from
 * this parser's earlier behaviour: an item a job could not finish has only `<attribute>-metadata`, with a
 * `failure-reason`.
 */
type Kind = 'boxes' | 'verdict' | 'failed' | 'other';

/** One label attribute of a manifest line and its `-metadata`. */
interface Attribute {
  readonly name: string;
  readonly value: unknown;
  readonly metadata?: Json;
  readonly kind: Kind;
  /** The metadata's `creation-date` in ms; NaN when it has none. */
  readonly created: number;
}

const VERIFICATION_TYPE = 'groundtruth/label-verification';
// A verification job's verdicts are the categories its creator chose, e.g. "good"/"bad" (the AWS example). Only
// whole verdicts are read ("Label is incorrect" → "incorrect"), so "no issues" is not taken for "no".
const FILLER = new Set(['the', 'label', 'labels', 'box', 'boxes', 'bounding', 'is', 'are', 'all']);
const REJECTS = new Set([
  'bad',
  'incorrect',
  'wrong',
  'inaccurate',
  'invalid',
  'reject',
  'rejected',
  'no',
  'not correct',
  'not good',
  'poor',
  'fail',
  'failed',
]);
const ACCEPTS = new Set([
  'good',
  'correct',
  'right',
  'accurate',
  'valid',
  'accept',
  'accepted',
  'approve',
  'approved',
  'yes',
  'ok',
  'okay',
  'pass',
  'passed',
  'fine',
]);

/** A verdict's meaning: "Label is incorrect" → rejected; undefined for anything else than the words above. */
function meaningOf(verdict: string): 'accepted' | 'rejected' | undefined {
  const words = verdict.toLowerCase().match(/[a-z]+/g) ?? [];
  const core = words.filter((w) => !FILLER.has(w)).join(' ');
  return REJECTS.has(core) ? 'rejected' : ACCEPTS.has(core) ? 'accepted' : undefined;
}

function attributesOf(line: Json): Attribute[] {
  const names = new Set(
    Object.keys(line)
      .filter((k) => k !== 'source-ref')
      .map((k) => (k.endsWith(METADATA_SUFFIX) ? k.slice(0, -METADATA_SUFFIX.length) : k)),
  );
  return [...names].map((name) => {
    const value = line[name];
    const metadata = isObject(line[metadataAttribute(name)])
      ? (line[metadataAttribute(name)] as Json)
      : undefined;
    const kind: Kind =
      value === undefined && metadata && 'failure-reason' in metadata
        ? 'failed'
        : isObject(value) && Array.isArray(value.annotations)
          ? 'boxes'
          : metadata?.type === VERIFICATION_TYPE
            ? 'verdict'
            : 'other';
    const created =
      typeof metadata?.['creation-date'] === 'string' ? Date.parse(metadata['creation-date']) : NaN;
    return { name, value, metadata, kind, created };
  });
}

/**
 * The box attribute that holds an image's final boxes: the only one, or the newest adjustment of it (an adjustment
 * job adds an attribute with `adjustment-status` beside the original). Several unrelated ones need naming.
 */
function finalBoxes(attributes: readonly Attribute[]): Attribute | string {
  const boxes = attributes.filter((a) => a.kind === 'boxes');
  if (boxes.length === 1) return boxes[0];
  if (boxes.length === 0)
    return 'no bounding-box label on this line (expected an attribute holding "annotations")';
  const adjustments = boxes.filter((a) => a.metadata && 'adjustment-status' in a.metadata);
  const chain =
    adjustments.length > 0 &&
    boxes.length - adjustments.length <= 1 &&
    (adjustments.length === 1 || adjustments.every((a) => Number.isFinite(a.created)));
  if (chain) return adjustments.reduce((a, b) => (b.created > a.created ? b : a));
  return `several label attributes (${boxes.map((a) => a.name).join(', ')}); say which with --label-attribute`;
}

/**
 * What the verification jobs on a line say about `boxes`: only verdicts given after those boxes were made count
 * (a later adjustment supersedes an earlier verdict); of those the newest decides, or, when dates are missing,
 * any rejection does.
 */
function review(
  boxes: Attribute,
  verdicts: readonly Attribute[],
): 'accepted' | 'rejected' | { problem: string } {
  const current = verdicts.filter(
    (v) => !(Number.isFinite(v.created) && Number.isFinite(boxes.created)) || v.created >= boxes.created,
  );
  const said = current.map((v) => {
    const name = v.metadata?.['class-name'];
    if (typeof name !== 'string') return { problem: `"${v.name}-metadata" has no "class-name" verdict` };
    const meaning = meaningOf(name);
    if (meaning) return meaning;
    return {
      problem:
        `the verdict "${name}" of "${v.name}" says neither that the boxes are good nor bad (the import knows ` +
        `${[...ACCEPTS].join(', ')} and ${[...REJECTS].join(', ')}); replace it in the file with one of them`,
    };
  });
  const problem = said.find((s) => typeof s === 'object');
  if (problem) return problem;
  if (said.length === 0) return 'accepted';
  if (current.every((v) => Number.isFinite(v.created))) {
    const newest = current.reduce((a, b) => (b.created > a.created ? b : a));
    return said[current.indexOf(newest)];
  }
  return said.includes('rejected') ? 'rejected' : 'accepted';
}

/**
 * Parses a Ground Truth bounding-box output manifest (JSON lines) of a labeling, adjustment or verification job,
 * or of a chain of them. The label attribute may have any name; the boxes are those of the line's only box
 * attribute, or of its newest adjustment, unless `labelAttributeName` names one (or names a verification, whose
 * boxes are then found as without it). Class ids are turned into names through that attribute's `class-map` when
 * present. Lines a job failed on (metadata with `failure-reason`) are skipped and counted, not errors: their final
 * label is not in the file. Lines whose boxes a reviewer marked bad in a verification job are left out and
 * counted as rejected.
 */
export function parseGroundTruthManifest(
  text: string,
  file: string,
  labelAttributeName?: string,
): ParsedLabels {
  const labels: RawLabel[] = [];
  const problems: LabelProblem[] = [];
  let skipped = 0;
  let rejected = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === '') return;
    const where = `${file} line ${index + 1}`;
    const parsed = parseJson(raw);
    if (parsed.error) {
      problems.push({ where, problem: parsed.error.replace(/ at line 1, column/, ' at column') });
      return;
    }
    const line = parsed.value;
    const source = isObject(line) ? line[F.sourceRef] : undefined;
    if (!isObject(line) || typeof source !== 'string') {
      problems.push({ where, problem: `expected a JSON object with a "${F.sourceRef}" string` });
      return;
    }
    const attributes = attributesOf(line);
    let verdicts = attributes.filter((a) => a.kind === 'verdict');
    let chosen: Attribute | string;
    if (labelAttributeName) {
      const named = attributes.find((a) => a.name === labelAttributeName);
      if (named?.kind === 'failed') {
        skipped++;
        return;
      }
      if (named?.kind === 'verdict') verdicts = [named];
      chosen =
        named === undefined
          ? `no "${labelAttributeName}" label on this line`
          : named.kind === 'boxes'
            ? named
            : named.kind === 'verdict'
              ? finalBoxes(attributes)
              : `"${labelAttributeName}" is neither bounding boxes ("annotations") nor a label verification`;
    } else {
      if (attributes.some((a) => a.kind === 'failed')) {
        skipped++;
        return;
      }
      chosen = finalBoxes(attributes);
    }
    if (typeof chosen === 'string') {
      problems.push({ where, problem: chosen });
      return;
    }
    const verdict = review(chosen, verdicts);
    if (typeof verdict === 'object') {
      problems.push({ where, problem: verdict.problem });
      return;
    }
    if (verdict === 'rejected') {
      rejected++;
      return;
    }
    const value = chosen.value as Json & { annotations: unknown[] };
    const metadata = chosen.metadata;
    const map = isObject(metadata?.[F.classMap]) ? (metadata[F.classMap] as Json) : undefined;
    const size =
      Array.isArray(value.image_size) && isObject(value.image_size[0]) ? value.image_size[0] : undefined;
    const width = toNumber(size?.width);
    const height = toNumber(size?.height);

    const boxes: RawBox[] = [];
    value.annotations.forEach((annotation: unknown, a: number) => {
      const boxWhere = `${where} annotation ${a + 1}`;
      if (!isObject(annotation)) {
        problems.push({
          where: boxWhere,
          problem: 'expected an object with class_id, left, top, width, height',
        });
        return;
      }
      const classId = toNumber(annotation[F.classId]);
      if (classId === undefined) {
        problems.push({ where: boxWhere, problem: 'class_id is missing or not a number' });
        return;
      }
      let className: string | undefined;
      if (map) {
        const name = map[String(classId)];
        if (typeof name !== 'string') {
          problems.push({
            where: boxWhere,
            problem: `class_id ${classId} is not in the line's ${F.classMap}`,
          });
          return;
        }
        className = name;
      }
      const coordinates = BOX_COORDINATES.map((k) => toNumber(annotation[k]));
      if (coordinates.some((c) => c === undefined)) {
        problems.push({ where: boxWhere, problem: 'left, top, width and height must all be numbers' });
        return;
      }
      const [left, top, w, h] = coordinates as number[];
      boxes.push({
        className,
        classId: map ? undefined : classId,
        left,
        top,
        width: w,
        height: h,
        where: boxWhere,
      });
    });
    labels.push({
      imageRef: source,
      declaredSize: width !== undefined && height !== undefined ? { width, height } : undefined,
      boxes,
      where,
    });
  });
  return { labels, problems, skipped, rejected };
}
