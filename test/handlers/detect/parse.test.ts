import { ApiError } from '../../../lambda/detect/responses';
import {
  imageFromJson,
  parseDetectionRequest,
  parseQuery,
  sniffImageType,
} from '../../../lambda/detect/parse';
import { apiEvent, imageEvent, makeImage } from './test-helpers';

const query = (q: Record<string, string[]>) => ({
  multiValueQueryStringParameters: q,
  queryStringParameters: Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v[v.length - 1]])),
});

function rejection(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('sniffImageType', () => {
  test('recognizes real JPEG and PNG files and nothing else', async () => {
    expect(sniffImageType(await makeImage('jpeg'))).toBe('image/jpeg');
    expect(sniffImageType(await makeImage('png'))).toBe('image/png');
    expect(sniffImageType(Buffer.from('GIF89a'))).toBeUndefined();
    expect(sniffImageType(Buffer.from([0xff, 0xd8]))).toBeUndefined();
    expect(sniffImageType(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('parseQuery', () => {
  test('uses the configured minScore and 20 results when the client gives none', () => {
    expect(parseQuery({ multiValueQueryStringParameters: null, queryStringParameters: null }, 0.4)).toEqual({
      minScore: 0.4,
      maxResults: 20,
    });
  });

  test.each([
    ['0', 0],
    ['1', 1],
    ['.5', 0.5],
    ['0.50', 0.5],
    ['1.0', 1],
  ])('accepts minScore=%s', (text, value) => {
    expect(parseQuery(query({ minScore: [text] }), 0.5).minScore).toBe(value);
  });

  test.each([['1'], ['100'], ['020']])('accepts maxResults=%s', (text) => {
    expect(parseQuery(query({ maxResults: [text] }), 0.5).maxResults).toBe(Number(text));
  });

  test.each([['1e-1'], ['0x1'], [''], [' 0.5'], ['NaN'], ['Infinity']])('rejects minScore=%j', (text) => {
    expect(rejection(() => parseQuery(query({ minScore: [text] }), 0.5)).code).toBe('InvalidParameter');
  });
});

describe('imageFromJson', () => {
  test('accepts base64 wrapped in lines (as `base64` prints it) and without padding', async () => {
    const png = await makeImage('png');
    const wrapped = png.toString('base64').replace(/.{76}/g, '$&\n');
    expect(imageFromJson(JSON.stringify({ image: wrapped })).equals(png)).toBe(true);
    const unpadded = png.toString('base64').replace(/=+$/, '');
    expect(imageFromJson(JSON.stringify({ image: unpadded })).equals(png)).toBe(true);
  });

  test('names unknown properties and points query parameters to the query string', () => {
    const error = rejection(() => imageFromJson('{"image":"AAAA","minScore":0.2}'));
    expect(error.code).toBe('InvalidJson');
    expect(error.message).toContain('minScore');
    expect(error.message).toContain('query parameters');
  });

  test('rejects base64url and impossible lengths', () => {
    expect(rejection(() => imageFromJson('{"image":"ab-_"}')).code).toBe('InvalidBase64');
    expect(rejection(() => imageFromJson('{"image":"abcde"}')).code).toBe('InvalidBase64');
  });
});

describe('parseDetectionRequest', () => {
  test('reads the Content-Type whatever its case and parameters', async () => {
    const jpeg = await makeImage('jpeg');
    const event = imageEvent(jpeg, 'IMAGE/JPEG; charset=binary');
    expect(parseDetectionRequest(event, 0.5).imageType).toBe('image/jpeg');
  });

  test('checks the query before the body, so a bad parameter is reported even with a bad body', () => {
    const event = apiEvent({ headers: { 'Content-Type': 'text/plain' }, query: { limit: ['5'] } });
    expect(rejection(() => parseDetectionRequest(event, 0.5)).code).toBe('UnknownParameter');
  });

  test('accepts exactly 4 MiB and rejects one byte more', async () => {
    const jpeg = await makeImage('jpeg');
    const exact = Buffer.concat([jpeg, Buffer.alloc(4 * 1024 * 1024 - jpeg.length)]);
    expect(parseDetectionRequest(imageEvent(exact, 'image/jpeg'), 0.5).image.length).toBe(4 * 1024 * 1024);
    const over = Buffer.concat([exact, Buffer.alloc(1)]);
    expect(rejection(() => parseDetectionRequest(imageEvent(over, 'image/jpeg'), 0.5)).status).toBe(413);
  });
});
