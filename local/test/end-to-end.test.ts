import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { OUTCOME_STATES } from '../../lib/pipeline';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { imageKeyFor, LabelDocument, labelKeyFor, ManifestLine } from '../../contracts';
import { parseS3Uri } from '../../lambda/shared/aws';
import { generatedName } from '../app/dataset';
import { runDistributedMap } from '../emulator/distributed-map';
import { runLocal } from '../app/main';
import { MotoServer, startMoto } from '../emulator/moto';
import { ListeningSocket, listeningSockets } from './support/listeners';

// The same entry as `npm start`, shortened: fewer images, two short epochs. It synthesizes the app, starts moto
// and runs the container's train and serve, so it needs the venv (runLocal calls scripts/py-env.sh first; the
// runs stay in this one file so two workers never create the venv at once).
jest.setTimeout(600000);

const onLinux = process.platform === 'linux';

describe('local mode (npm start), shortened', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'local-out-'));
  const lines: string[] = [];
  let result: Awaited<ReturnType<typeof runLocal>>;
  // Taken when the API is up (moto, both shims, the endpoint's serve and the API all listen then), with the
  // number of progress lines printed by that time.
  let listening: { sockets: ListeningSocket[]; lines: number } | undefined;

  beforeAll(async () => {
    result = await runLocal({
      imagesCount: 16,
      holdout: 2,
      epochs: 2,
      maxIterationsPerEpoch: 2,
      retrain: true,
      replacePhoto: true,
      // Kept up (moto included) for the tests to read the buckets; stopped in afterAll.
      serve: true,
      outDir,
      workDir: mkdtempSync(join(tmpdir(), 'local-work-')),
      log: (line) => {
        lines.push(line);
        if (onLinux && /■ API on http/.test(line)) {
          listening = { sockets: listeningSockets(process.pid), lines: lines.length };
        }
      },
    });
  });
  afterAll(() => result?.stop());

  /** The dataset bucket, from the training manifests the last training read. */
  const datasetBucket = () =>
    parseS3Uri(
      (result.executions[2].output as { dataset: { trainManifestPrefix: string } }).dataset
        .trainManifestPrefix,
    ).bucket;
  const text = async (key: string) => {
    const object = await new S3Client({}).send(new GetObjectCommand({ Bucket: datasetBucket(), Key: key }));
    return object.Body!.transformToString();
  };
  const head = (key: string) =>
    new S3Client({}).send(new HeadObjectCommand({ Bucket: datasetBucket(), Key: key }));

  test('the first execution of the synthesized definition succeeds through every stage to a deployment', () => {
    const [first] = result.executions;
    expect(first.status).toBe('SUCCEEDED');
    expect(first.statesEntered).toEqual(
      expect.arrayContaining([
        'Take run lock',
        'Preprocess raw images',
        'Preprocess a batch',
        'Summarize preprocessing',
        'Find unlabeled images',
        'Wait for imported labels',
        'Assemble dataset',
        'Train',
        'Compute run cost',
        'Publish evaluation report',
        'Check model quality',
        'Create model',
        'Create endpoint config',
        'Create endpoint',
        'Check endpoint',
        'Record live model',
        'Release run lock (deployed)',
        'Notify deployed',
        OUTCOME_STATES.deployed,
      ]),
    );
    expect(result.map).toBeGreaterThanOrEqual(0);
  });

  test('the trained model’s evaluation report is published under reports/, copied to the out folder and recorded', async () => {
    const { report } = result;
    expect(report?.uri).toMatch(/^s3:\/\/[^/]+\/reports\/[a-z0-9-]+-train-[0-9a-f]{40}\/report\.html$/);
    expect(report?.file).toBe(join(outDir, 'report.html'));
    const page = readFileSync(report!.file, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/i);
    const { bucket, key } = parseS3Uri(report!.uri);
    const published = await new S3Client({}).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await published.Body!.transformToString()).toBe(page);
    // Printed with the S3 URI as the moto URL it is locally.
    const printed = lines.find((line) => line.includes('evaluation report: '));
    expect(printed).toContain(`local-out-`);
    expect(printed).toMatch(new RegExp(`published at http://127\\.0\\.0\\.1:\\d+/${bucket}/${key}\\)$`));
    // The live-model record the first deployment wrote to SSM (printed once the API is checked) has the report's
    // location and the serving variant merged in.
    const record = lines.find((line) => line.includes('live-model record: '))!;
    const live = JSON.parse(record.slice(record.indexOf('{'))) as Record<string, unknown>;
    expect(live).toMatchObject({
      version: expect.stringMatching(/train/),
      reportUri: expect.stringContaining(`/${bucket}/${key}`),
      variant: expect.stringMatching(/^(int8|fp32)$/),
    });
  });

  test('the API answers every held-out image with well-formed detections and writes annotated copies', async () => {
    expect(result.apiChecks).toHaveLength(2);
    for (const check of result.apiChecks) {
      expect(check.status).toBe(200);
      // detectionsOf (run on every answer) has checked each detection's label, score and box.
      expect(Array.isArray(check.detections)).toBe(true);
      expect((check.body as { model: { version: string } }).model.version).toMatch(/train/);
      expect(existsSync(check.annotated!)).toBe(true);
      expect((await sharp(check.annotated!).metadata()).format).toBe('jpeg');
      expect(lines.some((line) => line.includes('annotated copies') && line.includes(check.annotated!))).toBe(
        true,
      );
    }
    // Every drawn logo is counted as found or not, whatever the short run's model answers.
    expect(result.heldOut?.logos).toBe(result.apiChecks.reduce((n, check) => n + (check.expected ?? 0), 0));
  });

  test('a second execution with no new data skips preprocessing, labeling and training', () => {
    const second = result.executions[1];
    expect(second.status).toBe('SUCCEEDED');
    expect(result.secondSkipped).toEqual({ preprocessing: true, labeling: true });
    expect(second.statesEntered).not.toContain('Wait for imported labels');
    expect(second.statesEntered).not.toContain('Train');
    expect(second.statesEntered).toContain(OUTCOME_STATES.nothingNew);
    // The first execution released the run lock (a DynamoDB table on moto), so the second took it at once.
    expect(second.statesEntered.slice(0, 3)).toEqual(['Start run', 'Take run lock', 'Preprocess raw images']);
  });

  test('a forced third execution retrains and updates the endpoint, and the new model answers the API', () => {
    const third = result.executions[2];
    expect(third.status).toBe('SUCCEEDED');
    expect(third.statesEntered).toEqual(
      expect.arrayContaining(['Train', 'Update endpoint', OUTCOME_STATES.deployed]),
    );
    expect(third.statesEntered).not.toContain('Create endpoint');
    const firstVersion = (result.apiChecks[0].body as { model: { version: string } }).model.version;
    expect(result.retrained?.status).toBe(200);
    expect(result.retrained?.modelVersion).toMatch(/train/);
    expect(result.retrained?.modelVersion).not.toBe(firstVersion);
    expect(result.retrained?.answeredBy).toBe(result.retrained?.modelVersion);
  });

  test('photos that share a base name, in the top folder or a sub-folder, are each trained on with their own label', async () => {
    const manifest = (await text('manifests/dataset.manifest'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ManifestLine);
    expect(manifest).toHaveLength(16);
    const pairs = [3, 4, 8, 9].map((index) => imageKeyFor(`raw/${generatedName(index)}`));
    expect(pairs).toEqual([
      'images/synthetic-0004.jpg.jpg',
      'images/synthetic-0004.png.jpg',
      'images/shop/synthetic-0009.jpg.jpg',
      'images/shop/synthetic-0009.png.jpg',
    ]);
    for (const key of pairs) {
      const line = manifest.find((l) => l['source-ref'].endsWith(`/${key}`));
      const { Metadata } = await head(key);
      expect(line?.['bounding-box'].image_size).toEqual([
        { width: Number(Metadata!.width), height: Number(Metadata!.height), depth: 1 },
      ]);
      expect(line?.['bounding-box'].annotations.length).toBeGreaterThan(0);
    }
  });

  test('a replaced photo is made again, asked for again, and trained with its new label', async () => {
    const third = result.executions[2];
    const replacedImage = imageKeyFor(result.replaced!.rawKey);
    expect(third.output).toMatchObject({
      preprocess: { processed: 1, replaced: 1 },
      unlabeled: { count: 1, relabel: 1, relabelSample: [replacedImage] },
    });
    expect(third.statesEntered).toContain('Wait for imported labels');
    const label = JSON.parse(await text(labelKeyFor(replacedImage))) as LabelDocument;
    const image = await head(replacedImage);
    expect(label['image-etag']).toBe(image.ETag!.replace(/"/g, ''));
    expect(label.image_size).toEqual([
      { width: Number(image.Metadata!.width), height: Number(image.Metadata!.height), depth: 1 },
    ]);
  });

  test('a further execution with nothing new ends in "Nothing new", writing and training nothing', () => {
    const fourth = result.executions[3];
    expect(fourth.status).toBe('SUCCEEDED');
    expect(fourth.statesEntered).toContain(OUTCOME_STATES.nothingNew);
    expect(fourth.statesEntered).not.toContain('Train');
    expect(result.replaced?.fourthSkipped).toEqual({ preprocessing: true, labeling: true });
  });

  // docs/reference.md ("Run it locally") promises it: local mode has no authentication, so nothing it starts may be reachable from elsewhere.
  (onLinux ? test : test.skip)('every server local mode starts listens on 127.0.0.1 only', () => {
    expect(listening).toBeDefined();
    const shown = lines.slice(0, listening!.lines).join('\n');
    const ports = [
      ...shown.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g),
      ...shown.matchAll(/starting serve for model \S+ on port (\d+)/g),
    ].map((match) => Number(match[1]));
    // moto, the Step Functions shim, the SageMaker runtime shim, the endpoint's serve and the API.
    expect(new Set(ports).size).toBe(5);
    expect(listening!.sockets.map((socket) => socket.port)).toEqual(expect.arrayContaining(ports));
    expect(listening!.sockets.filter((socket) => socket.address !== '127.0.0.1')).toEqual([]);
  });

  test('progress shows the stages, the states entered and the training epochs', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/■ Execution 1 SUCCEEDED/),
        expect.stringMatching(/▶ Train$/),
        expect.stringMatching(/train: epoch=2 train_loss=[0-9.]+/),
        expect.stringMatching(/train: best_val_mAP=[0-9.]+/),
      ]),
    );
  });

  test('the terminal shows one compact line per epoch, the split sizes, local URLs, and no caught branch as an error', () => {
    const epochs = lines.filter((line) => /train: epoch=/.test(line));
    expect(epochs).toHaveLength(2 * 2);
    expect(epochs[0]).toMatch(
      /train: epoch=1 train_loss=\d+(\.\d{1,4})? val_mAP=\d+(\.\d{1,4})? \(of 2; \d\d:\d\d\)$/,
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /train: dataset: \d+ training images? \(\d+ box(es)?\), \d+ validation images? \(\d+ box(es)?\)$/,
        ),
        expect.stringMatching(/⤷ Find endpoint → Endpoint missing\? \(on SageMaker\./),
      ]),
    );
    expect(lines.filter((line) => /s3:\/\/|error caught|AP per class/.test(line))).toEqual([]);
    expect(result.counts?.train.images).toBeGreaterThan(0);
    expect(result.advice).toEqual([]);
  });
});

