import { LabelProblem, ParsedLabels, parseJson, RawBox, RawLabel, toNumber } from './validate';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An id as a map key: tools write numbers (CVAT, Label Studio, Roboflow: from 0) or strings; `1` and `"1"` match. */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  return undefined;
}

/** A COCO crowd region (`iscrowd: 1`): one region over many objects, not an object's box. */
const isCrowd = (annotation: Json) => [1, true, '1'].includes(annotation.iscrowd as never);

/**
 * Parses a COCO object-detection file: `images` (id, file_name, width, height), `annotations` (id, image_id,
 * category_id, bbox [x, y, width, height]) and `categories` (id, name). Boxes get their class by category name;
 * categories no box uses do not matter (Roboflow lists its project as category 0). Ids may be numbers or strings.
 * Every listed image becomes a label; an image without annotations is labeled as having nothing to detect.
 * Crowd regions (`iscrowd: 1`) are left out and counted; an image with nothing but crowd regions is left out
 * too, since it is not an image with nothing to detect.
 */
export function parseCoco(text: string, file: string): ParsedLabels {
  const problems: LabelProblem[] = [];
  const parsed = parseJson(text);
  if (parsed.error) return { labels: [], problems: [{ where: file, problem: parsed.error }], skipped: 0 };
  const root = parsed.value;
  if (!isObject(root) || !['images', 'annotations', 'categories'].every((k) => Array.isArray(root[k]))) {
    return {
      labels: [],
      problems: [
        { where: file, problem: 'not a COCO file: expected "images", "annotations" and "categories" lists' },
      ],
      skipped: 0,
    };
  }

  const categories = new Map<string, string>();
  (root.categories as unknown[]).forEach((category, i) => {
    const id = isObject(category) ? idOf(category.id) : undefined;
    if (id === undefined || !isObject(category) || typeof category.name !== 'string') {
      problems.push({
        where: `${file} categories[${i}]`,
        problem: 'expected an object with an "id" and a "name"',
      });
      return;
    }
    categories.set(id, category.name);
  });

  const images = new Map<string, { label: RawLabel; boxes: RawBox[]; crowd: number }>();
  const fileNames = new Map<string, string>();
  (root.images as unknown[]).forEach((image, i) => {
    const id = isObject(image) ? idOf(image.id) : undefined;
    if (id === undefined || !isObject(image) || typeof image.file_name !== 'string') {
      problems.push({
        where: `${file} images[${i}]`,
        problem: 'expected an object with an "id" and a "file_name"',
      });
      return;
    }
    const where = `${file} image id ${id} ("${image.file_name}")`;
    if (images.has(id)) {
      problems.push({ where, problem: `image id ${id} appears twice in "images"` });
      return;
    }
    const other = fileNames.get(image.file_name);
    if (other !== undefined) {
      problems.push({
        where,
        problem: `"${image.file_name}" is listed twice in "images" (also as image id ${other})`,
      });
      return;
    }
    fileNames.set(image.file_name, id);
    const width = toNumber(image.width);
    const height = toNumber(image.height);
    const boxes: RawBox[] = [];
    images.set(id, {
      boxes,
      crowd: 0,
      label: {
        imageRef: image.file_name,
        // CVAT and Roboflow always give the size; other tools may leave it out or write 0.
        declaredSize:
          width !== undefined && height !== undefined && width > 0 && height > 0
            ? { width, height }
            : undefined,
        boxes,
        where,
      },
    });
  });

  (root.annotations as unknown[]).forEach((annotation, i) => {
    const id = isObject(annotation) ? (annotation.id ?? `#${i}`) : `#${i}`;
    const where = `${file} annotation id ${String(id)}`;
    if (!isObject(annotation)) {
      problems.push({ where, problem: 'expected an object' });
      return;
    }
    const image = images.get(idOf(annotation.image_id) ?? '');
    if (!image) {
      problems.push({ where, problem: `image_id ${JSON.stringify(annotation.image_id)} is not in "images"` });
      return;
    }
    if (isCrowd(annotation)) {
      image.crowd++;
      return;
    }
    const className = categories.get(idOf(annotation.category_id) ?? '');
    if (className === undefined) {
      problems.push({
        where,
        problem: `category_id ${JSON.stringify(annotation.category_id)} is not in "categories"`,
      });
      return;
    }
    const bbox = annotation.bbox;
    const numbers = Array.isArray(bbox) ? bbox.map(toNumber) : [];
    if (numbers.length !== 4 || numbers.some((n) => n === undefined)) {
      problems.push({ where, problem: 'bbox must be [x, y, width, height] numbers' });
      return;
    }
    const [left, top, width, height] = numbers as number[];
    image.boxes.push({ className, left, top, width, height, where });
  });

  const all = [...images.values()];
  return {
    labels: all.filter((i) => i.crowd === 0 || i.boxes.length > 0).map((i) => i.label),
    problems,
    skipped: 0,
    crowd: all.reduce((sum, i) => sum + i.crowd, 0),
  };
}
