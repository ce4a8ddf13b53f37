import { StateMachine } from 'aws-local-stepfunctions';
import { Definition, itemProcessorOf, prepareDefinition } from '../emulator/asl';
import { pipelineDefinition, runLocally, ServiceError, TaskHandler } from './support/pipeline';

const WORKTEAM = 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers';
let importMode: Definition;
let groundTruthMode: Definition;

beforeAll(() => {
  importMode = pipelineDefinition();
  groundTruthMode = pipelineDefinition({ workteamArn: WORKTEAM });
});

/** Stand-ins for AWS on the path where new images arrive, labels are imported and the endpoint is created. */
function services(overrides: Record<string, TaskHandler> = {}): Record<string, TaskHandler> {
  let endpointConfigName = '';
  const notified = () => ({ MessageId: 'm-1' });
  return {
    'List running executions': () => ({ Executions: [{ status: 'RUNNING' }] }),
    'Preprocess raw images': () => ({
      ResultWriterDetails: { Bucket: 'dataset', Key: 'reports/preprocess/run/manifest.json' },
    }),
    'Summarize preprocessing': () => ({ processed: 3, skipped: 1, failed: 0, reportKey: 'reports/run.json' }),
    'Find unlabeled images': () => ({
      count: 3,
      manifestKey: 'manifests/labeling/run.manifest',
      sample: ['images/a.jpg'],
    }),
    'Wait for imported labels': () => ({ imported: 3, empty: 0, format: 'coco' }),
    'Assemble dataset': () => ({
      images: 10,
      boxes: 14,
      train: 8,
      validation: 2,
      trainManifestPrefix: 's3://dataset/manifests/train/',
      validationManifestPrefix: 's3://dataset/manifests/validation/',
    }),
    'Look for pretrained weights': () => ({ KeyCount: 0 }),
    Train: (job) => ({
      TrainingJobName: job.TrainingJobName,
      TrainingJobStatus: 'Completed',
      FinalMetricDataList: [{ MetricName: 'best_val_mAP', Value: 0.61 }],
      ModelArtifacts: { S3ModelArtifacts: 's3://artifacts/models/job/output/model.tar.gz' },
    }),
    'Check model quality': () => ({ accept: true, map: 0.61, liveMap: null, reason: 'No live model yet.' }),
    'Create model': () => ({ ModelArn: 'arn:model' }),
    'Create endpoint config': (input) => {
      endpointConfigName = input.EndpointConfigName as string;
      return { EndpointConfigArn: 'arn:config' };
    },
    'Find endpoint': (input) => {
      throw new ServiceError(
        'SageMaker.AmazonSageMakerException',
        `Could not find endpoint "${String(input.EndpointName)}".`,
      );
    },
    'Create endpoint': () => ({ EndpointArn: 'arn:endpoint' }),
    'Update endpoint': () => ({ EndpointArn: 'arn:endpoint' }),
    'Check endpoint': () => ({ EndpointStatus: 'InService', EndpointConfigName: endpointConfigName }),
    'Record live model': () => ({ Version: 2 }),
    'Notify deployed': notified,
    'Notify model rejected': notified,
    'Notify nothing new': notified,
    'Notify already running': notified,
    'Notify failure': notified,
    ...overrides,
  };
}

type Message = Record<string, unknown>;
const message = (run: { calls: Record<string, Record<string, unknown>[]> }, state: string): Message =>
  run.calls[state][0].Message as Message;

