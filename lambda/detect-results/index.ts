import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ANNOTATED_EXTENSION,
  DetectFailure,
  DetectionLine,
  detectionJobKeys,
  DetectResultsEvent,
  DetectResultsResult,
  TRANSFORM_OUTPUT_EXTENSION,
} from '../../contracts';
import { annotate } from '../shared/annotate';
import {
  getBytes,
  getText,
  listKeys,
  mapLimit,
  parseS3Uri,
  putJsonLines,
  s3ClientOptions,
} from '../shared/aws';

const s3 = new S3Client(s3ClientOptions());

/** Images read and written at once (annotated copies decode and encode each image). */
const CONCURRENCY = 8;

/** What the transform job's answer for one image says: its detections, or why it has none. */
export type Answer =
  | { readonly ok: true; readonly line: DetectionLine }
  | { readonly ok: false; readonly failure: DetectFailure };

/**
 * Reads the serving container's answer to one image (an `.out` object): the detections as the API gives them, or
 * the error object batch mode answers with 200 (`{"error": {"code", "message", "status"}}`). Anything else is a
 * failure naming what was wrong with the answer.
 */
export function readAnswer(image: string, text: string | undefined): Answer {
  if (text === undefined) {
    return {
      ok: false,
      failure: { image, code: 'no_answer', reason: 'The transform job wrote no answer for this image' },
    };
  }
  let body: {
    model?: { version?: unknown };
    image?: { width?: unknown; height?: unknown };
    detections?: unknown;
    error?: { code?: unknown; message?: unknown };
  };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return {
      ok: false,
      failure: { image, code: 'bad_answer', reason: 'The model answered something other than JSON' },
    };
  }
  if (body?.error) {
    return {
      ok: false,
      failure: {
        image,
        code: String(body.error.code ?? 'error'),
        reason: String(body.error.message ?? 'unknown'),
      },
    };
  }
  if (
    !Array.isArray(body?.detections) ||
    typeof body.image?.width !== 'number' ||
    typeof body.image?.height !== 'number'
  ) {
    return {
      ok: false,
      failure: {
        image,
        code: 'bad_answer',
        reason: 'The model answered JSON without detections and image size',
      },
    };
  }
  return {
    ok: true,
    line: {
      image,
      model: String(body.model?.version ?? 'unknown'),
      width: body.image.width,
      height: body.image.height,
      detections: body.detections as DetectionLine['detections'],
    },
  };
}

/**
 * The `.out` key of every input path: Batch Transform writes `<output path>/<path below the manifest's prefix>.out`;
 * an output key that ends in `/<path>.out` is taken too, should the service add a folder.
 */
export function answersByPath(paths: readonly string[], outputPrefix: string, outputKeys: readonly string[]) {
  const keys = new Set(outputKeys);
  return new Map(
    paths.map((path) => {
      const exact = `${outputPrefix}${path}${TRANSFORM_OUTPUT_EXTENSION}`;
      const found = keys.has(exact)
        ? exact
        : outputKeys.find((key) => key.endsWith(`/${path}${TRANSFORM_OUTPUT_EXTENSION}`));
      return [path, found] as const;
    }),
  );
}

/**
 * Turns a finished transform job into the job's results, in the artifacts bucket under `detections/<execution>/`:
 * `detections.jsonl` (one {@link DetectionLine} per image answered), `failures.jsonl` (what `detect-prepare`
 * refused, then every image answered with an error, each with its reason), and with `annotate` a copy of each
 * answered image with its boxes under `annotated/`. An image whose copy cannot be drawn keeps its detections.
 */
export async function handler(event: DetectResultsEvent): Promise<DetectResultsResult> {
  const { prepared, artifactsBucket } = event;
  const keys = detectionJobKeys(event.executionName);
  const input = parseS3Uri(prepared.input);
  const [, ...paths] = JSON.parse(await getText(s3, artifactsBucket, keys.manifest)) as [
    unknown,
    ...string[],
  ];
  const refusedText = await getText(s3, artifactsBucket, keys.failures);
  const failures = refusedText
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as DetectFailure);

  const outputKeys = paths.length ? await listKeys(s3, artifactsBucket, keys.transformOutput) : [];
  const answerKeys = answersByPath(paths, keys.transformOutput, outputKeys);
  const answers = await mapLimit(paths, CONCURRENCY, async (path) => {
    const key = answerKeys.get(path);
    const text = key === undefined ? undefined : await getText(s3, artifactsBucket, key);
    return { path, answer: readAnswer(`s3://${input.bucket}/${input.key}${path}`, text) };
  });
  const lines: DetectionLine[] = [];
  for (const { answer } of answers) {
    if (answer.ok) lines.push(answer.line);
    else failures.push(answer.failure);
  }

  let annotated = 0;
  if (prepared.annotate) {
    await mapLimit(
      answers.filter(({ answer }) => answer.ok),
      CONCURRENCY,
      async ({ path, answer }) => {
        const { line } = answer as { line: DetectionLine };
        try {
          const copy = await annotate(
            await getBytes(s3, input.bucket, `${input.key}${path}`),
            line.detections,
          );
          await s3.send(
            new PutObjectCommand({
              Bucket: artifactsBucket,
              Key: `${keys.annotated}${path}${ANNOTATED_EXTENSION}`,
              Body: copy,
              ContentType: 'image/jpeg',
            }),
          );
          annotated++;
        } catch (error) {
          console.warn(`No annotated copy of ${line.image}: ${(error as Error).message}`);
        }
      },
    );
  }

  await putJsonLines(s3, artifactsBucket, keys.detections, lines);
  await putJsonLines(s3, artifactsBucket, keys.failures, failures);
  return {
    answered: lines.length,
    withDetections: lines.filter((line) => line.detections.length > 0).length,
    detections: lines.reduce((n, line) => n + line.detections.length, 0),
    failed: failures.length,
    annotated,
    detectionsUri: `s3://${artifactsBucket}/${keys.detections}`,
    failuresUri: `s3://${artifactsBucket}/${keys.failures}`,
    ...(prepared.annotate ? { annotatedUri: `s3://${artifactsBucket}/${keys.annotated}` } : {}),
    failureSample: failures.slice(0, 10),
  };
}
