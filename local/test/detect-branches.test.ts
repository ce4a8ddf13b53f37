import { DETECT_OUTCOME_STATES } from '../../lib/detection';
import { Definition } from '../emulator/asl';
import { detectDefinition, runLocally, ServiceError, TaskHandler } from './support/pipeline';

// The detect workflow's branches, its synthesized definition run in aws-local-stepfunctions with every AWS call
// stood in for at the task boundary (local/test/detect.test.ts runs the whole of it on moto).

let definition: Definition;
beforeAll(() => {
  definition = detectDefinition();
});

const prepared = (images: number) => ({
  input: 's3://photos/shop/',
  images,
  refused: 1,
  manifestUri: 's3://artifacts/detections/run/input.manifest',
  transformOutputUri: 's3://artifacts/detections/run/transform/',
  modelVersion: 'logodet-1a2b3c-train-x',
  modelName: 'logodet-1a2b3c-model-x',
  minScore: '0.5',
  annotate: false,
});
const results = { answered: 2, withDetections: 1, detections: 3, failed: 1, annotated: 0, failureSample: [] };

function standIns(overrides: Record<string, TaskHandler> = {}): Record<string, TaskHandler> {
  return {
    'Prepare images': () => prepared(2),
    'Detect in batch': (job) => ({ TransformJobName: job.TransformJobName, TransformJobStatus: 'Completed' }),
    'Write detections': () => ({
      ...results,
      detectionsUri: 's3://artifacts/detections/run/detections.jsonl',
      failuresUri: 's3://artifacts/detections/run/failures.jsonl',
    }),
    'Notify detections': () => ({ MessageId: 'm-1' }),
    'Notify detection failed': () => ({ MessageId: 'm-2' }),
    ...overrides,
  };
}

describe('the detect workflow', () => {
  test('runs the transform job on the prepared list, writes the results and notifies with the counts', async () => {
    const run = await runLocally(definition, standIns(), { input: 's3://photos/shop/' });
    expect(run.error).toBeUndefined();
    expect(run.entered[run.entered.length - 1]).toBe(DETECT_OUTCOME_STATES.done);
    expect(run.calls['Prepare images'][0]).toMatchObject({
      executionName: 'run-2026-11-26',
      request: { input: 's3://photos/shop/' },
    });
    expect(run.calls['Detect in batch'][0]).toMatchObject({
      ModelName: 'logodet-1a2b3c-model-x',
      TransformJobName: expect.stringMatching(/^logodet-[0-9a-f]{6}-detect-[0-9a-f]{40}$/),
      Environment: { BATCH_MODE: 'true', BATCH_MIN_SCORE: '0.5' },
    });
    const message = run.calls['Notify detections'][0].Message as Record<string, unknown>;
    expect(message).toMatchObject({
      outcome: 'detected',
      input: 's3://photos/shop/',
      results: { answered: 2 },
    });
    expect(message.summary).toBe(
      'Batch detection of s3://photos/shop/ by model logodet-1a2b3c-train-x: 2 images answered (1 with ' +
        'detections, 3 detections in all), 1 not answered (listed with the reason in ' +
        's3://artifacts/detections/run/failures.jsonl). Detections: s3://artifacts/detections/run/detections.jsonl',
    );
  });

  test('skips the transform job when every object was left out, and still writes and notifies', async () => {
    const run = await runLocally(definition, standIns({ 'Prepare images': () => prepared(0) }), {
      input: 's3://photos/shop/',
    });
    expect(run.entered).not.toContain('Detect in batch');
    expect(run.entered).toEqual(expect.arrayContaining(['Write detections', 'Notify detections']));
  });

  test('a failed transform job is notified with its cause and fails the run', async () => {
    const cause = JSON.stringify({
      TransformJobStatus: 'Failed',
      FailureReason: 'ClientError: model not found',
    });
    const run = await runLocally(
      definition,
      standIns({
        'Detect in batch': () => {
          throw new ServiceError('States.TaskFailed', cause);
        },
      }),
      { input: 's3://photos/shop/' },
    );
    expect(run.entered).not.toContain('Write detections');
    const message = run.calls['Notify detection failed'][0].Message as Record<string, unknown>;
    expect(message).toMatchObject({ outcome: 'detect-failed', error: 'States.TaskFailed', cause });
    expect(run.error).toEqual({ name: 'DetectionFailed', cause });
  });

  test('a request the prepare step refuses is notified with its message, even without an input', async () => {
    const message = 'The input must be an S3 prefix such as s3://bucket/photos/, got undefined';
    const run = await runLocally(
      definition,
      standIns({
        'Prepare images': () => {
          throw new ServiceError(
            'DetectError',
            JSON.stringify({ errorType: 'DetectError', errorMessage: message }),
          );
        },
      }),
      {},
    );
    expect(run.calls['Notify detection failed'][0].Message).toMatchObject({
      outcome: 'detect-failed',
      summary: `Batch detection failed: ${message}`,
      request: {},
    });
    expect(run.error).toEqual({ name: 'DetectionFailed', cause: message });
  });
});
