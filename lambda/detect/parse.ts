import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ACCEPTED_FORMATS_TEXT, IMAGE_FORMATS, type ImageMediaType, sniffImageFormat } from '../../contracts';
import { checkImageHeader, ImageRefusedError } from '../shared/image-header';
import { ApiError } from './responses';

/** Largest decoded image accepted: Lambda's 6 MB synchronous payload limit, less base64's 4/3 inflation. */
export const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
/** `maxResults` when the client does not set it. */
export const DEFAULT_MAX_RESULTS = 20;
/** Largest `maxResults` a client may ask for. */
export const MAX_RESULTS_LIMIT = 100;

/** The image types the model accepts (contracts/images.ts): JPEG, PNG and WebP. */
export type ImageType = ImageMediaType;
const JSON_TYPE = 'application/json';
const QUERY_PARAMETERS = ['minScore', 'maxResults'];
const CONTENT_TYPES_TEXT =
  "the image's bytes with an image/* Content-Type (or application/octet-stream), " +
  'or application/json with {"image": "<base64>"}';

/** A request to `POST /detections`, validated. */
export interface DetectionRequest {
  /** The image bytes, exactly as the client sent them (decoded from base64 for JSON requests). */
  readonly image: Buffer;
  /** The image type, from the image's magic bytes (whatever the request's Content-Type said). */
  readonly imageType: ImageType;
  /** The image's stored width and height in pixels, from its header. */
  readonly width: number;
  readonly height: number;
  /** Lowest score of a detection to return, 0 to 1. */
  readonly minScore: number;
  /** Most detections to return, 1 to 100. */
  readonly maxResults: number;
}

/** The media type of an accepted image from its file signature ("magic bytes"), or undefined. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  const sniffed = sniffImageFormat(bytes);
  return 'accepted' in sniffed ? IMAGE_FORMATS[sniffed.accepted].mediaType : undefined;
}

/**
 * Whether a Content-Type announces image bytes: any `image/*` type or `application/octet-stream` (what many HTTP
 * clients send for a file). The bytes then decide the format, so a PNG labelled image/jpeg is still a PNG.
 */
export function isImageContentType(contentType: string): boolean {
  return /^image\/[a-z0-9.+-]+$/.test(contentType) || contentType === 'application/octet-stream';
}

/** A header's value, whatever the case of its name (API Gateway passes them as the client sent them). */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const entry = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === wanted);
  return entry?.[1] ?? undefined;
}

const megabytes = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;

function tooLarge(size: number): ApiError {
  return new ApiError(
    413,
    'PayloadTooLarge',
    `The image is ${size} bytes; the limit is ${MAX_IMAGE_BYTES} bytes (${megabytes(MAX_IMAGE_BYTES)}) ` +
      'after base64 decoding. Resize or recompress it.',
  );
}

/** Whether the request gives `minScore` as a query parameter (valid or not). */
export function sendsMinScore(
  event: Pick<APIGatewayProxyEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'>,
): boolean {
  return (
    event.multiValueQueryStringParameters?.minScore !== undefined ||
    event.queryStringParameters?.minScore !== undefined
  );
}

/**
 * The `minScore` and `maxResults` query parameters, validated, with their defaults.
 * Throws a 400 {@link ApiError} naming unknown, repeated or out-of-range parameters.
 */
export function parseQuery(
  event: Pick<APIGatewayProxyEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'>,
  defaultMinScore: number,
): { minScore: number; maxResults: number } {
  const multi = event.multiValueQueryStringParameters ?? {};
  const single = event.queryStringParameters ?? {};
  const names = [...new Set([...Object.keys(multi), ...Object.keys(single)])];
  const unknown = names.filter((name) => !QUERY_PARAMETERS.includes(name));
  if (unknown.length > 0) {
    throw new ApiError(
      400,
      'UnknownParameter',
      `Unknown query parameter${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. ` +
        `Allowed: ${QUERY_PARAMETERS.join(', ')} (names are case-sensitive).`,
    );
  }
  const value = (name: string): string | undefined => {
    const values = multi[name] ?? (single[name] === undefined ? [] : [single[name]]);
    if (values.length > 1) {
      throw new ApiError(
        400,
        'InvalidParameter',
        `Query parameter ${name} is given more than once; give it once.`,
      );
    }
    return values[0] ?? undefined;
  };

  const minScoreText = value('minScore');
  let minScore = defaultMinScore;
  if (minScoreText !== undefined) {
    minScore = /^(\d+(\.\d*)?|\.\d+)$/.test(minScoreText) ? Number(minScoreText) : NaN;
    if (!(minScore >= 0 && minScore <= 1)) {
      throw new ApiError(
        400,
        'InvalidParameter',
        `minScore must be a decimal number from 0 to 1, e.g. 0.6; got ${JSON.stringify(minScoreText)}.`,
      );
    }
  }
  const maxResultsText = value('maxResults');
  let maxResults = DEFAULT_MAX_RESULTS;
  if (maxResultsText !== undefined) {
    maxResults = /^\d{1,3}$/.test(maxResultsText) ? Number(maxResultsText) : NaN;
    if (!(maxResults >= 1 && maxResults <= MAX_RESULTS_LIMIT)) {
      throw new ApiError(
        400,
        'InvalidParameter',
        `maxResults must be an integer from 1 to ${MAX_RESULTS_LIMIT}; got ${JSON.stringify(maxResultsText)}.`,
      );
    }
  }
  return { minScore, maxResults };
}

