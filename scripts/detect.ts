/**
 * Batch detection: starts the detect workflow (the pipeline stack's `DetectStateMachineArn` output) on every
 * image under an S3 prefix and follows it to the end, printing its progress and where the results are.
 *
 *   npm run detect -- --input s3://my-photos/shop/ --min-score 0.6 --annotate
 */
import './node-version';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { parseArgs } from 'util';
import type { DetectPrepareResult, DetectRequest, DetectResultsResult } from '../contracts';
import { parseS3Uri, s3ClientOptions } from '../lambda/shared/aws';
import { exitWith } from './cli';
import { StackOutputError, stackOutput } from './stack-output';
import { consoleLink } from './start-run';

/** The pipeline stack the command reads the workflow from unless `--stack` names another. */
export const PIPELINE_STACK_NAME = 'LogoDetectionPipeline';

/** What `npm run detect -- --help` prints. */
export const USAGE = `Usage: npm run detect -- --input s3://bucket/prefix/ [--min-score N] [--annotate] [--stack <name>] [--no-wait]

Finds logos in every image under an S3 prefix (sub-folders included) with the live model: starts the detect
workflow, a SageMaker Batch Transform job, and follows it. Writes one JSON Lines file of detections, one of the
images it could not read (each with the reason) and, with --annotate, a copy of each image with its boxes, under
detections/<run>/ in the artifacts bucket. The bucket must be one detectInputBuckets allows (by default the raw
bucket). Uses your AWS credentials and region (AWS_PROFILE, AWS_REGION).

Options:
  --input URI     the S3 prefix of the images, e.g. s3://my-photos/shop/
  --min-score N   lowest score of a detection kept, 0 to 1 (default: the API's default, apiDefaultMinScore)
  --annotate      also write a copy of each image with its boxes drawn
  --stack NAME    the pipeline stack (default ${PIPELINE_STACK_NAME})
  --no-wait       start the run, print it and return without following it
  -h, --help      this help

Example:
  npm run detect -- --input s3://my-photos/shop/ --min-score 0.6 --annotate`;

/** The command line, parsed: the workflow's input, and how the command runs it. */
export interface DetectOptions {
  readonly request: DetectRequest;
  readonly stackName: string;
  readonly wait: boolean;
  readonly help?: true;
}

/** Parses the arguments; throws naming a bad or missing one. */
export function parseDetectArgs(argv: string[]): DetectOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      input: { type: 'string' },
      'min-score': { type: 'string' },
      annotate: { type: 'boolean', default: false },
      stack: { type: 'string', default: PIPELINE_STACK_NAME },
      'no-wait': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const stackName = values.stack ?? PIPELINE_STACK_NAME;
  if (values.help) return { request: { input: '' }, stackName, wait: false, help: true };
  if (!values.input) throw new Error('--input s3://bucket/prefix/ is required: the S3 prefix of the images');
  if (!/^s3:\/\/[^/]+/.test(values.input)) {
    throw new Error(`--input must be an S3 prefix such as s3://my-photos/shop/, got "${values.input}"`);
  }
  let minScore: number | undefined;
  if (values['min-score'] !== undefined) {
    minScore = Number(values['min-score']);
    if (values['min-score'].trim() === '' || !(minScore >= 0 && minScore <= 1)) {
      throw new Error(`--min-score must be a number from 0 to 1, got "${values['min-score']}"`);
    }
  }
  return {
    request: {
      input: values.input,
      ...(minScore === undefined ? {} : { minScore }),
      ...(values.annotate ? { annotate: true } : {}),
    },
    stackName,
    wait: !values['no-wait'],
  };
}

/** Where a running detect execution is, from its history. */
export interface DetectProgress {
  /** The last state entered. */
  readonly state?: string;
  /** What the prepare step found, once it has run. */
  readonly prepared?: DetectPrepareResult;
}

/** The last state entered and the prepare step's result, read from an execution's history events. */
export function progressOf(events: readonly HistoryEvent[]): DetectProgress {
  let state: string | undefined;
  let prepared: DetectPrepareResult | undefined;
  for (const event of events) {
    if (event.stateEnteredEventDetails?.name) state = event.stateEnteredEventDetails.name;
    const exited = event.stateExitedEventDetails;
    if (exited?.name === 'Prepare images' && exited.output) {
      prepared = (JSON.parse(exited.output) as { prepared?: DetectPrepareResult }).prepared;
    }
  }
  return { state, prepared };
}

