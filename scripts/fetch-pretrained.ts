/**
 * `npm run fetch-pretrained`: puts the VOC-pretrained SSD weights training fine-tunes from under the artifacts
 * bucket's `pretrained/` prefix, checked.
 *
 * GluonCV's own download host no longer answers. SageMaker JumpStart publishes the same network as the fine-tunable
 * model `mxnet-od-ssd-512-mobilenet1-0-voc`, in its public per-region bucket `jumpstart-cache-prod-<region>`. The
 * command reads that bucket's `models_manifest.json`, takes the newest version of the model, reads the training
 * artifact's key from its spec, downloads the archive, and has the container's own code
 * (`logo_detector.pretrained_upload`, run by the project's `.venv` Python) find the `.params` file whose every
 * parameter fits `ssd_512_mobilenet1.0_voc`. It uploads that file and its record (`weights.json`, with the SHA-1
 * training checks) under `pretrained/`. With `--file` it checks and uploads a local `.params` file or archive instead.
 */
import './node-version';
import { exitWith } from './cli';
import { PREFIXES } from '../contracts';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getText, listKeys, s3ClientOptions } from '../lambda/shared/aws';
import { StackOutputError, stackOutput } from './stack-output';

/** The JumpStart model that is GluonCV's `ssd_512_mobilenet1.0_voc`. */
export const JUMPSTART_MODEL_ID = 'mxnet-od-ssd-512-mobilenet1-0-voc';

/** The data stack whose `ArtifactsBucketName` output names the artifacts bucket. */
export const DATA_STACK_NAME = 'LogoDetectionData';

/** Where training finds the weights in the artifacts bucket. */
export const PRETRAINED_PREFIX = PREFIXES.pretrained;

/** The record the container reads beside the weights (`pretrained.WEIGHTS_RECORD`). */
export const WEIGHTS_RECORD = 'weights.json';

const REPO = join(__dirname, '..');

/** The Python that checks the weights: the project's environment, which has MXNet and GluonCV. */
export const PROJECT_PYTHON = join(REPO, '.venv', 'bin', 'python');

const USAGE = `Usage: npm run fetch-pretrained -- [options]

Copies GluonCV's VOC-pretrained SSD 512 MobileNet 1.0 from SageMaker JumpStart (model ${JUMPSTART_MODEL_ID})
into the artifacts bucket under ${PRETRAINED_PREFIX}, after checking that every parameter fits the network, and
records its SHA-1 there (${PRETRAINED_PREFIX}${WEIGHTS_RECORD}). The next training run fine-tunes from it.

Options:
  --file PATH               check and upload this .params file (or a tar archive holding one) instead
  --jumpstart-region NAME   region of the JumpStart bucket jumpstart-cache-prod-<region> (default: your AWS region)
  --signed                  read the JumpStart bucket with your AWS credentials instead of anonymously
  --artifacts-bucket NAME   artifacts bucket (default: the ${DATA_STACK_NAME} stack's ArtifactsBucketName output)
  --stack NAME              data stack to read the bucket from (default: ${DATA_STACK_NAME})
  --help                    show this`;

/** A mistake the operator can fix; the message says how. */
export class FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchError';
  }
}

/** Command-line options of the fetch command. */
export interface FetchArgs {
  readonly file?: string;
  readonly jumpstartRegion?: string;
  readonly signed: boolean;
  readonly artifactsBucket?: string;
  readonly stack: string;
  readonly help: boolean;
}

/** Parses the command line; throws a {@link FetchError} naming what is wrong. */
export function parseFetchArgs(argv: string[]): FetchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        file: { type: 'string' },
        'jumpstart-region': { type: 'string' },
        signed: { type: 'boolean', default: false },
        'artifacts-bucket': { type: 'string' },
        stack: { type: 'string', default: DATA_STACK_NAME },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new FetchError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.file !== undefined && (values['jumpstart-region'] !== undefined || values.signed)) {
    throw new FetchError(
      '--file reads a local file: --jumpstart-region and --signed apply only to JumpStart.',
    );
  }
  return {
    file: values.file,
    jumpstartRegion: values['jumpstart-region'],
    signed: values.signed ?? false,
    artifactsBucket: values['artifacts-bucket'],
    stack: values.stack ?? DATA_STACK_NAME,
    help: values.help ?? false,
  };
}

