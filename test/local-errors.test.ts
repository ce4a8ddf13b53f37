import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { runLocal } from '../scripts/local/main';

jest.setTimeout(300000);

test('a run that fails on bad input says what is wrong and stops the servers it started', async () => {
  const images = mkdtempSync(join(tmpdir(), 'local-no-images-'));
  writeFileSync(join(images, 'notes.txt'), 'not an image');
  const labels = join(images, 'coco.json');
  writeFileSync(labels, JSON.stringify({ images: [], annotations: [], categories: [] }));
  const lines: string[] = [];
  const before = { ...process.env };

  await expect(
    runLocal({
      images,
      labels,
      workDir: mkdtempSync(join(tmpdir(), 'local-work-')),
      log: (l) => lines.push(l),
    }),
  ).rejects.toThrow(`No images (.jpg, .png, .webp, .tif) in ${images}`);

  const moto = lines.map((line) => /moto on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]).find(Boolean);
  expect(moto).toBeDefined();
  await expect(fetch(`${moto}/moto-api/`)).rejects.toThrow();
  // The AWS endpoints and credentials it set are gone again.
  expect(process.env.AWS_ENDPOINT_URL).toBe(before.AWS_ENDPOINT_URL);
});
