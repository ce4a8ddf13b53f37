import sharp from 'sharp';

/** One logo in a generated image: its axis-aligned box in pixels, and the class it belongs to. */
export interface GeneratedBox {
  readonly classId: number;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** One generated image, encoded, with the exact boxes of the logos drawn on it. */
export interface GeneratedImage {
  /** File name, maybe in a sub-folder (`shop/synthetic-0009.png`): its key under `raw/` and its COCO `file_name`. */
  readonly fileName: string;
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly boxes: GeneratedBox[];
}

/** How to generate a dataset. */
export interface DatasetOptions {
  /** Number of images. */
  readonly count: number;
  /** Seed of the random generator: the same seed gives the same images, byte for byte. */
  readonly seed: number;
  /** File name prefix. @default 'synthetic' */
  readonly prefix?: string;
  /**
   * Longest side of a generated image. Kept at or below the preprocess maxSide so preprocessing does not resize
   * and the boxes stay those of the preprocessed image. @default 480
   */
  readonly maxSide?: number;
  /** Leave the logos out (same random draws, so the same backgrounds and clutter): for checking the boxes. */
  readonly withoutLogos?: boolean;
}

/** A COCO object-detection label file (the subset the label import reads). */
export interface CocoFile {
  readonly images: { id: number; file_name: string; width: number; height: number }[];
  readonly annotations: {
    id: number;
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    area: number;
    iscrowd: 0;
  }[];
  readonly categories: { id: number; name: string }[];
}

/** mulberry32: a small, fast, seedable generator; good enough for test images. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Point = readonly [number, number];

/**
 * The logo: a shield with a square cross, in unit coordinates centred on (0, 0), 1 wide and 1.2 tall.
 * Only straight edges, so the box of a rotated logo is exactly the box of its rotated outline vertices.
 */
const SHIELD: Point[] = (() => {
  const points: Point[] = [
    [-0.5, -0.6],
    [0.5, -0.6],
    [0.5, 0.05],
  ];
  // The lower part narrows to the point along a polyline approximating a curve.
  for (let i = 1; i < 8; i++) {
    const t = i / 8;
    points.push([0.5 * Math.cos((t * Math.PI) / 2), 0.05 + 0.55 * Math.sin((t * Math.PI) / 2)]);
  }
  points.push([0, 0.6]);
  for (let i = 7; i >= 1; i--) {
    const t = i / 8;
    points.push([-0.5 * Math.cos((t * Math.PI) / 2), 0.05 + 0.55 * Math.sin((t * Math.PI) / 2)]);
  }
  points.push([-0.5, 0.05]);
  return points;
})();

/** The cross inside the shield, as two bars. */
const CROSS_BARS: Point[][] = [
  [
    [-0.09, -0.45],
    [0.09, -0.45],
    [0.09, 0.4],
    [-0.09, 0.4],
  ],
  [
    [-0.35, -0.18],
    [0.35, -0.18],
    [0.35, 0.0],
    [-0.35, 0.0],
  ],
];

function transform(points: Point[], cx: number, cy: number, scale: number, angle: number): Point[] {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return points.map(([x, y]) => [cx + scale * (x * cos - y * sin), cy + scale * (x * sin + y * cos)]);
}

function polygon(points: Point[], fill: string, extra = ''): string {
  const coords = points.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(' ');
  return `<polygon points="${coords}" fill="${fill}" ${extra}/>`;
}

function gray(value: number): string {
  const v = Math.max(0, Math.min(255, Math.round(value)));
  return `rgb(${v},${v},${v})`;
}

/** A colour whose luminance is about `luma`, with some hue, so the grayscale image keeps the intended contrast. */
function colourWithLuma(random: () => number, luma: number): string {
  const spread = 60;
  const r = luma + (random() - 0.5) * spread;
  const b = luma + (random() - 0.5) * spread;
  // Rec. 601 luma: solve for green.
  const g = (luma - 0.299 * r - 0.114 * b) / 0.587;
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  return `rgb(${clamp(r)},${clamp(g)},${clamp(b)})`;
}

/** The SVG of one logo and its exact box (the outline's rotated vertices, clipped to the image). */
export function drawLogo(
  cx: number,
  cy: number,
  size: number,
  angle: number,
  dark: boolean,
  random: () => number,
  imageWidth: number,
  imageHeight: number,
): { svg: string; box: GeneratedBox } {
  const outline = transform(SHIELD, cx, cy, size, angle);
  const bars = CROSS_BARS.map((bar) => transform(bar, cx, cy, size, angle));
  const shieldFill = colourWithLuma(random, dark ? 25 + random() * 25 : 215 + random() * 30);
  const crossFill = colourWithLuma(random, dark ? 225 + random() * 25 : 20 + random() * 25);
  const svg = [polygon(outline, shieldFill), ...bars.map((bar) => polygon(bar, crossFill))].join('');
  const xs = outline.map(([x]) => x);
  const ys = outline.map(([, y]) => y);
  const left = Math.max(0, Math.floor(Math.min(...xs)));
  const top = Math.max(0, Math.floor(Math.min(...ys)));
  const right = Math.min(imageWidth, Math.ceil(Math.max(...xs)));
  const bottom = Math.min(imageHeight, Math.ceil(Math.max(...ys)));
  return { svg, box: { classId: 0, left, top, width: right - left, height: bottom - top } };
}

/** Background pixels: a two-colour linear gradient in a random direction, plus grain. */
function background(random: () => number, width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  const from = [random(), random(), random()].map((v) => 70 + v * 120);
  const to = [random(), random(), random()].map((v) => 70 + v * 120);
  const angle = random() * Math.PI * 2;
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const span = Math.abs(dx) * width + Math.abs(dy) * height;
  const grain = 6 + random() * 18;
  const x0 = dx < 0 ? width : 0;
  const y0 = dy < 0 ? height : 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = ((x - x0) * dx + (y - y0) * dy) / span;
      const noise = (random() - 0.5) * grain;
      const offset = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        pixels[offset + c] = Math.max(0, Math.min(255, Math.round(from[c] + (to[c] - from[c]) * t + noise)));
      }
    }
  }
  return pixels;
}

