import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';
import {
  DetectFailure,
  DetectionLine,
  DetectPrepareResult,
  MAX_DETECT_IMAGE_BYTES,
  modelNameForVersion,
} from '../../contracts';
import { checkRequest, handler as prepare } from '../../lambda/detect-prepare';
import { handler as results, readAnswer } from '../../lambda/detect-results';
import { FakeS3 } from './fake-s3';

const PHOTOS = 'photos-bucket';
const ARTIFACTS = 'artifacts-bucket';
const VERSION = `logodet-1a2b3c-train-${'a'.repeat(40)}`;
const s3 = new FakeS3(2);
const ssm = mockClient(SSMClient);

const jpeg = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 40, g: 40, b: 40 } } })
    .jpeg()
    .toBuffer();

const jsonLines = <T>(text: string): T[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);

beforeEach(() => {
  s3.reset();
  ssm.reset();
  ssm
    .on(GetParameterCommand)
    .resolves({ Parameter: { Value: JSON.stringify({ version: VERSION, map: 0.6 }) } });
  Object.assign(process.env, {
    LIVE_MODEL_PARAMETER: '/live-model',
    DETECT_INPUT_BUCKETS: `${PHOTOS},other-bucket`,
    DEFAULT_MIN_SCORE: '0.5',
  });
});

describe('detect-prepare', () => {
  test.each([
    ['the configured default', { DEFAULT_MIN_SCORE: '0.45' }, { threshold: 0.62 }, '0.45'],
    ["the live model's calibrated threshold", { DEFAULT_MIN_SCORE: undefined }, { threshold: 0.62 }, '0.62'],
    ['0.5 when the live model has no threshold', { DEFAULT_MIN_SCORE: undefined }, {}, '0.5'],
  ])('a request without minScore gets %s', async (_, env, record, expected) => {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Value: JSON.stringify({ version: VERSION, map: 0.6, ...record }) } });
    s3.put(PHOTOS, 'shop/a.jpg', await jpeg(16, 16));
    const prepared = await prepare({
      executionName: 'detect-default',
      request: { input: `s3://${PHOTOS}/shop/` },
      artifactsBucket: ARTIFACTS,
    });
    expect(prepared.minScore).toBe(expected);
  });

  test('lists the prefix into a SageMaker manifest and refuses empty and oversized objects with the reason', async () => {
    s3.put(PHOTOS, 'shop/a.jpg', await jpeg(64, 48));
    s3.put(PHOTOS, 'shop/sub/b.png', await jpeg(32, 32));
    s3.put(PHOTOS, 'shop/empty.jpg', '');
    s3.put(PHOTOS, 'shop/huge.jpg', Buffer.alloc(MAX_DETECT_IMAGE_BYTES + 1));
    s3.put(PHOTOS, 'shop/folder/', '');
    s3.put(PHOTOS, 'elsewhere/c.jpg', await jpeg(8, 8));

    const prepared = await prepare({
      executionName: 'detect-1',
      request: { input: `s3://${PHOTOS}/shop`, minScore: 0.3, annotate: true },
      artifactsBucket: ARTIFACTS,
    });

    expect(prepared).toEqual({
      input: `s3://${PHOTOS}/shop/`,
      images: 2,
      refused: 2,
      manifestUri: `s3://${ARTIFACTS}/detections/detect-1/input.manifest`,
      transformOutputUri: `s3://${ARTIFACTS}/detections/detect-1/transform/`,
      modelVersion: VERSION,
      modelName: `logodet-1a2b3c-model-${'a'.repeat(40)}`,
      minScore: '0.3',
      annotate: true,
    });
    expect(JSON.parse(s3.text(ARTIFACTS, 'detections/detect-1/input.manifest'))).toEqual([
      { prefix: `s3://${PHOTOS}/shop/` },
      'a.jpg',
      'sub/b.png',
    ]);
    const refused = jsonLines<DetectFailure>(s3.text(ARTIFACTS, 'detections/detect-1/failures.jsonl'));
    expect(refused).toEqual([
      { image: `s3://${PHOTOS}/shop/empty.jpg`, code: 'empty', reason: 'The object is empty (0 bytes)' },
      {
        image: `s3://${PHOTOS}/shop/huge.jpg`,
        code: 'too_large',
        reason: expect.stringMatching(
          /^The object is 6\.0 MiB; batch detection sends at most 6 MiB per image/,
        ),
      },
    ]);
    // The inputs are read nowhere and written never.
    expect(s3.mutations.every((m) => m.bucket === ARTIFACTS)).toBe(true);
  });

  test('refuses a bucket detectInputBuckets does not list, naming the allowed ones and the fix', () => {
    expect(() => checkRequest({ input: 's3://someone-else/x/' }, [PHOTOS], 0.5)).toThrow(
      /may read only the buckets in detectInputBuckets \(photos-bucket\), not someone-else: add it to detectInputBuckets/,
    );
  });

  test.each([
    [{ input: 'photos-bucket/x' }, /must be an S3 prefix such as s3:\/\/bucket\/photos\//],
    [{ input: `s3://${PHOTOS}/x/`, minScore: 2 }, /minScore must be a number from 0 to 1, got 2/],
    [{ input: `s3://${PHOTOS}/a//b/` }, /empty path segment/],
  ])('refuses a bad request %j with what to fix', (request, message) => {
    expect(() => checkRequest(request, [PHOTOS], 0.5)).toThrow(message);
  });

  test('uses the default minScore and no annotated copies when the request gives none', () => {
    expect(checkRequest({ input: `s3://${PHOTOS}` }, [PHOTOS], 0.45)).toEqual({
      input: { bucket: PHOTOS, prefix: '' },
      minScore: 0.45,
      annotate: false,
    });
  });

  test('fails with what to do when no model is live, or nothing is under the prefix', async () => {
    s3.put(PHOTOS, 'shop/a.jpg', await jpeg(8, 8));
    const event = {
      executionName: 'd',
      request: { input: `s3://${PHOTOS}/nothing/` },
      artifactsBucket: ARTIFACTS,
    };
    await expect(prepare(event)).rejects.toThrow(`There is no object under s3://${PHOTOS}/nothing/`);
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify({ version: null }) } });
    await expect(prepare({ ...event, request: { input: `s3://${PHOTOS}/shop/` } })).rejects.toMatchObject({
      name: 'DetectError',
      message: expect.stringContaining('No model is live yet: run the pipeline'),
    });
  });

  test("names the live model's SageMaker model after its training job, and refuses other versions", () => {
    expect(modelNameForVersion(VERSION)).toBe(`logodet-1a2b3c-model-${'a'.repeat(40)}`);
    expect(() => modelNameForVersion('my-own-job')).toThrow(/"my-own-job" is not a training job name/);
  });
});

