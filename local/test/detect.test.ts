import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import {
  DetectFailure,
  DetectionLine,
  DetectResultsResult,
  MAX_DETECT_IMAGE_BYTES,
  modelNameForVersion,
} from '../../contracts';
import { DETECT_OUTCOME_STATES } from '../../lib/detection';
import { getText, listKeys, s3ClientOptions } from '../../lambda/shared/aws';
import { detectFolder, filesUnder } from '../app/detect-folder';
import { handlerDirOf, handlerDirs, synthesize } from '../app/synth';
import { stateMachineDefinition } from '../emulator/asl';
import { Handler, serviceIntegrations } from '../emulator/integrations';
import { MotoServer, startMoto } from '../emulator/moto';
import { stopAll } from '../emulator/processes';
import { createLocalResources, LocalResources } from '../emulator/resources';
import { LocalRunner } from '../emulator/runner';
import { LocalSageMaker } from '../emulator/sagemaker';

// The detect workflow for real, on this machine: the synthesized definition in aws-local-stepfunctions, its two
// handlers in-process against moto, and the Batch Transform job run by the local SageMaker stand-in with the
// container's own `serve` (batch mode) on a tiny model trained here (one short CPU epoch; its boxes mean nothing,
// the contract does). Needs the venv (moto_server, the container's Python).
jest.setTimeout(600000);

const repoRoot = join(__dirname, '..', '..');
const python = join(repoRoot, '.venv', 'bin', 'python');
const VERSION = `logodet-1a2b3c-train-${'b'.repeat(40)}`;
const savedEnv = { ...process.env };
let moto: MotoServer;
let runner: LocalRunner;
let resources: LocalResources;
let rawBucket: string;
let artifactsBucket: string;
const events: string[] = [];

/** Trains the tiny model the container's tests train, into `<work>/ml/model`; returns that folder. */
function trainTinyModel(work: string): string {
  const root = join(work, 'ml');
  const made = spawnSync(
    python,
    [
      '-c',
      'import sys; from pathlib import Path; sys.path[:0] = sys.argv[1:3]; ' +
        'from tinydata import make_ml_root; ' +
        'make_ml_root(Path(sys.argv[3]), train=4, validation=2, hyperparameters={"classes": \'["logo"]\', ' +
        '"epochs": "1", "batch_size": "2", "data_shape": "128", "pretrained": "none", ' +
        '"max_iterations_per_epoch": "1", "learning_rate": "0.01"})',
      join(repoRoot, 'training-container', 'tests'),
      join(repoRoot, 'training-container', 'src'),
      root,
    ],
    { encoding: 'utf8' },
  );
  expect(made.stderr).toBe('');
  const trained = spawnSync(python, [join(repoRoot, 'training-container', 'bin', 'train')], {
    env: { ...process.env, ML_ROOT: root, LOGO_DETECTOR_PRETRAINED_DIR: join(root, 'none') },
    encoding: 'utf8',
    timeout: 540000,
  });
  if (trained.status !== 0) throw new Error(`train failed: ${trained.stdout}\n${trained.stderr}`);
  return join(root, 'model');
}