/** Distractors: circles, rectangles, triangles and lines in mid tones, none of them shield-shaped. */
function clutter(random: () => number, width: number, height: number): string {
  const shapes: string[] = [];
  const count = 3 + Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const x = random() * width;
    const y = random() * height;
    const r = 6 + random() * Math.min(width, height) * 0.15;
    const fill = gray(60 + random() * 140);
    const opacity = (0.4 + random() * 0.5).toFixed(2);
    const kind = Math.floor(random() * 4);
    if (kind === 0)
      shapes.push(`<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}" fill-opacity="${opacity}"/>`);
    if (kind === 1) {
      const rotation = (random() * 90).toFixed(1);
      shapes.push(
        `<rect x="${x - r}" y="${y - r / 2}" width="${2 * r}" height="${r}" fill="${fill}" fill-opacity="${opacity}" transform="rotate(${rotation} ${x} ${y})"/>`,
      );
    }
    if (kind === 2) {
      shapes.push(
        `<polygon points="${x},${y - r} ${x + r},${y + r} ${x - r},${y + r}" fill="${fill}" fill-opacity="${opacity}"/>`,
      );
    }
    if (kind === 3) {
      const x2 = random() * width;
      const y2 = random() * height;
      shapes.push(
        `<line x1="${x}" y1="${y}" x2="${x2}" y2="${y2}" stroke="${fill}" stroke-width="${2 + r / 6}"/>`,
      );
    }
  }
  return shapes.join('');
}

function overlaps(a: GeneratedBox, b: GeneratedBox, margin: number): boolean {
  return (
    a.left < b.left + b.width + margin &&
    b.left < a.left + a.width + margin &&
    a.top < b.top + b.height + margin &&
    b.top < a.top + a.height + margin
  );
}

