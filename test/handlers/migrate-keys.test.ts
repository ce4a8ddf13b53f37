import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { handler as findUnlabeled } from '../../lambda/find-unlabeled';
import { main, sourceKeyOf } from '../../scripts/migrate-keys';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
const s3 = new FakeS3(3);
let out: string[];

function run(...argv: string[]): Promise<number> {
  out = [];
  return main(['--dataset-bucket', DATASET, ...argv], {
    s3: new S3Client({}),
    cloudFormation: new CloudFormationClient({}),
    out: (line) => out.push(line),
    err: (line) => out.push(line),
  });
}

/** An image as preprocessing wrote it under the old keys (or the new), with the raw key and version it came from. */
function image(
  key: string,
  source: string,
  [width, height]: number[],
  sourceEtag = `etag-of-${source}`,
): void {
  s3.put(DATASET, key, `pixels of ${source} ${width}x${height} ${sourceEtag}`, {
    width: String(width),
    height: String(height),
    'source-key': /^[\x20-\x7e]*$/.test(source) ? source : encodeURIComponent(source),
    'source-etag': sourceEtag,
    orientation: '1',
  });
}

/** A label document as the import wrote it before labels recorded their image. */
function legacyLabel(key: string, imageKey: string, [width, height]: number[]): void {
  s3.put(
    DATASET,
    key,
    JSON.stringify({
      'source-ref': `s3://${DATASET}/${imageKey}`,
      image_size: [{ width, height, depth: 1 }],
      annotations: [{ class_id: 0, left: 1, top: 2, width: 3, height: 4 }],
      'class-map': { '0': 'logo' },
      source: 'coco:labels.json',
      'labeled-at': '2025-06-01T00:00:00.000Z',
    }),
  );
}

const etagOf = (key: string) => s3.get(DATASET, key)!.etag.replace(/"/g, '');
const json = (key: string) => JSON.parse(s3.text(DATASET, key)) as Record<string, unknown>;

beforeEach(() => {
  s3.reset();
  // raw/front.jpg (400x200) and raw/front.png (200x400) both became images/front.jpg; the .png wrote it last, but
  // its label was drawn on the .jpg's picture.
  image('images/front.jpg', 'raw/front.png', [200, 400]);
  legacyLabel('labels/front.json', 'images/front.jpg', [400, 200]);
  image('images/shop/a.jpg', 'raw/shop/a.JPG', [100, 80]);
  legacyLabel('labels/shop/a.json', 'images/shop/a.jpg', [100, 80]);
  // An upload without extension keeps its key.
  image('images/b.jpg', 'raw/b', [50, 50]);
  legacyLabel('labels/b.json', 'images/b.jpg', [50, 50]);
  // Preprocessed again under the new key since the upgrade, from the same version of the photo...
  image('images/c.jpg', 'raw/c.png', [60, 60]);
  legacyLabel('labels/c.json', 'images/c.jpg', [60, 60]);
  image('images/c.png.jpg', 'raw/c.png', [60, 60]);
  // ...or from a photo replaced since it was labeled.
  image('images/d.jpg', 'raw/d.png', [60, 60], 'v1');
  legacyLabel('labels/d.json', 'images/d.jpg', [60, 60]);
  image('images/d.png.jpg', 'raw/d.png', [60, 60], 'v2');
  image('images/café.jpg', 'raw/café.PNG', [30, 30]);
  image('images/../x.jpg', 'raw/../x.png', [10, 10]);
  legacyLabel('labels/../x.json', 'images/../x.jpg', [10, 10]);
});

describe('migrate-keys', () => {
  test('without --apply, prints every change and changes nothing', async () => {
    expect(await run()).toBe(0);

    expect(s3.mutations).toEqual([]);
    expect(out).toEqual(
      expect.arrayContaining([
        'images/front.jpg → images/front.png.jpg (from raw/front.png)',
        '  label labels/front.json dropped: drawn on a picture of another size than images/front.jpg (200x400); ' +
          'the next run asks for its image again',
        'images/shop/a.jpg → images/shop/a.JPG.jpg (from raw/shop/a.JPG)',
        '  label labels/shop/a.json → labels/shop/a.JPG.json',
        'images/b.jpg: in place',
        '  label labels/b.json records its image',
        'images/c.jpg: deleted, images/c.png.jpg (from raw/c.png) exists already',
        '  label labels/d.json dropped: the photo was replaced since images/d.jpg was made; the next run asks for ' +
          'its image again',
        'images/../x.jpg: deleted, with its label: its photo\'s key has a "." or ".." path segment',
        'Dry run: would move 3 images, write 3 labels and drop 2 labels. Nothing was changed; run again with ' +
          '--apply to make these changes.',
      ]),
    );
  });

  test('with --apply, moves images and labels to the new keys, records each label’s image, and a run can go on', async () => {
    const before = { a: etagOf('images/shop/a.jpg'), c: etagOf('images/c.png.jpg') };

    expect(await run('--apply')).toBe(0);

    expect(s3.keys(DATASET, 'images/')).toEqual([
      'images/b.jpg',
      'images/c.png.jpg',
      'images/café.PNG.jpg',
      'images/d.png.jpg',
      'images/front.png.jpg',
      'images/shop/a.JPG.jpg',
    ]);
    expect(s3.keys(DATASET, 'labels/')).toEqual([
      'labels/b.json',
      'labels/c.png.json',
      'labels/shop/a.JPG.json',
    ]);
    // Copied with its metadata, so the next run skips it rather than remaking it.
    expect(s3.get(DATASET, 'images/shop/a.JPG.jpg')!.metadata).toMatchObject({
      'source-key': 'raw/shop/a.JPG',
      'source-etag': 'etag-of-raw/shop/a.JPG',
    });
    expect(json('labels/shop/a.JPG.json')).toMatchObject({
      'source-ref': `s3://${DATASET}/images/shop/a.JPG.jpg`,
      annotations: [{ class_id: 0, left: 1, top: 2, width: 3, height: 4 }],
      'image-etag': before.a,
      'image-bytes': s3.get(DATASET, 'images/shop/a.JPG.jpg')!.body.length,
    });
    expect(json('labels/c.png.json')).toMatchObject({
      'source-ref': `s3://${DATASET}/images/c.png.jpg`,
      'image-etag': before.c,
    });
    expect(json('labels/b.json')).toMatchObject({ 'image-etag': etagOf('images/b.jpg') });
    expect(out[out.length - 1]).toBe(
      `Migrated s3://${DATASET}/: moved 3 images, wrote 3 labels, dropped 2 labels.`,
    );

    // The images whose label was dropped, and the one never labeled, are asked for; nothing stops the run.
    const unlabeled = await findUnlabeled({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-1',
    });
    expect(unlabeled).toMatchObject({
      count: 3,
      sample: ['images/café.PNG.jpg', 'images/d.png.jpg', 'images/front.png.jpg'],
    });

    expect(await run('--apply')).toBe(0);
    expect(out).toEqual([`Nothing to migrate in s3://${DATASET}/.`]);
  });

  test('a raw key stored URI-encoded is read back', () => {
    expect(sourceKeyOf(encodeURIComponent('raw/café/menü.jpg'))).toBe('raw/café/menü.jpg');
    expect(sourceKeyOf('raw/100%25 cotton.jpg')).toBe('raw/100%25 cotton.jpg');
  });
});
