/**
 * `npm run import-labels -- --file <path> [--format coco|voc|groundtruth] [--dataset-bucket NAME] [--execution NAME] [--fail "reason"]`
 *
 * Imports a label file for the pipeline execution that is waiting for labels (import mode): validates the whole
 * file against the preprocessed images and the configured classes, writes one label document per image under
 * labels/, and resumes the execution. A bad file is rejected whole and the execution keeps waiting, unless
 * --fail is given, which stops it with the reason. When several executions have a pending label request,
 * --execution says which one to answer.
 */
import './node-version';
import { exitWith } from './cli';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { getText, isNotFound, listKeys, parseS3Uri, s3ClientOptions } from '../lambda/shared/aws';
import {
  imageKeyForLabel,
  PENDING_LABEL_REQUESTS_PREFIX,
  PendingLabelRequest,
  pendingLabelRequestKey,
  PREFIXES,
} from '../contracts';
import {
  detectFormat,
  importLabels,
  LABEL_FORMATS,
  LabelFormat,
  parseLabelFiles,
} from '../lambda/shared/labels/import';
import { LabelFile, LabelFileError, resolveImageKey } from '../lambda/shared/labels/validate';
import { StackOutputError, missingAwsSetup, stackOutput } from './stack-output';

/** The clients and output streams the command uses; tests pass mocked ones. */
export interface ImportDeps {
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  readonly cloudFormation: CloudFormationClient;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** The data stack whose `DatasetBucketName` output names the dataset bucket. */
export const DATA_STACK_NAME = 'LogoDetectionData';

const USAGE = `Usage: npm run import-labels -- --file <path> [options]

  --file PATH             label file: a Ground Truth output manifest, a COCO JSON file, a Pascal VOC XML file
                          or a directory of them; a local path or s3://bucket/key (s3://bucket/prefix/ for VOC)
  --format FORMAT         ${LABEL_FORMATS.join(', ')} (default: detected from the file)
  --label-attribute NAME  Ground Truth label attribute, when lines carry several
  --dataset-bucket NAME   dataset bucket (default: the ${DATA_STACK_NAME} stack's DatasetBucketName output)
  --stack NAME            data stack to read the bucket from (default: ${DATA_STACK_NAME})
  --execution NAME        the waiting execution to answer (needed only when several wait for labels)
  --fail "REASON"         stop the waiting execution with REASON: alone, or if the file is rejected
  -h, --help              this help

Uses your AWS credentials and region (AWS_PROFILE, AWS_REGION). Examples:
  npm run import-labels -- --file labels.json
  npm run import-labels -- --file ./voc-annotations/ --format voc
  npm run import-labels -- --fail "no labeler available this week"`;

/** Raised for a mistake the operator can fix; the message says how. */
class UsageError extends Error {}

/** Command-line options of the import command. */
export interface ImportArgs {
  readonly file?: string;
  readonly format?: LabelFormat;
  readonly labelAttribute?: string;
  readonly datasetBucket?: string;
  readonly stack: string;
  readonly execution?: string;
  readonly fail?: string;
  /** `--help` (or `-h`): print the usage and do nothing else. */
  readonly help?: boolean;
}

/** Parses the command line; throws a usage error naming what is wrong. */
export function parseImportArgs(argv: string[]): ImportArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        file: { type: 'string' },
        format: { type: 'string' },
        'label-attribute': { type: 'string' },
        'dataset-bucket': { type: 'string' },
        stack: { type: 'string', default: DATA_STACK_NAME },
        execution: { type: 'string' },
        fail: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { stack: values.stack ?? DATA_STACK_NAME, help: true };
  const format = values.format;
  if (format !== undefined && !(LABEL_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${LABEL_FORMATS.join(', ')}, got "${format}"`);
  }
  if (values.file === undefined && values.fail === undefined) {
    throw new UsageError('give --file with the labels to import, or --fail "reason" to stop the execution');
  }
  return {
    file: values.file,
    format: format as LabelFormat | undefined,
    labelAttribute: values['label-attribute'],
    datasetBucket: values['dataset-bucket'],
    stack: values.stack ?? DATA_STACK_NAME,
    execution: values.execution,
    fail: values.fail,
  };
}

/** The dataset bucket's name, from the data stack's outputs. */
export async function datasetBucketFromStack(
  cloudFormation: CloudFormationClient,
  stack: string,
): Promise<string> {
  return stackOutput(
    cloudFormation,
    stack,
    'DatasetBucketName',
    'pass --dataset-bucket, or --stack with the name of your data stack',
  );
}

/** Reads the label files: a local file, a local directory of XML files, an S3 object, or an S3 prefix. */
export async function readLabelFiles(s3: S3Client, path: string): Promise<LabelFile[]> {
  if (path.startsWith('s3://')) {
    const { bucket, key } = parseS3Uri(path);
    if (!key.endsWith('/')) return [{ name: path, text: await getText(s3, bucket, key) }];
    const keys = (await listKeys(s3, bucket, key)).filter((k) => /\.xml$/i.test(k));
    if (keys.length === 0) throw new UsageError(`No .xml files under ${path}`);
    return Promise.all(
      keys.map(async (k) => ({
        name: `s3://${bucket}/${k}`,
        path: k.slice(key.length),
        text: await getText(s3, bucket, k),
      })),
    );
  }
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new UsageError(`No such file or directory: ${path}`);
  }
  if (!info.isDirectory()) return [{ name: basename(path), text: await readFile(path, 'utf8') }];
  const names = (await readdir(path, { recursive: true })).filter((n) => /\.xml$/i.test(n)).sort();
  if (names.length === 0) throw new UsageError(`No .xml files in ${path}`);
  return Promise.all(
    names.map(async (n) => ({ name: n, path: n, text: await readFile(join(path, n), 'utf8') })),
  );
}