const output = (stack: string, key: string, app: ReturnType<typeof synthesize>) =>
  String(resources.resolver.resolve(app.templates[stack].Outputs![key].Value, stack));

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'detect-'));
  const modelDir = trainTinyModel(work);
  moto = await startMoto(repoRoot, join(work, 'moto.log'));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  });
  delete process.env.AWS_PROFILE;
  const app = synthesize(repoRoot, join(work, 'cdk.out'), {});
  const dirs = handlerDirs(repoRoot);
  resources = await createLocalResources(app.templates, (resource, logicalId) =>
    handlerDirOf(resource, app.assemblyDir, dirs, logicalId),
  );
  rawBucket = output(app.dataStack, 'RawBucketName', app);
  artifactsBucket = output(app.dataStack, 'ArtifactsBucketName', app);
  const handlers: Record<string, Handler> = {};
  for (const dir of ['detect-prepare', 'detect-results']) {
    // The handlers build their SDK clients as they load: after the environment points at moto.
    handlers[dir] = (
      (await import(join(repoRoot, 'lambda', dir, 'index.ts'))) as { handler: Handler }
    ).handler;
  }

  // What a pipeline run leaves behind: the model's artifact, the SageMaker model and the live-model record.
  const s3 = new S3Client(s3ClientOptions());
  const tarball = join(work, 'model.tar.gz');
  spawnSync('tar', ['-czf', tarball, '-C', modelDir, '.']);
  const modelKey = `models/${VERSION}/output/model.tar.gz`;
  await s3.send(
    new PutObjectCommand({ Bucket: artifactsBucket, Key: modelKey, Body: readFileSync(tarball) }),
  );
  await new SageMakerClient({}).send(
    new CreateModelCommand({
      ModelName: modelNameForVersion(VERSION),
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/model',
      PrimaryContainer: {
        Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/detector:local',
        ModelDataUrl: `s3://${artifactsBucket}/${modelKey}`,
        Environment: { MODEL_VERSION: VERSION },
      },
    }),
  );
  const prepare = resources.functions.find((fn) => fn.handlerDir === 'detect-prepare')!;
  await new SSMClient({}).send(
    new PutParameterCommand({
      Name: prepare.environment.LIVE_MODEL_PARAMETER,
      Value: JSON.stringify({ version: VERSION, map: 0.1 }),
      Type: 'String',
      Overwrite: true,
    }),
  );

  // The operator's folder: two photos (one in a sub-folder), bytes that are no image, an empty file, a huge one.
  const photo = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: { r: 30, g: 30, b: 30 } } })
      .composite([
        {
          input: { create: { width: 60, height: 60, channels: 3, background: { r: 240, g: 240, b: 240 } } },
          top: 40,
          left: 50,
        },
      ])
      .jpeg()
      .toBuffer();
  const inputs: [string, Buffer][] = [
    ['shop/front.jpg', await photo(200, 160)],
    ['shop/back/side.jpg', await photo(160, 200)],
    ['shop/notes.jpg', Buffer.from('these bytes are no image')],
    ['shop/empty.jpg', Buffer.alloc(0)],
    ['shop/huge.jpg', Buffer.alloc(MAX_DETECT_IMAGE_BYTES + 1)],
  ];
  for (const [key, body] of inputs) {
    await s3.send(new PutObjectCommand({ Bucket: rawBucket, Key: key, Body: body }));
  }

  const { definition, arn, name } = stateMachineDefinition(
    app.templates,
    app.pipelineStack,
    resources.resolver,
    'DetectStateMachineArn',
  );
  mkdirSync(join(work, 'sagemaker'));
  const sagemaker = new LocalSageMaker({
    repoRoot,
    workDir: join(work, 'sagemaker'),
    hyperparameterOverrides: {},
    hooks: { onEvent: (message) => events.push(message) },
  });
  const sfn = { executions: [], currentToken: () => 'no-token' };
  runner = new LocalRunner(definition, {
    stateMachine: { arn, name },
    tasks: serviceIntegrations({
      functions: resources.functions,
      handlers,
      sagemaker,
      sfn: sfn as never,
      log: () => undefined,
      onWaitForTaskToken: async () => undefined,
    }),
    sfn,
    waitMs: 0,
    retryMs: 0,
  });
});

