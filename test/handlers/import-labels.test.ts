import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { PendingLabelRequest, pendingLabelRequestKey } from '../../contracts';
import { main } from '../../scripts/import-labels';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
const s3 = new FakeS3();
const sfn = mockClient(SFNClient);
const cloudFormation = mockClient(CloudFormationClient);
let dir: string;
let out: string[];
let err: string[];

const pending: PendingLabelRequest = {
  taskToken: 'token-1',
  executionName: 'run-7',
  manifestKey: 'manifests/labeling/run-7.manifest',
  count: 2,
  requestedAt: '2026-01-01T00:00:00.000Z',
  classes: ['logo'],
};
const PENDING_KEY = pendingLabelRequestKey(pending.executionName);

function run(...argv: string[]): Promise<number> {
  return main(argv, {
    s3: new S3Client({}),
    sfn: new SFNClient({}),
    cloudFormation: new CloudFormationClient({}),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const coco = (bbox: number[]) =>
  JSON.stringify({
    images: [
      { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
      { id: 2, file_name: 'b.jpg', width: 100, height: 80 },
    ],
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox }],
    categories: [{ id: 1, name: 'logo' }],
  });

beforeEach(() => {
  s3.reset();
  sfn.reset();
  cloudFormation.reset();
  dir = mkdtempSync(join(tmpdir(), 'import-labels-'));
  out = [];
  err = [];
  for (const key of ['images/a.jpg', 'images/b.jpg', 'images/c.jpg']) {
    s3.put(DATASET, key, 'jpeg', { width: '100', height: '80' });
  }
  s3.put(DATASET, PENDING_KEY, JSON.stringify(pending));
  s3.put(
    DATASET,
    pending.manifestKey,
    ['a', 'c'].map((n) => JSON.stringify({ 'source-ref': `s3://${DATASET}/images/${n}.jpg` })).join('\n'),
  );
  cloudFormation.on(DescribeStacksCommand, { StackName: 'LogoDetectionData' }).resolves({
    Stacks: [
      {
        StackName: 'LogoDetectionData',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [{ OutputKey: 'DatasetBucketName', OutputValue: DATASET }],
      },
    ],
  });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('import-labels', () => {
  test('imports a COCO file into the bucket named by the data stack and resumes the execution', async () => {
    const code = await run('--file', file('labels.json', coco([10, 10, 20, 20])));

    expect(code).toBe(0);
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/a.json', 'labels/b.json']);
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input)).toEqual([
      { taskToken: 'token-1', output: JSON.stringify({ imported: 2, empty: 1, format: 'coco', skipped: 0 }) },
    ]);
    expect(s3.get(DATASET, PENDING_KEY)).toBeUndefined();
    expect(out.join('\n')).toContain('Imported 2 label documents (1 with no objects)');
    expect(out.join('\n')).toContain('1 of the 2 requested images still have no label');
  });

  test('imports a directory of VOC files with an explicit bucket', async () => {
    const voc = (name: string) =>
      `<annotation><filename>${name}</filename><object><name>logo</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>`;
    file('voc/a.xml', voc('a.jpg'));
    file('voc/nested/c.xml', voc('c.jpg'));

    const code = await run('--file', join(dir, 'voc'), '--dataset-bucket', DATASET);

    expect(code).toBe(0);
    expect(cloudFormation.calls()).toHaveLength(0);
    expect(JSON.parse(s3.text(DATASET, 'labels/c.json')).annotations).toEqual([
      { class_id: 0, left: 1, top: 2, width: 29, height: 38 },
    ]);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.output!)).toMatchObject({
      imported: 2,
      format: 'voc',
    });
  });

  test('places VOC files from an S3 prefix by their folders under it when base names repeat', async () => {
    s3.put(DATASET, 'images/shop/a.jpg', 'jpeg', { width: '100', height: '80' });
    const voc = `<annotation><folder></folder><filename>a.jpg</filename><object><name>logo</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>`;
    s3.put('uploads', 'label-imports/batch-1/images/shop/a.xml', voc);

    const code = await run('--file', 's3://uploads/label-imports/batch-1/', '--dataset-bucket', DATASET);

    expect(code).toBe(0);
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/shop/a.json']);
  });

  test('says what it left out and what it turned upright', async () => {
    s3.put(DATASET, 'images/c.jpg', 'jpeg', {
      width: '100',
      height: '80',
      orientation: '3',
      'source-width': '1000',
      'source-height': '800',
    });
    const text = JSON.stringify({
      images: [
        { id: 1, file_name: 'a.jpg', width: 100, height: 80 },
        { id: 2, file_name: 'c.jpg', width: 1000, height: 800 },
      ],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 100, 80], iscrowd: 1 },
        { id: 2, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], iscrowd: 0 },
        { id: 3, image_id: 2, category_id: 1, bbox: [100, 100, 200, 200] },
      ],
      categories: [{ id: 1, name: 'logo' }],
    });

    const code = await run('--file', file('labels.json', text));

    expect(code).toBe(0);
    expect(out[0]).toContain(
      "Imported 2 label documents (0 with no objects, 1 crowd regions left out, 1 images' boxes turned upright by their EXIF orientation)",
    );
    expect(JSON.parse(s3.text(DATASET, 'labels/c.json')).annotations).toEqual([
      { class_id: 0, left: 70, top: 50, width: 20, height: 20 },
    ]);
  });

  test('rejects a bad file whole: nothing written, the execution keeps waiting', async () => {
    const code = await run('--file', file('labels.json', coco([90, 10, 20, 20])));

    expect(code).toBe(1);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
    expect(s3.mutations).toEqual([]);
    expect(sfn.calls()).toHaveLength(0);
    expect(err[0]).toContain(
      'annotation id 1: box (left 90, top 10, width 20, height 20) lies outside the 100x80 image',
    );
    expect(err[1]).toContain('Execution run-7 is still waiting for labels');
  });

  test('with --fail, a bad file stops the execution with the reason and the problems', async () => {
    const code = await run(
      '--file',
      file('labels.json', coco([10, 10, 0, 5])),
      '--fail',
      'labels are unusable',
    );

    expect(code).toBe(1);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
    const failure = sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input;
    expect(failure).toMatchObject({ taskToken: 'token-1', error: 'LabelsRejected' });
    expect(failure.cause).toMatch(/^labels are unusable\n.*box has no area/s);
    expect(s3.get(DATASET, PENDING_KEY)).toBeUndefined();
  });

  test('--fail alone stops the execution', async () => {
    const code = await run('--fail', 'no labeler this week', '--dataset-bucket', DATASET);

    expect(code).toBe(0);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input.cause).toBe('no labeler this week');
  });

  test('says so when no execution is waiting', async () => {
    s3.buckets.get(DATASET)!.delete(PENDING_KEY);

    const code = await run('--file', file('labels.json', coco([10, 10, 20, 20])));

    expect(code).toBe(2);
    expect(err[0]).toMatch(/^No pipeline execution is waiting for labels/);
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
  });

  test('keeps the labels and explains when the execution stopped waiting', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('expired'), { name: 'TaskTimedOut' }));

    const code = await run('--file', file('labels.json', coco([10, 10, 20, 20])));

    expect(code).toBe(1);
    expect(s3.keys(DATASET, 'labels/')).toHaveLength(2);
    expect(err[0]).toContain('no longer waits (TaskTimedOut); start the pipeline again');
  });

  describe('with several executions waiting', () => {
    const other: PendingLabelRequest = {
      ...pending,
      taskToken: 'token-2',
      executionName: 'run-8',
      requestedAt: '2026-01-02T00:00:00.000Z',
      count: 5,
    };
    beforeEach(() => s3.put(DATASET, pendingLabelRequestKey('run-8'), JSON.stringify(other)));

    test('imports nothing without --execution and lists the waiting executions', async () => {
      const code = await run('--file', file('labels.json', coco([10, 10, 20, 20])));

      expect(code).toBe(2);
      expect(sfn.calls()).toHaveLength(0);
      expect(s3.mutations).toEqual([]);
      expect(err[0]).toBe(
        [
          '2 executions are waiting for labels; say which one with --execution NAME:',
          '  run-7 (asked 2026-01-01T00:00:00.000Z for 2 images)',
          '  run-8 (asked 2026-01-02T00:00:00.000Z for 5 images)',
          'A run stopped while it waited leaves its request behind: remove it with --execution <its name> --fail "<reason>".',
        ].join('\n'),
      );
    });

    test('--execution resumes that execution and leaves the other one’s request alone', async () => {
      const code = await run('--file', file('labels.json', coco([10, 10, 20, 20])), '--execution', 'run-8');

      expect(code).toBe(0);
      expect(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.taskToken).toBe('token-2');
      expect(s3.get(DATASET, pendingLabelRequestKey('run-8'))).toBeUndefined();
      expect(s3.get(DATASET, PENDING_KEY)).toBeDefined();
      expect(out.join('\n')).toContain('Execution run-8 resumes.');
    });

    test('an --execution that is not waiting is refused, naming those that are', async () => {
      const code = await run('--fail', 'stop', '--dataset-bucket', DATASET, '--execution', 'run-9');

      expect(code).toBe(2);
      expect(sfn.calls()).toHaveLength(0);
      expect(err[0]).toMatch(
        /^Execution run-9 is not waiting for labels\. Waiting for labels:\n {2}run-7 .*\n {2}run-8 /,
      );
    });

    test('--fail removes the request of a run that no longer waits', async () => {
      sfn.on(SendTaskFailureCommand).rejects(Object.assign(new Error('gone'), { name: 'TaskDoesNotExist' }));

      const code = await run('--fail', 'stale', '--dataset-bucket', DATASET, '--execution', 'run-7');

      expect(code).toBe(0);
      expect(s3.get(DATASET, PENDING_KEY)).toBeUndefined();
      expect(s3.get(DATASET, pendingLabelRequestKey('run-8'))).toBeDefined();
      expect(out[0]).toBe(
        'Execution run-7 no longer waits (TaskDoesNotExist); its label request is removed.',
      );
    });
  });

  test('answers a bad command line with usage', async () => {
    expect(await run('--file', 'x', '--format', 'yolo')).toBe(2);
    expect(err[0]).toBe('--format must be one of groundtruth, coco, voc, got "yolo"');
    expect(err[1]).toMatch(/^Usage: npm run import-labels/);
  });

  test.each(['--help', '-h'])(
    '%s prints the options and examples, and calls no AWS service',
    async (flag) => {
      expect(await run(flag)).toBe(0);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatch(/^Usage: npm run import-labels -- --file <path>/);
      expect(out[0]).toContain('--format FORMAT');
      expect(out[0]).toContain('--fail "REASON"');
      expect(out[0]).toMatch(/Examples:\n {2}npm run import-labels -- --file labels.json/);
      expect(cloudFormation.calls()).toHaveLength(0);
      expect(sfn.calls()).toHaveLength(0);
      expect(err).toEqual([]);
    },
  );

  test('without AWS credentials, says so before anything about the stack', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );

    expect(await run('--file', file('labels.json', coco([10, 10, 20, 20])))).toBe(2);

    expect(err[0]).toMatch(
      /^Cannot read stack LogoDetectionData: No AWS credentials were found\. Configure them/,
    );
    expect(err[0]).not.toContain('--dataset-bucket');
    expect(sfn.calls()).toHaveLength(0);
  });
});
