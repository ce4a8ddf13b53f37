import { AslDefinition, loadPipelineDefinition } from '../scripts/local/definition';
import { pipelineTemplate, runLocally, ServiceError, TaskHandler } from './support/local-pipeline';

const WORKTEAM = 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers';
let importMode: AslDefinition;
let groundTruthMode: AslDefinition;

beforeAll(() => {
  importMode = loadPipelineDefinition(pipelineTemplate());
  groundTruthMode = loadPipelineDefinition(pipelineTemplate({ workteamArn: WORKTEAM }));
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