/** A pending label request and where it is kept. */
interface Pending {
  readonly key: string;
  readonly request: PendingLabelRequest;
}

async function readPending(s3: S3Client, bucket: string, key: string): Promise<Pending> {
  return { key, request: JSON.parse(await getText(s3, bucket, key)) as PendingLabelRequest };
}

/** One line per waiting execution, oldest request first: name, when it asked, how many images. */
function describeWaiting(waiting: Pending[]): string {
  return [...waiting]
    .sort((a, b) => a.request.requestedAt.localeCompare(b.request.requestedAt))
    .map(
      ({ request }) =>
        `  ${request.executionName} (asked ${request.requestedAt} for ${request.count} images)`,
    )
    .join('\n');
}

/**
 * The pending label request to answer: the one of `execution` when given, else the only one there is.
 * @throws UsageError when no execution is waiting, when `execution` is not one of those waiting, or when several
 *   are waiting and `execution` is not given; the message lists the waiting executions.
 */
async function findPendingRequest(s3: S3Client, bucket: string, execution?: string): Promise<Pending> {
  const keys = (await listKeys(s3, bucket, PENDING_LABEL_REQUESTS_PREFIX)).filter((k) => k.endsWith('.json'));
  if (keys.length === 0) {
    throw new UsageError(
      `No pipeline execution is waiting for labels (nothing under s3://${bucket}/${PENDING_LABEL_REQUESTS_PREFIX}). ` +
        'Start the pipeline; it asks for labels when it finds images without them.',
    );
  }
  if (execution !== undefined && keys.includes(pendingLabelRequestKey(execution))) {
    return readPending(s3, bucket, pendingLabelRequestKey(execution));
  }
  if (execution === undefined && keys.length === 1) return readPending(s3, bucket, keys[0]);
  const waiting = await Promise.all(keys.map((key) => readPending(s3, bucket, key)));
  if (execution !== undefined) {
    throw new UsageError(
      `Execution ${execution} is not waiting for labels. Waiting for labels:\n${describeWaiting(waiting)}\n` +
        'Pass --execution with one of these names.',
    );
  }
  throw new UsageError(
    `${waiting.length} executions are waiting for labels; say which one with --execution NAME:\n` +
      `${describeWaiting(waiting)}\n` +
      'A run stopped while it waited leaves its request behind: remove it with --execution <its name> --fail "<reason>".',
  );
}