/** The summary printed when the workflow succeeds. */
export function summary(results: DetectResultsResult): string[] {
  const lines = [
    `${results.answered} images answered (${results.withDetections} with detections, ${results.detections} ` +
      `detections in all); ${results.failed} not answered.`,
    `Detections: ${results.detectionsUri}`,
    `Not answered, with the reason: ${results.failuresUri}`,
  ];
  if (results.annotatedUri) lines.push(`Annotated copies (${results.annotated}): ${results.annotatedUri}`);
  for (const failure of results.failureSample) lines.push(`  ${failure.image}: ${failure.reason}`);
  if (results.failed > results.failureSample.length) {
    lines.push(`  ... and ${results.failed - results.failureSample.length} more in the failures file`);
  }
  return lines;
}

/** What {@link main} talks to and prints with. */
export interface DetectDeps {
  readonly cloudFormation: CloudFormationClient;
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Waits between two looks at the execution. @default 15 seconds */
  readonly sleep?: () => Promise<void>;
}

async function answeredSoFar(s3: S3Client, transformOutputUri: string): Promise<number> {
  const { bucket, key } = parseS3Uri(transformOutputUri);
  let count = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }),
    );
    count += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return count;
}

/** Runs the command; returns the process exit code (0 detections written, 1 the run failed, 2 a usage error). */
export async function main(argv: string[], deps: DetectDeps): Promise<number> {
  const { out, err } = deps;
  let options: DetectOptions;
  try {
    options = parseDetectArgs(argv);
  } catch (error) {
    err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    out(USAGE);
    return 0;
  }
  let arn: string;
  try {
    arn = await stackOutput(
      deps.cloudFormation,
      options.stackName,
      'DetectStateMachineArn',
      'deploy it first with npx cdk deploy --all, or pass --stack with the name of your pipeline stack',
    );
  } catch (error) {
    if (!(error instanceof StackOutputError)) throw error;
    err(error.message);
    return 2;
  }
  const started = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(options.request) }),
  );
  const executionArn = started.executionArn!;
  out(`Started ${executionArn}\n${consoleLink(executionArn)}`);
  if (!options.wait) return 0;

  const sleep = deps.sleep ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 15000)));
  let shown = '';
  for (;;) {
    const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      if (execution.status === 'SUCCEEDED') {
        const { results } = JSON.parse(execution.output ?? '{}') as { results: DetectResultsResult };
        summary(results).forEach((line) => out(line));
        return 0;
      }
      err(`Batch detection ${execution.status}: ${execution.cause ?? execution.error ?? 'no cause given'}`);
      return 1;
    }
    const events: HistoryEvent[] = [];
    let token: string | undefined;
    do {
      const page = await deps.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: token }));
      events.push(...(page.events ?? []));
      token = page.nextToken;
    } while (token);
    const { state, prepared } = progressOf(events);
    let line = state ? `${state}...` : 'Starting...';
    if (prepared) {
      const answered =
        state === 'Detect in batch' ? await answeredSoFar(deps.s3, prepared.transformOutputUri) : 0;
      line =
        state === 'Detect in batch'
          ? `Batch Transform job: ${answered} of ${prepared.images} images answered ` +
            `(${prepared.refused} left out before the job)`
          : `${state}... (${prepared.images} images sent, ${prepared.refused} left out)`;
    }
    if (line !== shown) out(line);
    shown = line;
    await sleep();
  }
}

if (require.main === module) {
  exitWith(
    'detect',
    main(process.argv.slice(2), {
      cloudFormation: new CloudFormationClient({}),
      sfn: new SFNClient({}),
      s3: new S3Client(s3ClientOptions()),
      out: (line) => console.log(line),
      err: (line) => console.error(line),
    }),
    'Check your AWS credentials and region (AWS_PROFILE, AWS_REGION); the run, if it started, goes on without you.',
  );
}