/** Standard base64 (RFC 4648 section 4), padding optional; line breaks are removed before this check. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** A data URL's prefix (`data:image/png;base64,`), as browsers' FileReader.readAsDataURL writes it. */
const DATA_URL_PREFIX = /^data:([\w.+-]+\/[\w.+-]+)?;base64,/i;

/** The image bytes of a JSON request `{"image": "<base64>"}`. Throws a 400 or 413 {@link ApiError}. */
export function imageFromJson(text: string): Buffer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      'InvalidJson',
      'The body is not valid JSON; send {"image": "<base64 of a JPEG, PNG or WebP image>"}.',
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'InvalidJson', 'The JSON body must be an object: {"image": "<base64>"}.');
  }
  const extra = Object.keys(body).filter((key) => key !== 'image');
  if (extra.length > 0) {
    throw new ApiError(
      400,
      'InvalidJson',
      `Unknown propert${extra.length > 1 ? 'ies' : 'y'} in the JSON body: ${extra.join(', ')}. ` +
        'The only property is image; send minScore and maxResults as query parameters.',
    );
  }
  const image = (body as { image?: unknown }).image;
  if (typeof image !== 'string') {
    throw new ApiError(400, 'InvalidJson', 'The JSON body needs "image": a string holding the base64 image.');
  }
  const base64 = image.replace(DATA_URL_PREFIX, '').replace(/[\r\n\t ]/g, '');
  if (!BASE64.test(base64) || base64.replace(/=+$/, '').length % 4 === 1) {
    throw new ApiError(
      400,
      'InvalidBase64',
      'The "image" property is not valid base64: use the standard alphabet (A-Z, a-z, 0-9, +, /) ' +
        'with optional = padding (a data URL prefix such as "data:image/png;base64," is allowed).',
    );
  }
  const decodedSize = Math.floor((base64.replace(/=+$/, '').length * 3) / 4);
  if (decodedSize > MAX_IMAGE_BYTES) throw tooLarge(decodedSize);
  return Buffer.from(base64, 'base64');
}

/** The header checks every door makes (contracts/images.ts), answered as the API's 415, 400 and 413. */
function checkedHeader(image: Buffer) {
  try {
    return checkImageHeader(image);
  } catch (error) {
    if (!(error instanceof ImageRefusedError)) throw error;
    if (error.reason === 'unsupported-format') {
      throw new ApiError(415, 'UnsupportedMediaType', error.message);
    }
    if (error.reason === 'too-large') throw new ApiError(413, 'ImageTooLarge', error.message);
    throw new ApiError(400, 'InvalidImage', `The image cannot be decoded: ${error.message}`);
  }
}

/**
 * Validates a `POST /detections` request: content type, size, image format (by its bytes), header and pixel
 * limit, and query parameters. Pixels are not decoded here; an image whose header is sound but whose data is
 * damaged is the model container's to reject (it answers 4xx, which the proxy passes on as a client error).
 * Throws a 4xx {@link ApiError} naming what is wrong.
 */
export function parseDetectionRequest(
  event: APIGatewayProxyEvent,
  defaultMinScore: number,
): DetectionRequest {
  const { minScore, maxResults } = parseQuery(event, defaultMinScore);
  const contentType = header(event, 'content-type')?.split(';')[0].trim().toLowerCase();
  if (contentType === undefined || contentType === '') {
    throw new ApiError(415, 'UnsupportedMediaType', `Content-Type is missing; send ${CONTENT_TYPES_TEXT}.`);
  }
  if (contentType !== JSON_TYPE && !isImageContentType(contentType)) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `Content-Type ${contentType} is not supported; send ${CONTENT_TYPES_TEXT}. ` +
        `Accepted formats are ${ACCEPTED_FORMATS_TEXT}.`,
    );
  }
  const text = event.body ?? '';
  if (text.length === 0) {
    throw new ApiError(
      400,
      'EmptyBody',
      `The request body is empty; send a ${ACCEPTED_FORMATS_TEXT.replace(' and ', ' or ')} image.`,
    );
  }
  const raw = Buffer.from(text, event.isBase64Encoded ? 'base64' : 'utf8');
  const image = contentType === JSON_TYPE ? imageFromJson(raw.toString('utf8')) : raw;
  if (image.length === 0) {
    throw new ApiError(
      400,
      'EmptyBody',
      `The image is empty; send a ${ACCEPTED_FORMATS_TEXT.replace(' and ', ' or ')} image.`,
    );
  }
  if (image.length > MAX_IMAGE_BYTES) throw tooLarge(image.length);
  const { format, width, height } = checkedHeader(image);
  return { image, imageType: IMAGE_FORMATS[format].mediaType, width, height, minScore, maxResults };
}