/** Images the request asked for that still have no label after this import. */
async function stillUnlabeled(
  s3: S3Client,
  bucket: string,
  request: PendingLabelRequest,
  labeled: ReadonlySet<string>,
): Promise<number> {
  try {
    const manifest = await getText(s3, bucket, request.manifestKey);
    return manifest
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => resolveImageKey((JSON.parse(l) as { 'source-ref': string })['source-ref']))
      .filter((key) => !labeled.has(key)).length;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

const EXPIRED_TOKEN = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Runs the import command; returns the process exit code. */
export async function main(argv: string[], deps: ImportDeps): Promise<number> {
  const { s3, sfn, out, err } = deps;
  try {
    const args = parseImportArgs(argv);
    if (args.help) {
      out(USAGE);
      return 0;
    }
    // Local files are read and recognised before any AWS call, so a wrong path fails fast.
    const files = args.file === undefined ? [] : await readLabelFiles(s3, args.file);
    const format = args.format ?? detectFormat(files);
    if (args.file !== undefined && !format) {
      throw new UsageError(
        `Cannot tell the format of ${args.file}; pass --format ${LABEL_FORMATS.join('|')}`,
      );
    }
    const bucket = args.datasetBucket ?? (await datasetBucketFromStack(deps.cloudFormation, args.stack));
    const { key, request } = await findPendingRequest(s3, bucket, args.execution);
    const done = () => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const fail = async (cause: string) => {
      try {
        await sfn.send(
          new SendTaskFailureCommand({
            taskToken: request.taskToken,
            error: 'LabelsRejected',
            cause: cause.slice(0, 32768),
          }),
        );
      } catch (error) {
        if (!EXPIRED_TOKEN.has((error as Error).name)) throw error;
        await done();
        out(
          `Execution ${request.executionName} no longer waits (${(error as Error).name}); ` +
            'its label request is removed.',
        );
        return;
      }
      await done();
      out(`Stopped execution ${request.executionName}: ${args.fail}`);
    };

    if (args.file === undefined) {
      await fail(args.fail!);
      return 0;
    }
    let result;
    try {
      result = await importLabels({
        s3,
        datasetBucket: bucket,
        classes: request.classes,
        format: format!,
        file: args.file,
        parsed: parseLabelFiles(format!, files, args.labelAttribute),
      });
    } catch (error) {
      if (!(error instanceof LabelFileError)) throw error;
      err(error.message);
      if (args.fail !== undefined) {
        await fail(`${args.fail}\n${error.message}`);
      } else {
        err(
          `Execution ${request.executionName} is still waiting for labels. Fix the file and run the command ` +
            'again, or add --fail "<reason>" to stop the execution.',
        );
      }
      return 1;
    }

    const summary =
      `Imported ${result.imported} label documents (${result.empty} with no objects` +
      `${result.skipped ? `, ${result.skipped} entries skipped as not labeled` : ''}` +
      `${result.rejected ? `, ${result.rejected} images left out as marked bad by a reviewer` : ''}` +
      `${result.crowd ? `, ${result.crowd} crowd regions left out` : ''}` +
      `${result.reoriented ? `, ${result.reoriented} images' boxes turned upright by their EXIF orientation` : ''}) ` +
      `from ${args.file} (${format}) into s3://${bucket}/${PREFIXES.labels}.`;
    try {
      await sfn.send(
        new SendTaskSuccessCommand({ taskToken: request.taskToken, output: JSON.stringify(result) }),
      );
    } catch (error) {
      if (!EXPIRED_TOKEN.has((error as Error).name)) throw error;
      await done();
      err(
        `${summary}\nBut execution ${request.executionName} no longer waits (${(error as Error).name}); ` +
          'start the pipeline again: it will train with these labels.',
      );
      return 1;
    }
    await done();
    out(`${summary}\nExecution ${request.executionName} resumes.`);
    const labeled = new Set(await readLabelKeys(s3, bucket));
    const missing = await stillUnlabeled(s3, bucket, request, labeled);
    if (missing > 0) {
      out(
        `${missing} of the ${request.count} requested images still have no label; the next run asks for them again.`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof StackOutputError) {
      err(error.message);
      if (/give --file|--format must|Unknown option|argument/i.test(error.message)) err(USAGE);
      return 2;
    }
    const missing = await missingAwsSetup(error, s3);
    if (missing) {
      err(missing);
      return 1;
    }
    throw error;
  }
}

/** Image keys that have a label document. */
async function readLabelKeys(s3: S3Client, bucket: string): Promise<string[]> {
  return (await listKeys(s3, bucket, PREFIXES.labels)).map(imageKeyForLabel);
}

if (require.main === module) {
  const options = s3ClientOptions();
  exitWith(
    'import-labels',
    main(process.argv.slice(2), {
      s3: new S3Client(options),
      sfn: new SFNClient({}),
      cloudFormation: new CloudFormationClient({}),
      out: (line) => console.log(line),
      err: (line) => console.error(line),
    }),
    'Check your AWS credentials and region (AWS_PROFILE, AWS_REGION) and that the stacks are deployed.',
  );
}
