import { S3Client } from '@aws-sdk/client-s3';
import { parseCoco } from '../../lambda/shared/labels/coco';
import { parseGroundTruthManifest } from '../../lambda/shared/labels/groundtruth';
import { detectFormat, importLabels } from '../../lambda/shared/labels/import';
import {
  LabelFileError,
  ParsedLabels,
  resolveImageKey,
  toLabelDocuments,
} from '../../lambda/shared/labels/validate';
import { parseVoc } from '../../lambda/shared/labels/voc';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
const CLASSES = ['logo', 'badge'];
const s3 = new FakeS3();

/** Images as preprocessing leaves them: a JPEG with its size in metadata. */
function images(sizes: Record<string, [number, number]>): void {
  for (const [key, [width, height]] of Object.entries(sizes)) {
    s3.put(DATASET, key, 'jpeg bytes', { width: String(width), height: String(height) });
  }
}

/** Validates parsed labels against the images in the fake bucket, returning documents or the error. */
async function validate(parsed: ParsedLabels, format: 'coco' | 'voc' | 'groundtruth' = 'coco') {
  try {
    return await importLabels({
      s3: new S3Client({}),
      datasetBucket: DATASET,
      classes: CLASSES,
      format,
      file: 'f',
      parsed,
    });
  } catch (error) {
    if (error instanceof LabelFileError) return error;
    throw error;
  }
}

beforeEach(() => {
  s3.reset();
  images({ 'images/a.jpg': [100, 80], 'images/b.jpg': [200, 100], 'images/sub/c.jpg': [50, 50] });
});

const gtLine = (ref: string, annotations: object[], attr = 'logos-job', extra: object = {}) =>
  JSON.stringify({
    'source-ref': ref,
    [attr]: { image_size: [{ width: 100, height: 80, depth: 3 }], annotations },
    [`${attr}-metadata`]: {
      'class-map': { '0': 'logo', '1': 'badge' },
      type: 'groundtruth/object-detection',
    },
    ...extra,
  });

describe('image references', () => {
  test.each([
    ['images/a.jpg', 'images/a.jpg'],
    ['a.jpg', 'images/a.jpg'],
    ['s3://some-bucket/images/sub/c.jpg', 'images/sub/c.jpg'],
    ['raw/sub/c.PNG', 'images/sub/c.jpg'],
    ['b.png', 'images/b.jpg'],
  ])('%s means %s', (ref, key) => {
    expect(resolveImageKey(ref)).toBe(key);
  });
});

