import { S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { FakeS3 } from '../../test/handlers/fake-s3';
import { checkOwnLabels, readOwnInputs, uploadInputs } from '../app/inputs';
import { parseStartArgs, USAGE } from '../app/start';

// npm start -- --images DIR --labels PATH, checked before anything starts. The images are real (sharp), and
// the checks are the label import's own, against each image as preprocessing makes it.
const SETTINGS = { classes: ['logo'], maxSide: 100 };
const s3 = new FakeS3();
let dir: string;

async function image(path: string, width: number, height: number): Promise<void> {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  const create = { width, height, channels: 3 as const, background: '#808080' };
  const encoded = sharp({ create });
  await (path.endsWith('.png') ? encoded.png() : encoded.jpeg()).toFile(join(dir, path));
}

function file(path: string, text: string): string {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
  return join(dir, path);
}

/** A COCO file for the folder: a.jpg (100x80), shop/b.png (120x60, preprocessed to 100x50). */
const coco = (category = 'logo', extra: object[] = []) =>
  JSON.stringify({
    images: [
      { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
      { id: 2, file_name: 'shop/b.png', width: 120, height: 60 },
      ...extra,
    ],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 30, 20] },
      { id: 2, image_id: 2, category_id: 1, bbox: [12, 6, 60, 30] },
      { id: 3, image_id: 2, category_id: 1, bbox: [0, 0, 12, 12] },
    ],
    categories: [{ id: 1, name: category }],
  });

const voc = (filename: string, folder: string, size: [number, number], boxes: number[][]) =>
  `<annotation><folder>${folder}</folder><filename>${filename}</filename>` +
  `<size><width>${size[0]}</width><height>${size[1]}</height><depth>3</depth></size>` +
  boxes
    .map(
      ([xmin, ymin, xmax, ymax]) =>
        `<object><name>logo</name><bndbox><xmin>${xmin}</xmin><ymin>${ymin}</ymin>` +
        `<xmax>${xmax}</xmax><ymax>${ymax}</ymax></bndbox></object>`,
    )
    .join('') +
  '</annotation>';

const groundTruthLine = (ref: string, size: [number, number], boxes: number[][]) =>
  JSON.stringify({
    'source-ref': ref,
    logos: {
      image_size: [{ width: size[0], height: size[1], depth: 3 }],
      annotations: boxes.map(([left, top, width, height]) => ({ class_id: 0, left, top, width, height })),
    },
    'logos-metadata': { 'class-map': { '0': 'logo' }, type: 'groundtruth/object-detection' },
  });

/** Each label format the import takes, for the same boxes. */
const FORMATS: [string, () => string][] = [
  ['a COCO file', () => file('labels/coco.json', coco())],
  [
    'a Ground Truth output manifest',
    () =>
      file(
        'labels/output.manifest',
        [
          groundTruthLine('s3://any/raw/a.jpg', [100, 80], [[10, 10, 30, 20]]),
          groundTruthLine(
            'shop/b.png',
            [120, 60],
            [
              [12, 6, 60, 30],
              [0, 0, 12, 12],
            ],
          ),
        ].join('\n'),
      ),
  ],
  [
    'a folder of VOC files as LabelImg writes them (base name, <folder>)',
    () => {
      file('labels/voc/a.xml', voc('a.jpg', 'photos', [100, 80], [[10, 10, 40, 30]]));
      file(
        'labels/voc/b.xml',
        voc(
          'b.png',
          'shop',
          [120, 60],
          [
            [12, 6, 72, 36],
            [0, 0, 12, 12],
          ],
        ),
      );
      return join(dir, 'labels', 'voc');
    },
  ],
  [
    'one VOC file',
    () => {
      // One image only: b.png is then an image without labels.
      return file('labels/a.xml', voc('a.jpg', 'photos', [100, 80], [[10, 10, 40, 30]]));
    },
  ],
];

