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
    });

    expect(result).toEqual({
      processed: 5,
      skipped: 1,
      failed: 2,
      reportKey: 'reports/run-1/preprocess.json',
    });
    expect(JSON.parse(s3.text(DATASET, 'reports/run-1/preprocess.json'))).toEqual({
      executionName: 'run-1',
      createdAt: expect.any(String),
      processed: 5,
      skipped: 1,
      failed: [
        { key: 'raw/x.jpg', reason: 'not a JPEG/PNG/WebP/TIFF image' },
        { key: 'raw/huge.tif', reason: 'its batch failed (Lambda.Unknown: Task timed out)' },
      ],
      failedBatches: 1,
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
    });

    expect(result).toMatchObject({ processed: 2, skipped: 2, failed: 0 });
  });

  test('writes an empty report when the map had no items', async () => {
    const result = await handler({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-2' });

    expect(result).toEqual({
      processed: 0,
      skipped: 0,
      failed: 0,
      reportKey: 'reports/run-2/preprocess.json',
    });
    expect(JSON.parse(s3.text(DATASET, result.reportKey))).toMatchObject({ failed: [], failedBatches: 0 });
  });
});
