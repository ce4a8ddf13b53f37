import { createHash } from 'node:crypto';
import { execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { assemble, DatasetError, handler, isValidation, usableLabels } from '../../lambda/assemble-dataset';
import type { LabelDocument } from '../../contracts';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
const s3 = new FakeS3(3);

/** The bytes of every stored image in these tests, and the ETag and size a label records for them. */
const IMAGE_BODY = 'jpeg';
const IMAGE = { etag: createHash('md5').update(IMAGE_BODY).digest('hex'), bytes: IMAGE_BODY.length };

function doc(
  name: string,
  classes: number[],
  labeledAt = '2026-01-01T00:00:00.000Z',
  map = { '0': 'logo', '1': 'badge' },
): LabelDocument {
  return {
    'source-ref': `s3://${DATASET}/images/${name}.jpg`,
    image_size: [{ width: 100, height: 100, depth: 1 }],
    annotations: classes.map((class_id, i) => ({ class_id, left: i, top: i, width: 10, height: 10 })),
    'class-map': map,
    source: `coco:${name}`,
    'labeled-at': labeledAt,
    'image-etag': IMAGE.etag,
    'image-bytes': IMAGE.bytes,
  };
}

/** Stores a label document and, unless told not to, its image. */
function stored(name: string, document: LabelDocument, withImage = true): void {
  s3.put(DATASET, `labels/${name}.json`, JSON.stringify(document));
  if (withImage) s3.put(DATASET, `images/${name}.jpg`, IMAGE_BODY);
}

/** Names whose split under 20% is known, found by the rule itself so the test states what it relies on. */
const names = Array.from({ length: 60 }, (_, i) => `img-${i}`);
const validationNames = names.filter((n) => isValidation(`images/${n}.jpg`, 20));
const trainNames = names.filter((n) => !isValidation(`images/${n}.jpg`, 20));

beforeEach(() => s3.reset());

describe('split', () => {
  test('is a pure function of the image key, close to the percentage', () => {
    expect(isValidation('images/a.jpg', 20)).toBe(isValidation('images/a.jpg', 20));
    expect(validationNames.length).toBeGreaterThan(4);
    expect(validationNames.length).toBeLessThan(24);
    expect(names.every((n) => isValidation(`images/${n}.jpg`, 100))).toBe(true);
    expect(names.some((n) => isValidation(`images/${n}.jpg`, 0))).toBe(false);
  });

  test('an image keeps its split when the dataset grows', () => {
    const small = assemble(
      names.slice(0, 30).map((n) => doc(n, [0, 1])),
      ['logo', 'badge'],
      20,
    );
    const large = assemble(
      names.map((n) => doc(n, [0, 1])),
      ['logo', 'badge'],
      20,
    );
    const refs = (lines: { 'source-ref': string }[]) => new Set(lines.map((l) => l['source-ref']));
    const largeValidation = refs(large.validation);
    for (const ref of refs(small.validation)) expect(largeValidation.has(ref)).toBe(true);
    for (const ref of refs(small.train)) expect(largeValidation.has(ref)).toBe(false);
  });
});

describe('assemble-dataset', () => {
  test('writes the three manifests in Ground Truth format, keeps negatives, renumbers classes by name', async () => {
    for (const n of names.slice(0, 20)) stored(n, doc(n, [0, 1]));
    stored(trainNames[0], doc(trainNames[0], []));
    // Labeled when the classes were configured in the other order.
    stored('swapped', doc('swapped', [0], undefined, { '0': 'badge', '1': 'logo' }));

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      classes: ['logo', 'badge'],
      validationPercent: 20,
    });

    const expectedImages = new Set([...names.slice(0, 20), trainNames[0], 'swapped']).size;
    expect(result).toMatchObject({
      images: expectedImages,
      train: expectedImages - result.validation,
      negatives: 1,
      trainManifestPrefix: `s3://${DATASET}/manifests/train/`,
      validationManifestPrefix: `s3://${DATASET}/manifests/validation/`,
    });
    expect(result.validation).toBeGreaterThan(0);
    const read = (key: string) =>
      s3
        .text(DATASET, key)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const all = read('manifests/dataset.manifest');
    const train = read('manifests/train/train.manifest');
    const validation = read('manifests/validation/validation.manifest');
    expect(all).toHaveLength(result.images);
    expect(train).toHaveLength(result.train);
    expect(validation).toHaveLength(result.validation);
    expect(result.boxes).toBe(all.reduce((n, l) => n + l['bounding-box'].annotations.length, 0));
    const swapped = all.find((l) => l['source-ref'].endsWith('/swapped.jpg'));
    expect(swapped).toEqual({
      'source-ref': `s3://${DATASET}/images/swapped.jpg`,
      'bounding-box': {
        image_size: [{ width: 100, height: 100, depth: 1 }],
        annotations: [{ class_id: 1, left: 0, top: 0, width: 10, height: 10 }],
      },
      'bounding-box-metadata': {
        'class-map': { '0': 'logo', '1': 'badge' },
        type: 'groundtruth/object-detection',
        'human-annotated': 'yes',
        'creation-date': '2026-01-01T00:00:00.000Z',
        'job-name': 'coco:swapped',
      },
    });
    expect(
      all.find((l) => l['source-ref'].endsWith(`/${trainNames[0]}.jpg`))['bounding-box'].annotations,
    ).toEqual([]);
  });

  test('a damaged label document stops the run naming its key', async () => {
    s3.put(DATASET, 'labels/a.json', '{"source-ref": "s3://x/images/a.jpg"');
    await expect(
      handler({ rawBucket: 'raw', datasetBucket: DATASET, classes: ['logo'], validationPercent: 20 }),
    ).rejects.toThrow(
      /^labels\/a.json is not a label document .*delete it, or import labels for its image again/,
    );
  });

  test('the most recently labeled document of an image wins', () => {
    const dataset = assemble(
      [
        doc(trainNames[0], [0, 1], '2026-02-01T00:00:00Z'),
        doc(trainNames[0], [1], '2026-01-01T00:00:00Z'),
        doc(validationNames[0], [0]),
      ],
      ['logo', 'badge'],
      20,
    );
    expect(dataset.train).toHaveLength(1);
    expect(dataset.train[0]['bounding-box'].annotations).toHaveLength(2);
  });

  test('the training container reads the train manifest it writes: every image, every box, the class ids', () => {
    const dataset = assemble(
      [...trainNames.slice(0, 4).map((n) => doc(n, [1, 0])), doc(validationNames[0], [0])],
      ['badge', 'logo'],
      20,
    );
    const dir = mkdtempSync(join(tmpdir(), 'manifest-'));
    try {
      mkdirSync(join(dir, 'images'));
      for (const n of trainNames.slice(0, 4)) writeFileSync(join(dir, 'images', `${n}.jpg`), 'jpeg');
      writeFileSync(join(dir, 'train.manifest'), dataset.train.map((l) => `${JSON.stringify(l)}\n`).join(''));
      // The container's own reader (training-container/src/logo_detector/manifest.py), in the project venv.
      const root = join(__dirname, '..', '..');
      const read = execFileSync(
        join(root, '.venv', 'bin', 'python'),
        [
          '-c',
          'import json, sys\nfrom pathlib import Path\nfrom logo_detector.manifest import read_manifest\n' +
            'samples, counts = read_manifest(Path(sys.argv[1]), Path(sys.argv[2]), ["badge", "logo"], ' +
            'images_s3_prefix=sys.argv[3])\n' +
            'print(json.dumps({"counts": counts.to_dict(), "ids": sorted({b.class_id for s in samples for b in s.boxes})}))',
          join(dir, 'train.manifest'),
          join(dir, 'images'),
          `s3://${DATASET}/images/`,
        ],
        { env: { ...process.env, PYTHONPATH: join(root, 'training-container', 'src') }, encoding: 'utf8' },
      );
      expect(JSON.parse(read)).toEqual({
        counts: { images: 4, boxes: 8, skipped_lines: 0, clipped: 0, rejected: 0 },
        ids: [0, 1],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fails clearly when no image falls in the validation split', () => {
    expect(() =>
      assemble(
        trainNames.slice(0, 3).map((n) => doc(n, [0, 1])),
        ['logo', 'badge'],
        20,
      ),
    ).toThrow(
      new DatasetError(
        'No image falls in the validation split (3 labeled images, validation 20%). Label more images, or raise the validation percentage.',
      ),
    );
  });

  test('fails clearly when every validation image is a negative, which training cannot validate on', () => {
    const docs = [
      ...trainNames.slice(0, 5).map((n) => doc(n, [0, 1])),
      ...validationNames.slice(0, 2).map((n) => doc(n, [])),
    ];
    expect(() => assemble(docs, ['logo', 'badge'], 20)).toThrow(
      new DatasetError(
        'No image in the validation split has a box (its 2 images are labeled as showing none of the classes), so ' +
          'validation mAP cannot be measured. Label more images that show the classes.',
      ),
    );
  });

  test('fails clearly when a configured class has no training example', () => {
    const docs = [...trainNames.slice(0, 5).map((n) => doc(n, [0])), doc(validationNames[0], [1])];
    let error: unknown;
    try {
      assemble(docs, ['logo', 'badge'], 20);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).name).toBe('DatasetError');
    expect((error as Error).message).toMatch(
      /^No training example of class "badge": label images that show it/,
    );
  });

  test('fails clearly on labels of a class that is no longer configured, and on no labels at all', () => {
    expect(() => assemble([doc(trainNames[0], [1]), doc(validationNames[0], [0])], ['logo'], 20)).toThrow(
      /^Labels use classes that are not configured: "badge" \(1 box\)/,
    );
    expect(() => assemble([], ['logo'], 20)).toThrow(/^No labeled images: import labels/);
  });

  test('leaves out labels of replaced photos, of images that are gone and of keys outside images/, and counts them', async () => {
    for (const n of [...trainNames.slice(0, 3), validationNames[0]]) stored(n, doc(n, [0, 1]));
    stored('gone', doc('gone', [0]), false);
    // The photo was replaced after it was labeled: its image has other bytes now.
    stored(trainNames[3], doc(trainNames[3], [0]));
    s3.put(DATASET, `images/${trainNames[3]}.jpg`, 'another photo');
    stored('escape', { ...doc('x', [0]), 'source-ref': `s3://${DATASET}/images/../x.jpg` });
    s3.put(DATASET, 'images/../x.jpg', IMAGE_BODY);
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      classes: ['logo', 'badge'],
      validationPercent: 20,
    });

    expect(result).toMatchObject({ images: 4, train: 3, validation: 1, outdated: 3 });
    const refs = s3.text(DATASET, 'manifests/dataset.manifest');
    for (const left of ['gone', trainNames[3], '../x']) expect(refs).not.toContain(`/images/${left}.jpg"`);
    expect(console.warn).toHaveBeenCalledWith(
      `Label left out: labels/${trainNames[3]}.json: its image images/${trainNames[3]}.jpg was made again from a ` +
        'replaced photo: label it again',
    );
  });

  test('decides, for each document, whether it still belongs to its image', () => {
    const images = new Map([
      ['images/a.jpg.jpg', { etag: 'e1', bytes: 10 }],
      ['images/b.png.jpg', { etag: 'e2', bytes: 10 }],
    ]);
    const at = (key: string, image: { etag: string; bytes: number }): LabelDocument => ({
      ...doc('x', [0]),
      'source-ref': `s3://${DATASET}/${key}`,
      'image-etag': image.etag,
      'image-bytes': image.bytes,
    });

    const { documents, leftOut } = usableLabels(
      new Map([
        ['labels/a.jpg.json', at('images/a.jpg.jpg', { etag: 'e1', bytes: 10 })],
        ['labels/b.png.json', at('images/b.png.jpg', { etag: 'e2', bytes: 11 })],
        ['labels/c.json', at('images/c.jpg', { etag: 'e3', bytes: 10 })],
        ['labels/d.json', at('images//d.jpg', { etag: 'e3', bytes: 10 })],
      ]),
      images,
      DATASET,
    );

    expect(documents.map((d) => d['source-ref'])).toEqual([`s3://${DATASET}/images/a.jpg.jpg`]);
    expect(leftOut).toEqual([
      {
        key: 'labels/b.png.json',
        reason: 'its image images/b.png.jpg was made again from a replaced photo: label it again',
      },
      { key: 'labels/c.json', reason: 'its image images/c.jpg no longer exists' },
      { key: 'labels/d.json', reason: 'its image images//d.jpg is not a key the pipeline makes' },
    ]);
  });

  test('documents of existing images that record no image stop assembly with the migration to run', () => {
    const legacy = Object.fromEntries(
      Object.entries(doc('front', [0])).filter(([field]) => !field.startsWith('image-')),
    );
    let error: Error | undefined;
    try {
      usableLabels(
        new Map([['labels/front.json', legacy as LabelDocument]]),
        new Map([['images/front.jpg', IMAGE]]),
        DATASET,
      );
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect(error?.message).toMatch(
      /^1 label document was written before .*\(labels\/front.json\)\. Run "npm run migrate-keys -- --dataset-bucket dataset-bucket" once/,
    );
  });
});
