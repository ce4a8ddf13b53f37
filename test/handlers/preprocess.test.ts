import sharp, { type Sharp } from 'sharp';
import { handler, invocationGbSeconds } from '../../lambda/preprocess';
import { toModelImage } from '../../lambda/preprocess/image';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  MAX_RAW_OBJECT_BYTES,
  type PreprocessEvent,
  type S3Item,
  tooLargeMessage,
  unsupportedFormatMessage,
} from '../../contracts';
import { FakeS3 } from './fake-s3';

const RAW = 'raw-bucket';
const DATASET = 'dataset-bucket';
const MAX_SIDE = 128;
const s3 = new FakeS3();

/** A colour image of the given size: left half red, right half blue. */
function colour(width: number, height: number): Sharp {
  return sharp({ create: { width, height, channels: 3, background: '#0000ff' } }).composite([
    {
      input: { create: { width: Math.ceil(width / 2), height, channels: 3, background: '#ff0000' } },
      left: 0,
      top: 0,
    },
  ]);
}

/** Uploads raw objects and returns the items the Distributed Map's S3 reader would list for them. */
function upload(files: Record<string, Buffer | string>): S3Item[] {
  return Object.entries(files).map(([name, body]) => {
    const Key = `raw/${name}`;
    const Etag = s3.put(RAW, Key, body);
    return { Key, Size: Buffer.from(body).length, Etag };
  });
}

function event(items: S3Item[]): PreprocessEvent {
  return { Items: items, BatchInput: { rawBucket: RAW, datasetBucket: DATASET, maxSide: MAX_SIDE } };
}

/** Decoded pixels of a grayscale JPEG, one byte each (sharp would otherwise decode to sRGB). */
function grayPixels(jpeg: Buffer) {
  return sharp(jpeg).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
}

async function output(key: string) {
  const object = s3.get(DATASET, key);
  if (!object) throw new Error(`no output ${key}`);
  const metadata = await sharp(object.body).metadata();
  const { data, info } = await grayPixels(object.body);
  return { object, metadata, pixels: data, info };
}

beforeEach(() => {
  s3.reset();
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  // No stage may ever modify or delete an upload.
  expect(s3.mutations.filter((m) => m.bucket === RAW)).toEqual([]);
});

