import { availableParallelism } from 'os';
import sharp from 'sharp';
import { MAX_IMAGE_PIXELS } from '../../contracts';
import { checkImageHeader, ImageRefusedError } from '../shared/image-header';

// One image at a time per invocation: libvips' operation cache only grows a Lambda's memory.
sharp.cache(false);
// On glibc Linux (Lambda included) sharp defaults to one libvips thread to limit memory fragmentation in
// long-lived servers; a short-lived function working on one image at a time should use every vCPU it has.
sharp.concurrency(availableParallelism());

/** An image the pipeline cannot use; the message is written for the person who uploaded it. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** How an image was turned upright: what the label import needs to move boxes drawn on the stored pixels. */
export interface Orientation {
  /** EXIF orientation (1–8) of the input, applied to make the image upright; 1 when the input had none. */
  readonly orientation: number;
  /** Size of the input as its pixels are stored, before the orientation was applied and before downsizing. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

/** A canonical image: 8-bit gray pixels, one byte each, row after row, and how it was turned upright. */
export interface CanonicalImage extends Orientation {
  readonly pixels: Buffer;
  readonly width: number;
  readonly height: number;
}

/** A preprocessed image: an 8-bit single-channel JPEG, its size, and how it was turned upright. */
export interface ModelImage extends Orientation {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** BT.601 luma of encoded R, G, B in 16-bit fixed point, rounded: exactly what Pillow's convert('L') computes. */
const luma = (r: number, g: number, b: number) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;

/** a × b / 255, rounded, in Pillow's integer form. */
const mulDiv255 = (a: number, b: number) => {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
};

/** One gray byte per pixel from raw 8-bit bands: gray (1), RGB (3) or CMYK (4, converted without ICC). */
function grayOf(data: Buffer, channels: number, cmyk: boolean): Buffer {
  if (channels === 1) return data;
  const pixels = data.length / channels;
  const gray = Buffer.allocUnsafe(pixels);
  if (cmyk && channels === 4) {
    for (let p = 0, i = 0; p < pixels; p++, i += 4) {
      const white = 255 - data[i + 3];
      gray[p] = luma(
        white - mulDiv255(data[i], white),
        white - mulDiv255(data[i + 1], white),
        white - mulDiv255(data[i + 2], white),
      );
    }
    return gray;
  }
  if (channels !== 3) throw new Error(`unexpected ${channels} bands after flattening`);
  for (let p = 0, i = 0; p < pixels; p++, i += 3) gray[p] = luma(data[i], data[i + 1], data[i + 2]);
  return gray;
}

/**
 * The canonical transform: how every door of the system turns an image's bytes into the gray pixels the model
 * learns from and is served. This TypeScript (sharp) function is the reference; the container's
 * `preprocessing.canonical_luma` (Pillow) implements the same steps and is tested against this function's output
 * on the parity corpus (`test/parity/`).
 *
 * 1. Check before decoding: JPEG, PNG or WebP by the file signature, and at most `MAX_IMAGE_PIXELS` by the header.
 * 2. Decode (an animated WebP: its first frame). Embedded ICC profiles are ignored: pixel values are taken as sRGB.
 * 3. Apply the EXIF orientation (tags 1 to 8; JPEG, PNG eXIf and WebP EXIF).
 * 4. 16-bit samples become 8-bit by keeping their high byte (v >> 8, a scaling by 1/256).
 * 5. Transparency is flattened onto white: v' = v·a + 255·(1 − a).
 * 6. One gray conversion: ITU-R BT.601 luma of the encoded values, Y = round(0.299 R + 0.587 G + 0.114 B) (in
 *    Pillow's 16-bit fixed point). CMYK (print JPEGs) first becomes RGB without colour management:
 *    R = (255 − K) − round(C·(255 − K)/255), likewise G from M and B from Y.
 * 7. One downsizing rule: with s = max(1, longest side / maxSide), the size becomes max(1, round(side / s)) on
 *    each axis (aspect kept, never enlarged).
 *
 * Luma is linear in the encoded values, so flattening, gray conversion and resampling commute up to rounding:
 * sharp resamples first (cheap, shrink-on-load) and Pillow converts first; both give the same image.
 *
 * Throws {@link ImageError} with the contract's message for another format, an oversized or unreadable header,
 * and a truncated or corrupt file.
 */
export async function canonicalImage(input: Buffer, maxSide: number): Promise<CanonicalImage> {
  try {
    checkImageHeader(input);
  } catch (error) {
    if (error instanceof ImageRefusedError) {
      throw new ImageError(
        error.reason === 'unreadable-header' ? `truncated or corrupt image: ${error.message}` : error.message,
      );
    }
    throw error;
  }
  // 'truncated' rejects cut-off files but tolerates the harmless warnings many cameras' files trigger.
  const options = { failOn: 'truncated' as const, ignoreIcc: true, limitInputPixels: MAX_IMAGE_PIXELS };
  try {
    const {
      space,
      hasAlpha,
      orientation = 1,
      width: sourceWidth = 0,
      height: sourceHeight = 0,
    } = await sharp(input, options).metadata();
    const cmyk = space === 'cmyk';
    const image = sharp(input, options).rotate();
    // A CMYK pipeline keeps the decoded bands as they are, for the formula above instead of a profile.
    if (cmyk) image.pipelineColourspace('cmyk').toColourspace('cmyk');
    if (hasAlpha) image.flatten({ background: '#ffffff' });
    const { data, info } = await image
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      pixels: grayOf(data, info.channels, cmyk),
      width: info.width,
      height: info.height,
      orientation,
      sourceWidth,
      sourceHeight,
    };
  } catch (error) {
    throw new ImageError(`truncated or corrupt image: ${(error as Error).message}`);
  }
}

/**
 * Turns an uploaded photo into what the model trains on: the {@link canonicalImage} (EXIF orientation applied,
 * transparency flattened onto white, 8-bit BT.601 gray, longest side at most `maxSide`), encoded as a
 * single-channel quality-90 JPEG.
 *
 * Throws {@link ImageError} for anything that is not a complete JPEG, PNG or WebP image within the pixel limit.
 */
export async function toModelImage(input: Buffer, maxSide: number): Promise<ModelImage> {
  const { pixels, width, height, ...orientation } = await canonicalImage(input, maxSide);
  const data = await sharp(pixels, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w') // one channel out, as it came in (sharp would otherwise write sRGB)
    .jpeg({ quality: 90, mozjpeg: false })
    .toBuffer();
  return { data, width, height, ...orientation };
}
