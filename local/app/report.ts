import { mkdirSync, writeFileSync } from 'fs';
import { dirname, extname, join } from 'path';
import type { Detection } from '../../contracts';
import { annotate } from '../../lambda/shared/annotate';

export { annotate };

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
