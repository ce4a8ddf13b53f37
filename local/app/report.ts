import { mkdirSync, writeFileSync } from 'fs';
import { dirname, extname, join } from 'path';
import type { Detection } from '../../contracts';
import { annotate } from '../../lambda/shared/annotate';

export { annotate };

/** One detection as the API answers it (the proxy's own type). */
export type ApiDetection = Detection;

/** A box in an image's pixels: top-left corner and size. */
export interface PixelBox {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

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
  /** Their boxes, when local mode drew them. */
  readonly truth?: PixelBox[];
  /**
   * With `expected`: how many of those logos a detection found (IoU at least {@link MATCH_IOU}), and how many
   * detections found none (false boxes), as {@link matchDetections} counts them.
   */
  readonly found?: number;
  readonly falseBoxes?: number;
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

/** Intersection over union of two boxes, 0 to 1. */
export function iou(a: PixelBox, b: PixelBox): number {
  const width = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const height = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  const inter = Math.max(0, width) * Math.max(0, height);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Overlap at which a detection finds a true box: PASCAL VOC's, as the validation mAP uses. */
export const MATCH_IOU = 0.5;

/**
 * Matches one image's detections to its true boxes as PASCAL VOC does: best score first, each detection takes the
 * unclaimed true box it overlaps most if that IoU is at least {@link MATCH_IOU}; a detection that takes none is a
 * false box (a second box on a found logo included). Labels are not compared: local mode draws one class.
 * Returns, in the detections' order, whether each one found a logo.
 */
export function matchDetections(detections: readonly ApiDetection[], truth: readonly PixelBox[]): boolean[] {
  const claimed = new Set<number>();
  const hits = new Array<boolean>(detections.length).fill(false);
  const order = detections.map((_, i) => i).sort((a, b) => detections[b].score - detections[a].score);
  for (const i of order) {
    let best = -1;
    let bestIou = MATCH_IOU;
    truth.forEach((box, t) => {
      const overlap = iou(detections[i].box, box);
      if (!claimed.has(t) && overlap >= bestIou) [best, bestIou] = [t, overlap];
    });
    if (best >= 0) {
      claimed.add(best);
      hits[i] = true;
    }
  }
  return hits;
}

/** How the API's answers on the held-out images compare with the logos drawn on them. */
export interface HeldOutScore {
  /** Logos drawn on the held-out images. */
  readonly logos: number;
  /** Logos a detection found (IoU at least {@link MATCH_IOU}). */
  readonly found: number;
  /** Detections that found no logo. */
  readonly falseBoxes: number;
  /** found / detections, 0 to 1 (1 when there is no detection). */
  readonly precision: number;
  /** found / logos, 0 to 1. */
  readonly recall: number;
  /**
   * Average precision of the answered detections pooled over the images, ranked by score (VOC, every point of
   * the precision-recall curve): only the detections at or above the `minScore` sent count, so it is at most the
   * recall, unlike the validation mAP, which ranks every detection.
   */
  readonly ap: number;
}

/**
 * Scores the held-out answers against the drawn logos; undefined when no answered image has known logos (your own
 * images, or no 200 answer).
 */
export function heldOutScore(checks: readonly ApiCheck[]): HeldOutScore | undefined {
  const scored = checks.filter((check) => check.truth !== undefined && check.status === 200);
  if (scored.length === 0) return undefined;
  const ranked = scored
    .flatMap((check) => {
      const hits = matchDetections(check.detections, check.truth!);
      return check.detections.map((d, i) => ({ score: d.score, hit: hits[i] }));
    })
    .sort((a, b) => b.score - a.score);
  const logos = scored.reduce((n, check) => n + check.truth!.length, 0);
  const found = ranked.filter((d) => d.hit).length;
  // VOC's all-point AP: the area under the precision envelope, stepping at each logo found.
  let ap = 0;
  let hits = 0;
  const precisions = ranked.map((d, i) => (hits += d.hit ? 1 : 0) / (i + 1));
  for (let i = ranked.length - 2; i >= 0; i--) precisions[i] = Math.max(precisions[i], precisions[i + 1]);
  ranked.forEach((d, i) => (ap += d.hit && logos > 0 ? precisions[i] / logos : 0));
  return {
    logos,
    found,
    falseBoxes: ranked.length - found,
    precision: ranked.length === 0 ? 1 : found / ranked.length,
    recall: logos === 0 ? 1 : found / logos,
    ap,
  };
}

/** "found 5 of 5 logos (IoU ≥ 0.5), 1 false box: precision 0.83, recall 1.00, AP 1.00". */
export function describeHeldOut(score: HeldOutScore): string {
  return (
    `found ${score.found} of ${score.logos} logos (IoU ≥ ${MATCH_IOU}), ${score.falseBoxes} false ` +
    `${score.falseBoxes === 1 ? 'box' : 'boxes'}: precision ${score.precision.toFixed(2)}, ` +
    `recall ${score.recall.toFixed(2)}, AP ${score.ap.toFixed(2)}`
  );
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

/**
 * The API check as a table: image, logos drawn, logos found and false boxes (when drawn), HTTP status, detections
 * (label, score, box) and latency.
 */
export function apiTable(checks: ApiCheck[]): string {
  return table(
    [
      'image',
      'logos',
      'found',
      'false',
      'status',
      'detections (label score @left,top widthxheight)',
      'latency',
    ],
    checks.map((check) => [
      check.image,
      check.expected === undefined ? '?' : String(check.expected),
      check.found === undefined ? '?' : String(check.found),
      check.falseBoxes === undefined ? '?' : String(check.falseBoxes),
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
  images: { name: string; data: Buffer; truth?: PixelBox[] }[],
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
    const detections = response.status === 200 ? detectionsOf(body) : [];
    const hits =
      image.truth && response.status === 200 ? matchDetections(detections, image.truth) : undefined;
    const check: ApiCheck = {
      image: image.name,
      status: response.status,
      latencyMs,
      detections,
      body,
      expected: image.truth?.length,
      truth: image.truth,
      found: hits?.filter(Boolean).length,
      falseBoxes: hits?.filter((hit) => !hit).length,
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