describe('pipeline definition, executed locally', () => {
  test('new images with imported labels: waits for the task token, trains, creates the endpoint, records and notifies', async () => {
    const run = await runLocally(importMode, services());
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual([
      'Start run',
      'List running executions',
      'Another run in progress?',
      'Preprocess raw images',
      'Summarize preprocessing',
      'Find unlabeled images',
      'Anything new?',
      'Wait for imported labels',
      'Assemble dataset',
      'Look for pretrained weights',
      'Pretrained weights uploaded?',
      'Train',
      'Metrics reported?',
      'Check model quality',
      'Model accepted?',
      'Name deployment',
      'Create model',
      'Create endpoint config',
      'Find endpoint',
      'Endpoint missing?',
      'Create endpoint',
      'Wait for endpoint',
      'Check endpoint',
      'Endpoint in service?',
      'Describe live model',
      'Record live model',
      'Notify deployed',
      'Deployed',
    ]);
    const request = run.calls['Wait for imported labels'][0].Payload as Record<string, unknown>;
    expect(request).toMatchObject({
      taskToken: 'task-token-1',
      executionName: 'run-2026-11-26',
      classes: ['logo'],
      unlabeled: { count: 3, manifestKey: 'manifests/labeling/run.manifest' },
    });
    expect(request.topicArn).toEqual(expect.any(String));

    const job = run.calls.Train[0];
    expect(job.TrainingJobName).toMatch(/^logodetectionp-train-[0-9a-f]{40}$/);
    expect((job.TrainingJobName as string).length).toBeLessThanOrEqual(63);
    expect(job.EnableManagedSpotTraining).toBe(true);
    expect((job.CheckpointConfig as Record<string, string>).S3Uri).toMatch(
      /^s3:\/\/.+\/checkpoints\/run-2026-11-26\/$/,
    );
    const live = JSON.parse(run.calls['Record live model'][0].Value as string) as Record<string, unknown>;
    expect(live).toEqual({
      version: job.TrainingJobName,
      map: 0.61,
      endpointName: 'LogoDetectionPipeline-detector',
      deployedAt: '2026-11-26T06:00:00.000Z',
    });
    expect(message(run, 'Notify deployed')).toMatchObject({
      outcome: 'deployed',
      version: job.TrainingJobName,
      map: 0.61,
    });
  });
});