describe('preprocess', () => {
  test('writes JPEG and PNG uploads as single-channel grayscale JPEGs with their size, origin and orientation', async () => {
    const items = upload({
      'shop/front.jpg': await colour(100, 60).jpeg().toBuffer(),
      'logo.PNG': await colour(80, 50).png().toBuffer(),
    });

    const result = await handler(event(items));

    expect(result).toEqual({ processed: 2, skipped: 0, failed: [] });
    const jpeg = await output('images/shop/front.jpg.jpg');
    expect(jpeg.metadata).toMatchObject({ format: 'jpeg', channels: 1, width: 100, height: 60 });
    expect(jpeg.object.contentType).toBe('image/jpeg');
    expect(jpeg.object.metadata).toEqual({
      width: '100',
      height: '60',
      'source-key': 'raw/shop/front.jpg',
      'source-etag': items[0].Etag!.replace(/"/g, ''),
      orientation: '1',
      'source-width': '100',
      'source-height': '60',
    });
    const png = await output('images/logo.PNG.jpg');
    expect(png.metadata).toMatchObject({ format: 'jpeg', channels: 1, width: 80, height: 50 });
    // Red and blue become different grays: the shape survives the loss of colour.
    const row = png.info.width * 20;
    expect(Math.abs(png.pixels[row + 5] - png.pixels[row + 75])).toBeGreaterThan(20);
  });

  test('applies EXIF orientation 6: dimensions swap and the left edge becomes the top', async () => {
    const upright = sharp({ create: { width: 60, height: 20, channels: 3, background: '#000000' } })
      .composite([
        { input: { create: { width: 10, height: 20, channels: 3, background: '#ffffff' } }, left: 0, top: 0 },
      ])
      .jpeg()
      .withMetadata({ orientation: 6 });
    const items = upload({ 'rotated.jpg': await upright.toBuffer() });

    await handler(event(items));

    const { metadata, pixels, info, object } = await output('images/rotated.jpg.jpg');
    expect([metadata.width, metadata.height]).toEqual([20, 60]);
    expect(metadata.orientation ?? 1).toBe(1);
    expect(object.metadata).toMatchObject({ width: '20', height: '60' });
    // What it applied, and the upload's stored size, so a label import can turn boxes drawn on the stored pixels.
    expect(object.metadata).toMatchObject({ orientation: '6', 'source-width': '60', 'source-height': '20' });
    expect(pixels[2 * info.width + 10]).toBeGreaterThan(200);
    expect(pixels[(info.height - 3) * info.width + 10]).toBeLessThan(50);
  });

  test('converts a CMYK JPEG without inverting it', async () => {
    const cmyk = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#ffffff' } })
      .composite([
        {
          input: { create: { width: 20, height: 40, channels: 3, background: '#000000' } },
          left: 20,
          top: 0,
        },
      ])
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');

    const image = await toModelImage(cmyk, MAX_SIDE);

    expect((await sharp(image.data).metadata()).channels).toBe(1);
    const { data } = await grayPixels(image.data);
    expect(data[20 * 40 + 5]).toBeGreaterThan(200);
    expect(data[20 * 40 + 35]).toBeLessThan(60);
  });

  test('converts a 16-bit PNG to an 8-bit gray JPEG', async () => {
    const png16 = await colour(50, 30).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');

    const image = await toModelImage(png16, MAX_SIDE);

    const metadata = await sharp(image.data).metadata();
    expect(metadata).toMatchObject({ format: 'jpeg', channels: 1, depth: 'uchar', width: 50, height: 30 });
  });

  test('downsizes a large image so its longest side is maxSide, and never enlarges a small one', async () => {
    const large = await toModelImage(await colour(400, 300).jpeg().toBuffer(), MAX_SIDE);
    const tall = await toModelImage(await colour(90, 600).png().toBuffer(), MAX_SIDE);
    const small = await toModelImage(await colour(30, 20).jpeg().toBuffer(), MAX_SIDE);

    expect([large.width, large.height]).toEqual([128, 96]);
    expect([tall.width, tall.height]).toEqual([19, 128]);
    expect([small.width, small.height]).toEqual([30, 20]);
    expect((await sharp(small.data).metadata()).width).toBe(30);
  });

  test('reports truncated, non-image and empty files with a reason and never throws', async () => {
    const jpeg = await colour(200, 150).jpeg().toBuffer();
    const items = upload({
      'cut.jpg': jpeg.subarray(0, Math.floor(jpeg.length * 0.6)),
      'notes.jpg': 'this is a text file, not a photo',
      'good.jpg': jpeg,
      'empty.png': '',
    });
    items.push({ Key: 'raw/folder/', Size: 0 });

    const result = await handler(event(items));

    expect(result.processed).toBe(1);
    expect(result.failed).toEqual([
      { key: 'raw/cut.jpg', reason: expect.stringMatching(/^truncated or corrupt image: .+/) },
      { key: 'raw/notes.jpg', reason: unsupportedFormatMessage() },
      { key: 'raw/empty.png', reason: 'empty file (0 bytes): upload it again' },
    ]);
    expect(s3.keys(DATASET)).toEqual(['images/good.jpg.jpg']);
  });

  test('names the format of an image it does not accept', async () => {
    const gif = await colour(10, 10).gif().toBuffer();
    await expect(toModelImage(gif, MAX_SIDE)).rejects.toThrow(unsupportedFormatMessage('GIF'));
  });

  test('refuses TIFF like every other door, and takes WebP', async () => {
    const tiff = await colour(10, 10).tiff().toBuffer();
    const webp = await colour(40, 30).webp().toBuffer();

    await expect(toModelImage(tiff, MAX_SIDE)).rejects.toThrow(unsupportedFormatMessage('TIFF'));
    expect(await toModelImage(webp, MAX_SIDE)).toMatchObject({ width: 40, height: 30 });
  });

  test('reports an image over the pixel limit from its header as too large, naming its megapixels', async () => {
    const items = upload({
      'flat.png': await sharp({ create: { width: 8000, height: 7000, channels: 3, background: '#808080' } })
        .toColourspace('b-w')
        .png()
        .toBuffer(),
    });

    const result = await handler(event(items));

    expect(result.failed).toEqual([{ key: 'raw/flat.png', reason: tooLargeMessage(8000, 7000) }]);
    expect(result.failed[0].reason).toMatch(/^Image too large: 56\.0 MP \(8000x7000 pixels\), limit 16 MP\./);
  });

  test('skips an image already made from the same upload, and redoes it when the upload changes', async () => {
    const first = upload({ 'a.jpg': await colour(60, 40).jpeg().toBuffer() });
    await handler(event(first));
    const written = s3.mutations.length;

    const rerun = await handler(event(first));

    expect(rerun).toEqual({ processed: 0, skipped: 1, failed: [] });
    expect(s3.mutations.length).toBe(written);

    const second = upload({ 'a.jpg': await colour(90, 40).png().toBuffer() });
    const changed = await handler(event(second));

    expect(changed).toEqual({ processed: 1, skipped: 0, failed: [], replaced: ['raw/a.jpg'] });
    const { object } = await output('images/a.jpg.jpg');
    expect(object.metadata).toMatchObject({ width: '90', 'source-etag': second[0].Etag!.replace(/"/g, '') });
  });

  test('remakes, once, an image preprocessed before orientations were recorded', async () => {
    const items = upload({
      'old.jpg': await colour(40, 30).jpeg().withMetadata({ orientation: 3 }).toBuffer(),
    });
    // Metadata as preprocessing wrote it before it recorded orientations.
    s3.put(DATASET, 'images/old.jpg.jpg', 'made by an earlier version', {
      width: '40',
      height: '30',
      'source-key': 'raw/old.jpg',
      'source-etag': items[0].Etag!.replace(/"/g, ''),
    });

    const first = await handler(event(items));
    const second = await handler(event(items));

    expect(first).toEqual({ processed: 1, skipped: 0, failed: [] });
    expect(second).toEqual({ processed: 0, skipped: 1, failed: [] });
    expect(s3.get(DATASET, 'images/old.jpg.jpg')?.metadata).toMatchObject({
      orientation: '3',
      'source-width': '40',
    });
  });

  test('stores a non-ASCII raw key URI-encoded (metadata travels as HTTP headers), and reports a vanished upload', async () => {
    const items = upload({ 'café/menü.jpg': await colour(20, 20).jpeg().toBuffer() });
    items.push({ Key: 'raw/deleted.jpg', Size: 10, Etag: '"abc"' });

    const result = await handler(event(items));

    expect(result.failed).toEqual([
      { key: 'raw/deleted.jpg', reason: 'deleted from the raw bucket before it was processed' },
    ]);
    expect(s3.get(DATASET, 'images/café/menü.jpg.jpg')?.metadata['source-key']).toBe(
      encodeURIComponent('raw/café/menü.jpg'),
    );
  });

  test('looks up the ETag itself when the item has none', async () => {
    const items = upload({ 'b.jpg': await colour(20, 20).jpeg().toBuffer() });
    await handler(event(items));

    const result = await handler(event([{ Key: items[0].Key, Size: items[0].Size }]));

    expect(result).toEqual({ processed: 0, skipped: 1, failed: [] });
  });

  test('photos with the same base name each become their own image of their own size, and a rerun rewrites none', async () => {
    const items = upload({
      'front.jpg': await colour(400, 200).jpeg().toBuffer(),
      'front.png': await colour(200, 400).png().toBuffer(),
      'a.JPG': await colour(30, 20).jpeg().toBuffer(),
      'a.jpeg': await colour(20, 30).jpeg().toBuffer(),
      a: await colour(25, 25).png().toBuffer(),
    });
    const bigger = { ...event(items), BatchInput: { ...event(items).BatchInput, maxSide: 1024 } };

    const first = await handler(bigger);
    const written = s3.mutations.length;
    const second = await handler(bigger);

    expect(first).toEqual({ processed: 5, skipped: 0, failed: [] });
    expect(second).toEqual({ processed: 0, skipped: 5, failed: [] });
    expect(s3.mutations.length).toBe(written);
    const sizes = Object.fromEntries(
      s3.keys(DATASET).map((key) => {
        const { width, height, 'source-key': source } = s3.get(DATASET, key)!.metadata;
        return [key, `${width}x${height} from ${source}`];
      }),
    );
    expect(sizes).toEqual({
      'images/a.jpg': '25x25 from raw/a',
      'images/a.JPG.jpg': '30x20 from raw/a.JPG',
      'images/a.jpeg.jpg': '20x30 from raw/a.jpeg',
      'images/front.jpg.jpg': '400x200 from raw/front.jpg',
      'images/front.png.jpg': '200x400 from raw/front.png',
    });
  });

  test('refuses keys with empty, "." or ".." segments or control characters, reading and writing nothing for them', async () => {
    const jpeg = await colour(20, 20).jpeg().toBuffer();
    const items = upload({
      '/tmp/x.png': jpeg,
      '../x.png': jpeg,
      'shop/./x.png': jpeg,
      'a\nnpm run import-labels -- --fail x.png': jpeg,
      'ok.jpg': jpeg,
    });
    s3.mock.resetHistory();

    const result = await handler(event(items));

    expect(result.processed).toBe(1);
    expect(result.failed).toEqual([
      {
        key: 'raw//tmp/x.png',
        reason: expect.stringMatching(/^key refused: the key has an empty path segment/),
      },
      { key: 'raw/../x.png', reason: 'key refused: the key has a "." or ".." path segment; rename the file' },
      {
        key: 'raw/shop/./x.png',
        reason: 'key refused: the key has a "." or ".." path segment; rename the file',
      },
      {
        key: 'raw/a\nnpm run import-labels -- --fail x.png',
        reason:
          'key refused: the key contains a control character (a line break, tab or similar); rename the file',
      },
    ]);
    expect(s3.keys(DATASET)).toEqual(['images/ok.jpg.jpg']);
    const touched = s3.mock.calls().map((call) => (call.args[0].input as { Key: string }).Key);
    expect(touched.every((key) => key.endsWith('ok.jpg') || key.endsWith('ok.jpg.jpg'))).toBe(true);
    // The warning names the key on one line, its line break escaped.
    const warned = (console.warn as jest.Mock).mock.calls.map(([line]) => line as string);
    expect(warned).toContain(
      'Not preprocessed: "raw/a\\nnpm run import-labels -- --fail x.png": key refused: the key contains a ' +
        'control character (a line break, tab or similar); rename the file',
    );
  });

  test('refuses an object over the size limit from its listed size, before reading it', async () => {
    const items = upload({ 'ok.jpg': await colour(20, 20).jpeg().toBuffer() });
    // Listed only: a read would find nothing.
    items.push({ Key: 'raw/scan.tif', Size: MAX_RAW_OBJECT_BYTES + 1, Etag: '"abc"' });
    s3.mock.resetHistory();

    const result = await handler(event(items));

    expect(result).toEqual({
      processed: 1,
      skipped: 0,
      failed: [
        {
          key: 'raw/scan.tif',
          reason:
            'too large: 50.0 MiB, over the 50 MiB limit; downsize or recompress the photo and upload it again',
        },
      ],
    });
    const touched = s3.mock.calls().map((call) => (call.args[0].input as { Key: string }).Key);
    expect(touched.filter((key) => key.includes('scan'))).toEqual([]);
  });

  test('refuses an object that grew past the size limit after it was listed, without reading its body', async () => {
    const items = upload({ 'grown.jpg': Buffer.alloc(MAX_RAW_OBJECT_BYTES + 1024 * 1024) });
    const listed = [{ ...items[0], Size: 1000 }];

    const result = await handler(event(listed));

    expect(result.failed).toEqual([
      {
        key: 'raw/grown.jpg',
        reason:
          'too large: 51.0 MiB, over the 50 MiB limit; downsize or recompress the photo and upload it again',
      },
    ]);
    expect(s3.keys(DATASET)).toEqual([]);
  });

  test('an S3 error on one file is reported for that file, as an error, and the rest of the batch is done', async () => {
    const jpeg = await colour(20, 20).jpeg().toBuffer();
    const items = upload({ 'a.jpg': jpeg, 'b.jpg': jpeg, 'c.jpg': jpeg });
    s3.mock
      .on(GetObjectCommand, { Key: 'raw/b.jpg' })
      .rejects(Object.assign(new Error('We encountered an internal error.'), { name: 'InternalError' }));

    const result = await handler(event(items));

    expect(result).toEqual({
      processed: 2,
      skipped: 0,
      failed: [
        {
          key: 'raw/b.jpg',
          reason:
            'could not be processed (InternalError: We encountered an internal error.); the next run tries it again',
          error: true,
        },
      ],
    });
    expect(s3.keys(DATASET)).toEqual(['images/a.jpg.jpg', 'images/c.jpg.jpg']);
  });

  test('returns before the invocation times out, reporting the files it did not finish or start', async () => {
    const jpeg = await colour(20, 20).jpeg().toBuffer();
    const items = upload({ 'slow.jpg': jpeg, 'fast.jpg': jpeg });
    s3.mock.on(GetObjectCommand, { Key: 'raw/slow.jpg' }).callsFake(() => new Promise(() => undefined));
    const started = Date.now();

    // 10.3 s left: 0.3 s for the files, 10 s kept to return.
    const result = await handler(event(items), { getRemainingTimeInMillis: () => 10_300 });
    const none = await handler(event(items), { getRemainingTimeInMillis: () => 9_000 });

    expect(Date.now() - started).toBeLessThan(3000);
    expect(result).toEqual({
      processed: 1,
      skipped: 0,
      failed: [
        {
          key: 'raw/slow.jpg',
          reason: expect.stringMatching(
            /^not finished: its batch ran out of time .*; the next run tries it again$/,
          ),
          error: true,
        },
      ],
    });
    expect(none.failed).toEqual(
      ['raw/slow.jpg', 'raw/fast.jpg'].map((key) => ({
        key,
        reason: 'not started: its batch ran out of time; the next run tries it again',
        error: true,
      })),
    );
  });

  test('reports its GB-seconds when told its memory size, and none without it', async () => {
    const items = upload({ 'a.jpg': await colour(64, 48).jpeg().toBuffer() });
    const context = { getRemainingTimeInMillis: () => 60_000, memoryLimitInMB: '2048' };

    const measured = await handler(event(items), context);
    const unmeasured = await handler(event(items), { getRemainingTimeInMillis: () => 60_000 });

    // 2 GB for at least a millisecond, and less than the few seconds a test may take.
    expect(measured.gbSeconds).toBeGreaterThanOrEqual(0.002);
    expect(measured.gbSeconds).toBeLessThan(10);
    expect(unmeasured.gbSeconds).toBeUndefined();
  });

  test('GB-seconds: the duration rounded up to the millisecond, times the memory in GB', () => {
    expect(invocationGbSeconds(1500.2, 2048)).toBeCloseTo(3.002, 6);
    expect(invocationGbSeconds(300, 512)).toBeCloseTo(0.15, 6);
  });
});