/** The public bucket JumpStart serves its models from in `region`. */
export function jumpstartBucket(region: string): string {
  return `jumpstart-cache-prod-${region}`;
}

/**
 * An S3 client that sends no credentials and no signature, for public objects: only the bucket's policy decides,
 * so a caller whose own IAM policy does not mention the bucket can still read it.
 */
export function anonymousS3Client(region: string): S3Client {
  return new S3Client({
    region,
    httpAuthSchemeProvider: () => [{ schemeId: 'smithy.api#noAuth' }],
    httpAuthSchemes: [
      {
        schemeId: 'smithy.api#noAuth',
        identityProvider: () => async () => ({}),
        signer: { sign: async (request) => request },
      },
    ],
  });
}

/** One row of JumpStart's `models_manifest.json`. */
export interface ManifestEntry {
  readonly model_id: string;
  readonly version: string;
  readonly spec_key: string;
}

/** Orders `major.minor.patch` versions numerically (2.0.14 after 2.0.9). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The manifest's newest version of `modelId`, or undefined when the manifest does not list it. */
export function newestVersion(entries: readonly ManifestEntry[], modelId: string): ManifestEntry | undefined {
  return entries
    .filter((e) => e.model_id === modelId)
    .sort((a, b) => compareVersions(a.version, b.version))
    .at(-1);
}

/** Where a JumpStart model's training artifact is, and which version of the model it belongs to. */
export interface TrainingArtifact {
  readonly bucket: string;
  readonly key: string;
  readonly version: string;
  readonly specKey: string;
}

/** What an S3 error means for a JumpStart read, as a message the operator can act on. */
function jumpstartReadError(error: unknown, bucket: string, key: string, signed: boolean): Error {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const where = `s3://${bucket}/${key}`;
  if (e.name === 'NoSuchBucket') {
    return new FetchError(
      `There is no JumpStart bucket ${bucket}: JumpStart may not serve this region. Pass --jumpstart-region ` +
        'with a region it serves (e.g. us-east-1), or download the weights yourself and pass --file.',
    );
  }
  if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
    return new FetchError(`${where} does not exist (JumpStart may have moved it); pass --file instead.`);
  }
  if (e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) {
    return new FetchError(
      signed
        ? `${where} refused your credentials (${e.name}): your IAM policy must allow s3:GetObject on ` +
            `arn:aws:s3:::${bucket}/*. Or run without --signed to read it anonymously.`
        : `${where} refused an anonymous read (${e.name}). Run again with --signed to read it with your AWS ` +
            `credentials (your IAM policy must allow s3:GetObject on arn:aws:s3:::${bucket}/*), or download ` +
            'the weights yourself and pass --file.',
    );
  }
  return error as Error;
}

async function readJson(s3: S3Client, bucket: string, key: string, signed: boolean): Promise<unknown> {
  let text;
  try {
    text = await getText(s3, bucket, key);
  } catch (error) {
    throw jumpstartReadError(error, bucket, key, signed);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FetchError(
      `s3://${bucket}/${key} is not JSON; JumpStart may have changed its layout. Pass --file.`,
    );
  }
}

/**
 * Finds the newest version of `modelId` in the bucket's `models_manifest.json`, then its training artifact's key
 * in that version's spec (`training_artifact_key`). Throws a {@link FetchError} saying which step failed.
 */
