import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  EVALUATION_REPORT_FILES,
  EvaluationFigures,
  evaluationReportKey,
  INT8_MAP_METRIC,
  PublishReportEvent,
  PublishReportResult,
  SERVING_INT8_METRIC,
} from '../../contracts';
import { parseS3Uri, s3ClientOptions } from '../shared/aws';
import { extractFiles, TarError } from './tar';

const s3 = new S3Client(s3ClientOptions());

/**
 * Largest report file copied, in bytes (64 MiB). The page shows at most 100 thumbnails, a few megabytes; the limit
 * keeps an unexpected file from exhausting the function's memory.
 */
export const MAX_REPORT_FILE_BYTES = 64 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  [EVALUATION_REPORT_FILES.page]: 'text/html; charset=utf-8',
  [EVALUATION_REPORT_FILES.figures]: 'application/json',
};

/**
 * The S3 console's page of one object, in `region`: `https://<region>.console.aws.amazon.com/s3/object/<bucket>?
 * region=<region>&prefix=<key>`, where the object can be opened or downloaded.
 */
export function consoleUrl(bucket: string, key: string, region: string): string {
  const query = new URLSearchParams({ region, prefix: key });
  return `https://${region}.console.aws.amazon.com/s3/object/${encodeURIComponent(bucket)}?${query}`;
}

/** The value of one metric of FinalMetricDataList, if the job reported it. */
function metric(event: PublishReportEvent, name: string): number | undefined {
  const value = event.finalMetrics.find((m) => m.MetricName === name)?.Value;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

const mapText = (map: number | null): string => (map === null ? 'n/a' : map.toFixed(3));

/** One sentence: which export serves, with both validation mAPs when known. */
export function servingSentence(
  variant: PublishReportResult['variant'],
  mapInt8: number | null,
  mapFp32: number | null,
): string {
  if (variant === null) {
    return (
      `The training job did not report ${SERVING_INT8_METRIC}, so it was trained by an image older than the int8 ` +
      'variant and the fp32 model serves.'
    );
  }
  const maps = `validation mAP int8 ${mapText(mapInt8)}, fp32 ${mapText(mapFp32)}`;
  if (variant === 'int8') return `The int8 model serves (${maps}): within the int8 tolerance of fp32.`;
  return mapInt8 === null
    ? `The fp32 model serves (validation mAP fp32 ${mapText(mapFp32)}; no int8 variant was made).`
    : `The fp32 model serves (${maps}): the int8 variant is more than the int8 tolerance below it.`;
}

/** AP per class from the report's figures, leaving out classes without a true box in the split. */
function apPerClassOf(figures: EvaluationFigures): Record<string, number> | null {
  if (!Array.isArray(figures.classes)) return null;
  return Object.fromEntries(
    figures.classes
      .filter((c) => typeof c.name === 'string' && typeof c.voc07_ap === 'number')
      .map((c) => [c.name, c.voc07_ap as number]),
  );
}

/** Writes one report file unless the key already holds one: a report, once published, is never replaced. */
async function putOnce(bucket: string, key: string, body: Buffer, contentType: string): Promise<void> {
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        IfNoneMatch: '*',
      }),
    );
  } catch (error) {
    // Already there: this step ran before for the same job (a retry), and job names are unique per run.
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((error as Error).name !== 'PreconditionFailed' && status !== 412) throw error;
  }
}

/**
 * Publishes a trained model's evaluation report: streams the training job's `model.tar.gz` through gunzip and a
 * tar reader, copies `report.html` and `evaluation.json` to `reports/<training job name>/` in the report bucket
 * (never over an existing copy), and answers where they are, the calibrated threshold, AP per class and which
 * variant serves ({@link PublishReportResult}). A tarball without a report (a model trained by an older image) is
 * not an error: the answer says so and holds only what the training metrics tell.
 * Environment: `AWS_REGION` (set by Lambda), for the console link.
 * @throws TarError when model.tar.gz is not a gzipped tar archive; S3 errors as they come
 */
export async function handler(event: PublishReportEvent): Promise<PublishReportResult> {
  const artifact = parseS3Uri(event.modelArtifacts);
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: artifact.bucket, Key: artifact.key }));
  if (!Body) throw new Error(`${event.modelArtifacts} has no body`);
  const body = Body as Readable;
  const gunzip = createGunzip();
  body.on('error', (error) => gunzip.destroy(error));
  const files = await extractFiles(
    body.pipe(gunzip),
    [EVALUATION_REPORT_FILES.page, EVALUATION_REPORT_FILES.figures],
    MAX_REPORT_FILE_BYTES,
  )
    .catch((error: Error & { code?: string }) => {
      if (error.code !== 'Z_DATA_ERROR' && error.code !== 'Z_BUF_ERROR') throw error;
      throw new TarError(
        `${event.modelArtifacts} is not a gzip file (${error.message}); is it a model.tar.gz?`,
      );
    })
    .finally(() => {
      // Once the files are found the rest of the tarball is not needed.
      body.unpipe(gunzip);
      body.destroy();
      gunzip.destroy();
    });

  const servingInt8 = metric(event, SERVING_INT8_METRIC);
  const variant = servingInt8 === undefined ? null : servingInt8 === 1 ? 'int8' : 'fp32';
  const mapInt8 = metric(event, INT8_MAP_METRIC) ?? null;
  const page = files.get(EVALUATION_REPORT_FILES.page);
  const figuresText = files.get(EVALUATION_REPORT_FILES.figures);
  const figures = figuresText ? (JSON.parse(figuresText.toString('utf8')) as EvaluationFigures) : undefined;

  let report: PublishReportResult['report'] = null;
  if (page) {
    const region = process.env.AWS_REGION ?? 'us-east-1';
    for (const [name, bytes] of files) {
      await putOnce(
        event.reportBucket,
        evaluationReportKey(event.trainingJobName, name),
        bytes,
        CONTENT_TYPES[name],
      );
    }
    const pageKey = evaluationReportKey(event.trainingJobName, EVALUATION_REPORT_FILES.page);
    report = {
      uri: `s3://${event.reportBucket}/${pageKey}`,
      consoleUrl: consoleUrl(event.reportBucket, pageKey, region),
      figuresUri: `s3://${event.reportBucket}/${evaluationReportKey(event.trainingJobName, EVALUATION_REPORT_FILES.figures)}`,
    };
  }
  const apPerClass = figures ? apPerClassOf(figures) : null;
  const threshold = typeof figures?.threshold?.threshold === 'number' ? figures.threshold.threshold : null;
  const fp32 = figures?.variants?.fp32_map;
  const mapFp32 = typeof fp32 === 'number' ? fp32 : null;
  const known = {
    apPerClass: page ? apPerClass : null,
    threshold: page ? threshold : null,
    variant,
    mapInt8,
    reportUri: report?.uri ?? null,
  };
  const record = Object.fromEntries(Object.entries(known).filter(([, value]) => value !== null));
  const where = report
    ? `Evaluation report: ${report.uri} (console: ${report.consoleUrl}).`
    : `No evaluation report: ${event.modelArtifacts} holds no ${EVALUATION_REPORT_FILES.page}, as models trained ` +
      'by an image older than the report lack it; rebuild the image and retrain to get one.';
  return {
    report,
    apPerClass: known.apPerClass,
    threshold: known.threshold,
    variant,
    mapInt8,
    mapFp32,
    record,
    summary: `${servingSentence(variant, mapInt8, mapFp32)} ${where}`,
  };
}
