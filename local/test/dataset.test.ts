import sharp from 'sharp';
import { GeneratedBox, drawLogo, generateDataset, generatedName, seededRandom, toCoco } from '../app/dataset';

/** Luma of every pixel of an encoded image. */
async function luma(data: Buffer): Promise<{ pixels: Buffer; width: number; height: number }> {
  const { data: pixels, info } = await sharp(data).grayscale().raw().toBuffer({ resolveWithObject: true });
  return { pixels, width: info.width, height: info.height };
}

function inside(box: GeneratedBox, x: number, y: number, margin: number): boolean {
  return (
    x >= box.left - margin &&
    x < box.left + box.width + margin &&
    y >= box.top - margin &&
    y < box.top + box.height + margin
  );
}

describe('generated dataset', () => {
  test('the box of a logo is the box of its drawn pixels, at any size and rotation', async () => {
    const random = seededRandom(3);
    for (let i = 0; i < 12; i++) {
      const width = 300;
      const height = 240;
      const size = 30 + random() * 80;
      const angle = (random() - 0.5) * Math.PI;
      const { svg, box } = drawLogo(150, 120, size, angle, true, random, width, height);
      const png = await sharp(
        Buffer.from(
          `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${svg}</svg>`,
        ),
      )
        .png()
        .toBuffer();
      const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      let [minX, minY, maxX, maxY] = [width, height, -1, -1];
      for (let y = 0; y < info.height; y++) {
        for (let x = 0; x < info.width; x++) {
          // Pixels at least half covered by the shape (anti-aliased edges are partly transparent).
          if (data[(y * info.width + x) * 4 + 3] >= 128) {
            minX = Math.min(minX, x);
            minY = Math.min(minY, y);
            maxX = Math.max(maxX, x);
            maxY = Math.max(maxY, y);
          }
        }
      }
      expect(Math.abs(minX - box.left)).toBeLessThanOrEqual(1);
      expect(Math.abs(minY - box.top)).toBeLessThanOrEqual(1);
      expect(Math.abs(maxX + 1 - (box.left + box.width))).toBeLessThanOrEqual(1);
      expect(Math.abs(maxY + 1 - (box.top + box.height))).toBeLessThanOrEqual(1);
    }
  });

  test('in generated images, the logos change the pixels inside their boxes and nowhere else', async () => {
    const [withLogos, without] = await Promise.all([
      generateDataset({ count: 4, seed: 11 }),
      generateDataset({ count: 4, seed: 11, withoutLogos: true }),
    ]);
    for (let i = 0; i < withLogos.length; i++) {
      const image = withLogos[i];
      expect(image.boxes.length).toBeGreaterThan(0);
      const a = await luma(image.data);
      const b = await luma(without[i].data);
      const changed = image.boxes.map(() => 0);
      let outside = 0;
      for (let y = 0; y < a.height; y++) {
        for (let x = 0; x < a.width; x++) {
          const offset = y * a.width + x;
          if (Math.abs(a.pixels[offset] - b.pixels[offset]) < 48) continue;
          // JPEG blocks are 8 pixels: compression may move an edge's change that far, no further.
          if (!image.boxes.some((box) => inside(box, x, y, 8))) outside++;
          image.boxes.forEach((box, j) => {
            if (inside(box, x, y, 0)) changed[j]++;
          });
        }
      }
      expect(outside).toBe(0);
      // Each logo covers much of its box: a box cannot be far larger than what was drawn.
      image.boxes.forEach((box, j) => expect(changed[j]).toBeGreaterThan(0.3 * box.width * box.height));
    }
  });

  test('images are deterministic for a seed, within the size limit, without EXIF orientation, boxes inside', async () => {
    const first = await generateDataset({ count: 5, seed: 5, maxSide: 240 });
    const again = await generateDataset({ count: 5, seed: 5, maxSide: 240 });
    const other = await generateDataset({ count: 1, seed: 6, maxSide: 240 });
    expect(again.map((image, i) => image.data.equals(first[i].data))).toEqual(Array(5).fill(true));
    expect(other[0].data.equals(first[0].data)).toBe(false);
    for (const image of first) {
      const meta = await sharp(image.data).metadata();
      expect([meta.width, meta.height]).toEqual([image.width, image.height]);
      expect(Math.max(image.width, image.height)).toBeLessThanOrEqual(240);
      expect(meta.orientation).toBeUndefined();
      for (const box of image.boxes) {
        expect(box.left).toBeGreaterThanOrEqual(0);
        expect(box.top).toBeGreaterThanOrEqual(0);
        expect(box.left + box.width).toBeLessThanOrEqual(image.width);
        expect(box.top + box.height).toBeLessThanOrEqual(image.height);
      }
    }
    expect(first.some((i) => i.fileName.endsWith('.png'))).toBe(true);
  });

  test('the COCO file lists every image and box, categories from 1', async () => {
    const images = await generateDataset({ count: 3, seed: 2 });
    const coco = toCoco(images, ['logo']);
    expect(coco.categories).toEqual([{ id: 1, name: 'logo' }]);
    expect(coco.images.map((i) => i.file_name)).toEqual(images.map((i) => i.fileName));
    expect(coco.annotations).toHaveLength(images.reduce((n, i) => n + i.boxes.length, 0));
    const firstBox = images[0].boxes[0];
    expect(coco.annotations[0]).toMatchObject({
      image_id: 1,
      category_id: 1,
      bbox: [firstBox.left, firstBox.top, firstBox.width, firstBox.height],
    });
  });

  test('names images as real photo folders do: a same-name JPEG and PNG, and a sub-folder', () => {
    expect(Array.from({ length: 11 }, (_, i) => generatedName(i))).toEqual([
      'synthetic-0001.jpg',
      'synthetic-0002.jpg',
      'synthetic-0003.jpg',
      'synthetic-0004.jpg',
      'synthetic-0004.png',
      'shop/synthetic-0006.jpg',
      'shop/synthetic-0007.jpg',
      'shop/synthetic-0008.jpg',
      'shop/synthetic-0009.jpg',
      'shop/synthetic-0009.png',
      'synthetic-0011.jpg',
    ]);
  });

  test('rejects a count that is not a positive integer', async () => {
    await expect(generateDataset({ count: 0, seed: 1 })).rejects.toThrow(
      /count must be a positive integer, got 0/,
    );
  });
});
