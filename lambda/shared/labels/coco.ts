import { LabelProblem, ParsedLabels, parseJson, RawBox, RawLabel, toNumber } from './validate';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses a COCO object-detection file: `images` (id, file_name, width, height), `annotations` (id, image_id,
 * category_id, bbox [x, y, width, height]) and `categories` (id, name). Boxes get their class by category name.
 * Every listed image becomes a label; an image without annotations is labeled as having nothing to detect.
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

  const categories = new Map<number, string>();
  (root.categories as unknown[]).forEach((category, i) => {
    const id = isObject(category) ? toNumber(category.id) : undefined;
    if (id === undefined || !isObject(category) || typeof category.name !== 'string') {
      problems.push({
        where: `${file} categories[${i}]`,
        problem: 'expected an object with a numeric "id" and a "name"',
      });
      return;
    }
    categories.set(id, category.name);
  });

  const images = new Map<number, { label: RawLabel; boxes: RawBox[] }>();
  const fileNames = new Map<string, number>();
  (root.images as unknown[]).forEach((image, i) => {
    const id = isObject(image) ? toNumber(image.id) : undefined;
    if (id === undefined || !isObject(image) || typeof image.file_name !== 'string') {
      problems.push({
        where: `${file} images[${i}]`,
        problem: 'expected an object with a numeric "id" and a "file_name"',
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
      label: {
        imageRef: image.file_name,
        declaredSize: width !== undefined && height !== undefined ? { width, height } : undefined,
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
    const image = images.get(toNumber(annotation.image_id) ?? NaN);
    if (!image) {
      problems.push({ where, problem: `image_id ${JSON.stringify(annotation.image_id)} is not in "images"` });
      return;
    }
    const className = categories.get(toNumber(annotation.category_id) ?? NaN);
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

  return { labels: [...images.values()].map((i) => i.label), problems, skipped: 0 };
}