describe('Ground Truth manifest', () => {
  test('reads any label attribute name and maps class ids through the class-map', () => {
    const text = [
      gtLine('s3://x/images/a.jpg', [{ class_id: 1, left: 10, top: 5, width: 20, height: 30 }]),
      '',
      gtLine('s3://x/images/b.jpg', [], 'other'),
    ].join('\n');

    const parsed = parseGroundTruthManifest(text, 'out.manifest');

    expect(parsed.problems).toEqual([]);
    expect(parsed.labels).toEqual([
      {
        imageRef: 's3://x/images/a.jpg',
        declaredSize: { width: 100, height: 80 },
        boxes: [
          {
            className: 'badge',
            left: 10,
            top: 5,
            width: 20,
            height: 30,
            where: 'out.manifest line 1 annotation 1',
          },
        ],
        where: 'out.manifest line 1',
      },
      expect.objectContaining({ imageRef: 's3://x/images/b.jpg', boxes: [], where: 'out.manifest line 3' }),
    ]);
  });

  test('skips items a worker could not label, and names malformed lines by number', () => {
    const text = [
      gtLine('s3://x/images/a.jpg', []),
      JSON.stringify({
        'source-ref': 's3://x/images/b.jpg',
        'job-metadata': { 'failure-reason': 'timeout' },
      }),
      '{"source-ref": "s3://x/images/c.jpg", ',
      JSON.stringify({ 'no-source': 1 }),
    ].join('\n');

    const parsed = parseGroundTruthManifest(text, 'out.manifest');

    expect(parsed.skipped).toBe(1);
    expect(parsed.problems).toEqual([
      { where: 'out.manifest line 3', problem: 'not valid JSON at column 39 (unexpected end of text)' },
      { where: 'out.manifest line 4', problem: 'expected a JSON object with a "source-ref" string' },
    ]);
  });

  test('a class id outside the class-map is an error', () => {
    const parsed = parseGroundTruthManifest(
      gtLine('images/a.jpg', [{ class_id: 7, left: 1, top: 1, width: 2, height: 2 }]),
      'm',
    );
    expect(parsed.problems).toEqual([
      { where: 'm line 1 annotation 1', problem: "class_id 7 is not in the line's class-map" },
    ]);
  });

  test('rejects a wrong class, a box outside the image, an unknown image and a duplicate, naming each line', async () => {
    const text = [
      gtLine('images/a.jpg', [{ class_id: 0, left: 10, top: 10, width: 20, height: 20 }]),
      JSON.stringify({
        'source-ref': 'images/b.jpg',
        job: { annotations: [{ class_id: 0, left: 1, top: 1, width: 5, height: 5 }] },
        'job-metadata': { 'class-map': { '0': 'cat' } },
      }),
      gtLine('images/sub/c.jpg', [{ class_id: 0, left: 40, top: 0, width: 30, height: 10 }]),
      gtLine('images/missing.jpg', []),
      gtLine('s3://x/images/a.jpg', []),
    ].join('\n');

    const result = await validate(parseGroundTruthManifest(text, 'm'), 'groundtruth');

    expect(result).toBeInstanceOf(LabelFileError);
    expect((result as LabelFileError).problems).toEqual([
      {
        where: 'm line 2 annotation 1',
        problem: 'class "cat" is not a configured class (configured: "logo", "badge")',
      },
      expect.objectContaining({
        where: 'm line 3',
        problem: expect.stringContaining('images/sub/c.jpg is 50x50, a different shape'),
      }),
      expect.objectContaining({
        where: 'm line 4',
        problem: expect.stringMatching(/^no preprocessed image images\/missing.jpg/),
      }),
      {
        where: 'm line 5',
        problem: 'images/a.jpg is labeled twice (also at m line 1); keep one entry per image',
      },
    ]);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
  });
});