test('bad input is refused before anything starts, naming what is wrong', async () => {
  const images = mkdtempSync(join(tmpdir(), 'local-no-images-'));
  writeFileSync(join(images, 'notes.txt'), 'not an image');
  const labels = join(images, 'coco.json');
  writeFileSync(labels, JSON.stringify({ images: [], annotations: [], categories: [] }));
  const lines: string[] = [];

  await expect(
    runLocal({
      images,
      labels,
      workDir: mkdtempSync(join(tmpdir(), 'local-work-')),
      log: (l) => lines.push(l),
    }),
  ).rejects.toThrow(
    `--images ${images}: no images (.jpg, .jpeg, .png, .webp, .tif, .tiff) in it or its sub-folders`,
  );
  expect(lines).toEqual([]);
});

test('a run that fails once its servers are up stops every server it started', async () => {
  const lines: string[] = [];
  const before = { ...process.env };

  // The failure is raised where local mode prints that moto and the shims are up.
  await expect(
    runLocal({
      workDir: mkdtempSync(join(tmpdir(), 'local-work-')),
      log: (l) => {
        lines.push(l);
        if (/■ moto on/.test(l)) throw new Error('stopped by the test');
      },
    }),
  ).rejects.toThrow('stopped by the test');

  const moto = lines.map((line) => /moto on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]).find(Boolean);
  expect(moto).toBeDefined();
  await expect(fetch(`${moto}/moto-api/`)).rejects.toThrow();
  // The AWS endpoints and credentials it set are gone again.
  expect(process.env.AWS_ENDPOINT_URL).toBe(before.AWS_ENDPOINT_URL);
});

