/**
 * The TypeScript half of the parity test: the corpus through the preprocess handler, the reference canonical
 * transform and the API proxy. The container's `tests/test_parity.py` reads the same corpus (written by the same
 * `writeParityCorpus`) and checks that the training reader and the serving app give the model the same pixels.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { IMAGE_FORMATS, type ImageFormat } from '../../contracts';
import { BANDS } from './corpus';
import { type ParityIndex, writeParityCorpus } from './write-corpus';

let folder: string;
let index: ParityIndex;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'parity-'));
  index = await writeParityCorpus(folder);
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

const read = (relative: string) => readFileSync(join(folder, relative));
const image = (name: string) => index.images.find((i) => i.name === name)!;

/** The reference canonical image of a corpus image: one byte a pixel, row after row. */
function canonical(name: string) {
  const { canonical: reference } = image(name);
  const pixels = read(reference.file);
  return { ...reference, at: (x: number, y: number) => pixels[y * reference.width + x] };
}

describe('parity corpus', () => {
  test('covers every kind of image a user can send', () => {
    expect(new Set(index.images.map((i) => i.kind))).toEqual(
      new Set([
        'saturated colours',
        'mixed colours',
        'CMYK JPEG',
        'RGBA PNG',
        'gray+alpha PNG',
        'palette+tRNS PNG',
        '16-bit gray PNG',
        '16-bit RGB PNG',
        '1-bit PNG',
        'gray JPEG',
        'progressive JPEG',
        'interlaced PNG',
        'EXIF orientation JPEG',
        'EXIF orientation PNG',
        'WebP',
        'tiny',
        'extreme aspect',
      ]),
    );
    const orientations = index.images.filter((i) => i.kind.startsWith('EXIF orientation')).map((i) => i.name);
    expect(orientations).toHaveLength(16);
  });

  test('every image is preprocessed to a single-channel JPEG of its canonical size', async () => {
    for (const { name, stored, canonical: reference } of index.images) {
      expect([name, 'file' in stored]).toEqual([name, true]);
      if (!('file' in stored)) continue;
      const metadata = await sharp(read(stored.file)).metadata();
      expect([name, metadata.format, metadata.channels, metadata.width, metadata.height]).toEqual([
        name,
        'jpeg',
        1,
        reference.width,
        reference.height,
      ]);
    }
  });

  test('the API takes every image with its own type, as octet-stream and as JSON, and forwards its bytes unchanged', () => {
    for (const { name, header, original, api } of index.images) {
      const mediaType = IMAGE_FORMATS[header!.format as ImageFormat].mediaType;
      expect(api.map((passage) => [name, passage.sent, passage.status, passage.forwardedType])).toEqual([
        [name, mediaType, 200, mediaType],
        [name, 'application/octet-stream', 200, mediaType],
        [name, 'application/json', 200, mediaType],
      ]);
      for (const passage of api) expect(read(passage.forwardedFile!).equals(read(original))).toBe(true);
    }
  });

  test('the stored JPEG differs from the canonical image by JPEG rounding only', async () => {
    for (const { name, stored, canonical: reference } of index.images) {
      if (!('file' in stored)) continue;
      const { data } = await sharp(read(stored.file))
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      const pixels = read(reference.file);
      let total = 0;
      for (let i = 0; i < data.length; i++) total += Math.abs(data[i] - pixels[i]);
      const mean = total / data.length;
      expect([name, mean < 1.5]).toEqual([name, true]);
    }
  });

  test('colours become their BT.601 gray of the encoded values: red stays darker than a gray-100 wall', () => {
    const bands = canonical('bands.png');
    const centres = BANDS.map((_, i) => bands.at(8 + 16 * i, 32));
    expect(centres).toEqual([76, 150, 29, 226, 128, 81]);
  });

  test('a 16-bit PNG keeps its gray levels (high byte), not a white page', () => {
    const gray16 = canonical('gray16.png');
    expect([gray16.at(5, 5), gray16.at(80, 60)]).toEqual([0xc0, 0x28]);
  });

  test('transparency is flattened onto white, never onto the pixels it hides', () => {
    const rgba = canonical('rgba.png');
    expect(rgba.at(20, 200)).toBe(255); // transparent over black
    expect(rgba.at(240, 180)).toBe(40); // the opaque dark square
    const palette = canonical('palette-transparent.png');
    expect(palette.at(5, 5)).toBe(255);
  });

  test('every door refuses the same files with the same message', () => {
    for (const refusal of index.refusals) {
      const status = refusal.reason === 'too-large' ? 413 : 415;
      expect([refusal.name, refusal.api.status, refusal.api.error?.message]).toEqual([
        refusal.name,
        status,
        refusal.preprocess,
      ]);
    }
    expect(index.refusals.find((r) => r.name === 'iphone.heic')?.preprocess).toMatch(
      /HEIC.*sips -s format jpeg/,
    );
  });
});