/** Places one or two non-overlapping logos, fully inside the image. */
function placeLogos(
  random: () => number,
  width: number,
  height: number,
): { svg: string; boxes: GeneratedBox[] } {
  const wanted = random() < 0.25 ? 2 : 1;
  const svgs: string[] = [];
  const boxes: GeneratedBox[] = [];
  const shortSide = Math.min(width, height);
  for (let attempt = 0; boxes.length < wanted && attempt < 50; attempt++) {
    const size = shortSide * (0.16 + random() * (wanted === 2 ? 0.18 : 0.3));
    // The rotated shield fits in a circle of radius 0.78 * size around its centre.
    const radius = 0.78 * size;
    const cx = radius + random() * (width - 2 * radius);
    const cy = radius + random() * (height - 2 * radius);
    const angle = ((random() - 0.5) * Math.PI) / 2;
    const logo = drawLogo(cx, cy, size, angle, random() < 0.5, random, width, height);
    if (boxes.some((box) => overlaps(box, logo.box, 4))) continue;
    svgs.push(logo.svg);
    boxes.push(logo.box);
  }
  return { svg: svgs.join(''), boxes };
}

/**
 * The file name of the `index`th generated image, named as photos in real folders are: every fifth image is a PNG
 * with the base name of the JPEG before it (`synthetic-0004.jpg`, `synthetic-0004.png`: two photos), and every other
 * group of five is in a sub-folder (`shop/synthetic-0009.jpg`).
 */
export function generatedName(index: number, prefix = 'synthetic'): string {
  const png = index % 5 === 4;
  const folder = Math.floor(index / 5) % 2 === 1 ? 'shop/' : '';
  return `${folder}${prefix}-${String(png ? index : index + 1).padStart(4, '0')}.${png ? 'png' : 'jpg'}`;
}

/** Renders one image: background, clutter, logos; JPEG, or PNG for every fifth image. */
async function renderImage(
  random: () => number,
  index: number,
  prefix: string,
  maxSide: number,
  withoutLogos: boolean,
): Promise<GeneratedImage> {
  const landscape = random() < 0.7;
  const longSide = Math.round(maxSide * (0.7 + random() * 0.3));
  const shortSide = Math.round(longSide * (0.6 + random() * 0.3));
  const width = landscape ? longSide : shortSide;
  const height = landscape ? shortSide : longSide;
  const pixels = background(random, width, height);
  const distractors = clutter(random, width, height);
  const { svg, boxes } = placeLogos(random, width, height);
  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${distractors}${withoutLogos ? '' : svg}</svg>`,
  );
  const png = index % 5 === 4;
  const image = sharp(pixels, { raw: { width, height, channels: 3 } }).composite([
    { input: overlay, top: 0, left: 0 },
  ]);
  const data = png ? await image.png().toBuffer() : await image.jpeg({ quality: 90 }).toBuffer();
  return { fileName: generatedName(index, prefix), data, width, height, boxes };
}

/**
 * Generates images of the project's own logo design (a shield with a cross) at random positions, sizes and
 * rotations on gradient, grainy, cluttered backgrounds, with the exact box of every logo. Deterministic for a seed.
 * Images carry no EXIF orientation and are at most `maxSide` pixels, so preprocessing only converts them to
 * grayscale and the boxes are those of the preprocessed images.
 */
export async function generateDataset(options: DatasetOptions): Promise<GeneratedImage[]> {
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new Error(`generateDataset: count must be a positive integer, got ${options.count}`);
  }
  const random = seededRandom(options.seed);
  const images: GeneratedImage[] = [];
  for (let i = 0; i < options.count; i++) {
    images.push(
      await renderImage(
        random,
        i,
        options.prefix ?? 'synthetic',
        options.maxSide ?? 480,
        options.withoutLogos ?? false,
      ),
    );
  }
  return images;
}

/** The COCO label file of generated images (one category per class, ids from 1 as COCO tools expect). */
export function toCoco(images: GeneratedImage[], classes: string[]): CocoFile {
  let annotationId = 0;
  return {
    images: images.map((image, i) => ({
      id: i + 1,
      file_name: image.fileName,
      width: image.width,
      height: image.height,
    })),
    annotations: images.flatMap((image, i) =>
      image.boxes.map((box) => ({
        id: ++annotationId,
        image_id: i + 1,
        category_id: box.classId + 1,
        bbox: [box.left, box.top, box.width, box.height] as [number, number, number, number],
        area: box.width * box.height,
        iscrowd: 0 as const,
      })),
    ),
    categories: classes.map((name, i) => ({ id: i + 1, name })),
  };
}
