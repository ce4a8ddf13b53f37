import { availableParallelism } from 'os';
import sharp from 'sharp';

// One image at a time per invocation: libvips' operation cache only grows a Lambda's memory.
sharp.cache(false);
// On glibc Linux (Lambda included) sharp defaults to one libvips thread to limit memory fragmentation in
// long-lived servers; a short-lived function working on one image at a time should use every vCPU it has.
sharp.concurrency(availableParallelism());

/** Input formats the pipeline accepts. */
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'tiff'] as const;

/** An image the pipeline cannot use; the message is written for the person who uploaded it. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** A preprocessed image: an 8-bit single-channel JPEG, its size, and how it was turned upright. */
export interface ModelImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /** EXIF orientation (1–8) of the input, applied to make the image upright; 1 when the input had none. */
  readonly orientation: number;
  /** Size of the input as its pixels are stored, before the orientation was applied and before downsizing. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

/**
 * Turns an uploaded photo into what the model trains on: EXIF orientation applied, transparency flattened onto
 * white, converted to 8-bit grayscale (the model learns the logo's shape, not its colour), downsized so its
 * longest side is at most `maxSide` (never enlarged), encoded as a quality-90 JPEG.
 *
 * Throws {@link ImageError} for anything that is not a complete JPEG, PNG, WebP or TIFF image.
 */
export async function toModelImage(input: Buffer, maxSide: number): Promise<ModelImage> {
  // 'truncated' rejects cut-off files but tolerates the harmless warnings many cameras' files trigger.
  const options = { failOn: 'truncated' as const };
  let format: string | undefined;
  let hasAlpha = false;
  let orientation = 1;
  let sourceWidth = 0;
  let sourceHeight = 0;
  try {
    ({
      format,
      hasAlpha = false,
      orientation = 1,
      width: sourceWidth,
      height: sourceHeight,
    } = await sharp(input, options).metadata());
  } catch {
    format = undefined;
  }
  if (!format || !(ACCEPTED_FORMATS as readonly string[]).includes(format)) {
    throw new ImageError(`not a JPEG/PNG/WebP/TIFF image${format ? ` (it is ${format.toUpperCase()})` : ''}`);
  }
  try {
    const image = sharp(input, options).rotate();
    if (hasAlpha) image.flatten({ background: '#ffffff' });
    // toColourspace converts after the resize, on the small image; greyscale() would convert the full-size
    // decode first, which halves throughput on camera photos.
    const { data, info } = await image
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .toColourspace('b-w')
      .jpeg({ quality: 90, mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, orientation, sourceWidth, sourceHeight };
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ImageError('image too large: more than 268 megapixels; downsize it before uploading');
    }
    throw new ImageError(`truncated or corrupt image: ${message}`);
  }
}