describe('detect-results', () => {
  const prepared: DetectPrepareResult = {
    input: `s3://${PHOTOS}/shop/`,
    images: 3,
    refused: 1,
    manifestUri: `s3://${ARTIFACTS}/detections/detect-1/input.manifest`,
    transformOutputUri: `s3://${ARTIFACTS}/detections/detect-1/transform/`,
    modelVersion: VERSION,
    modelName: 'm',
    minScore: '0.5',
    annotate: false,
  };
  const box = { left: 4, top: 6, width: 20, height: 10 };
  const answer = (detections: unknown[]) =>
    JSON.stringify({ model: { version: VERSION }, image: { width: 64, height: 48 }, detections });

  async function arrange(): Promise<void> {
    s3.put(PHOTOS, 'shop/a.jpg', await jpeg(64, 48));
    s3.put(PHOTOS, 'shop/sub/b.jpg', await jpeg(64, 48));
    s3.put(PHOTOS, 'shop/c.txt', 'no image');
    s3.put(
      ARTIFACTS,
      'detections/detect-1/input.manifest',
      JSON.stringify([{ prefix: prepared.input }, 'a.jpg', 'sub/b.jpg', 'c.txt']),
    );
    s3.put(
      ARTIFACTS,
      'detections/detect-1/failures.jsonl',
      `${JSON.stringify({ image: `s3://${PHOTOS}/shop/huge.jpg`, code: 'too_large', reason: 'big' })}\n`,
    );
    s3.put(
      ARTIFACTS,
      'detections/detect-1/transform/a.jpg.out',
      answer([{ label: 'logo', score: 0.9, box }]),
    );
    s3.put(ARTIFACTS, 'detections/detect-1/transform/sub/b.jpg.out', answer([]));
    s3.put(
      ARTIFACTS,
      'detections/detect-1/transform/c.txt.out',
      JSON.stringify({
        error: { code: 'unsupported_image', message: 'Not an accepted format', status: 415 },
      }),
    );
  }

  test('writes one JSON line per answered image, and every refused or failed image with its reason', async () => {
    await arrange();
    const result = await results({ executionName: 'detect-1', artifactsBucket: ARTIFACTS, prepared });

    expect(result).toEqual({
      answered: 2,
      withDetections: 1,
      detections: 1,
      failed: 2,
      annotated: 0,
      detectionsUri: `s3://${ARTIFACTS}/detections/detect-1/detections.jsonl`,
      failuresUri: `s3://${ARTIFACTS}/detections/detect-1/failures.jsonl`,
      failureSample: [
        { image: `s3://${PHOTOS}/shop/huge.jpg`, code: 'too_large', reason: 'big' },
        { image: `s3://${PHOTOS}/shop/c.txt`, code: 'unsupported_image', reason: 'Not an accepted format' },
      ],
    });
    expect(jsonLines<DetectionLine>(s3.text(ARTIFACTS, 'detections/detect-1/detections.jsonl'))).toEqual([
      {
        image: `s3://${PHOTOS}/shop/a.jpg`,
        model: VERSION,
        width: 64,
        height: 48,
        detections: [{ label: 'logo', score: 0.9, box }],
      },
      { image: `s3://${PHOTOS}/shop/sub/b.jpg`, model: VERSION, width: 64, height: 48, detections: [] },
    ]);
    expect(jsonLines(s3.text(ARTIFACTS, 'detections/detect-1/failures.jsonl'))).toEqual(result.failureSample);
    expect(s3.keys(ARTIFACTS, 'detections/detect-1/annotated/')).toEqual([]);
  });

  test('with annotate, writes an upright JPEG copy of each answered image with its box drawn', async () => {
    await arrange();
    const result = await results({
      executionName: 'detect-1',
      artifactsBucket: ARTIFACTS,
      prepared: { ...prepared, annotate: true },
    });

    expect(result).toMatchObject({
      annotated: 2,
      annotatedUri: `s3://${ARTIFACTS}/detections/detect-1/annotated/`,
    });
    expect(s3.keys(ARTIFACTS, 'detections/detect-1/annotated/').sort()).toEqual([
      'detections/detect-1/annotated/a.jpg.annotated.jpg',
      'detections/detect-1/annotated/sub/b.jpg.annotated.jpg',
    ]);
    const copy = s3.get(ARTIFACTS, 'detections/detect-1/annotated/a.jpg.annotated.jpg')!.body;
    const { data, info } = await sharp(copy).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.format]).toEqual([64, 48, 'raw']);
    // The box's top edge is red; the inside of the box is the image's dark gray.
    const pixel = (x: number, y: number) => [...data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
    const [r, g] = pixel(14, 6);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(120);
    expect(pixel(14, 11).every((c) => c < 80)).toBe(true);
  });

  test('an image the transform job wrote nothing for, or an answer that is not the contract, is a failure', () => {
    expect(readAnswer('s3://b/x.jpg', undefined)).toEqual({
      ok: false,
      failure: {
        image: 's3://b/x.jpg',
        code: 'no_answer',
        reason: 'The transform job wrote no answer for this image',
      },
    });
    expect(readAnswer('s3://b/x.jpg', '<html>')).toMatchObject({
      ok: false,
      failure: { code: 'bad_answer' },
    });
    expect(readAnswer('s3://b/x.jpg', '{"detections": []}')).toMatchObject({
      ok: false,
      failure: { code: 'bad_answer' },
    });
  });

  test('with no image sent (all refused), writes empty detections and the refused list', async () => {
    s3.put(ARTIFACTS, 'detections/detect-2/input.manifest', JSON.stringify([{ prefix: prepared.input }]));
    s3.put(
      ARTIFACTS,
      'detections/detect-2/failures.jsonl',
      `${JSON.stringify({ image: `s3://${PHOTOS}/shop/e.jpg`, code: 'empty', reason: 'The object is empty (0 bytes)' })}\n`,
    );
    const result = await results({
      executionName: 'detect-2',
      artifactsBucket: ARTIFACTS,
      prepared: { ...prepared, images: 0 },
    });
    expect(result).toMatchObject({ answered: 0, failed: 1 });
    expect(s3.text(ARTIFACTS, 'detections/detect-2/detections.jsonl')).toBe('');
  });
});
