import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { DetectPrepareResult, DetectResultsResult } from '../contracts';
import { main, parseDetectArgs, USAGE } from '../scripts/detect';

const cloudFormation = mockClient(CloudFormationClient);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:DetectionStateMachine-abc';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:DetectionStateMachine-abc:run-1';

const prepared: DetectPrepareResult = {
  input: 's3://photos/shop/',
  images: 3,
  refused: 1,
  manifestUri: 's3://artifacts/detections/run-1/input.manifest',
  transformOutputUri: 's3://artifacts/detections/run-1/transform/',
  modelVersion: 'logodet-1a2b3c-train-x',
  modelName: 'logodet-1a2b3c-model-x',
  minScore: '0.6',
  annotate: true,
};
const results: DetectResultsResult = {
  answered: 2,
  withDetections: 1,
  detections: 4,
  failed: 2,
  annotated: 2,
  detectionsUri: 's3://artifacts/detections/run-1/detections.jsonl',
  failuresUri: 's3://artifacts/detections/run-1/failures.jsonl',
  annotatedUri: 's3://artifacts/detections/run-1/annotated/',
  failureSample: [{ image: 's3://photos/shop/huge.jpg', code: 'too_large', reason: 'The object is 9.0 MiB' }],
};

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, {
    cloudFormation: new CloudFormationClient({}),
    sfn: new SFNClient({}),
    s3: new S3Client({}),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    sleep: async () => undefined,
  });
  return { code, out, err };
}

beforeEach(() => {
  cloudFormation.reset();
  sfn.reset();
  s3.reset();
  cloudFormation.on(DescribeStacksCommand, { StackName: 'LogoDetectionPipeline' }).resolves({
    Stacks: [
      {
        StackName: 'LogoDetectionPipeline',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [{ OutputKey: 'DetectStateMachineArn', OutputValue: MACHINE }],
      },
    ],
  });
  sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
});

describe('npm run detect', () => {
  test('starts the detect workflow with the request, shows the transform job progress, then the results', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolves({ status: 'SUCCEEDED', output: JSON.stringify({ prepared, results }) } as never);
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { stateEnteredEventDetails: { name: 'Prepare images' } },
        { stateExitedEventDetails: { name: 'Prepare images', output: JSON.stringify({ prepared }) } },
        { stateEnteredEventDetails: { name: 'Detect in batch' } },
      ] as never,
    });
    s3.on(ListObjectsV2Command, { Bucket: 'artifacts', Prefix: 'detections/run-1/transform/' })
      .resolvesOnce({ KeyCount: 1 })
      .resolves({ KeyCount: 3 });

    const { code, out, err } = run(['--input', 's3://photos/shop/', '--min-score', '0.6', '--annotate']);

    expect(await code).toBe(0);
    expect(err).toEqual([]);
    expect(sfn.commandCalls(StartExecutionCommand)[0].args[0].input).toEqual({
      stateMachineArn: MACHINE,
      input: JSON.stringify({ input: 's3://photos/shop/', minScore: 0.6, annotate: true }),
    });
    expect(out).toEqual([
      `Started ${EXECUTION}\nhttps://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION}`,
      'Batch Transform job: 1 of 3 images answered (1 left out before the job)',
      'Batch Transform job: 3 of 3 images answered (1 left out before the job)',
      '2 images answered (1 with detections, 4 detections in all); 2 not answered.',
      'Detections: s3://artifacts/detections/run-1/detections.jsonl',
      'Not answered, with the reason: s3://artifacts/detections/run-1/failures.jsonl',
      'Annotated copies (2): s3://artifacts/detections/run-1/annotated/',
      '  s3://photos/shop/huge.jpg: The object is 9.0 MiB',
      '  ... and 1 more in the failures file',
    ]);
  });

  test('a failed run exits 1 with its cause', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      cause: 'Batch detection may read only the buckets in detectInputBuckets',
    } as never);
    const { code, err } = run(['--input', 's3://elsewhere/x/']);
    expect(await code).toBe(1);
    expect(err).toEqual([
      'Batch detection FAILED: Batch detection may read only the buckets in detectInputBuckets',
    ]);
  });

  test('--no-wait starts the run and returns', async () => {
    const { code, out } = run(['--input', 's3://photos/shop/', '--no-wait']);
    expect(await code).toBe(0);
    expect(out).toHaveLength(1);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });

  test('a stack without the output is named, and nothing starts', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [] });
    const { code, err } = run(['--input', 's3://photos/shop/', '--stack', 'Other']);
    expect(await code).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^Stack Other has no DetectStateMachineArn output/)]);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  test.each([
    [[], /--input s3:\/\/bucket\/prefix\/ is required/],
    [['--input', 'photos/shop'], /--input must be an S3 prefix such as s3:\/\/my-photos\/shop\//],
    [['--input', 's3://p/x', '--min-score', '1.5'], /--min-score must be a number from 0 to 1, got "1.5"/],
    [['--input', 's3://p/x', '--min-score', ''], /--min-score must be a number from 0 to 1, got ""/],
    [['--inptu', 's3://p/x'], /Unknown option '--inptu'/],
  ])('refuses %j with what is wrong', (argv, message) => {
    expect(() => parseDetectArgs(argv)).toThrow(message);
  });

  test('--help prints the usage, which lists the options and an example', async () => {
    const { code, out } = run(['--help']);
    expect(await code).toBe(0);
    expect(out[0]).toBe(USAGE);
    expect(USAGE).toMatch(
      /^Usage: npm run detect -- --input s3:\/\/bucket\/prefix\/ \[--min-score N\] \[--annotate\]/,
    );
    expect(USAGE).toMatch(
      /Example:\n {2}npm run detect -- --input s3:\/\/my-photos\/shop\/ --min-score 0.6 --annotate/,
    );
  });
});