// After the run above, so the venv (and moto_server in it) exists.
describe('Distributed Map emulation, on moto', () => {
  let moto: MotoServer;
  let s3: S3Client;
  const bucket = 'map-items';

  beforeAll(async () => {
    moto = await startMoto(
      join(__dirname, '..', '..'),
      join(mkdtempSync(join(tmpdir(), 'moto-')), 'moto.log'),
    );
    s3 = new S3Client({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      forcePathStyle: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${name}.jpg`, Body: name }));
    }
  });
  afterAll(() => moto.stop());

  const run = (toleratedFailurePercentage: number) =>
    runDistributedMap({
      stateName: 'Map',
      state: {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:listObjectsV2',
          Parameters: { Bucket: bucket, 'Prefix.$': '$.prefix' },
        },
        ItemBatcher: { MaxItemsPerBatch: 2, BatchInput: { 'tag.$': '$.tag' } },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED' },
          StartAt: 'Work',
          States: {
            Work: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:w', End: true },
          },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: bucket, Prefix: 'results' },
        },
        ToleratedFailurePercentage: toleratedFailurePercentage,
      },
      input: { prefix: 'raw/', tag: 'run-1' },
      context: {},
      overrides: {
        taskResourceLocalHandlers: {
          Work: async (batch) => {
            const { Items, BatchInput } = batch as { Items: { Key: string }[]; BatchInput: { tag: string } };
            if (Items.some((item) => item.Key === 'raw/e.jpg')) throw new Error('cannot read e');
            return { keys: Items.map((item) => item.Key), tag: BatchInput.tag };
          },
        },
      },
      enter: () => undefined,
      stateMachine: { arn: 'arn:aws:states:us-east-1:123456789012:stateMachine:m', name: 'm' },
      s3,
      log: () => undefined,
    });

  const json = async <T>(key: string): Promise<T> => {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString()) as T;
  };

  test('lists the items, batches them with the batch input, and writes the result files Step Functions writes', async () => {
    const output = (await run(50)) as { ResultWriterDetails: { Bucket: string; Key: string } };
    expect(output.ResultWriterDetails.Bucket).toBe(bucket);
    expect(output.ResultWriterDetails.Key).toMatch(/^results\/[0-9a-f-]+\/manifest\.json$/);
    const manifest = await json<{ ResultFiles: Record<string, { Key: string }[]> }>(
      output.ResultWriterDetails.Key,
    );
    const succeeded = await json<{ Status: string; Output: string; Input: string }[]>(
      manifest.ResultFiles.SUCCEEDED[0].Key,
    );
    const failed = await json<{ Status: string; Error: string; Cause: string }[]>(
      manifest.ResultFiles.FAILED[0].Key,
    );
    expect(succeeded.map((entry) => JSON.parse(entry.Output))).toEqual([
      { keys: ['raw/a.jpg', 'raw/b.jpg'], tag: 'run-1' },
      { keys: ['raw/c.jpg', 'raw/d.jpg'], tag: 'run-1' },
    ]);
    expect(JSON.parse(succeeded[0].Input).Items[0]).toMatchObject({ Key: 'raw/a.jpg', Size: 1 });
    expect(failed).toEqual([
      expect.objectContaining({ Status: 'FAILED', Error: 'Error', Cause: 'cannot read e' }),
    ]);
  });

  test('fails with States.ExceedToleratedFailureThreshold when more batches fail than tolerated', async () => {
    const error = await run(0).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).toBe('States.ExceedToleratedFailureThreshold');
    expect(error?.message).toMatch(/1 of 3 child executions failed.*cannot read e/);
  });
});