export async function findTrainingArtifact(
  s3: S3Client,
  bucket: string,
  modelId: string,
  signed = false,
): Promise<TrainingArtifact> {
  const manifest = await readJson(s3, bucket, 'models_manifest.json', signed);
  const entry = newestVersion(Array.isArray(manifest) ? (manifest as ManifestEntry[]) : [], modelId);
  if (!entry) {
    throw new FetchError(
      `s3://${bucket}/models_manifest.json does not list ${modelId}. Pass --jumpstart-region with another ` +
        'region (e.g. us-east-1), or download the weights yourself and pass --file.',
    );
  }
  const spec = (await readJson(s3, bucket, entry.spec_key, signed)) as { training_artifact_key?: unknown };
  const key = spec?.training_artifact_key;
  if (typeof key !== 'string' || key === '') {
    throw new FetchError(
      `s3://${bucket}/${entry.spec_key} (${modelId} ${entry.version}) has no training_artifact_key; ` +
        'JumpStart may have changed its layout. Pass --file instead.',
    );
  }
  return { bucket, key, version: entry.version, specKey: entry.spec_key };
}

/** Downloads one object to `path`; returns its size in bytes. */
async function download(
  s3: S3Client,
  artifact: TrainingArtifact,
  path: string,
  signed: boolean,
): Promise<number> {
  let body;
  try {
    body = (await s3.send(new GetObjectCommand({ Bucket: artifact.bucket, Key: artifact.key }))).Body;
  } catch (error) {
    throw jumpstartReadError(error, artifact.bucket, artifact.key, signed);
  }
  if (!body) throw new FetchError(`s3://${artifact.bucket}/${artifact.key} has no body`);
  await pipeline(body as Readable, createWriteStream(path));
  return (await stat(path)).size;
}

/** What `logo_detector.pretrained_upload` recorded (`weights.json`). */
export interface WeightsRecord {
  /** The file name under `pretrained/`. */
  readonly file: string;
  readonly sha1: string;
  /** The GluonCV network the weights fit. */
  readonly model: string;
  /** How many parameters were checked. */
  readonly parameters: number;
  /** Where the weights came from. */
  readonly source: string;
  /** The file's path in the archive, or null when the source was the file itself. */
  readonly member: string | null;
  readonly checked_at: string;
}

/**
 * Runs the container's check (`python -m logo_detector.pretrained_upload`) on `source`: it writes the weights and
 * `weights.json` to `outDir`. Resolves with the record; rejects with the check's own reason when nothing fits.
 */
