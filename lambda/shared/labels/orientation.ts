/** A size in pixels. */
export interface Size {
  readonly width: number;
  readonly height: number;
}

/** A box by its top-left corner and size, in pixels of some image. */
export interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** What the import knows about a preprocessed image, from its object metadata. */
export interface PreprocessedImage extends Size {
  /**
   * EXIF orientation (1–8) preprocessing applied to make the image upright; undefined for images preprocessed
   * before the pipeline recorded it.
   */
  readonly orientation?: number;
  /** Size of the raw upload as its pixels are stored (before orientation and downsizing); set with orientation. */
  readonly source?: Size;
}

/** Where a label's boxes are: in `frame` pixels, to be turned by EXIF `orientation` (1: as they are). */
export type Placement =
  | { readonly frame: Size; readonly orientation: number; readonly problem?: undefined }
  | { readonly problem: string };

// Where the point (x, y) of a W x H stored image lands in the upright image each EXIF orientation makes. Checked
// against sharp's own rotation for every orientation in test/handlers/labels.test.ts.
const TURN: Record<number, (x: number, y: number, w: number, h: number) => [number, number]> = {
  1: (x, y) => [x, y],
  2: (x, y, w) => [w - x, y],
  3: (x, y, w, h) => [w - x, h - y],
  4: (x, y, _w, h) => [x, h - y],
  5: (x, y) => [y, x],
  6: (x, y, _w, h) => [h - y, x],
  7: (x, y, w, h) => [h - y, w - x],
  8: (x, y, w) => [y, w - x],
};

const HOW: Record<number, string> = {
  1: 'shown as stored',
  2: 'shown mirrored left to right',
  3: 'shown rotated 180°',
  4: 'shown mirrored top to bottom',
  5: 'shown rotated 90° clockwise and mirrored left to right',
  6: 'shown rotated 90° clockwise',
  7: 'shown rotated 90° clockwise and mirrored top to bottom',
  8: 'shown rotated 90° counter-clockwise',
};

// A declared size with this relative aspect difference still counts as the same picture at another scale.
const ASPECT_TOLERANCE = 0.01;

/** Whether an EXIF orientation swaps width and height (5 to 8). */
export function swapsAxes(orientation: number): boolean {
  return orientation >= 5;
}

/** "EXIF orientation 6 (shown rotated 90° clockwise)". */
export function describeOrientation(orientation: number): string {
  return `EXIF orientation ${orientation} (${HOW[orientation] ?? 'unknown'})`;
}

/**
 * The box `box`, drawn on the stored pixels of a `stored`-sized image, in the upright image that applying EXIF
 * `orientation` (1–8) makes; that image is `stored` with width and height swapped for orientations 5 to 8.
 */
export function orientBox(box: Rect, stored: Size, orientation: number): Rect {
  const turn = TURN[orientation] ?? TURN[1];
  const [ax, ay] = turn(box.left, box.top, stored.width, stored.height);
  const [bx, by] = turn(box.left + box.width, box.top + box.height, stored.width, stored.height);
  return {
    left: Math.min(ax, bx),
    top: Math.min(ay, by),
    width: Math.abs(bx - ax),
    height: Math.abs(by - ay),
  };
}

const sizeText = (s: Size) => `${s.width}x${s.height}`;
const swap = (s: Size): Size => ({ width: s.height, height: s.width });
const sameSize = (a: Size, b: Size) => a.width === b.width && a.height === b.height;
const sameShape = (a: Size, b: Size) =>
  Math.abs(a.width / a.height / (b.width / b.height) - 1) <= ASPECT_TOLERANCE;

/**
 * Decides how the boxes of a label that declares the image size `declared` (undefined: it does not say) map onto
 * the preprocessed image `imageKey`:
 *
 * - a size equal to the preprocessed image's: drawn on that image;
 * - a photo preprocessing turned upright by its EXIF orientation: drawn on its stored, unrotated pixels when the
 *   declared size has the stored shape (tools that ignore EXIF), so the boxes are turned; drawn upright when it
 *   has only the upright shape (tools that apply EXIF). For orientations 2 to 4 both shapes are the same and the
 *   boxes are turned. Refused, naming EXIF, when the label gives no size or the photo is square and its
 *   orientation swaps width and height: the size cannot tell then;
 * - otherwise: the same picture at another scale when the aspect ratio matches, else refused.
 */
export function placeLabel(
  declared: Size | undefined,
  image: PreprocessedImage,
  imageKey: string,
): Placement {
  const upright: Size = { width: image.width, height: image.height };
  const orientation = image.orientation;
  const exif = orientation !== undefined && orientation !== 1 && image.source ? orientation : undefined;
  const fix = 'label the images under images/ (already upright), or export the labels with the image sizes';
  if (!declared) {
    if (exif === undefined) return { frame: upright, orientation: 1 };
    return {
      problem:
        `the file gives no image size, and ${imageKey} was made from a photo with ${describeOrientation(exif)}: ` +
        'without the size the import cannot tell whether the boxes were drawn on the upright photo or on its ' +
        `stored, unrotated pixels; ${fix}`,
    };
  }
  if (sameSize(declared, upright)) return { frame: declared, orientation: 1 };
  if (exif !== undefined) {
    const stored = image.source!;
    const shown = swapsAxes(exif) ? swap(stored) : stored;
    const onStored = sameShape(declared, stored);
    const onShown = sameShape(declared, shown);
    if (onStored && onShown && swapsAxes(exif)) {
      return {
        problem:
          `${imageKey} was made from a square photo with ${describeOrientation(exif)}, so the size the file ` +
          `gives (${sizeText(declared)}) cannot tell whether the boxes were drawn on the upright photo or on its ` +
          `stored, unrotated pixels; label the image under images/ (already upright) instead`,
      };
    }
    if (onStored) return { frame: declared, orientation: exif };
    if (onShown) return { frame: declared, orientation: 1 };
    return {
      problem:
        `the file says the image is ${sizeText(declared)} but ${imageKey} is ${sizeText(upright)}, a different ` +
        `shape (it was made from a ${sizeText(stored)} photo with ${describeOrientation(exif)}); ${fix}`,
    };
  }
  if (sameShape(declared, upright)) return { frame: declared, orientation: 1 };
  if (orientation === undefined && sameShape(declared, swap(upright))) {
    return {
      problem:
        `the file says the image is ${sizeText(declared)} but ${imageKey} is ${sizeText(upright)}: the same ` +
        'picture turned a quarter turn. The photo probably has an EXIF orientation the labeling tool did not ' +
        `apply, and ${imageKey} was preprocessed before the pipeline recorded orientations, so the import ` +
        'cannot turn the boxes. The next pipeline run remakes such images and records their orientation; ' +
        'import these labels after it, or label the images under images/',
    };
  }
  return {
    problem:
      `the file says the image is ${sizeText(declared)} but ${imageKey} is ${sizeText(upright)}, a different ` +
      'shape; label the preprocessed image',
  };
}
