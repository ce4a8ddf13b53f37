import { S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  DetectFailure,
  DetectPrepareEvent,
  DetectPrepareResult,
  detectionJobKeys,
  displayKey,
  keyPathProblem,
  defaultMinScoreOf,
  LiveModel,
  MAX_DETECT_IMAGE_BYTES,
  modelNameForVersion,
} from '../../contracts';
import { listObjects, parseS3Uri, putJson, putJsonLines, s3ClientOptions } from '../shared/aws';

const s3 = new S3Client(s3ClientOptions());
const ssm = new SSMClient({});

/** A request the operator must fix (bucket not allowed, empty prefix, no live model); the message says how. */
export class DetectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetectError';
  }
}

/** The input prefix of a request, checked: `s3://bucket/` or `s3://bucket/prefix/` (a missing final `/` added). */
export interface DetectInput {
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * The request's input prefix, minScore and annotate flag, checked.
 * @param allowedBuckets - the buckets batch detection may read (`detectInputBuckets`)
 * @param defaultMinScore - the minScore when the request gives none (`apiDefaultMinScore`); undefined when the
 * deployment configures none, and then so is the result's minScore for a request without one: the live model's
 * calibrated threshold decides ({@link handler})
 * @throws DetectError naming the bad value and the fix
 */
export function checkRequest(
  request: DetectPrepareEvent['request'],
  allowedBuckets: readonly string[],
  defaultMinScore: number | undefined,
): { input: DetectInput; minScore: number | undefined; annotate: boolean } {
  if (typeof request?.input !== 'string' || !request.input.startsWith('s3://')) {
    throw new DetectError(
      `The input must be an S3 prefix such as s3://bucket/photos/, got ${JSON.stringify(request?.input)}`,
    );
  }
  const { bucket, key } = parseS3Uri(request.input);
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  if (!allowedBuckets.includes(bucket)) {
    throw new DetectError(
      `Batch detection may read only the buckets in detectInputBuckets (${allowedBuckets.join(', ')}), not ` +
        `${bucket}: add it to detectInputBuckets and deploy again, or copy the images into one of those buckets`,
    );
  }
  if (prefix !== '' && keyPathProblem(prefix.slice(0, -1)) !== undefined) {
    throw new DetectError(
      `The input prefix ${displayKey(prefix)} ${keyPathProblem(prefix.slice(0, -1))}; name a folder such as photos/`,
    );
  }
  const minScore = request.minScore ?? defaultMinScore;
  if (minScore !== undefined && (typeof minScore !== 'number' || !(minScore >= 0 && minScore <= 1))) {
    throw new DetectError(`minScore must be a number from 0 to 1, got ${JSON.stringify(request.minScore)}`);
  }
  if (request.annotate !== undefined && typeof request.annotate !== 'boolean') {
    throw new DetectError(`annotate must be true or false, got ${JSON.stringify(request.annotate)}`);
  }
  return { input: { bucket, prefix }, minScore, annotate: request.annotate ?? false };
}

/**
 * Splits the objects under the input prefix into the images the transform job gets (their paths below the prefix)
 * and the ones left out with the reason: folder markers are skipped silently; empty objects, objects over
 * {@link MAX_DETECT_IMAGE_BYTES} (which would fail the whole transform job) and paths a manifest cannot carry
 * safely are refused. Sorted by path, so the job's order is the listing's.
 */
export function selectImages(
  input: DetectInput,
  objects: ReadonlyMap<string, { readonly bytes: number }>,
): { images: string[]; refused: DetectFailure[] } {
  const images: string[] = [];
  const refused: DetectFailure[] = [];
  const limitMiB = MAX_DETECT_IMAGE_BYTES / 1024 / 1024;
  for (const [key, { bytes }] of [...objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (key.endsWith('/')) continue;
    const path = key.slice(input.prefix.length);
    const image = `s3://${input.bucket}/${key}`;
    const problem = keyPathProblem(path);
    if (problem !== undefined) {
      refused.push({ image, code: 'bad_key', reason: `The key ${problem}; rename the object` });
    } else if (bytes === 0) {
      refused.push({ image, code: 'empty', reason: 'The object is empty (0 bytes)' });
    } else if (bytes > MAX_DETECT_IMAGE_BYTES) {
      refused.push({
        image,
        code: 'too_large',
        reason:
          `The object is ${(bytes / 1024 / 1024).toFixed(1)} MiB; batch detection sends at most ${limitMiB} MiB ` +
          'per image (as the API does): resize or recompress it',
      });
    } else {
      images.push(path);
    }
  }
  return { images, refused };
}

/** The live-model record, with its version. @throws DetectError when none is live */
export async function liveModel(parameterName: string): Promise<LiveModel & { version: string }> {
  const value = (await ssm.send(new GetParameterCommand({ Name: parameterName }))).Parameter?.Value;
  const record = JSON.parse(value ?? '{}') as LiveModel;
  if (!record.version) {
    throw new DetectError('No model is live yet: run the pipeline (npm run start-run) until it deploys one');
  }
  return { ...record, version: record.version };
}

/**
 * Prepares a batch detection job: checks the request, finds the live model, lists the input prefix and writes
 * the transform job's manifest (`[{"prefix": ...}, "<path>", ...]`, SageMaker's ManifestFile format) and the
 * objects it refused to the job's failures file, both under `detections/<execution>/` in the artifacts bucket.
 * A request without minScore gets `DEFAULT_MIN_SCORE` when the deployment sets one, else the live model's
 * calibrated threshold ({@link defaultMinScoreOf}), as the API does.
 * Environment: `LIVE_MODEL_PARAMETER`, `DETECT_INPUT_BUCKETS` (comma-separated), optional `DEFAULT_MIN_SCORE`.
 * @throws DetectError for a request the operator must fix, or a prefix with no object under it
 */
export async function handler(event: DetectPrepareEvent): Promise<DetectPrepareResult> {
  const { LIVE_MODEL_PARAMETER, DETECT_INPUT_BUCKETS, DEFAULT_MIN_SCORE } = process.env;
  if (!LIVE_MODEL_PARAMETER || !DETECT_INPUT_BUCKETS) {
    throw new Error('LIVE_MODEL_PARAMETER and DETECT_INPUT_BUCKETS must be set');
  }
  const checked = checkRequest(
    event.request,
    DETECT_INPUT_BUCKETS.split(','),
    DEFAULT_MIN_SCORE ? Number(DEFAULT_MIN_SCORE) : undefined,
  );
  const { input, annotate } = checked;
  const live = await liveModel(LIVE_MODEL_PARAMETER);
  const minScore = checked.minScore ?? defaultMinScoreOf(live);
  const modelVersion = live.version;
  const modelName = modelNameForVersion(modelVersion);
  const inputUri = `s3://${input.bucket}/${input.prefix}`;
  const objects = await listObjects(s3, input.bucket, input.prefix);
  if (objects.size === 0) {
    throw new DetectError(`There is no object under ${inputUri}: check the bucket and the prefix`);
  }
  const { images, refused } = selectImages(input, objects);
  const keys = detectionJobKeys(event.executionName);
  await putJson(s3, event.artifactsBucket, keys.manifest, [{ prefix: inputUri }, ...images]);
  await putJsonLines(s3, event.artifactsBucket, keys.failures, refused);
  return {
    input: inputUri,
    images: images.length,
    refused: refused.length,
    manifestUri: `s3://${event.artifactsBucket}/${keys.manifest}`,
    transformOutputUri: `s3://${event.artifactsBucket}/${keys.transformOutput}`,
    modelVersion,
    modelName,
    minScore: String(minScore),
    annotate,
  };
}