describe('pipeline outcomes, executed locally', () => {
  const last = (run: { entered: string[] }) => run.entered[run.entered.length - 1];

  test('no new images and nothing to label: skips training and says "nothing new"', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Summarize preprocessing': () => ({ processed: 0, skipped: 5, failed: 0, reportKey: 'r' }),
        'Find unlabeled images': () => ({ count: 0, sample: [] }),
      }),
    );
    expect(last(run)).toBe('Nothing new');
    expect(run.calls.Train).toBeUndefined();
    expect(message(run, 'Notify nothing new')).toMatchObject({ outcome: 'nothing-new' });
  });

  test('{"force": true} trains even when nothing is new', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Summarize preprocessing': () => ({ processed: 0, skipped: 5, failed: 0, reportKey: 'r' }),
        'Find unlabeled images': () => ({ count: 0, sample: [] }),
      }),
      { force: true },
    );
    expect(run.entered).toContain('Train');
    expect(run.entered).not.toContain('Wait for imported labels');
    expect(last(run)).toBe('Deployed');
  });

  test('a second start while one runs ends at once as "already running"', async () => {
    const run = await runLocally(
      importMode,
      services({ 'List running executions': () => ({ Executions: [{}, {}] }) }),
    );
    expect(run.entered).toEqual([
      'Start run',
      'List running executions',
      'Another run in progress?',
      'Notify already running',
      'Already running',
    ]);
    expect(run.calls['List running executions'][0]).toMatchObject({
      StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline',
      StatusFilter: 'RUNNING',
    });
    expect(message(run, 'Notify already running')).toMatchObject({ outcome: 'already-running' });
  });

  test('an existing endpoint is updated blue/green, not created', async () => {
    const run = await runLocally(
      importMode,
      services({ 'Find endpoint': () => ({ EndpointStatus: 'InService', EndpointConfigName: 'old' }) }),
    );
    expect(run.calls['Create endpoint']).toBeUndefined();
    expect(run.calls['Update endpoint']).toHaveLength(1);
    expect(run.calls['Update endpoint'][0]).toMatchObject({
      EndpointName: 'LogoDetectionPipeline-detector',
      DeploymentConfig: {
        BlueGreenUpdatePolicy: expect.objectContaining({ TrafficRoutingConfiguration: expect.any(Object) }),
        AutoRollbackConfiguration: { Alarms: [{ AlarmName: expect.any(String) }] },
      },
    });
    expect(last(run)).toBe('Deployed');
  });

  test('the gate rejects: no endpoint call, a "model rejected" notification with both scores', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Check model quality': () => ({
          accept: false,
          map: 0.41,
          liveMap: 0.6,
          reason: 'mAP 0.41 is below the live model 0.60 minus the tolerance 0.02',
        }),
      }),
    );
    expect(last(run)).toBe('Model rejected');
    for (const state of ['Create model', 'Create endpoint', 'Update endpoint', 'Record live model']) {
      expect(run.calls[state]).toBeUndefined();
    }
    expect(message(run, 'Notify model rejected')).toMatchObject({
      outcome: 'rejected',
      map: 0.41,
      liveMap: 0.6,
      summary: 'mAP 0.41 is below the live model 0.60 minus the tolerance 0.02',
    });
  });

  test('a failed training job publishes a failure naming the stage and the cause, and the run fails', async () => {
    const run = await runLocally(
      importMode,
      services({
        Train: () => {
          throw new ServiceError('States.TaskFailed', 'AlgorithmError: CUDA out of memory');
        },
      }),
    );
    expect(run.error).toBeDefined();
    expect(run.entered.slice(-3)).toEqual(['Failed in train', 'Notify failure', 'Run failed']);
    expect(message(run, 'Notify failure')).toMatchObject({
      outcome: 'failed',
      stage: 'train',
      error: 'States.TaskFailed',
      cause: 'AlgorithmError: CUDA out of memory',
    });
    expect(run.calls['Create model']).toBeUndefined();
  });

  test('a training job that reported no metric fails in train with a clear cause, before the gate', async () => {
    const run = await runLocally(
      importMode,
      services({
        Train: (job) => ({ TrainingJobName: job.TrainingJobName, TrainingJobStatus: 'Completed' }),
      }),
    );
    expect(run.entered).toContain('No metrics');
    expect(run.calls['Check model quality']).toBeUndefined();
    expect(message(run, 'Notify failure')).toMatchObject({ stage: 'train', error: 'NoMetrics' });
  });

  /** Ground Truth mode's labeling states, answering as a finished job would. */
  const groundTruthJob: Record<string, TaskHandler> = {
    'Write label categories': () => ({}),
    'Write worker UI template': () => ({}),
    'Label with Ground Truth': () => ({
      LabelingJobName: 'job',
      LabelingJobOutput: { OutputDatasetS3Uri: 's3://dataset/ground-truth/job/output.manifest' },
    }),
  };

  test.each([
    {
      error: 'DatasetError',
      mode: 'import',
      state: 'Assemble dataset',
      stage: 'assemble',
      explained: ['Read dataset error', 'Dataset not usable'],
      cause: 'No labeled images yet: import labels, then start a new run.',
    },
    {
      error: 'LabelFileError',
      mode: 'groundtruth',
      state: 'Import Ground Truth labels',
      stage: 'label',
      explained: ['Read label error', 'Labels not usable'],
      cause: 's3://dataset/ground-truth/job/output.manifest was rejected: images/a.jpg is missing',
    },
    {
      error: 'PreprocessError',
      mode: 'import',
      state: 'Summarize preprocessing',
      stage: 'preprocess',
      explained: ['Read preprocess error', 'Too many preprocessing errors'],
      cause:
        '3 of 20 raw files (15.0 %) could not be preprocessed because of an error, more than the tolerated 5 %',
    },
    {
      error: 'MigrationNeededError',
      mode: 'import',
      state: 'Find unlabeled images',
      stage: 'label',
      explained: ['Read label migration error', 'Label migration needed'],
      cause: '2 label documents were written before labels recorded the image they were drawn on (...)',
    },
  ])('a $error is published with the handler’s own message', async (c) => {
    const run = await runLocally(
      c.mode === 'import' ? importMode : groundTruthMode,
      services({
        ...(c.mode === 'import' ? {} : groundTruthJob),
        [c.state]: () => {
          throw new ServiceError(
            c.error,
            JSON.stringify({ errorType: c.error, errorMessage: c.cause, trace: [`${c.error}: ...`] }),
          );
        },
      }),
    );
    expect(run.entered.slice(-5)).toEqual([
      ...c.explained,
      `Failed in ${c.stage}`,
      'Notify failure',
      'Run failed',
    ]);
    expect(message(run, 'Notify failure')).toMatchObject({ stage: c.stage, error: c.error, cause: c.cause });
  });

  test('an endpoint that ends Failed publishes its FailureReason', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Check endpoint': () => ({ EndpointStatus: 'Failed', FailureReason: 'Image pull failed' }),
      }),
    );
    expect(run.entered.slice(-4)).toEqual([
      'Endpoint failed',
      'Failed in deploy',
      'Notify failure',
      'Run failed',
    ]);
    expect(message(run, 'Notify failure')).toMatchObject({ stage: 'deploy', cause: 'Image pull failed' });
    expect(run.calls['Record live model']).toBeUndefined();
  });

  test('an endpoint left Failed by an earlier run: a failure that says to delete it, and no update', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Find endpoint': () => ({
          EndpointName: 'LogoDetectionPipeline-detector',
          EndpointStatus: 'Failed',
          FailureReason: 'Image pull failed',
        }),
      }),
    );
    expect(run.entered).toContain('Endpoint unusable');
    expect(run.calls['Update endpoint']).toBeUndefined();
    expect(message(run, 'Notify failure')).toMatchObject({
      stage: 'deploy',
      cause: expect.stringMatching(
        /in Failed state .*Image pull failed.*delete-endpoint --endpoint-name LogoDetectionPipeline-detector/,
      ),
    });
  });

  test('an update rolled back by the alarm is a failure, and the live record is not written', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Find endpoint': () => ({ EndpointStatus: 'InService', EndpointConfigName: 'old' }),
        'Check endpoint': () => ({ EndpointStatus: 'InService', EndpointConfigName: 'old' }),
      }),
    );
    expect(run.entered).toContain('Update rolled back');
    expect(run.calls['Record live model']).toBeUndefined();
    expect(message(run, 'Notify failure')).toMatchObject({ stage: 'deploy', error: 'UpdateRolledBack' });
  });

  test('labels not imported in time: a failure saying so', async () => {
    const run = await runLocally(
      importMode,
      services({
        'Wait for imported labels': () => {
          throw new ServiceError('States.Timeout', 'Task timed out');
        },
      }),
    );
    expect(run.entered).toContain('Labels not imported in time');
    expect(message(run, 'Notify failure')).toMatchObject({
      stage: 'label',
      error: 'LabelsNotImported',
      cause: expect.stringMatching(/No labels were imported within 7 days/),
    });
  });

  test('the preprocessing map hands each batch to the handler as a PreprocessEvent', async () => {
    const map = prepareDefinition(importMode).distributedMaps['Preprocess raw images'];
    const batch = {
      Items: [{ Key: 'raw/a.png', Size: 10, Etag: '"e"' }],
      BatchInput: (map.ItemBatcher as { BatchInput: Record<string, unknown> }).BatchInput,
    };
    const events: unknown[] = [];
    const result = await new StateMachine(itemProcessorOf(map) as never, {
      validationOptions: { checkPaths: false, checkArn: false },
    }).run(batch as never, {
      overrides: {
        taskResourceLocalHandlers: {
          'Preprocess a batch': async (event: unknown) => {
            events.push(event);
            return { processed: 1, skipped: 0, failed: [] };
          },
        },
      },
    }).result;
    expect(events).toEqual([
      {
        Items: batch.Items,
        BatchInput: { rawBucket: expect.any(String), datasetBucket: expect.any(String), maxSide: 1024 },
      },
    ]);
    expect(result).toEqual({ processed: 1, skipped: 0, failed: [] });
  });

  test('Ground Truth mode: writes the UI and categories, runs the labeling job on the new images, converts its output', async () => {
    const run = await runLocally(
      groundTruthMode,
      services({
        'Write label categories': () => ({}),
        'Write worker UI template': () => ({}),
        'Label with Ground Truth': () => ({
          LabelingJobName: 'job',
          LabelingJobOutput: {
            OutputDatasetS3Uri: 's3://dataset/ground-truth/job/manifests/output/output.manifest',
          },
        }),
        'Import Ground Truth labels': () => ({ imported: 3, empty: 0, format: 'groundtruth' }),
      }),
    );
    expect(run.entered).not.toContain('Wait for imported labels');
    const labeling = run.entered.indexOf('Label with Ground Truth');
    expect(run.entered.slice(labeling - 2, labeling + 3)).toEqual([
      'Write label categories',
      'Write worker UI template',
      'Label with Ground Truth',
      'Import Ground Truth labels',
      'Assemble dataset',
    ]);
    const job = run.calls['Label with Ground Truth'][0] as {
      LabelingJobName: string;
      InputConfig: { DataSource: { S3DataSource: { ManifestS3Uri: string } } };
      HumanTaskConfig: Record<string, string>;
    };
    expect(job.LabelingJobName.length).toBeLessThanOrEqual(63);
    expect(job.InputConfig.DataSource.S3DataSource.ManifestS3Uri).toMatch(
      /\/manifests\/labeling\/run\.manifest$/,
    );
    expect(job.HumanTaskConfig.WorkteamArn).toBe(WORKTEAM);
    expect(job.HumanTaskConfig.PreHumanTaskLambdaArn).toBe(
      'arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox',
    );
    const categories = JSON.parse(run.calls['Write label categories'][0].Body as string) as unknown;
    expect(categories).toEqual({ 'document-version': '2018-11-28', labels: [{ label: 'logo' }] });
    expect(run.calls['Write worker UI template'][0].Body).toMatch(/<crowd-bounding-box/);
    expect(run.calls['Import Ground Truth labels'][0]).toMatchObject({
      outputManifestUri: 's3://dataset/ground-truth/job/manifests/output/output.manifest',
      labelAttributeName: 'bounding-box',
      classes: ['logo'],
    });
  });
});
