/**
 * The image contract every door shares: which formats are accepted, the pixel limit, and the messages that refuse
 * the rest. The preprocess Lambda (uploads), the API proxy and the serving container all answer from it, so an
 * image is refused, or taken, the same way whichever door it comes through.
 *
 * The serving container cannot import TypeScript: `training-container/src/logo_detector/preprocessing.py` holds the
 * same values and message builders, and the parity test (`test/parity/`, read by the container's
 * `tests/test_parity.py`) checks that both give the same answers for the same bytes.
 */

/** The formats every door accepts: JPEG, PNG and WebP (an animated WebP contributes its first frame). */
export const IMAGE_FORMATS = {
  jpeg: { name: 'JPEG', mediaType: 'image/jpeg' },
  png: { name: 'PNG', mediaType: 'image/png' },
  webp: { name: 'WebP', mediaType: 'image/webp' },
} as const;

/** One of the accepted formats. */
export type ImageFormat = keyof typeof IMAGE_FORMATS;

/** The media type of an accepted format. */
export type ImageMediaType = (typeof IMAGE_FORMATS)[ImageFormat]['mediaType'];

/**
 * Largest image accepted, in megapixels (width × height / 10^6), checked from the image's header before anything
 * is decoded. The model sees 512 × 512 pixels, so pixels beyond a few megapixels only cost decoding time. 16 MP takes
 * a phone's 12 MP photo and 16 MP cameras, and bounds the worst image the endpoint may have to decode (a flat RGBA
 * PNG or lossless WebP of a few kilobytes, which no codec decodes at reduced size) to a few times the cost of an
 * ordinary photo; `npm run bench` measures both. A limit low enough to keep even a lossless WebP within 3× of a
 * photo (about 8 MP) would refuse phone photos.
 */
export const MAX_IMAGE_MEGAPIXELS = 16;

/** {@link MAX_IMAGE_MEGAPIXELS} in pixels. */
export const MAX_IMAGE_PIXELS = MAX_IMAGE_MEGAPIXELS * 1_000_000;

/** What an image's first bytes say it is: an accepted format, another image format by name, or nothing known. */
export type SniffedFormat =
  { readonly accepted: ImageFormat } | { readonly other: string } | { readonly unknown: true };

const startsWith = (bytes: Uint8Array, signature: readonly number[], offset = 0): boolean =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
const ascii = (bytes: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...bytes.subarray(start, end));

/** ISO base media file brands (bytes 8 to 11) of the formats phones and browsers write in that container. */
const BMFF_BRANDS: Readonly<Record<string, string>> = {
  heic: 'HEIC',
  heix: 'HEIC',
  hevc: 'HEIC',
  hevx: 'HEIC',
  heim: 'HEIC',
  heis: 'HEIC',
  mif1: 'HEIF',
  msf1: 'HEIF',
  avif: 'AVIF',
  avis: 'AVIF',
};

/**
 * The format an image's file signature ("magic bytes") names. Accepted formats are recognised exactly; other
 * common image formats are recognised so that a refusal can name them (and say how to convert a HEIC photo).
 * The bytes decide: a file's name or declared media type plays no part.
 */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { accepted: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { accepted: 'png' };
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') {
    return { accepted: 'webp' };
  }
  if (ascii(bytes, 0, 4) === 'GIF8') return { other: 'GIF' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { other: 'TIFF' };
  }
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp' && BMFF_BRANDS[ascii(bytes, 8, 12)]) {
    return { other: BMFF_BRANDS[ascii(bytes, 8, 12)] };
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { other: 'JPEG XL' };
  }
  if (startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20])) return { other: 'JPEG 2000' };
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 18 && [12, 40, 52, 56, 108, 124].includes(bytes[14])) {
    return { other: 'BMP' };
  }
  if (ascii(bytes, 0, 4) === '8BPS') return { other: 'PSD' };
  if (ascii(bytes, 0, 5) === '%PDF-') return { other: 'PDF' };
  return { unknown: true };
}

/** "JPEG, PNG and WebP": the accepted formats, as every refusal names them. */
export const ACCEPTED_FORMATS_TEXT = 'JPEG, PNG and WebP';

const HEIC_HINT =
  'Convert it to JPEG first: on a Mac, sips -s format jpeg photo.heic --out photo.jpg; on Linux, ' +
  'heif-convert photo.heic photo.jpg. iPhones save JPEG when Settings > Camera > Formats is set to Most Compatible.';

/**
 * The one message that refuses a file in another format, at every door (preprocessing report, API 415, endpoint
 * 415). `other` is the format {@link sniffImageFormat} recognised, if any.
 */
export function unsupportedFormatMessage(other?: string): string {
  if (other === undefined) {
    return (
      `The file is not a ${ACCEPTED_FORMATS_TEXT.replace(' and ', ' or ')} image (judged by its first bytes, ` +
      `whatever its name or Content-Type says). Accepted formats are ${ACCEPTED_FORMATS_TEXT}.`
    );
  }
  const hint = ['HEIC', 'HEIF', 'AVIF'].includes(other) ? HEIC_HINT : 'Convert it to JPEG or PNG first.';
  return `The image is ${other}; accepted formats are ${ACCEPTED_FORMATS_TEXT}. ${hint}`;
}

/** Megapixels with one decimal, rounded half up with integer arithmetic so that Python prints the same. */
export function megapixels(width: number, height: number): string {
  const tenths = Math.floor((width * height + 50_000) / 100_000);
  return `${Math.floor(tenths / 10)}.${tenths % 10}`;
}

/** The one message that refuses an image over {@link MAX_IMAGE_PIXELS}, at every door. */
export function tooLargeMessage(width: number, height: number): string {
  return (
    `Image too large: ${megapixels(width, height)} MP (${width}x${height} pixels), limit ` +
    `${MAX_IMAGE_MEGAPIXELS} MP. Downsize it and try again: the model sees 512x512 pixels, so 1024 pixels on ` +
    'the longest side loses nothing.'
  );
}
