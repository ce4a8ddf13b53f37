import { StateMachine } from 'aws-local-stepfunctions';
import { Definition, itemProcessorOf, prepareDefinition } from '../emulator/asl';
import {
  executionArn,
  pipelineDefinition,
  PUBLISHED_REPORT,
  runLocally,
  serviceStandIns,
  ServiceError,
  TaskHandler,
} from './support/pipeline';

const WORKTEAM = 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers';
let importMode: Definition;
let groundTruthMode: Definition;
let serverlessMode: Definition;

beforeAll(() => {
  importMode = pipelineDefinition();
  groundTruthMode = pipelineDefinition({ workteamArn: WORKTEAM });
  serverlessMode = pipelineDefinition({ endpointMode: 'serverless', serverlessMemorySizeInMB: 2048 });
});

type Message = Record<string, unknown>;
const message = (run: { calls: Record<string, Record<string, unknown>[]> }, state: string): Message =>
  run.calls[state][0].Message as Message;

describe('pipeline definition, executed locally', () => {
  test('new images with imported labels: waits for the task token, trains, creates the endpoint, records and notifies', async () => {
    const run = await runLocally(importMode, serviceStandIns());
    expect(run.error).toBeUndefined();
    expect(run.entered).toEqual([
      'Start run',
      'Take run lock',
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
      'Compute run cost',
      'Publish evaluation report',
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
      'Release run lock (deployed)',
      'Notify deployed',
      'Deployed',
    ]);
    // The lock is this execution's from the first state to the outcome, and only this execution may release it.
    const holder = executionArn('run-2026-11-26');
    const lock = run.calls['Take run lock'][0];
    expect(lock).toMatchObject({
      Item: { holder: { S: holder }, execution: { S: 'run-2026-11-26' } },
      ConditionExpression: 'attribute_not_exists(#id)',
    });
    expect(run.calls['Release run lock (deployed)'][0]).toMatchObject({
      Key: { id: (lock.Item as Message).id },
      ConditionExpression: '#holder = :me',
      ExpressionAttributeNames: { '#holder': 'holder' },
      ExpressionAttributeValues: { ':me': { S: holder } },
    });
    const request = run.calls['Wait for imported labels'][0].Payload as Record<string, unknown>;
    expect(request).toMatchObject({
      taskToken: 'task-token-1',
      executionName: 'run-2026-11-26',
      classes: ['logo'],
      unlabeled: { count: 3, manifestKey: 'manifests/labeling/run.manifest' },
    });
    expect(request.topicArn).toEqual(expect.any(String));

    const job = run.calls.Train[0];
    expect(job.TrainingJobName).toMatch(/^logodet-[0-9a-f]{6}-train-[0-9a-f]{40}$/);
    expect((job.TrainingJobName as string).length).toBeLessThanOrEqual(63);
    expect(job.EnableManagedSpotTraining).toBe(true);
    expect((job.CheckpointConfig as Record<string, string>).S3Uri).toMatch(
      /^s3:\/\/.+\/checkpoints\/run-2026-11-26\/$/,
    );
    const live = JSON.parse(run.calls['Record live model'][0].Value as string) as Record<string, unknown>;
    expect(run.calls['Publish evaluation report'][0]).toEqual({
      trainingJobName: job.TrainingJobName,
      modelArtifacts: 's3://artifacts/models/job/output/model.tar.gz',
      finalMetrics: [{ MetricName: 'best_val_mAP', Value: 0.61 }],
      reportBucket: expect.any(String),
    });
    expect(live).toEqual({
      version: job.TrainingJobName,
      map: 0.61,
      endpointName: 'LogoDetectionPipeline-detector',
      deployedAt: '2026-11-26T06:00:00.000Z',
      ...PUBLISHED_REPORT.record,
    });
    expect(message(run, 'Notify deployed')).toMatchObject({
      outcome: 'deployed',
      version: job.TrainingJobName,
      map: 0.61,
      evaluation: PUBLISHED_REPORT.summary,
      report: PUBLISHED_REPORT.report,
      variant: 'int8',
      mapInt8: 0.6,
      mapFp32: 0.605,
      threshold: 0.42,
    });
  });

  test('a model without an evaluation report still deploys: the record lacks its fields, the notification says why', async () => {
    const summary =
      'No evaluation report: s3://artifacts/models/job/output/model.tar.gz holds no report.html.';
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Publish evaluation report': () => ({
          report: null,
          apPerClass: null,
          threshold: null,
          variant: null,
          mapInt8: null,
          mapFp32: null,
          record: {},
          summary,
        }),
      }),
    );
    expect(run.entered[run.entered.length - 1]).toBe('Deployed');
    const live = JSON.parse(run.calls['Record live model'][0].Value as string) as Record<string, unknown>;
    expect(Object.keys(live).sort()).toEqual(['deployedAt', 'endpointName', 'map', 'version']);
    expect(message(run, 'Notify deployed')).toMatchObject({
      evaluation: summary,
      report: null,
      variant: null,
    });
  });

  test('a report stage that fails (a tarball that is no archive) fails the run in stage report, before the gate', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Publish evaluation report': () => {
          throw new ServiceError('TarError', 'model.tar.gz is not a gzip file');
        },
      }),
    );
    expect(run.calls['Check model quality']).toBeUndefined();
    expect(message(run, 'Notify failure')).toMatchObject({ outcome: 'failed', stage: 'report' });
  });
});

