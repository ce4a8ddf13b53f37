import { S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { handler as preprocess } from '../../lambda/preprocess';
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
import type { LabelsImported } from '../../contracts';
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
    ['a.jpg', 'images/a.jpg.jpg'],
    ['s3://some-bucket/images/sub/c.jpg', 'images/sub/c.jpg'],
    ['raw/sub/c.PNG', 'images/sub/c.PNG.jpg'],
    ['b.png', 'images/b.png.jpg'],
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
  beforeEach(() => images({ 'images/b.png.jpg': [200, 100] }));

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
    // raw/b.png was labeled on the 400x200 original; the preprocessed image is 200x100.
    expect(JSON.parse(s3.text(DATASET, 'labels/b.png.json')).annotations).toEqual([
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

  test('a class many boxes use is one problem with their count, naming a case-only mismatch and the classes setting', async () => {
    const text = JSON.stringify({
      images: [
        { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
        { id: 2, file_name: 'b.jpg', width: 200, height: 100 },
      ],
      annotations: [
        ...[1, 2, 3].map((id) => ({ id, image_id: 1, category_id: 5, bbox: [1, 1, 10, 10] })),
        ...[4, 5].map((id) => ({ id, image_id: 2, category_id: 5, bbox: [1, 1, 10, 10] })),
        { id: 6, image_id: 2, category_id: 7, bbox: [1, 1, 10, 10] },
      ],
      categories: [
        { id: 5, name: 'Logo' },
        { id: 7, name: 'cat' },
      ],
    });

    const result = (await validate(parseCoco(text, 'c.json'))) as LabelFileError;

    expect(result.problems).toEqual([
      {
        where: 'c.json annotation id 1 and 4 more boxes',
        problem: 'class "Logo" is not a configured class (configured: "logo", "badge")',
      },
      {
        where: 'c.json annotation id 6',
        problem: 'class "cat" is not a configured class (configured: "logo", "badge")',
      },
    ]);
    expect(result.advice).toEqual([
      'Class names must match exactly, case included: "Logo" is not "logo".',
      expect.stringContaining('or configure the classes you labeled: the "classes" setting in cdk.json'),
    ]);
    expect(result.message).toMatch(
      /\(configured: "logo", "badge"\)\nClass names must match exactly[^\n]*\nRename the classes[^\n]*-c classes=[^\n]*\nFix the file and run the import again\.$/,
    );
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
    sizes: new Map([['images/a.jpg', { width: 100, height: 80, etag: 'e', bytes: 10 }]]),
    datasetBucket: DATASET,
    source: 's',
    labeledAt: 't',
  });
  expect(problems).toEqual([]);
  expect(documents[0].document.annotations).toEqual([
    { class_id: 0, left: 0, top: 0, width: 100, height: 80 },
  ]);
});

/** A preprocessed image as preprocessing now leaves it: size, the EXIF orientation applied, the upload's size. */
function photo(
  key: string,
  [width, height]: number[],
  orientation: number,
  [sourceWidth, sourceHeight]: number[],
) {
  s3.put(DATASET, key, 'jpeg bytes', {
    width: String(width),
    height: String(height),
    orientation: String(orientation),
    'source-width': String(sourceWidth),
    'source-height': String(sourceHeight),
  });
}

/** A label document's boxes. */
const boxesOf = (imageKey: string) =>
  JSON.parse(s3.text(DATASET, imageKey.replace(/^images\//, 'labels/').replace(/\.jpg$/, '.json')))
    .annotations;

/** One COCO file labeling one image with boxes of class "logo". */
const cocoFor = (fileName: string, size: number[] | undefined, ...bboxes: number[][]) =>
  JSON.stringify({
    images: [{ id: 1, file_name: fileName, ...(size ? { width: size[0], height: size[1] } : {}) }],
    annotations: bboxes.map((bbox, i) => ({ id: i + 1, image_id: 1, category_id: 1, bbox })),
    categories: [{ id: 1, name: 'logo' }],
  });

describe('Ground Truth jobs of every bounding-box kind', () => {
  const box = (left: number) => ({ class_id: 0, left, top: 10, width: 20, height: 20 });
  const boxes = (left: number, metadata: object = {}) => [
    { image_size: [{ width: 100, height: 80, depth: 3 }], annotations: [box(left)] },
    {
      'class-map': { '0': 'logo' },
      type: 'groundtruth/object-detection',
      'human-annotated': 'yes',
      ...metadata,
    },
  ];
  const verdict = (className: string, date: string) => ({
    'verify-logos': className === 'bad' ? '1' : '0',
    'verify-logos-metadata': {
      'class-name': className,
      confidence: 0.9,
      type: 'groundtruth/label-verification',
      'job-name': 'verify-logos',
      'human-annotated': 'yes',
      'creation-date': date,
    },
  });
  const line = (ref: string, attributes: Record<string, object | string>) =>
    JSON.stringify({ 'source-ref': `s3://x/images/${ref}`, ...attributes });
  const labeled = (left: number, date = '2026-01-01T10:00:00.000000') => {
    const [value, metadata] = boxes(left, { 'creation-date': date });
    return { logos: value, 'logos-metadata': metadata };
  };
  const adjusted = (left: number, date = '2026-01-02T10:00:00.000000', status = 'adjusted') => {
    const [value, metadata] = boxes(left, { 'creation-date': date, 'adjustment-status': status });
    return { 'adjusted-logos': value, 'adjusted-logos-metadata': metadata };
  };

  test('an adjustment job: the adjusted boxes are imported, not the originals beside them', async () => {
    const text = line('a.jpg', { ...labeled(10), ...adjusted(30) });

    const result = await validate(parseGroundTruthManifest(text, 'out.manifest'), 'groundtruth');

    expect(result).toEqual({ imported: 1, empty: 0, format: 'groundtruth', skipped: 0 });
    expect(boxesOf('images/a.jpg')).toEqual([{ class_id: 0, left: 30, top: 10, width: 20, height: 20 }]);
  });

  test('a chain of adjustments: the newest adjustment wins', async () => {
    const [second, secondMetadata] = boxes(50, {
      'creation-date': '2026-01-03T10:00:00.000000',
      'adjustment-status': 'adjusted',
    });
    const text = line('a.jpg', {
      ...labeled(10),
      ...adjusted(30),
      'adjusted-again': second,
      'adjusted-again-metadata': secondMetadata,
    });

    await validate(parseGroundTruthManifest(text, 'out.manifest'), 'groundtruth');

    expect(boxesOf('images/a.jpg')[0].left).toBe(50);
  });

  test('a verification job: images a reviewer marked bad are left out and counted, keeping their old label', async () => {
    s3.put(DATASET, 'labels/b.json', JSON.stringify({ annotations: ['the good label'] }));
    const text = [
      line('a.jpg', { ...labeled(10), ...verdict('good', '2026-01-05T00:00:00') }),
      line('b.jpg', { ...labeled(10), ...verdict('bad', '2026-01-05T00:00:00') }),
    ].join('\n');

    const result = await validate(parseGroundTruthManifest(text, 'verify.manifest'), 'groundtruth');

    expect(result).toEqual({ imported: 1, empty: 0, format: 'groundtruth', skipped: 0, rejected: 1 });
    expect(boxesOf('images/a.jpg')).toHaveLength(1);
    expect(JSON.parse(s3.text(DATASET, 'labels/b.json'))).toEqual({ annotations: ['the good label'] });
  });

  test('a verdict given before an adjustment no longer applies; one given after it does', () => {
    const text = [
      line('a.jpg', { ...labeled(10), ...verdict('bad', '2026-01-01T12:00:00'), ...adjusted(30) }),
      line('b.jpg', {
        ...labeled(10),
        ...adjusted(30),
        ...verdict('The label is incorrect', '2026-01-03T00:00:00'),
      }),
    ].join('\n');

    const parsed = parseGroundTruthManifest(text, 'm');

    expect(parsed.labels.map((l) => [l.imageRef, l.boxes[0].left])).toEqual([['s3://x/images/a.jpg', 30]]);
    expect(parsed.rejected).toBe(1);
  });

  test('lines a job failed on are skipped and counted, in labeling, adjustment and verification output', () => {
    const failed = (attribute: string) => ({
      [`${attribute}-metadata`]: { 'failure-reason': 'ClientError: expired' },
    });
    const text = [
      line('a.jpg', failed('logos')),
      line('b.jpg', { ...labeled(10), ...failed('adjusted-logos') }),
      line('sub/c.jpg', { ...labeled(10), ...failed('verify-logos') }),
      line('a.jpg', labeled(10)),
    ].join('\n');

    const parsed = parseGroundTruthManifest(text, 'm');

    expect(parsed.skipped).toBe(3);
    expect(parsed.problems).toEqual([]);
    expect(parsed.labels).toHaveLength(1);
  });

  test('naming the verification job with --label-attribute reads its verdict on the boxes it verified', () => {
    const text = line('a.jpg', { ...labeled(10), ...verdict('bad', '2026-01-05T00:00:00') });

    const parsed = parseGroundTruthManifest(text, 'm', 'verify-logos');

    expect(parsed).toMatchObject({ labels: [], problems: [], rejected: 1 });
  });

  test('a verdict that says neither good nor bad, and unrelated box attributes, are refused by line', () => {
    const [other, otherMetadata] = boxes(40);
    const text = [
      line('a.jpg', { ...labeled(10), ...verdict('No issues found', '2026-01-05T00:00:00') }),
      line('b.jpg', { ...labeled(10), faces: other, 'faces-metadata': otherMetadata }),
    ].join('\n');

    const parsed = parseGroundTruthManifest(text, 'm');

    expect(parsed.problems).toEqual([
      {
        where: 'm line 1',
        problem: expect.stringContaining('the verdict "No issues found" of "verify-logos" says neither'),
      },
      {
        where: 'm line 2',
        problem: 'several label attributes (logos, faces); say which with --label-attribute',
      },
    ]);
  });
});

describe('COCO as labeling tools export it', () => {
  test('CVAT: numeric ids from 1, float boxes, extra fields, an image without annotations', async () => {
    const text = JSON.stringify({
      licenses: [{ name: '', id: 0, url: '' }],
      info: { contributor: '', date_created: '', description: '', url: '', version: '', year: '' },
      categories: [
        { id: 1, name: 'logo', supercategory: '' },
        { id: 2, name: 'badge', supercategory: '' },
      ],
      images: [
        {
          id: 1,
          width: 100,
          height: 80,
          file_name: 'a.jpg',
          license: 0,
          flickr_url: '',
          coco_url: '',
          date_captured: 0,
        },
        {
          id: 2,
          width: 50,
          height: 50,
          file_name: 'sub/c.jpg',
          license: 0,
          flickr_url: '',
          coco_url: '',
          date_captured: 0,
        },
      ],
      annotations: [
        {
          id: 1,
          image_id: 1,
          category_id: 2,
          segmentation: [],
          area: 543.21,
          bbox: [10.4, 20.6, 30.2, 17.98],
          iscrowd: 0,
          attributes: { occluded: false, rotation: 0.0 },
        },
      ],
    });

    const result = await validate(parseCoco(text, 'instances_default.json'));

    expect(result).toEqual({ imported: 2, empty: 1, format: 'coco', skipped: 0 });
    expect(boxesOf('images/a.jpg')).toEqual([{ class_id: 1, left: 10, top: 21, width: 31, height: 18 }]);
    expect(boxesOf('images/sub/c.jpg')).toEqual([]);
  });

  test('Roboflow: ids from 0 and an unused category 0 named after the project', async () => {
    const text = JSON.stringify({
      info: { description: 'Exported from roboflow.com' },
      categories: [
        { id: 0, name: 'logos-xyz', supercategory: 'none' },
        { id: 1, name: 'logo', supercategory: 'logos-xyz' },
      ],
      images: [{ id: 0, license: 1, file_name: 'b.jpg', height: 100, width: 200 }],
      annotations: [
        {
          id: 0,
          image_id: 0,
          category_id: 1,
          bbox: [2, 4, 60.5, 30],
          area: 1815,
          segmentation: [],
          iscrowd: 0,
        },
      ],
    });

    const result = await validate(parseCoco(text, '_annotations.coco.json'));

    expect(result).toEqual({ imported: 1, empty: 0, format: 'coco', skipped: 0 });
    expect(boxesOf('images/b.jpg')).toEqual([{ class_id: 0, left: 2, top: 4, width: 61, height: 30 }]);
  });

  test('Label Studio: file names under images/, a used category 0, no annotations for one image', async () => {
    const text = JSON.stringify({
      images: [
        { width: 100, height: 80, id: 0, file_name: 'images/a.jpg' },
        { width: 200, height: 100, id: 1, file_name: 'images/b.jpg' },
      ],
      categories: [
        { id: 0, name: 'badge' },
        { id: 1, name: 'logo' },
      ],
      annotations: [
        {
          id: 0,
          image_id: 0,
          category_id: 0,
          segmentation: [],
          bbox: [5, 6, 7, 8],
          ignore: 0,
          iscrowd: 0,
          area: 56,
        },
      ],
      info: {
        year: 2026,
        version: '1.0',
        description: '',
        contributor: 'Label Studio',
        url: '',
        date_created: '',
      },
    });

    const result = await validate(parseCoco(text, 'result.json'));

    expect(result).toEqual({ imported: 2, empty: 1, format: 'coco', skipped: 0 });
    expect(boxesOf('images/a.jpg')).toEqual([{ class_id: 1, left: 5, top: 6, width: 7, height: 8 }]);
  });

  test('string ids, and images without a size, whose boxes are in the preprocessed image', async () => {
    const text = JSON.stringify({
      images: [{ id: 'img-a', file_name: 'a.jpg' }],
      categories: [{ id: 'cat-logo', name: 'logo' }],
      annotations: [{ id: 'ann-1', image_id: 'img-a', category_id: 'cat-logo', bbox: [1, 2, 3, 4] }],
    });

    const result = await validate(parseCoco(text, 'c.json'));

    expect(result).toMatchObject({ imported: 1 });
    expect(boxesOf('images/a.jpg')).toEqual([{ class_id: 0, left: 1, top: 2, width: 3, height: 4 }]);
  });

  test('crowd regions are left out and counted; an image with nothing but crowd regions is not labeled empty', async () => {
    s3.put(DATASET, 'labels/b.json', JSON.stringify({ annotations: ['kept'] }));
    const text = JSON.stringify({
      images: [
        { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
        { id: 2, file_name: 'b.jpg', width: 200, height: 100 },
      ],
      categories: [{ id: 1, name: 'logo' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], iscrowd: 0 },
        {
          id: 2,
          image_id: 1,
          category_id: 1,
          bbox: [0, 0, 100, 80],
          iscrowd: 1,
          segmentation: { counts: [0, 8000], size: [80, 100] },
        },
        { id: 3, image_id: 2, category_id: 1, bbox: [0, 0, 200, 100], iscrowd: 1 },
      ],
    });

    const result = await validate(parseCoco(text, 'c.json'));

    expect(result).toEqual({ imported: 1, empty: 0, format: 'coco', skipped: 0, crowd: 2 });
    expect(boxesOf('images/a.jpg')).toEqual([{ class_id: 0, left: 10, top: 10, width: 20, height: 20 }]);
    expect(JSON.parse(s3.text(DATASET, 'labels/b.json'))).toEqual({ annotations: ['kept'] });
  });
});

describe('normalized (0 to 1) coordinates', () => {
  const looksNormalized = expect.stringMatching(
    /^boxes look normalized: every coordinate is between 0 and 1 .*export the labels with absolute pixel coordinates/,
  );

  test('COCO: refused with an explanation for each image, not stored as 1x1 boxes or "less than a pixel"', async () => {
    const text = JSON.stringify({
      images: [
        { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
        { id: 2, file_name: 'b.jpg', width: 200, height: 100 },
      ],
      categories: [{ id: 1, name: 'logo' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0.3, 0.3, 0.4, 0.4] },
        { id: 2, image_id: 1, category_id: 1, bbox: [0.1, 0.1, 0.05, 0.05] },
        { id: 3, image_id: 2, category_id: 1, bbox: [0.6, 0.2, 0.1, 0.3] },
      ],
    });

    const result = (await validate(parseCoco(text, 'c.json'))) as LabelFileError;

    expect(result.problems).toEqual([
      { where: 'c.json image id 1 ("a.jpg")', problem: looksNormalized },
      { where: 'c.json image id 2 ("b.jpg")', problem: looksNormalized },
    ]);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
  });

  test('Pascal VOC and Ground Truth: the same', async () => {
    const voc = parseVoc([
      {
        name: 'a.xml',
        text: '<annotation><filename>a.jpg</filename><object><name>logo</name><bndbox><xmin>0.1</xmin><ymin>0.2</ymin><xmax>0.5</xmax><ymax>0.6</ymax></bndbox></object></annotation>',
      },
    ]);
    const groundTruth = parseGroundTruthManifest(
      gtLine('images/a.jpg', [{ class_id: 0, left: 0.25, top: 0.5, width: 0.5, height: 0.25 }]),
      'm',
    );

    expect(((await validate(voc, 'voc')) as LabelFileError).problems).toEqual([
      { where: 'a.xml', problem: looksNormalized },
    ]);
    expect(((await validate(groundTruth, 'groundtruth')) as LabelFileError).problems).toEqual([
      { where: 'm line 1', problem: looksNormalized },
    ]);
  });

  test('boxes in whole pixels near the corner are not mistaken for normalized ones', async () => {
    const result = await validate(parseCoco(cocoFor('a.jpg', [100, 80], [0, 0, 1, 1]), 'c.json'));
    expect(result).toMatchObject({ imported: 1 });
  });
});

describe('Pascal VOC from LabelImg and CVAT: which image a file means', () => {
  const labelImg = (folder: string, path: string, filename = 'front.jpg') =>
    `<annotation>\n\t<folder>${folder}</folder>\n\t<filename>${filename}</filename>\n\t<path>${path}</path>\n` +
    '\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n' +
    '\t<size>\n\t\t<width>100</width>\n\t\t<height>80</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n' +
    '\t<object>\n\t\t<name>logo</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n' +
    '\t\t<bndbox>\n\t\t\t<xmin>11</xmin>\n\t\t\t<ymin>12</ymin>\n\t\t\t<xmax>31</xmax>\n\t\t\t<ymax>42</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n';

  beforeEach(() => {
    images({ 'images/front.jpg': [100, 80], 'images/shop/front.jpg': [100, 80] });
    s3.put(DATASET, 'labels/front.json', JSON.stringify({ annotations: ['the good label'] }));
  });

  test('LabelImg: the sub-folder comes from <folder> and <path>, not the other photo with the same name', async () => {
    const parsed = parseVoc([
      { name: 'front.xml', text: labelImg('shop', '/home/ana/photos/shop/front.jpg') },
    ]);

    const result = await validate(parsed, 'voc');

    expect(result).toEqual({ imported: 1, empty: 0, format: 'voc', skipped: 0 });
    expect(boxesOf('images/shop/front.jpg')).toEqual([
      { class_id: 0, left: 11, top: 12, width: 20, height: 30 },
    ]);
    expect(JSON.parse(s3.text(DATASET, 'labels/front.json'))).toEqual({ annotations: ['the good label'] });
  });

  test('LabelImg on Windows: a backslashed <path>', async () => {
    const parsed = parseVoc([
      { name: 'front.xml', text: labelImg('shop', 'C:\\Users\\ana\\shop\\front.jpg') },
    ]);
    await validate(parsed, 'voc');
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/front.json', 'labels/shop/front.json']);
  });

  test('the most specific folder wins when several images fit the path', async () => {
    images({ 'images/b/shop/front.jpg': [100, 80] });
    const parsed = parseVoc([{ name: 'front.xml', text: labelImg('shop', '/data/b/shop/front.jpg') }]);
    await validate(parsed, 'voc');
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/b/shop/front.json', 'labels/front.json']);
  });

  test("the XML file's own folder within the imported directory places it when the file names none", async () => {
    const text = labelImg('', '').replace(/<folder><\/folder>|<path><\/path>/g, '');
    const parsed = parseVoc([{ name: 'shop/front.xml', path: 'shop/front.xml', text }]);
    await validate(parsed, 'voc');
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/front.json', 'labels/shop/front.json']);
  });

  test('CVAT: <filename> carries the path within the task', async () => {
    const text = labelImg('', '', 'shop/front.jpg').replace('<path></path>', '');
    await validate(
      parseVoc([{ name: 'Annotations/shop/front.xml', path: 'Annotations/shop/front.xml', text }]),
      'voc',
    );
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/front.json', 'labels/shop/front.json']);
  });

  test('a base name only one image has is found in its sub-folder', async () => {
    images({ 'images/sub/deep/d.jpg': [100, 80] });
    const parsed = parseVoc([
      { name: 'd.xml', text: labelImg('Desktop', '/Users/ana/Desktop/d.jpg', 'd.jpg') },
    ]);
    await validate(parsed, 'voc');
    expect(s3.keys(DATASET, 'labels/sub/')).toEqual(['labels/sub/deep/d.json']);
  });

  test('an ambiguous base name is refused with the candidates listed, and nothing is written', async () => {
    const parsed = parseVoc([
      { name: 'front.xml', text: labelImg('photos', '/home/ana/photos/front.jpg') },
      { name: 'a.xml', text: labelImg('photos', '/home/ana/photos/a.jpg', 'a.jpg') },
    ]);

    const result = (await validate(parsed, 'voc')) as LabelFileError;

    expect(result.problems).toEqual([
      {
        where: 'front.xml',
        problem:
          '"front.jpg" could be any of images/front.jpg, images/shop/front.jpg, and the file does not say which ' +
          '(<path> "/home/ana/photos", <folder> "photos"); write the image\'s key in <filename> (e.g. ' +
          '"images/front.jpg"), or lay the XML files out like the images (images/a/b.xml for images/a/b.jpg), ' +
          'and import again',
      },
    ]);
    expect(JSON.parse(s3.text(DATASET, 'labels/front.json'))).toEqual({ annotations: ['the good label'] });
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/front.json']);
  });

  test("writing the image's key in <filename>, as the refusal suggests, is accepted", async () => {
    const parsed = parseVoc([
      { name: 'front.xml', text: labelImg('photos', '/x/front.jpg', 'images/front.jpg') },
    ]);
    await validate(parsed, 'voc');
    expect(boxesOf('images/front.jpg')).toHaveLength(1);
  });
});

describe('EXIF orientation', () => {
  test('boxes drawn on the stored pixels of an orientation-3 photo land where the photo is shown', async () => {
    photo('images/turned.jpg', [1024, 768], 3, [4000, 3000]);

    const result = await validate(
      parseCoco(cocoFor('turned.jpg', [4000, 3000], [100, 100, 800, 600]), 'c.json'),
    );

    expect(result).toEqual({ imported: 1, empty: 0, format: 'coco', skipped: 0, reoriented: 1 });
    expect(boxesOf('images/turned.jpg')).toEqual([
      { class_id: 0, left: 794, top: 589, width: 204, height: 153 },
    ]);
  });

  test('orientation 6: the stored size is recognised and the box turned, instead of a shape refusal', async () => {
    photo('images/portrait.jpg', [768, 1024], 6, [4000, 3000]);

    await validate(parseCoco(cocoFor('portrait.jpg', [4000, 3000], [100, 100, 800, 600]), 'c.json'));

    expect(boxesOf('images/portrait.jpg')).toEqual([
      { class_id: 0, left: 589, top: 26, width: 153, height: 204 },
    ]);
  });

  test('a tool that applied the orientation declares the upright size: boxes are only scaled', async () => {
    photo('images/portrait.jpg', [768, 1024], 6, [4000, 3000]);

    const result = await validate(
      parseCoco(cocoFor('portrait.jpg', [3000, 4000], [300, 400, 600, 800]), 'c.json'),
    );

    expect(result).toEqual({ imported: 1, empty: 0, format: 'coco', skipped: 0 });
    expect(boxesOf('images/portrait.jpg')).toEqual([
      { class_id: 0, left: 77, top: 102, width: 153, height: 205 },
    ]);
  });

  test('labels drawn on the preprocessed image itself are taken as they are', async () => {
    photo('images/turned.jpg', [1024, 768], 3, [4000, 3000]);
    await validate(parseCoco(cocoFor('turned.jpg', [1024, 768], [10, 20, 30, 40]), 'c.json'));
    expect(boxesOf('images/turned.jpg')).toEqual([{ class_id: 0, left: 10, top: 20, width: 30, height: 40 }]);
  });

  test('where the size cannot tell, the import refuses naming EXIF', async () => {
    photo('images/square.jpg', [1024, 1024], 6, [3000, 3000]);
    photo('images/turned.jpg', [1024, 768], 3, [4000, 3000]);
    const text = JSON.stringify({
      images: [
        { id: 1, file_name: 'square.jpg', width: 3000, height: 3000 },
        { id: 2, file_name: 'turned.jpg' },
      ],
      categories: [{ id: 1, name: 'logo' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20] },
        { id: 2, image_id: 2, category_id: 1, bbox: [10, 10, 20, 20] },
      ],
    });

    const result = (await validate(parseCoco(text, 'c.json'))) as LabelFileError;

    expect(result.problems).toEqual([
      {
        where: 'c.json image id 1 ("square.jpg")',
        problem: expect.stringContaining(
          'made from a square photo with EXIF orientation 6 (shown rotated 90° clockwise), so the size',
        ),
      },
      {
        where: 'c.json image id 2 ("turned.jpg")',
        problem: expect.stringMatching(
          /^the file gives no image size, and .* EXIF orientation 3 \(shown rotated 180°\)/,
        ),
      },
    ]);
  });

  test('an image preprocessed before orientations were recorded: a quarter-turned size is refused naming EXIF', async () => {
    images({ 'images/old.jpg': [768, 1024] });

    const result = (await validate(
      parseCoco(cocoFor('old.jpg', [4000, 3000], [1, 1, 2, 2]), 'c.json'),
    )) as LabelFileError;

    expect(result.problems).toEqual([
      {
        where: 'c.json image id 1 ("old.jpg")',
        problem: expect.stringContaining(
          'images/old.jpg is 768x1024: the same picture turned a quarter turn. The photo probably has an EXIF orientation',
        ),
      },
    ]);
  });

  test('orientBox matches sharp for all eight orientations, through preprocessing and the import', async () => {
    const stored = { width: 120, height: 80 };
    const rect = { left: 10, top: 20, width: 30, height: 16 };
    for (let orientation = 1; orientation <= 8; orientation++) {
      s3.reset();
      const key = `o${orientation}.jpg`;
      const etag = s3.put(
        'raw',
        `raw/${key}`,
        await sharp({ create: { ...stored, channels: 3, background: '#000000' } })
          .composite([{ input: { create: { ...rect, channels: 3, background: '#ffffff' } }, ...rect }])
          .jpeg({ quality: 100 })
          .withMetadata({ orientation })
          .toBuffer(),
      );
      const maxSide = 60;
      await preprocess({
        Items: [{ Key: `raw/${key}`, Size: 1, Etag: etag }],
        BatchInput: { rawBucket: 'raw', datasetBucket: DATASET, maxSide },
      });

      // Labeled on the stored pixels, by a tool that ignores EXIF.
      const result = await validate(parseCoco(cocoFor(key, [120, 80], Object.values(rect)), 'c.json'));

      expect((result as LabelsImported).reoriented).toBe(orientation === 1 ? undefined : 1);
      const [box] = boxesOf(`images/${key}.jpg`);
      const { data, info } = await sharp(s3.get(DATASET, `images/${key}.jpg`)!.body)
        .toColourspace('b-w')
        .raw()
        .toBuffer({ resolveWithObject: true });
      const bright = (x: number, y: number) => data[y * info.width + x] > 128;
      // The white rectangle fills the box and nothing around it.
      expect([box.left, box.top, box.width, box.height]).toEqual(whiteBounds(data, info.width, info.height));
      expect(
        bright(box.left + 1, box.top + 1) && bright(box.left + box.width - 2, box.top + box.height - 2),
      ).toBe(true);
    }
  });
});

/** Left, top, width and height of the pixels brighter than mid-grey. */
function whiteBounds(data: Buffer, width: number, height: number): number[] {
  let [x0, y0, x1, y1] = [width, height, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] > 128) {
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x + 1), Math.max(y1, y + 1)];
      }
    }
  }
  return [x0, y0, x1 - x0, y1 - y0];
}

