import { mkdirSync, writeFileSync } from 'fs';
import { dirname, extname, join } from 'path';
import sharp from 'sharp';
import type { Detection } from '../../lambda/detect/model';

/** One detection as the API answers it (the proxy's own type). */
export type ApiDetection = Detection;

/** What the API answered for one held-out image. */
export interface ApiCheck {
  readonly image: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly detections: ApiDetection[];
  /** The whole response body, parsed (or the text when it is not JSON). */
  readonly body: unknown;
  /** Logos in the image, when local mode drew them. */
  readonly expected?: number;
  /** Where the annotated copy was written, when the call succeeded. */
  annotated?: string;
}

/**
 * The detections of an API answer, checked for shape: every detection has a label, a score in [0, 1] and a box
 * of non-negative numbers. Throws naming what is malformed.
 */
export function detectionsOf(body: unknown): ApiDetection[] {
  const detections = (body as { detections?: unknown })?.detections;
  if (!Array.isArray(detections))
    throw new Error(`API answer has no detections array: ${JSON.stringify(body)}`);
  for (const d of detections as ApiDetection[]) {
    const box = d?.box;
    const numbers = box ? [box.left, box.top, box.width, box.height] : [];
    if (
      typeof d?.label !== 'string' ||
      typeof d.score !== 'number' ||
      d.score < 0 ||
      d.score > 1 ||
      numbers.length !== 4 ||
      numbers.some((n) => typeof n !== 'number' || !Number.isFinite(n) || n < 0)
    ) {
      throw new Error(`Malformed detection in API answer: ${JSON.stringify(d)}`);
    }
  }
  return detections as ApiDetection[];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A copy of the image with each detection's box and label drawn on it in red (JPEG), and the true boxes, when
 * known, dashed in green.
 */
export async function annotate(
  image: Buffer,
  detections: ApiDetection[],
  truth: { left: number; top: number; width: number; height: number }[] = [],
): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(image).rotate().metadata();
  const expected = truth.map(
    (box) =>
      `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#34c759" stroke-width="2" stroke-dasharray="6 4"/>`,
  );
  const shapes = detections.map(({ label, score, box }) => {
    const text = escapeXml(`${label} ${score.toFixed(2)}`);
    const textY = box.top > 16 ? box.top - 4 : box.top + box.height + 14;
    return (
      `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#ff2d55" stroke-width="3"/>` +
      `<text x="${box.left}" y="${textY}" font-family="sans-serif" font-size="14" fill="#ff2d55" stroke="#000" stroke-width="0.5">${text}</text>`
    );
  });
  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${expected.join('')}${shapes.join('')}</svg>`,
  );
  return sharp(image)
    .rotate()
    .composite([{ input: overlay, top: 0, left: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** A plain-text table with a header row and left-aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The API check as a table: image, HTTP status, detections (label, score, box) and latency. */
export function apiTable(checks: ApiCheck[]): string {
  return table(
    ['image', 'logos', 'status', 'detections (label score @left,top widthxheight)', 'latency'],
    checks.map((check) => [
      check.image,
      check.expected === undefined ? '?' : String(check.expected),
      String(check.status),
      check.detections.length === 0
        ? check.status === 200
          ? 'none'
          : JSON.stringify(check.body).slice(0, 80)
        : check.detections
            .slice(0, 3)
            .map(
              (d) =>
                `${d.label} ${d.score.toFixed(2)} @${Math.round(d.box.left)},${Math.round(d.box.top)} ${Math.round(d.box.width)}x${Math.round(d.box.height)}`,
            )
            .join('; ') + (check.detections.length > 3 ? ` (+${check.detections.length - 3} more)` : ''),
      `${check.latencyMs} ms`,
    ]),
  );
}

/** `mm:ss` of a duration in milliseconds. */
export function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * Sends each image to the API (`POST url`, Content-Type from its extension), checks every 200 answer's
 * detections for shape, and writes an annotated copy of each answered image to `outDir`, at the image's name
 * (sub-folders included) with `.annotated.jpg` for its extension.
 */
export async function checkApi(
  url: string,
  images: {
    name: string;
    data: Buffer;
    truth?: { left: number; top: number; width: number; height: number }[];
  }[],
  outDir: string,
): Promise<ApiCheck[]> {
  const checks: ApiCheck[] = [];
  for (const image of images) {
    const type = extname(image.name).toLowerCase() === '.png' ? 'image/png' : 'image/jpeg';
    const started = Date.now();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': type },
      body: image.data,
    });
    const latencyMs = Date.now() - started;
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text for the table
    }
    const check: ApiCheck = {
      image: image.name,
      status: response.status,
      latencyMs,
      detections: response.status === 200 ? detectionsOf(body) : [],
      body,
      expected: image.truth?.length,
    };
    if (response.status === 200) {
      // The extension stays in the name: a same-name .jpg and .png are two images.
      const target = join(outDir, `${image.name}.annotated.jpg`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, await annotate(image.data, check.detections, image.truth));
      check.annotated = target;
    }
    checks.push(check);
  }
  return checks;
}