describe('pipeline outcomes, executed locally', () => {
  const last = (run: { entered: string[] }) => run.entered[run.entered.length - 1];

  test('no new images and nothing to label: skips training and says "nothing new"', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Summarize preprocessing': () => ({ processed: 0, skipped: 5, failed: 0, reportKey: 'r' }),
        'Find unlabeled images': () => ({ count: 0, sample: [] }),
      }),
    );
    expect(run.entered.slice(-3)).toEqual([
      'Release run lock (nothing new)',
      'Notify nothing new',
      'Nothing new',
    ]);
    expect(run.calls.Train).toBeUndefined();
    expect(message(run, 'Notify nothing new')).toMatchObject({ outcome: 'nothing-new' });
  });

  test('{"force": true} trains even when nothing is new', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Summarize preprocessing': () => ({ processed: 0, skipped: 5, failed: 0, reportKey: 'r' }),
        'Find unlabeled images': () => ({ count: 0, sample: [] }),
      }),
      { force: true },
    );
    expect(run.entered).toContain('Train');
    expect(run.entered).not.toContain('Wait for imported labels');
    expect(last(run)).toBe('Deployed');
  });

  /** The guard's answers when another run, `run-a`, holds the lock and Step Functions says it is `status`. */
  const lockHeldBy = (status: string): Record<string, TaskHandler> => ({
    'Take run lock': () => {
      throw new ServiceError('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed');
    },
    'Read run lock': () => ({ Item: { holder: { S: executionArn('run-a') }, execution: { S: 'run-a' } } }),
    'Check lock holder': () => ({ Status: status }),
    'Take over run lock': () => ({}),
  });

  test('a start while another run holds the lock ends at once as "already running", naming that run', async () => {
    const run = await runLocally(importMode, serviceStandIns(lockHeldBy('RUNNING')));
    expect(run.entered).toEqual([
      'Start run',
      'Take run lock',
      'Read run lock',
      'Run lock still held?',
      'Check lock holder',
      'Lock holder running?',
      'Notify already running',
      'Already running',
    ]);
    expect(run.calls['Read run lock'][0]).toMatchObject({ ConsistentRead: true });
    expect(run.calls['Check lock holder'][0]).toEqual({ ExecutionArn: executionArn('run-a') });
    expect(message(run, 'Notify already running')).toMatchObject({
      outcome: 'already-running',
      runningExecution: 'run-a',
      summary: expect.stringContaining('(run-a) is in progress'),
    });
    expect(Object.keys(run.calls).filter((state) => state.startsWith('Release'))).toEqual([]);
  });

  test.each(['ABORTED', 'TIMED_OUT', 'FAILED'])(
    'a lock whose holder ended %s without releasing it is taken over, only from that holder',
    async (status) => {
      const run = await runLocally(importMode, serviceStandIns(lockHeldBy(status)));
      expect(run.entered.slice(0, 8)).toEqual([
        'Start run',
        'Take run lock',
        'Read run lock',
        'Run lock still held?',
        'Check lock holder',
        'Lock holder running?',
        'Take over run lock',
        'Preprocess raw images',
      ]);
      expect(run.calls['Take over run lock'][0]).toMatchObject({
        Item: { holder: { S: executionArn('run-2026-11-26') } },
        ConditionExpression: '#holder = :ended',
        ExpressionAttributeValues: { ':ended': { S: executionArn('run-a') } },
      });
      expect(run.entered[run.entered.length - 1]).toBe('Deployed');
    },
  );

  test('a lock released between the conflict and the read is taken again', async () => {
    let attempts = 0;
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Take run lock': () => {
          if (++attempts === 1) {
            throw new ServiceError(
              'DynamoDB.ConditionalCheckFailedException',
              'The conditional request failed',
            );
          }
          return {};
        },
        'Read run lock': () => ({}),
      }),
    );
    expect(run.calls['Take run lock']).toHaveLength(2);
    expect(run.entered.slice(0, 5)).toEqual([
      'Start run',
      'Take run lock',
      'Read run lock',
      'Run lock still held?',
      'Preprocess raw images',
    ]);
  });

  test('a lock that cannot be released does not change the outcome', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Release run lock (deployed)': () => {
          throw new ServiceError('DynamoDB.AmazonDynamoDBException', 'Access denied');
        },
      }),
    );
    expect(run.error).toBeUndefined();
    expect(run.entered.slice(-3)).toEqual(['Release run lock (deployed)', 'Notify deployed', 'Deployed']);
  });

  test('a guard that cannot reach the lock table fails the run in stage guard', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Take run lock': () => {
          throw new ServiceError('DynamoDB.ResourceNotFoundException', 'Requested resource not found');
        },
      }),
    );
    expect(run.entered).toEqual([
      'Start run',
      'Take run lock',
      'Failed in guard',
      'Release run lock (failed)',
      'Notify failure',
      'Run failed',
    ]);
    expect(message(run, 'Notify failure')).toMatchObject({
      stage: 'guard',
      error: 'DynamoDB.ResourceNotFoundException',
    });
  });

  test('an existing endpoint is updated blue/green, not created', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Find endpoint': () => ({ EndpointStatus: 'InService', EndpointConfigName: 'old' }),
      }),
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
      serviceStandIns({
        'Check model quality': () => ({
          accept: false,
          map: 0.41,
          liveMap: 0.6,
          reason: 'mAP 0.41 is below the live model 0.60 minus the tolerance 0.02',
        }),
      }),
    );
    expect(run.entered.slice(-3)).toEqual([
      'Release run lock (rejected)',
      'Notify model rejected',
      'Model rejected',
    ]);
    for (const state of ['Create model', 'Create endpoint', 'Update endpoint', 'Record live model']) {
      expect(run.calls[state]).toBeUndefined();
    }
    expect(message(run, 'Notify model rejected')).toMatchObject({
      outcome: 'rejected',
      map: 0.41,
      liveMap: 0.6,
      summary: 'mAP 0.41 is below the live model 0.60 minus the tolerance 0.02',
      evaluation: PUBLISHED_REPORT.summary,
      report: PUBLISHED_REPORT.report,
      apPerClass: { logo: 0.63 },
      variant: 'int8',
      mapInt8: 0.6,
      mapFp32: 0.605,
    });
  });

  test('the outcome says how the model started: from random initialization and how to fix that, or fine-tuned', async () => {
    const scratch = await runLocally(importMode, serviceStandIns());
    expect(scratch.calls.Train[0].HyperParameters).toMatchObject({ pretrained: 'none' });
    expect(message(scratch, 'Notify deployed').weights).toBe(
      'Trained from random initialization: there are no weights under pretrained/ in the artifacts bucket, and a ' +
        'model trained from scratch on a few hundred photos is weak. Run npm run fetch-pretrained once to put the ' +
        'GluonCV VOC weights there, then npm run start-run -- --force.',
    );

    const fineTuned = await runLocally(
      importMode,
      serviceStandIns({
        'Look for pretrained weights': () => ({ KeyCount: 1 }),
        'Train from pretrained weights': (job) => ({
          TrainingJobName: job.TrainingJobName,
          TrainingJobStatus: 'Completed',
          FinalMetricDataList: [{ MetricName: 'best_val_mAP', Value: 0.41 }],
          ModelArtifacts: { S3ModelArtifacts: 's3://artifacts/models/job/output/model.tar.gz' },
        }),
        'Check model quality': () => ({
          accept: false,
          map: 0.41,
          liveMap: 0.6,
          reason: 'below the live model',
        }),
      }),
    );
    expect(fineTuned.calls['Train from pretrained weights'][0].HyperParameters).toMatchObject({
      pretrained: 'voc',
    });
    expect(message(fineTuned, 'Notify model rejected').weights).toBe(
      'Fine-tuned from the pretrained weights under pretrained/ in the artifacts bucket.',
    );
  });

  test('a failed training job publishes a failure naming the stage and the cause, and the run fails', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        Train: () => {
          throw new ServiceError('States.TaskFailed', 'AlgorithmError: CUDA out of memory');
        },
      }),
    );
    expect(run.error).toBeDefined();
    expect(run.entered.slice(-4)).toEqual([
      'Failed in train',
      'Release run lock (failed)',
      'Notify failure',
      'Run failed',
    ]);
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
      serviceStandIns({
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
      serviceStandIns({
        ...(c.mode === 'import' ? {} : groundTruthJob),
        [c.state]: () => {
          throw new ServiceError(
            c.error,
            JSON.stringify({ errorType: c.error, errorMessage: c.cause, trace: [`${c.error}: ...`] }),
          );
        },
      }),
    );
    expect(run.entered.slice(-6)).toEqual([
      ...c.explained,
      `Failed in ${c.stage}`,
      'Release run lock (failed)',
      'Notify failure',
      'Run failed',
    ]);
    expect(message(run, 'Notify failure')).toMatchObject({ stage: c.stage, error: c.error, cause: c.cause });
  });

  test('an endpoint that ends Failed publishes its FailureReason', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Check endpoint': () => ({ EndpointStatus: 'Failed', FailureReason: 'Image pull failed' }),
      }),
    );
    expect(run.entered.slice(-5)).toEqual([
      'Endpoint failed',
      'Failed in deploy',
      'Release run lock (failed)',
      'Notify failure',
      'Run failed',
    ]);
    expect(message(run, 'Notify failure')).toMatchObject({ stage: 'deploy', cause: 'Image pull failed' });
    expect(run.calls['Record live model']).toBeUndefined();
  });

  test('an endpoint left Failed by an earlier run: a failure that says to delete it, and no update', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
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
      serviceStandIns({
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
      serviceStandIns({
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
      serviceStandIns({
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

describe('the cost of a run, executed locally', () => {
  test('the deployed notification says what the run cost and what the endpoint costs a month', async () => {
    const run = await runLocally(importMode, serviceStandIns());
    expect(run.calls['Compute run cost'][0]).toMatchObject({
      state: {
        training: {
          BillableTimeInSeconds: 900,
          ResourceConfig: { InstanceType: 'ml.g4dn.xlarge', InstanceCount: 1 },
        },
        preprocess: { lambdaGbSeconds: 3000, lambdaInvocations: 40 },
      },
      endpoint: { mode: 'realtime', instanceType: 'ml.m5.xlarge', instanceCount: 1 },
      basis: { prices: { region: 'us-east-1', inferenceInstanceHour: { 'ml.m5.xlarge': 0.23 } } },
    });
    const cost = message(run, 'Notify deployed').cost as Record<string, unknown>;
    expect(cost).toMatchObject({
      runUsd: expect.closeTo(0.234, 3),
      training: { billableSeconds: 900, trainingSeconds: 2400, usd: expect.closeTo(0.184, 6) },
      endpointMonthly: { usd: expect.closeTo(167.9, 6) },
    });
    expect(cost.summary).toMatch(
      /^This run cost about \$0\.23: training \$0\.18 \(900 billed seconds of 1 × ml\.g4dn\.xlarge, 63 % saved by spot\); preprocessing \$0\.05 .* The endpoint costs about \$167\.90 a month/,
    );
  });

  test('a rejected model and a run that fails after training send the cost too', async () => {
    const rejected = await runLocally(
      importMode,
      serviceStandIns({
        'Check model quality': () => ({ accept: false, map: 0.2, liveMap: null, reason: 'below minMap' }),
      }),
    );
    expect((message(rejected, 'Notify model rejected').cost as { summary: string }).summary).toMatch(
      /^This run cost about \$0\.23/,
    );
    const failed = await runLocally(
      importMode,
      serviceStandIns({
        'Create model': () => {
          throw new ServiceError('SageMaker.AmazonSageMakerException', 'Access denied');
        },
      }),
    );
    expect(message(failed, 'Notify failure')).toMatchObject({
      stage: 'deploy',
      cost: { summary: expect.stringMatching(/^This run cost about \$0\.23/) },
    });
  });

  test('a run that fails before training finished says no cost was computed', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        Train: () => {
          throw new ServiceError('States.TaskFailed', 'AlgorithmError: CUDA out of memory');
        },
      }),
    );
    expect(run.calls['Compute run cost']).toBeUndefined();
    expect((message(run, 'Notify failure').cost as { summary: string }).summary).toMatch(
      /^No cost computed: the run ended before a training job finished/,
    );
  });

  test('a cost that cannot be computed does not stop the deployment', async () => {
    const run = await runLocally(
      importMode,
      serviceStandIns({
        'Compute run cost': () => {
          throw new ServiceError('Lambda.ServiceException', 'Rate exceeded');
        },
      }),
    );
    expect(run.error).toBeUndefined();
    expect(run.entered).toContain('Cost unknown');
    expect(run.entered[run.entered.length - 1]).toBe('Deployed');
    expect(message(run, 'Notify deployed').cost).toEqual({
      summary: 'The cost of this run could not be computed (Lambda.ServiceException).',
    });
  });
});

describe('serverless endpoint mode, executed locally', () => {
  test('creates a model without network isolation and an endpoint config with one serverless variant', async () => {
    const run = await runLocally(serverlessMode, serviceStandIns());
    expect(run.error).toBeUndefined();
    expect(run.calls['Create model'][0].EnableNetworkIsolation).toBe(false);
    const config = run.calls['Create endpoint config'][0];
    expect(config.ProductionVariants).toEqual([
      {
        VariantName: 'AllTraffic',
        ModelName: run.calls['Create model'][0].ModelName,
        ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 },
      },
    ]);
    expect(config.KmsKeyId).toEqual(expect.any(String));
    expect(run.calls['Create endpoint']).toHaveLength(1);
    expect(message(run, 'Notify deployed').cost).toMatchObject({
      endpointMonthly: {
        basis: expect.stringMatching(/^serverless, 2048 MB, assuming 9,000 requests a month/),
      },
    });
  });

  test('updates a serverless endpoint blue/green, with the same rollback alarm', async () => {
    const serverlessEndpoint = {
      EndpointName: 'LogoDetectionPipeline-detector',
      EndpointStatus: 'InService',
      EndpointConfigName: 'old',
      ProductionVariants: [
        { VariantName: 'AllTraffic', CurrentServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 } },
      ],
    };
    const run = await runLocally(
      serverlessMode,
      serviceStandIns({ 'Find endpoint': () => serverlessEndpoint }),
    );
    expect(run.error).toBeUndefined();
    expect(run.calls['Update endpoint'][0]).toMatchObject({
      DeploymentConfig: { AutoRollbackConfiguration: { Alarms: [{ AlarmName: expect.any(String) }] } },
    });
  });

  test.each([
    ['serverless', 'an instance-based endpoint', () => serverlessMode, {}],
    [
      'realtime',
      'a serverless endpoint',
      () => importMode,
      { CurrentServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 } },
    ],
  ])(
    'endpointMode %s with %s left from the other mode: the run fails and says to delete it',
    async (_mode, _which, definition, variant) => {
      const run = await runLocally(
        definition(),
        serviceStandIns({
          'Find endpoint': () => ({
            EndpointName: 'LogoDetectionPipeline-detector',
            EndpointStatus: 'InService',
            EndpointConfigName: 'old',
            ProductionVariants: [{ VariantName: 'AllTraffic', ...variant }],
          }),
        }),
      );
      expect(run.calls['Update endpoint']).toBeUndefined();
      expect(message(run, 'Notify failure')).toMatchObject({
        stage: 'deploy',
        error: 'EndpointModeChanged',
        cause: expect.stringMatching(
          /^The endpoint LogoDetectionPipeline-detector is not .*SageMaker does not convert an endpoint between instances and serverless in place\. Delete it \(aws sagemaker delete-endpoint --endpoint-name LogoDetectionPipeline-detector;/,
        ),
      });
    },
  );
});
