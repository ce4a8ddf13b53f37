import { handler } from '../../lambda/preprocess-report';
import type { PreprocessResult } from '../../contracts';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
const s3 = new FakeS3();

const child = (output: PreprocessResult) => ({
  ExecutionArn: 'arn:child',
  Status: 'SUCCEEDED',
  Input: JSON.stringify({ Items: [] }),
  Output: JSON.stringify(output),
});

beforeEach(() => s3.reset());

describe('preprocess-report', () => {
  test('adds up every result file, lists every failure with its reason, and counts failed batches', async () => {
    const prefix = 'reports/run-1/map/abc';
    s3.put(
      DATASET,
      `${prefix}/SUCCEEDED_0.json`,
      JSON.stringify([
        child({
          processed: 3,
          skipped: 1,
          failed: [{ key: 'raw/x.jpg', reason: 'not a JPEG/PNG/WebP/TIFF image' }],
        }),
        child({ processed: 2, skipped: 0, failed: [] }),
      ]),
    );
    s3.put(
      DATASET,
      `${prefix}/FAILED_0.json`,
      JSON.stringify([
        {
          Status: 'FAILED',
          Error: 'Lambda.Unknown',
          Cause: 'Task timed out',
          Input: JSON.stringify({ Items: [{ Key: 'raw/huge.tif', Size: 9 }], BatchInput: {} }),
        },
      ]),
    );
    s3.put(
      DATASET,
      `${prefix}/manifest.json`,
      JSON.stringify({
        DestinationBucket: DATASET,
        MapRunArn: 'arn:map',
        ResultFiles: {
          SUCCEEDED: [{ Key: `${prefix}/SUCCEEDED_0.json`, Size: 1 }],
          FAILED: [{ Key: `${prefix}/FAILED_0.json`, Size: 1 }],
          PENDING: [],
        },
      }),
    );

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-1',
      resultWriterDetails: { Bucket: DATASET, Key: `${prefix}/manifest.json` },
      toleratedFailurePercentage: 20,
    });

    expect(result).toEqual({
      processed: 5,
      skipped: 1,
      failed: 2,
      errors: 1,
      replaced: 0,
      reportKey: 'reports/run-1/preprocess.json',
      lambdaGbSeconds: 0,
      lambdaInvocations: 0,
    });
    expect(JSON.parse(s3.text(DATASET, 'reports/run-1/preprocess.json'))).toEqual({
      executionName: 'run-1',
      createdAt: expect.any(String),
      processed: 5,
      skipped: 1,
      failed: [
        { key: 'raw/x.jpg', reason: 'not a JPEG/PNG/WebP/TIFF image' },
        { key: 'raw/huge.tif', reason: 'its batch failed (Lambda.Unknown: Task timed out)', error: true },
      ],
      errors: 1,
      failedBatches: 1,
      replaced: [],
      lambdaGbSeconds: 0,
      lambdaInvocations: 0,
    });
  });

  test('reads JSON-lines result files too', async () => {
    s3.put(
      DATASET,
      'r/SUCCEEDED_0.json',
      [child({ processed: 1, skipped: 0, failed: [] }), child({ processed: 1, skipped: 2, failed: [] })]
        .map((c) => JSON.stringify(c))
        .join('\n'),
    );
    s3.put(
      DATASET,
      'r/manifest.json',
      JSON.stringify({ ResultFiles: { SUCCEEDED: [{ Key: 'r/SUCCEEDED_0.json' }] } }),
    );

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-3',
      resultWriterDetails: { Bucket: DATASET, Key: 'r/manifest.json' },
      toleratedFailurePercentage: 5,
    });

    expect(result).toMatchObject({ processed: 2, skipped: 2, failed: 0 });
  });

  test('writes an empty report when the map had no items', async () => {
    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-2',
      toleratedFailurePercentage: 5,
    });

    expect(result).toEqual({
      processed: 0,
      skipped: 0,
      failed: 0,
      errors: 0,
      replaced: 0,
      reportKey: 'reports/run-2/preprocess.json',
      lambdaGbSeconds: 0,
      lambdaInvocations: 0,
    });
    expect(JSON.parse(s3.text(DATASET, result.reportKey))).toMatchObject({ failed: [], failedBatches: 0 });
  });

  /** A map run of `batches` child executions, written as the ResultWriter writes it; returns its details. */
  function mapRun(prefix: string, batches: object[]) {
    s3.put(DATASET, `${prefix}/SUCCEEDED_0.json`, JSON.stringify(batches));
    s3.put(
      DATASET,
      `${prefix}/manifest.json`,
      JSON.stringify({ ResultFiles: { SUCCEEDED: [{ Key: `${prefix}/SUCCEEDED_0.json` }] } }),
    );
    return { Bucket: DATASET, Key: `${prefix}/manifest.json` };
  }

  const error = (key: string) => ({
    key,
    reason: 'could not be processed (InternalError: x)',
    error: true as const,
  });

  test('tolerates files, not batches: one failed file among 40 in two batches is within 5 %', async () => {
    const details = mapRun('m1', [
      child({ processed: 24, skipped: 0, failed: [error('raw/a.jpg')] }),
      child({ processed: 15, skipped: 0, failed: [] }),
    ]);

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-4',
      resultWriterDetails: details,
      toleratedFailurePercentage: 5,
    });

    expect(result).toMatchObject({ processed: 39, failed: 1, errors: 1 });
  });

  test('files refused for what they are never fail the run; errors over the tolerance do, after the report is written', async () => {
    const refused = Array.from({ length: 10 }, (_, i) => ({
      key: `raw/notes-${i}.txt`,
      reason: 'not a JPEG/PNG/WebP/TIFF image',
    }));
    const details = mapRun('m2', [child({ processed: 10, skipped: 0, failed: refused })]);
    const tolerant = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-5',
      resultWriterDetails: details,
      toleratedFailurePercentage: 0,
    });
    expect(tolerant).toMatchObject({ failed: 10, errors: 0 });

    const failing = mapRun('m3', [
      child({ processed: 17, skipped: 0, failed: [error('raw/a.jpg'), error('raw/b\nc.jpg'), refused[0]] }),
    ]);
    const verdict = handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-6',
      resultWriterDetails: failing,
      toleratedFailurePercentage: 5,
    });

    await expect(verdict).rejects.toMatchObject({
      name: 'PreprocessError',
      message:
        '2 of 20 raw files (10.0 %) could not be preprocessed because of an error, more than the tolerated 5 % ' +
        '(preprocessToleratedFailurePercentage): raw/a.jpg (could not be processed (InternalError: x)); ' +
        '"raw/b\\nc.jpg" (could not be processed (InternalError: x)). Every file is listed in ' +
        `s3://${DATASET}/reports/run-6/preprocess.json; start the run again once the cause is fixed (files already ` +
        'done are skipped).',
    });
    expect(JSON.parse(s3.text(DATASET, 'reports/run-6/preprocess.json'))).toMatchObject({ errors: 2 });
  });

  test('adds up the GB-seconds the invocations measured, counting those that reported them', async () => {
    const details = mapRun('m5', [
      child({ processed: 25, skipped: 0, failed: [], gbSeconds: 12.5 }),
      child({ processed: 10, skipped: 0, failed: [], gbSeconds: 4.25 }),
      child({ processed: 1, skipped: 0, failed: [] }),
    ]);

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-8',
      resultWriterDetails: details,
      toleratedFailurePercentage: 5,
    });

    expect(result).toMatchObject({ processed: 36, lambdaGbSeconds: 16.75, lambdaInvocations: 2 });
  });

  test('lists the photos replaced under the same key', async () => {
    const details = mapRun('m4', [
      child({ processed: 2, skipped: 3, failed: [], replaced: ['raw/front.jpg'] }),
      child({ processed: 1, skipped: 0, failed: [], replaced: ['raw/shop/b.png'] }),
    ]);

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      executionName: 'run-7',
      resultWriterDetails: details,
      toleratedFailurePercentage: 5,
    });

    expect(result).toMatchObject({ processed: 3, replaced: 2 });
    expect(JSON.parse(s3.text(DATASET, result.reportKey)).replaced).toEqual([
      'raw/front.jpg',
      'raw/shop/b.png',
    ]);
  });
});
