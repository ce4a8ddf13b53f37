import {
  IMAGE_FORMATS,
  type ImageFormat,
  MAX_IMAGE_PIXELS,
  sniffImageFormat,
  tooLargeMessage,
  unsupportedFormatMessage,
} from '../../contracts';

/** An accepted image's format and stored size, read from its header without decoding any pixel. */
export interface ImageHeader {
  readonly format: ImageFormat;
  /** Width in pixels as stored (before EXIF orientation, which does not change the pixel count). */
  readonly width: number;
  /** Height in pixels as stored. */
  readonly height: number;
}

/** Why {@link checkImageHeader} refused an image; `message` is the contract's wording, written for the sender. */
export class ImageRefusedError extends Error {
  constructor(
    readonly reason: 'unsupported-format' | 'too-large' | 'unreadable-header',
    message: string,
  ) {
    super(message);
    this.name = 'ImageRefusedError';
  }
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u32be = (b: Uint8Array, i: number) =>
  ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);

/** Width and height from the first start-of-frame segment, walking the segments from the start of the file. */
function jpegSize(b: Uint8Array): [number, number] | undefined {
  let i = 2;
  while (i + 1 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    i += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // segments without a length
    if (marker === 0xd9 || marker === 0xda || i + 2 > b.length) return undefined; // no frame header before the data
    const length = u16be(b, i);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) return i + 7 <= b.length ? [u16be(b, i + 5), u16be(b, i + 3)] : undefined;
    if (length < 2) return undefined;
    i += length;
  }
  return undefined;
}

function pngSize(b: Uint8Array): [number, number] | undefined {
  if (b.length < 24 || String.fromCharCode(...b.subarray(12, 16)) !== 'IHDR') return undefined;
  return [u32be(b, 16), u32be(b, 20)];
}

function webpSize(b: Uint8Array): [number, number] | undefined {
  if (b.length < 30) return undefined;
  const chunk = String.fromCharCode(...b.subarray(12, 16));
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return [(b[26] | (b[27] << 8)) & 0x3fff, (b[28] | (b[29] << 8)) & 0x3fff];
  }
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    return [(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1];
  }
  if (chunk === 'VP8X') return [u24le(b, 24) + 1, u24le(b, 27) + 1];
  return undefined;
}

/**
 * The format and stored size of an accepted image, from its header alone, or undefined when the bytes are not an
 * accepted format or their header is cut short or malformed.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  const sniffed = sniffImageFormat(bytes);
  if (!('accepted' in sniffed)) return undefined;
  const size = { jpeg: jpegSize, png: pngSize, webp: webpSize }[sniffed.accepted](bytes);
  if (!size || size[0] < 1 || size[1] < 1) return undefined;
  return { format: sniffed.accepted, width: size[0], height: size[1] };
}

/**
 * The checks every door makes before decoding: an accepted format (by the bytes), a readable header, and at most
 * `MAX_IMAGE_PIXELS` pixels. Returns the header; throws {@link ImageRefusedError} with the contract's message.
 */
export function checkImageHeader(bytes: Uint8Array): ImageHeader {
  const sniffed = sniffImageFormat(bytes);
  if (!('accepted' in sniffed)) {
    throw new ImageRefusedError(
      'unsupported-format',
      unsupportedFormatMessage('other' in sniffed ? sniffed.other : undefined),
    );
  }
  const header = readImageHeader(bytes);
  if (!header) {
    throw new ImageRefusedError(
      'unreadable-header',
      `The ${IMAGE_FORMATS[sniffed.accepted].name} header is truncated or malformed: no image size can be read from it.`,
    );
  }
  if (header.width * header.height > MAX_IMAGE_PIXELS) {
    throw new ImageRefusedError('too-large', tooLargeMessage(header.width, header.height));
  }
  return header;
}