beforeEach(async () => {
  s3.reset();
  dir = mkdtempSync(join(tmpdir(), 'own-images-'));
  await image('a.jpg', 100, 80);
  await image('shop/b.png', 120, 60);
  file('notes.txt', 'where the photos were taken');
  file('.DS_Store', '');
});

describe('npm start -- --images DIR --labels PATH', () => {
  test.each(FORMATS)('takes %s, and the images of sub-folders', async (_, labels) => {
    const path = labels();
    const own = await readOwnInputs(dir, path);
    const checked = await checkOwnLabels(own, SETTINGS);

    expect(own.files).toEqual(['a.jpg', 'shop/b.png']);
    expect(checked.documents.get('images/a.jpg.jpg')?.annotations).toEqual([
      { class_id: 0, left: 10, top: 10, width: 30, height: 20 },
    ]);
    if (checked.documents.size === 2) {
      // 120x60 preprocessed to 100x50: the boxes are scaled as the import scales them.
      expect(checked.documents.get('images/shop/b.png.jpg')?.annotations).toEqual([
        { class_id: 0, left: 10, top: 5, width: 50, height: 25 },
        { class_id: 0, left: 0, top: 0, width: 10, height: 10 },
      ]);
      expect(checked.unlabeled).toEqual([]);
    } else {
      expect(checked.unlabeled).toEqual(['shop/b.png']);
    }
  });

  test('uploads every image at its path within the folder, lists what it did not upload, and sends labeled ones to the API as trained on', async () => {
    const checked = await checkOwnLabels(await readOwnInputs(dir, file('coco.json', coco())), SETTINGS);
    const stages: string[] = [];
    const steps: string[] = [];

    const uploaded = await uploadInputs(new S3Client({}), 'raw-bucket', {
      own: checked,
      count: 48,
      apiImages: 4,
      seed: 7,
      classes: SETTINGS.classes,
      maxSide: 480,
      workDir: dir,
      stage: (text) => stages.push(text),
      step: (text) => steps.push(text),
    });

    expect(s3.keys('raw-bucket')).toEqual(['raw/a.jpg', 'raw/shop/b.png']);
    expect(stages).toEqual([`Uploading 2 images from ${dir} (with 1 sub-folder) to s3://raw-bucket/raw/`]);
    // The label file in the folder is not reported; the hidden file is not either.
    expect(steps).toEqual(['not images, not uploaded: notes.txt']);
    expect(uploaded.labeled).toEqual({ images: 2, boxes: 3 });
    expect(uploaded.apiImagesTrainedOn).toBe(true);
    expect(uploaded.apiImages.map((i) => i.name)).toEqual(['a.jpg', 'shop/b.png']);
    // The true boxes are in the photo's own pixels, where the API answers: 120x60, not the preprocessed 100x50.
    expect(uploaded.apiImages[1].truth).toEqual([
      { left: 12, top: 6, width: 60, height: 30 },
      { left: 0, top: 0, width: 12, height: 12 },
    ]);
  });

  test('a class that differs in case is refused before the run starts, once, with local advice', async () => {
    const own = await readOwnInputs(dir, file('coco.json', coco('Logo')));
    const message = await checkOwnLabels(own, SETTINGS).then(
      () => 'accepted',
      (e: Error) => e.message,
    );

    expect(message).toBe(
      [
        `${join(dir, 'coco.json')} was rejected; the run did not start (1 problem):`,
        '  coco.json annotation id 1 and 2 more boxes: class "Logo" is not a configured class (configured: "logo")',
        'Class names must match exactly, case included: "Logo" is not "logo".',
        'Rename the classes in the file to configured ones, or configure the classes you labeled: the "classes" ' +
          "setting in cdk.json's context, or -c classes=<name,...> (a deployed pipeline takes it at its next deploy).",
        'Fix the labels (or the --images folder) and run npm start again.',
      ].join('\n'),
    );
  });

  test('a label for an image the folder does not have is refused, naming the folder', async () => {
    const own = await readOwnInputs(
      dir,
      file('coco.json', coco('logo', [{ id: 3, file_name: 'c.jpg', width: 10, height: 10 }])),
    );
    const message = await checkOwnLabels(own, SETTINGS).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(message).toContain(
      `coco.json image id 3 ("c.jpg"): no image c.jpg in ${dir} for "c.jpg" (there is none); names are ` +
        'relative to the --images folder, sub-folders included, and the extension is part of the name (shop/a.jpg)',
    );
    expect(message).not.toMatch(/still waiting|--fail|upload the photo under raw/);
  });

  test('a label naming its image with another extension is refused, naming the image there is', async () => {
    const own = await readOwnInputs(
      dir,
      file('coco.json', coco('logo', [{ id: 3, file_name: 'a.jpeg', width: 100, height: 80 }])),
    );
    await expect(checkOwnLabels(own, SETTINGS)).rejects.toThrow(
      `no image a.jpeg in ${dir} for "a.jpeg" (there is none); of that name with another extension: a.jpg; `,
    );
  });

  test('a box outside its image is refused as the import refuses it', async () => {
    const own = await readOwnInputs(
      dir,
      file(
        'coco.json',
        JSON.stringify({
          images: [{ id: 1, file_name: 'a.jpg', width: 100, height: 80 }],
          annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [90, 10, 30, 20] }],
          categories: [{ id: 1, name: 'logo' }],
        }),
      ),
    );
    await expect(checkOwnLabels(own, SETTINGS)).rejects.toThrow(
      'coco.json annotation id 1: box (left 90, top 10, width 30, height 20) lies outside the 100x80 image',
    );
  });

  test.each([
    [
      'no such folder',
      () => [join(dir, 'missing'), file('coco.json', coco())],
      /^--images .*missing: no such folder$/,
    ],
    [
      'a file for the folder',
      () => [join(dir, 'a.jpg'), file('coco.json', coco())],
      /is a file; give the folder/,
    ],
    [
      'no such label file',
      () => [dir, join(dir, 'nope.json')],
      /^--labels .*nope\.json: no such file or folder$/,
    ],
    [
      'a label file of no known format',
      () => [dir, file('labels.csv', 'a.jpg,10,10,30,20')],
      /not a label file local mode recognises\. It takes what npm run import-labels takes: COCO JSON, a Ground Truth/,
    ],
    [
      'malformed JSON',
      () => [dir, file('coco.json', '{"images": [,]}')],
      /coco\.json was rejected; the run did not start \(1 problem\):\n {2}coco\.json: not valid JSON at line 1/,
    ],
    [
      'labels on S3',
      () => [dir, 's3://bucket/labels.json'],
      /local mode reads a local file or folder, not S3/,
    ],
  ])('%s is refused before anything starts', async (_, args, message) => {
    const [images, labels] = (args as () => string[])();
    await expect(readOwnInputs(images, labels)).rejects.toThrow(message as RegExp);
  });

  test('a folder without images is refused; a same-name .jpg and .png are two images', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-images-'));
    writeFileSync(join(empty, 'notes.txt'), 'x');
    await expect(readOwnInputs(empty, file('coco.json', coco()))).rejects.toThrow(
      `--images ${empty}: no images (.jpg, .jpeg, .png, .webp, .tif, .tiff) in it or its sub-folders`,
    );
    await image('a.png', 10, 10);
    const own = await readOwnInputs(dir, file('coco.json', coco()));
    expect(own.files).toEqual(['a.jpg', 'a.png', 'shop/b.png']);
    const checked = await checkOwnLabels(own, SETTINGS);
    expect([...checked.documents.keys()]).toContain('images/a.jpg.jpg');
    expect(checked.unlabeled).toContain('a.png');
  });
});

describe('npm start arguments: help', () => {
  test('--help asks for the usage, which lists the label formats and examples', () => {
    expect(parseStartArgs(['--help'])).toMatchObject({ help: true });
    expect(USAGE).toContain('--labels PATH      their labels, in any format npm run import-labels takes');
    expect(USAGE).toMatch(/Examples:\n {2}npm start\n {2}npm start -- --images ~\/photos --labels/);
  });
});