describe('photos that share a base name: the extension is part of the name', () => {
  // raw/front.jpg (400x200) and raw/front.png (200x400), as preprocessing keys them; and an image of raw/front.
  beforeEach(() => images({ 'images/front.jpg.jpg': [400, 200], 'images/front.png.jpg': [200, 400] }));

  const gtPair = (ref: (name: string) => string) =>
    ['front.jpg', 'front.png']
      .map((name, i) =>
        JSON.stringify({
          'source-ref': ref(name),
          logos: {
            image_size: [
              i === 0 ? { width: 400, height: 200, depth: 3 } : { width: 200, height: 400, depth: 3 },
            ],
            annotations: [{ class_id: 0, left: 10 + i, top: 10, width: 20, height: 30 }],
          },
          'logos-metadata': { 'class-map': { '0': 'logo' }, type: 'groundtruth/object-detection' },
        }),
      )
      .join('\n');

  test.each([
    ['a Ground Truth manifest of another bucket', (name: string) => `s3://their-bucket/${name}`],
    ['raw names', (name: string) => `raw/${name}`],
    ['the images’ own keys', (name: string) => `s3://${DATASET}/images/${name}.jpg`],
  ])('%s: each photo of the pair gets its own label, on its own image', async (_what, ref) => {
    const result = await validate(parseGroundTruthManifest(gtPair(ref), 'out.manifest'), 'groundtruth');

    expect(result).toEqual({ imported: 2, empty: 0, format: 'groundtruth', skipped: 0 });
    const jpg = JSON.parse(s3.text(DATASET, 'labels/front.jpg.json'));
    const png = JSON.parse(s3.text(DATASET, 'labels/front.png.json'));
    expect(jpg).toMatchObject({
      'source-ref': `s3://${DATASET}/images/front.jpg.jpg`,
      image_size: [{ width: 400, height: 200, depth: 1 }],
      annotations: [{ class_id: 0, left: 10, top: 10, width: 20, height: 30 }],
    });
    expect(png).toMatchObject({
      'source-ref': `s3://${DATASET}/images/front.png.jpg`,
      image_size: [{ width: 200, height: 400, depth: 1 }],
      annotations: [{ class_id: 0, left: 11, top: 10, width: 20, height: 30 }],
    });
  });

  test('each label document records the image it was checked against: its ETag and size in bytes', async () => {
    s3.put(DATASET, 'images/front.png.jpg', 'other jpeg bytes', { width: '200', height: '400' });

    await validate(
      parseGroundTruthManifest(
        gtPair((name) => name),
        'out.manifest',
      ),
      'groundtruth',
    );

    for (const name of ['front.jpg', 'front.png']) {
      const image = s3.get(DATASET, `images/${name}.jpg`)!;
      expect(JSON.parse(s3.text(DATASET, `labels/${name}.json`))).toMatchObject({
        'image-etag': image.etag.replace(/"/g, ''),
        'image-bytes': image.body.length,
      });
    }
    expect(s3.get(DATASET, 'images/front.png.jpg')!.etag).not.toBe(
      s3.get(DATASET, 'images/front.jpg.jpg')!.etag,
    );
  });

  test('COCO and LabelImg file names find the photo of that extension', async () => {
    const coco = JSON.stringify({
      images: [
        { id: 1, file_name: 'front.png', width: 200, height: 400 },
        { id: 2, file_name: 'front.jpg', width: 400, height: 200 },
      ],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 3, 4] }],
      categories: [{ id: 1, name: 'logo' }],
    });
    expect(await validate(parseCoco(coco, 'c.json'))).toMatchObject({ imported: 2, empty: 1 });
    expect(JSON.parse(s3.text(DATASET, 'labels/front.png.json')).annotations).toHaveLength(1);
    expect(JSON.parse(s3.text(DATASET, 'labels/front.jpg.json')).annotations).toEqual([]);

    const voc = (filename: string) =>
      `<annotation><filename>${filename}</filename><path>/home/ana/photos/${filename}</path>` +
      '<size><width>200</width><height>400</height></size><object><name>badge</name>' +
      '<bndbox><xmin>5</xmin><ymin>6</ymin><xmax>25</xmax><ymax>46</ymax></bndbox></object></annotation>';
    await validate(parseVoc([{ name: 'front.xml', text: voc('front.png') }]), 'voc');
    expect(JSON.parse(s3.text(DATASET, 'labels/front.png.json')).annotations).toEqual([
      { class_id: 1, left: 5, top: 6, width: 20, height: 40 },
    ]);
  });

  test('a name two images answer to is refused, naming both; a missing one names its namesakes; bad paths are refused', async () => {
    images({ 'images/front.jpg': [400, 200] }); // the image of raw/front, an upload without extension
    const coco = JSON.stringify({
      images: [
        { id: 1, file_name: 'front.jpg' },
        { id: 2, file_name: 'front.gif' },
        { id: 3, file_name: '../front.png' },
        { id: 4, file_name: 'shop//front.png' },
        { id: 5, file_name: 'images/front.jpg' },
      ],
      annotations: [],
      categories: [{ id: 1, name: 'logo' }],
    });

    const result = (await validate(parseCoco(coco, 'c.json'))) as LabelFileError;

    expect(result.problems).toEqual([
      {
        where: 'c.json image id 1 ("front.jpg")',
        problem:
          '"front.jpg" could be images/front.jpg.jpg or images/front.jpg; name the image by its key under images/ ' +
          '(e.g. "images/front.jpg.jpg")',
      },
      {
        where: 'c.json image id 2 ("front.gif")',
        problem:
          'no preprocessed image images/front.gif.jpg (from "front.gif"); images of that name with another ' +
          'extension: images/front.jpg, images/front.jpg.jpg, images/front.png.jpg; check the name (the extension ' +
          'is part of it), or upload the photo under raw/ and let the pipeline preprocess it first',
      },
      {
        where: 'c.json image id 3 ("../front.png")',
        problem: '../front.png names no image: the name has a "." or ".." path segment',
      },
      {
        where: 'c.json image id 4 ("shop//front.png")',
        problem:
          'shop//front.png names no image: the name has an empty path segment (two slashes in a row, or a ' +
          'leading or trailing slash)',
      },
    ]);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
  });
});
