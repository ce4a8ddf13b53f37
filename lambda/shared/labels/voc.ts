import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { FolderHint, LabelFile, LabelProblem, ParsedLabels, RawBox, RawLabel, toNumber } from './validate';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Values stay strings (a file named "0012" must not become 12); objects are always a list.
const parser = new XMLParser({
  parseTagValue: false,
  ignoreAttributes: true,
  isArray: (name) => name === 'object',
});

const textOf = (value: unknown) => (typeof value === 'string' ? value.trim() : '');
const folderOf = (path: string) => path.replace(/\\/g, '/').replace(/\/?[^/]*$/, '');

/**
 * Where a VOC file says its image was. LabelImg writes the image's base name in `<filename>`, the name of the
 * folder it was in in `<folder>` and its full local path in `<path>`; CVAT writes the image's path within the
 * task in `<filename>` (its `<folder>` is not a folder); Label Studio writes `<folder>images</folder>`. The XML
 * file's own folder within the imported directory counts too (`shop/front.xml`).
 */
function folderHints(annotation: Json, file: LabelFile): FolderHint[] {
  const hints: FolderHint[] = [];
  const path = folderOf(textOf(annotation.path));
  const folder = textOf(annotation.folder).replace(/\\/g, '/');
  const own = folderOf(file.path ?? '');
  if (path) hints.push({ source: '<path>', folders: path });
  if (folder) hints.push({ source: '<folder>', folders: folder });
  if (own) hints.push({ source: "the XML file's folder", folders: own });
  return hints;
}

/**
 * Parses Pascal VOC annotation files (one XML file per image): `<filename>`, optional `<size>`, and
 * `<object><name>` with `<bndbox>` xmin, ymin, xmax, ymax. A file without objects labels its image as having
 * nothing to detect. A bare `<filename>` that several preprocessed images share is placed by `<path>`,
 * `<folder>` and the XML file's own folder (see `resolveLabelImage`).
 */
export function parseVoc(files: readonly LabelFile[]): ParsedLabels {
  const labels: RawLabel[] = [];
  const problems: LabelProblem[] = [];
  for (const file of files) {
    const { name, text } = file;
    const valid = XMLValidator.validate(text);
    if (valid !== true) {
      problems.push({ where: `${name} line ${valid.err.line}`, problem: `malformed XML (${valid.err.msg})` });
      continue;
    }
    const root = parser.parse(text) as Json;
    const annotation = root.annotation;
    if (!isObject(annotation)) {
      problems.push({ where: name, problem: 'not a Pascal VOC annotation (no <annotation> root element)' });
      continue;
    }
    const filename = typeof annotation.filename === 'string' ? annotation.filename.trim() : '';
    if (!filename) {
      problems.push({ where: name, problem: '<filename> is missing' });
      continue;
    }
    const size = isObject(annotation.size) ? annotation.size : undefined;
    const width = toNumber(size?.width);
    const height = toNumber(size?.height);
    const boxes: RawBox[] = [];
    ((annotation.object as unknown[] | undefined) ?? []).forEach((object, i) => {
      const objectName = isObject(object) && typeof object.name === 'string' ? object.name.trim() : undefined;
      const where = `${name} object ${i + 1}${objectName ? ` ("${objectName}")` : ''}`;
      if (!isObject(object) || !objectName) {
        problems.push({ where, problem: '<name> is missing' });
        return;
      }
      const bndbox = isObject(object.bndbox) ? object.bndbox : {};
      const [xmin, ymin, xmax, ymax] = ['xmin', 'ymin', 'xmax', 'ymax'].map((k) => toNumber(bndbox[k]));
      if ([xmin, ymin, xmax, ymax].some((n) => n === undefined)) {
        problems.push({ where, problem: '<bndbox> needs numeric <xmin>, <ymin>, <xmax> and <ymax>' });
        return;
      }
      if (xmax! <= xmin! || ymax! <= ymin!) {
        problems.push({
          where,
          problem: `box has no area (xmin ${xmin}, xmax ${xmax}, ymin ${ymin}, ymax ${ymax}); xmax and ymax must exceed xmin and ymin`,
        });
        return;
      }
      boxes.push({
        className: objectName,
        left: xmin!,
        top: ymin!,
        width: xmax! - xmin!,
        height: ymax! - ymin!,
        where,
      });
    });
    labels.push({
      imageRef: filename,
      folderHints: folderHints(annotation, file),
      declaredSize:
        width !== undefined && height !== undefined && width > 0 && height > 0
          ? { width, height }
          : undefined,
      boxes,
      where: name,
    });
  }
  return { labels, problems, skipped: 0 };
}