describe('COCO', () => {
  const coco = (overrides: object = {}) =>
    JSON.stringify(
      {
        images: [
          { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
          { id: 2, file_name: 'raw/b.png', width: 400, height: 200 },
          { id: 3, file_name: 'sub/c.jpg' },
        ],
        annotations: [
          { id: 10, image_id: 1, category_id: 5, bbox: [10, 20, 30, 40] },
          { id: 11, image_id: 2, category_id: 6, bbox: [40, 20, 100, 60] },
          { id: 12, image_id: 1, category_id: 6, bbox: [0, 0, 100, 80] },
        ],
        categories: [
          { id: 5, name: 'logo' },
          { id: 6, name: 'badge' },
        ],
        ...overrides,
      },
      null,
      2,
    );

  test('converts boxes by category name, scales an image labeled at full size, keeps images without boxes', async () => {
    const result = await validate(parseCoco(coco(), 'c.json'));

    expect(result).toEqual({ imported: 3, empty: 1, format: 'coco', skipped: 0 });
    const a = JSON.parse(s3.text(DATASET, 'labels/a.json'));
    expect(a).toMatchObject({
      'source-ref': `s3://${DATASET}/images/a.jpg`,
      image_size: [{ width: 100, height: 80, depth: 1 }],
      annotations: [
        { class_id: 0, left: 10, top: 20, width: 30, height: 40 },
        { class_id: 1, left: 0, top: 0, width: 100, height: 80 },
      ],
      'class-map': { '0': 'logo', '1': 'badge' },
      source: 'coco:f',
    });
    // b.jpg was labeled on the 400x200 original; the preprocessed image is 200x100.
    expect(JSON.parse(s3.text(DATASET, 'labels/b.json')).annotations).toEqual([
      { class_id: 1, left: 20, top: 10, width: 50, height: 30 },
    ]);
    expect(JSON.parse(s3.text(DATASET, 'labels/sub/c.json')).annotations).toEqual([]);
  });

  test('names annotation ids with an unknown image, an unknown category or a negative size', async () => {
    const text = coco({
      annotations: [
        { id: 20, image_id: 9, category_id: 5, bbox: [1, 1, 2, 2] },
        { id: 21, image_id: 1, category_id: 7, bbox: [1, 1, 2, 2] },
        { id: 22, image_id: 1, category_id: 5, bbox: [10, 10, -5, 8] },
        { id: 23, image_id: 1, category_id: 5, bbox: [90, 10, 30, 8] },
        { id: 24, image_id: 1, category_id: 5, bbox: [1, 1] },
      ],
    });

    const result = (await validate(parseCoco(text, 'c.json'))) as LabelFileError;

    expect(result.problems.map((p) => p.where)).toEqual([
      'c.json annotation id 20',
      'c.json annotation id 21',
      'c.json annotation id 24',
      'c.json annotation id 22',
      'c.json annotation id 23',
    ]);
    expect(result.message).toContain('c.json annotation id 20: image_id 9 is not in "images"');
    expect(result.message).toContain('c.json annotation id 21: category_id 7 is not in "categories"');
    expect(result.message).toContain('box has no area (width -5, height 8)');
    expect(result.message).toContain('lies outside the 100x80 image');
    expect(result.message).toMatch(/^f was rejected; nothing was imported \(5 problems\)/);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
  });

  test('a category that is not a configured class is an error naming the configured ones', async () => {
    const text = coco({
      categories: [
        { id: 5, name: 'Logo' },
        { id: 6, name: 'badge' },
      ],
    });
    const result = (await validate(parseCoco(text, 'c.json'))) as LabelFileError;
    expect(result.problems).toEqual([
      {
        where: 'c.json annotation id 10',
        problem: 'class "Logo" is not a configured class (configured: "logo", "badge")',
      },
    ]);
  });

  test('malformed JSON is reported with its line', () => {
    const parsed = parseCoco('{\n  "images": [],\n  "annotations": [,]\n}', 'c.json');
    expect(parsed.problems).toEqual([
      { where: 'c.json', problem: expect.stringMatching(/^not valid JSON at line 3, column \d+/) },
    ]);
  });

  test('an image listed twice is an error', () => {
    const parsed = parseCoco(
      coco({
        images: [
          { id: 1, file_name: 'a.jpg' },
          { id: 2, file_name: 'a.jpg' },
        ],
        annotations: [],
      }),
      'c.json',
    );
    expect(parsed.problems).toEqual([
      {
        where: 'c.json image id 2 ("a.jpg")',
        problem: '"a.jpg" is listed twice in "images" (also as image id 1)',
      },
    ]);
  });
});

describe('Pascal VOC', () => {
  const voc = (
    filename: string,
    objects: string,
    size = '<size><width>100</width><height>80</height><depth>3</depth></size>',
  ) =>
    `<?xml version="1.0"?>\n<annotation>\n  <folder>images</folder>\n  <filename>${filename}</filename>\n  ${size}\n${objects}</annotation>\n`;
  const object = (name: string, [xmin, ymin, xmax, ymax]: number[]) =>
    `  <object><name>${name}</name><difficult>0</difficult><bndbox><xmin>${xmin}</xmin><ymin>${ymin}</ymin><xmax>${xmax}</xmax><ymax>${ymax}</ymax></bndbox></object>\n`;

  test('converts one file per image; a file without objects labels an image with nothing in it', async () => {
    const parsed = parseVoc([
      { name: 'a.xml', text: voc('a.jpg', object('logo', [10, 20, 40, 60]) + object('badge', [0, 0, 5, 5])) },
      { name: 'b.xml', text: voc('b.jpg', '', '') },
    ]);

    const result = await validate(parsed, 'voc');

    expect(result).toEqual({ imported: 2, empty: 1, format: 'voc', skipped: 0 });
    expect(JSON.parse(s3.text(DATASET, 'labels/a.json')).annotations).toEqual([
      { class_id: 0, left: 10, top: 20, width: 30, height: 40 },
      { class_id: 1, left: 0, top: 0, width: 5, height: 5 },
    ]);
  });

  test('names the file and object of a wrong class, an inverted box and a box outside the image', async () => {
    const parsed = parseVoc([
      {
        name: 'a.xml',
        text: voc(
          'a.jpg',
          object('dog', [1, 1, 5, 5]) + object('logo', [30, 10, 20, 40]) + object('logo', [50, 50, 120, 70]),
        ),
      },
    ]);

    const result = (await validate(parsed, 'voc')) as LabelFileError;

    expect(result.problems).toEqual([
      {
        where: 'a.xml object 2 ("logo")',
        problem: expect.stringContaining('box has no area (xmin 30, xmax 20'),
      },
      {
        where: 'a.xml object 1 ("dog")',
        problem: 'class "dog" is not a configured class (configured: "logo", "badge")',
      },
      { where: 'a.xml object 3 ("logo")', problem: expect.stringContaining('lies outside the 100x80 image') },
    ]);
  });

  test('malformed XML is reported with file and line; a duplicate image across files is an error', async () => {
    const parsed = parseVoc([
      { name: 'bad.xml', text: '<annotation>\n<filename>a.jpg</filename>\n<object>\n</annotation>' },
      { name: 'a1.xml', text: voc('a.jpg', '') },
      { name: 'a2.xml', text: voc('images/a.jpg', '') },
      { name: 'other.xml', text: '<note><to>x</to></note>' },
    ]);

    const result = (await validate(parsed, 'voc')) as LabelFileError;

    expect(result.problems).toEqual([
      { where: 'bad.xml line 4', problem: expect.stringMatching(/^malformed XML/) },
      { where: 'other.xml', problem: 'not a Pascal VOC annotation (no <annotation> root element)' },
      {
        where: 'a2.xml',
        problem: 'images/a.jpg is labeled twice (also at a1.xml); keep one entry per image',
      },
    ]);
  });
});

describe('format detection', () => {
  test.each([
    [[{ name: 'x.manifest', text: '{"source-ref":"s3://b/images/a.jpg","l":{}}\n' }], 'groundtruth'],
    [[{ name: 'x.json', text: '{\n "images": [], "annotations": [], "categories": []}' }], 'coco'],
    [[{ name: 'x.xml', text: '<annotation/>' }], 'voc'],
    [[{ name: 'x.txt', text: 'hello' }], undefined],
  ])('%j is %s', (files, format) => {
    expect(detectFormat(files)).toBe(format);
  });
});

test('box edges up to a pixel outside the image are clipped, not rejected', () => {
  const { documents, problems } = toLabelDocuments({
    labels: [
      {
        imageRef: 'a.jpg',
        boxes: [{ className: 'logo', left: -1, top: 0, width: 101, height: 81, where: 'w' }],
        where: 'w',
      },
    ],
    classes: CLASSES,
    sizes: new Map([['images/a.jpg', { width: 100, height: 80 }]]),
    datasetBucket: DATASET,
    source: 's',
    labeledAt: 't',
  });
  expect(problems).toEqual([]);
  expect(documents[0].document.annotations).toEqual([
    { class_id: 0, left: 0, top: 0, width: 100, height: 80 },
  ]);
});