afterAll(async () => {
  await moto?.stop();
  await stopAll();
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

const jsonLines = <T>(text: string): T[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);

describe('the detect workflow on moto, with the container serving the batch job', () => {
  test('answers every good image, lists the others with the reason, draws the boxes and notifies', async () => {
    const report = await runner.execute('detect-local-1', {
      input: `s3://${rawBucket}/shop/`,
      minScore: 0,
      annotate: true,
    });

    expect(report.error).toBeUndefined();
    expect(report.statesEntered).toEqual(
      expect.arrayContaining(['Prepare images', 'Detect in batch', 'Write detections', 'Notify detections']),
    );
    expect(report.statesEntered[report.statesEntered.length - 1]).toBe(DETECT_OUTCOME_STATES.done);
    expect(events.filter((e) => /^transform job \S+: 3\/3 images$/.test(e))).toHaveLength(1);
    const results = (report.output as { results: DetectResultsResult }).results;
    expect(results).toMatchObject({ answered: 2, failed: 3, annotated: 2 });

    const s3 = new S3Client(s3ClientOptions());
    const lines = jsonLines<DetectionLine>(
      await getText(s3, artifactsBucket, 'detections/detect-local-1/detections.jsonl'),
    );
    expect(lines.map((line) => [line.image, line.model, line.width, line.height])).toEqual([
      [`s3://${rawBucket}/shop/back/side.jpg`, VERSION, 160, 200],
      [`s3://${rawBucket}/shop/front.jpg`, VERSION, 200, 160],
    ]);
    for (const line of lines) {
      for (const { score, box } of line.detections) {
        expect(score).toBeGreaterThanOrEqual(0);
        expect(box.left + box.width).toBeLessThanOrEqual(line.width + 0.05);
        expect(box.top + box.height).toBeLessThanOrEqual(line.height + 0.05);
      }
    }
    const failures = jsonLines<DetectFailure>(
      await getText(s3, artifactsBucket, 'detections/detect-local-1/failures.jsonl'),
    );
    expect(failures.map((f) => [f.image.split('/').pop(), f.code])).toEqual([
      ['empty.jpg', 'empty'],
      ['huge.jpg', 'too_large'],
      ['notes.jpg', 'unsupported_image'],
    ]);
    expect((await listKeys(s3, artifactsBucket, 'detections/detect-local-1/annotated/')).sort()).toEqual([
      'detections/detect-local-1/annotated/back/side.jpg.annotated.jpg',
      'detections/detect-local-1/annotated/front.jpg.annotated.jpg',
    ]);
  });

  test('a bucket detectInputBuckets does not allow ends the run with a notification saying what to do', async () => {
    const report = await runner.execute('detect-local-2', { input: 's3://someone-elses-bucket/photos/' });
    expect(report.statesEntered).toEqual(
      expect.arrayContaining(['Request refused', 'Notify detection failed', DETECT_OUTCOME_STATES.failed]),
    );
    expect(report.statesEntered).not.toContain('Detect in batch');
    expect(report.error?.cause).toMatch(
      /not someone-elses-bucket: add it to detectInputBuckets and deploy again/,
    );
  });

  test('npm start -- --detect DIR: the folder uploaded, the same workflow run, its results copied locally', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'detect-dir-'));
    mkdirSync(join(dir, 'aisle'));
    writeFileSync(
      join(dir, 'aisle', 'shelf.jpg'),
      await sharp({ create: { width: 120, height: 90, channels: 3, background: { r: 90, g: 90, b: 90 } } })
        .jpeg()
        .toBuffer(),
    );
    writeFileSync(join(dir, 'readme.txt'), 'not a photo');
    expect(filesUnder(dir)).toEqual(['aisle/shelf.jpg', 'readme.txt']);
    const outDir = mkdtempSync(join(tmpdir(), 'detect-out-'));

    const detected = await detectFolder({
      dir,
      runner,
      executionName: 'local-detect-3',
      s3: new S3Client(s3ClientOptions()),
      rawBucket,
      artifactsBucket,
      minScore: 0.3,
      outDir,
      log: () => undefined,
    });

    expect(detected.report.status).toBe('SUCCEEDED');
    expect(detected.results).toMatchObject({ answered: 1, failed: 1, annotated: 1 });
    expect(filesUnder(outDir)).toEqual([
      'annotated/aisle/shelf.jpg.annotated.jpg',
      'detections.jsonl',
      'failures.jsonl',
    ]);
    const [line] = jsonLines<DetectionLine>(readFileSync(join(outDir, 'detections.jsonl'), 'utf8'));
    expect(line).toMatchObject({ image: `s3://${rawBucket}/detect/aisle/shelf.jpg`, width: 120, height: 90 });
    expect(line.detections.every((d) => d.score >= 0.3)).toBe(true);
    expect(existsSync(join(outDir, 'transform'))).toBe(false);
  });
});
