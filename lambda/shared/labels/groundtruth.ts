import {
  BOX_COORDINATES,
  MANIFEST_FIELDS as F,
  METADATA_SUFFIX,
  metadataAttribute,
} from '../../../contracts';
import { LabelProblem, ParsedLabels, parseJson, RawBox, RawLabel, toNumber } from './validate';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Label attributes of one manifest line: keys whose value holds bounding-box `annotations`. */
function labelAttributes(line: Json): string[] {
  return Object.keys(line).filter(
    (k) =>
      k !== F.sourceRef &&
      !k.endsWith(METADATA_SUFFIX) &&
      isObject(line[k]) &&
      Array.isArray((line[k] as Json)[F.annotations]),
  );
}

/**
 * Parses a Ground Truth bounding-box output manifest (JSON lines). The label attribute may have any name; it is
 * found on each line as the key holding `annotations`, unless `labelAttributeName` says which. Class ids are
 * turned into names through the line's `<attribute>-metadata.class-map` when present. Lines a worker could not
 * label (metadata with `failure-reason`, no label) are skipped, not errors.
 */
export function parseGroundTruthManifest(
  text: string,
  file: string,
  labelAttributeName?: string,
): ParsedLabels {
  const labels: RawLabel[] = [];
  const problems: LabelProblem[] = [];
  let skipped = 0;
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
    const candidates = labelAttributeName
      ? [labelAttributeName].filter((k) => k in line)
      : labelAttributes(line);
    if (candidates.length !== 1) {
      const failed = Object.keys(line).some(
        (k) => k.endsWith(METADATA_SUFFIX) && isObject(line[k]) && F.failureReason in (line[k] as Json),
      );
      if (candidates.length === 0 && failed) {
        skipped++;
        return;
      }
      problems.push({
        where,
        problem:
          candidates.length === 0
            ? labelAttributeName
              ? `no "${labelAttributeName}" label on this line`
              : `no bounding-box label on this line (expected an attribute holding "${F.annotations}")`
            : `several label attributes (${candidates.join(', ')}); say which with --label-attribute`,
      });
      return;
    }
    const attribute = candidates[0];
    const value = line[attribute];
    const annotations = isObject(value) ? value[F.annotations] : undefined;
    if (!isObject(value) || !Array.isArray(annotations)) {
      problems.push({ where, problem: `"${attribute}" has no "${F.annotations}" list` });
      return;
    }
    const metadata = line[metadataAttribute(attribute)];
    const map =
      isObject(metadata) && isObject(metadata[F.classMap]) ? (metadata[F.classMap] as Json) : undefined;
    const sizes = value[F.imageSize];
    const size = Array.isArray(sizes) && isObject(sizes[0]) ? sizes[0] : undefined;
    const width = toNumber(size?.width);
    const height = toNumber(size?.height);

    const boxes: RawBox[] = [];
    annotations.forEach((annotation: unknown, a: number) => {
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
  return { labels, problems, skipped };
}