export async function checkWeights(
  python: string,
  source: string,
  outDir: string,
  origin: string,
): Promise<WeightsRecord> {
  if (!existsSync(python)) {
    throw new FetchError(
      `Checking the weights needs the project's Python environment (${python}, with MXNet and GluonCV); ` +
        'run npm run py:env once to create it, then run this command again.',
    );
  }
  const child = spawn(python, ['-m', 'logo_detector.pretrained_upload', source, outDir, '--origin', origin], {
    env: { ...process.env, PYTHONPATH: join(REPO, 'training-container', 'src') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new FetchError(stderr.trim().split('\n').at(-1) || `the check exited with ${code}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as WeightsRecord;
}

/** Uploads the checked weights, then their record, under `pretrained/`; returns the keys written. */
async function upload(
  s3: S3Client,
  bucket: string,
  outDir: string,
  record: WeightsRecord,
): Promise<string[]> {
  const weightsKey = `${PRETRAINED_PREFIX}${record.file}`;
  const recordKey = `${PRETRAINED_PREFIX}${WEIGHTS_RECORD}`;
  const path = join(outDir, record.file);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: weightsKey,
      Body: createReadStream(path),
      ContentLength: (await stat(path)).size,
      ContentType: 'application/octet-stream',
    }),
  );
  // The record goes last: training trusts a file only once its record names it.
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: recordKey,
      Body: await readFile(join(outDir, WEIGHTS_RECORD)),
      ContentType: 'application/json',
    }),
  );
  return [weightsKey, recordKey];
}

/** The clients, the Python and the output streams the command uses; tests pass their own. */
export interface FetchDeps {
  /** The artifacts bucket's client, with your credentials. */
  readonly s3: S3Client;
  /** A client for the JumpStart bucket in `region`: anonymous, or with your credentials when `signed`. */
  readonly jumpstartClient: (region: string, signed: boolean) => S3Client;
  readonly cloudFormation: CloudFormationClient;
  /** The Python that runs the check (the project's `.venv`). */
  readonly python: string;
  readonly out: (line: string) => void;
}

/** What {@link fetchPretrained} uploaded. */
export interface Fetched {
  readonly bucket: string;
  readonly keys: string[];
  readonly record: WeightsRecord;
}

/** Finds, checks and uploads the weights (see the module comment); throws a {@link FetchError} saying what to do. */
export async function fetchPretrained(args: FetchArgs, deps: FetchDeps): Promise<Fetched> {
  const { out } = deps;
  const bucket =
    args.artifactsBucket ??
    (await stackOutput(
      deps.cloudFormation,
      args.stack,
      'ArtifactsBucketName',
      'pass --artifacts-bucket, or --stack with the name of your data stack',
    ));
  const scratch = await mkdtemp(join(tmpdir(), 'fetch-pretrained-'));
  try {
    let source = args.file;
    let origin = args.file ?? '';
    if (source === undefined) {
      const region = args.jumpstartRegion ?? (await deps.s3.config.region());
      const jumpstart = deps.jumpstartClient(region, args.signed);
      const artifact = await findTrainingArtifact(
        jumpstart,
        jumpstartBucket(region),
        JUMPSTART_MODEL_ID,
        args.signed,
      );
      origin = `s3://${artifact.bucket}/${artifact.key}`;
      out(
        `${JUMPSTART_MODEL_ID} ${artifact.version} (spec ${artifact.specKey}): training artifact ${origin}`,
      );
      source = join(scratch, basename(artifact.key) || 'artifact');
      const size = await download(jumpstart, artifact, source, args.signed);
      out(`downloaded ${(size / 1e6).toFixed(1)} MB`);
    } else if (!existsSync(source)) {
      throw new FetchError(`No such file: ${source}`);
    }
    out(`checking ${origin} against GluonCV's ssd_512_mobilenet1.0_voc with ${deps.python}`);
    const outDir = join(scratch, 'out');
    const record = await checkWeights(deps.python, source, outDir, origin);
    out(
      `${record.member ?? basename(origin)}: all ${record.parameters} parameters fit; SHA-1 ${record.sha1}`,
    );
    const others = (await listKeys(deps.s3, bucket, PRETRAINED_PREFIX)).filter(
      (key) =>
        key !== `${PRETRAINED_PREFIX}${record.file}` && key !== `${PRETRAINED_PREFIX}${WEIGHTS_RECORD}`,
    );
    const keys = await upload(deps.s3, bucket, outDir, record);
    out(`uploaded s3://${bucket}/${keys[0]} and its record s3://${bucket}/${keys[1]}`);
    if (others.length) {
      out(
        `${PRETRAINED_PREFIX} also holds ${others.join(', ')}; training uses ${record.file}, which the record names`,
      );
    }
    return { bucket, keys, record };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Runs the command; returns the process exit code. */
export async function main(argv: string[], deps: FetchDeps, err: (line: string) => void): Promise<number> {
  try {
    const args = parseFetchArgs(argv);
    if (args.help) {
      deps.out(USAGE);
      return 0;
    }
    await fetchPretrained(args, deps);
    deps.out(
      'The next training run fine-tunes from these weights; to train now: npm run start-run -- --force',
    );
    return 0;
  } catch (error) {
    if (error instanceof FetchError || error instanceof StackOutputError) {
      err(error.message);
      return 2;
    }
    throw error;
  }
}

if (require.main === module) {
  exitWith(
    'fetch-pretrained',
    main(
      process.argv.slice(2),
      {
        s3: new S3Client(s3ClientOptions()),
        jumpstartClient: (region, signed) => (signed ? new S3Client({ region }) : anonymousS3Client(region)),
        cloudFormation: new CloudFormationClient({}),
        python: PROJECT_PYTHON,
        out: (line) => console.log(line),
      },
      (line) => console.error(line),
    ),
    'Check your AWS credentials and region (AWS_PROFILE, AWS_REGION) and that the stacks are deployed.',
  );
}
