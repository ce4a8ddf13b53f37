/**
 * The API proxy as one of the image contract's doors (contracts/images.ts): the bytes decide the format, one list
 * of formats, one pixel limit read from the header, one message for everything else.
 */
import {
  InvokeEndpointCommand,
  InvokeEndpointCommandOutput,
  ModelError,
  SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';
import { tooLargeMessage, unsupportedFormatMessage } from '../../../contracts';
import type { Settings } from '../../../lambda/detect';
import { readImageHeader } from '../../../lambda/shared/image-header';
import { contractViolations, imageEvent } from './test-helpers';
import { grayPng } from '../../parity/corpus';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
let route: (typeof import('../../../lambda/detect'))['route'];

beforeAll(async () => {
  // Imported after the environment is set: the logger reads its level when the module loads.
  ({ route } = await import('../../../lambda/detect'));
});

const sagemaker = mockClient(SageMakerRuntimeClient);
const settings = (): Settings => ({
  endpointName: 'endpoint',
  liveModelParameter: '/live-model',
  defaultMinScore: 0.5,
  corsOrigins: [],
});

async function call(event: APIGatewayProxyEvent) {
  const response = await route(event, settings);
  expect(contractViolations('POST', '/detections', response)).toEqual([]);
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

const forwarded = () => sagemaker.commandCalls(InvokeEndpointCommand).map((c) => c.args[0].input);
const colour = () => sharp({ create: { width: 48, height: 32, channels: 3, background: '#c84020' } });

beforeEach(() => {
  sagemaker.reset();
  sagemaker.on(InvokeEndpointCommand).resolves({
    Body: new TextEncoder().encode(
      JSON.stringify({ model: { version: 'v1' }, image: { width: 48, height: 32 }, detections: [] }),
    ) as InvokeEndpointCommandOutput['Body'],
  });
});

describe('POST /detections: formats and limits', () => {
  test.each([
    ['a WebP sent as image/webp', 'image/webp', 'webp'],
    ['a PNG sent as application/octet-stream', 'application/octet-stream', 'png'],
    ['a JPEG sent as image/heic (a name-based label)', 'image/heic', 'jpeg'],
    ['a PNG sent as image/jpeg', 'image/jpeg', 'png'],
  ] as const)('takes %s and forwards it with the type its bytes say', async (_name, contentType, format) => {
    const bytes = await colour().toFormat(format).toBuffer();

    const { status } = await call(imageEvent(bytes, contentType));

    expect(status).toBe(200);
    expect(forwarded()).toEqual([expect.objectContaining({ ContentType: `image/${format}`, Body: bytes })]);
  });

  test('takes base64 JSON with a data: URL prefix, as browsers write it', async () => {
    const webp = await colour().webp().toBuffer();
    const json = JSON.stringify({ image: `data:image/webp;base64,${webp.toString('base64')}` });

    const { status } = await call(imageEvent(Buffer.from(json), 'application/json'));

    expect(status).toBe(200);
    expect(forwarded()[0]).toMatchObject({ ContentType: 'image/webp', Body: webp });
  });

  test.each([
    [
      'HEIC',
      Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1')]),
    ],
    ['TIFF', Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0])],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00')],
  ])(
    'refuses %s bytes with 415 and the message every door gives, naming the accepted formats',
    async (name, bytes) => {
      const { status, body } = await call(imageEvent(bytes, 'image/jpeg'));

      expect(status).toBe(415);
      expect(body.error).toEqual({ code: 'UnsupportedMediaType', message: unsupportedFormatMessage(name) });
      expect(body.error.message).toContain('accepted formats are JPEG, PNG and WebP');
      expect(forwarded()).toHaveLength(0);
    },
  );

  test('refuses a text/plain body with 415 naming what to send', async () => {
    const { status, body } = await call(imageEvent(Buffer.from('hello'), 'text/plain'));

    expect(status).toBe(415);
    expect(body.error.message).toMatch(
      /image\/\* Content-Type.*application\/octet-stream.*JPEG, PNG and WebP/,
    );
  });

  test.each([
    ['a flat 8000x7000 gray PNG of 66 KB', 8000, 7000, 8],
    ['a 7071x7071 1-bit PNG of 6 KB', 7071, 7071, 1],
  ] as const)(
    'answers %s with 413 ImageTooLarge from its header, never calling the model',
    async (_n, w, h, depth) => {
      const png = grayPng(w, h, depth, () => 0);

      const { status, body } = await call(imageEvent(png, 'image/png'));

      expect(status).toBe(413);
      expect(body.error).toEqual({ code: 'ImageTooLarge', message: tooLargeMessage(w, h) });
      expect(body.error.message).toMatch(/\d+\.\d MP .*limit 16 MP/);
      expect(forwarded()).toHaveLength(0);
    },
  );

  test('answers a header that cannot be read with 400 InvalidImage, never calling the model', async () => {
    const { status, body } = await call(
      imageEvent((await colour().png().toBuffer()).subarray(0, 20), 'image/png'),
    );

    expect(status).toBe(400);
    expect(body.error.code).toBe('InvalidImage');
    expect(forwarded()).toHaveLength(0);
  });

  test('passes the container 413 on as ImageTooLarge, without its text', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(
      new ModelError({
        message: 'too large',
        $metadata: {},
        OriginalStatusCode: 413,
        OriginalMessage: '{"x":1}',
      }),
    );

    const { status, body } = await call(imageEvent(await colour().png().toBuffer(), 'image/png'));

    expect(status).toBe(413);
    expect(body.error.code).toBe('ImageTooLarge');
    expect(body.error.message).not.toContain('{"x":1}');
  });

  test('answers a JSON body nested 100000 deep with 400 InvalidJson', async () => {
    const deep = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));

    const { status, body } = await call(imageEvent(deep, 'application/json'));

    expect(status).toBe(400);
    expect(body.error.code).toBe('InvalidJson');
  });
});

describe('readImageHeader', () => {
  test.each([
    ['jpeg', { progressive: true }],
    ['png', { progressive: true }],
    ['webp', { lossless: true }],
    ['webp', {}],
  ] as const)('reads the size of a %s image (%j) without decoding it', async (format, options) => {
    const bytes = await sharp({ create: { width: 321, height: 123, channels: 4, background: '#ff000080' } })
      .toFormat(format, options)
      .toBuffer();

    expect(readImageHeader(bytes)).toEqual({ format, width: 321, height: 123 });
  });

  test('reads an extended (VP8X) WebP, as an animated or EXIF-carrying WebP is', async () => {
    const bytes = await colour().webp().withMetadata({ orientation: 6 }).toBuffer();

    expect(bytes.subarray(12, 16).toString('latin1')).toBe('VP8X');
    expect(readImageHeader(bytes)).toEqual({ format: 'webp', width: 48, height: 32 });
  });

  test('finds nothing in a file cut before its size', async () => {
    const jpeg = await colour().jpeg().toBuffer();

    expect(readImageHeader(jpeg.subarray(0, 10))).toBeUndefined();
    expect(readImageHeader(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBeUndefined();
  });
});
