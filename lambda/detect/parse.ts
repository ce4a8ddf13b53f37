import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ApiError } from './responses';

/** Largest decoded image accepted: Lambda's 6 MB synchronous payload limit, less base64's 4/3 inflation. */
export const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
/** `maxResults` when the client does not set it. */
export const DEFAULT_MAX_RESULTS = 20;
/** Largest `maxResults` a client may ask for. */
export const MAX_RESULTS_LIMIT = 100;

/** The image types the model accepts. */
export type ImageType = 'image/jpeg' | 'image/png';
const IMAGE_TYPES: readonly string[] = ['image/jpeg', 'image/png'];
const JSON_TYPE = 'application/json';
const QUERY_PARAMETERS = ['minScore', 'maxResults'];

/** A request to `POST /detections`, validated. */
export interface DetectionRequest {
  /** The image bytes, exactly as the client sent them (decoded from base64 for JSON requests). */
  readonly image: Buffer;
  /** The image type, from the image's magic bytes. */
  readonly imageType: ImageType;
  /** Lowest score of a detection to return, 0 to 1. */
  readonly minScore: number;
  /** Most detections to return, 1 to 100. */
  readonly maxResults: number;
}

/** The image type from the file signature ("magic bytes"), or undefined if it is neither JPEG nor PNG. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  const starts = (signature: number[]) =>
    bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  return undefined;
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

/** The image bytes of a JSON request `{"image": "<base64>"}`. Throws a 400 or 413 {@link ApiError}. */
export function imageFromJson(text: string): Buffer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      'InvalidJson',
      'The body is not valid JSON; send {"image": "<base64 of a JPEG or PNG>"}.',
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
  const base64 = image.replace(/[\r\n\t ]/g, '');
  if (!BASE64.test(base64) || base64.replace(/=+$/, '').length % 4 === 1) {
    throw new ApiError(
      400,
      'InvalidBase64',
      'The "image" property is not valid base64: use the standard alphabet (A-Z, a-z, 0-9, +, /) ' +
        'with optional = padding, and no "data:" URL prefix.',
    );
  }
  const decodedSize = Math.floor((base64.replace(/=+$/, '').length * 3) / 4);
  if (decodedSize > MAX_IMAGE_BYTES) throw tooLarge(decodedSize);
  return Buffer.from(base64, 'base64');
}

/**
 * Validates a `POST /detections` request: content type, size, image signature and query parameters.
 * Only the signature is checked here; an image that starts like a JPEG or PNG but does not decode is the
 * model container's to reject (it answers 4xx, which the proxy passes on as a client error).
 * Throws a 4xx {@link ApiError} naming what is wrong.
 */
export function parseDetectionRequest(
  event: APIGatewayProxyEvent,
  defaultMinScore: number,
): DetectionRequest {
  const { minScore, maxResults } = parseQuery(event, defaultMinScore);
  const contentType = header(event, 'content-type')?.split(';')[0].trim().toLowerCase();
  if (contentType === undefined || contentType === '') {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      'Content-Type is missing; send image/jpeg, image/png or application/json.',
    );
  }
  if (contentType !== JSON_TYPE && !IMAGE_TYPES.includes(contentType)) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `Content-Type ${contentType} is not supported; send image/jpeg, image/png or application/json.`,
    );
  }
  const text = event.body ?? '';
  if (text.length === 0) {
    throw new ApiError(400, 'EmptyBody', 'The request body is empty; send a JPEG or PNG image.');
  }
  const raw = Buffer.from(text, event.isBase64Encoded ? 'base64' : 'utf8');
  const image = contentType === JSON_TYPE ? imageFromJson(raw.toString('utf8')) : raw;
  if (image.length === 0) {
    throw new ApiError(400, 'EmptyBody', 'The image is empty; send a JPEG or PNG image.');
  }
  if (image.length > MAX_IMAGE_BYTES) throw tooLarge(image.length);
  const imageType = sniffImageType(image);
  if (imageType === undefined) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      'The image is neither a JPEG nor a PNG (its first bytes are not a JPEG or PNG signature).',
    );
  }
  if (contentType !== JSON_TYPE && contentType !== imageType) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `Content-Type says ${contentType} but the image is a ${imageType === 'image/png' ? 'PNG' : 'JPEG'}; ` +
        `send it with Content-Type ${imageType}.`,
    );
  }
  return { image, imageType, minScore, maxResults };
}
