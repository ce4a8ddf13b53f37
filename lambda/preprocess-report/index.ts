import { S3Client } from '@aws-sdk/client-s3';
import { getText, putJson, s3ClientOptions } from '../shared/aws';
import {
  PreprocessFailure,
  preprocessReportKey,
  PreprocessReportEvent,
  PreprocessReportResult,
  PreprocessResult,
  S3Item,
} from '../../contracts';

const s3 = new S3Client(s3ClientOptions());

/** The Distributed Map's ResultWriter manifest.json (the parts read here). */
export interface ResultWriterManifest {
  readonly ResultFiles?: Partial<
    Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size?: number }[]>
  >;
}

/** One child execution in a ResultWriter result file. */
export interface ChildExecutionResult {
  readonly Status?: string;
  /** The child's output: a JSON string (a PreprocessResult here). */
  readonly Output?: string;
  /** The child's input: a JSON string with the batch's `Items`. */
  readonly Input?: string;
  readonly Error?: string;
  readonly Cause?: string;
}

/** The report object written at {@link preprocessReportKey}: `reports/<executionName>/preprocess.json`. */
export interface PreprocessReport {
  readonly executionName: string;
  readonly createdAt: string;
  readonly processed: number;
  readonly skipped: number;
  /** Raw objects not turned into images, each with its reason (including those of failed batches). */
  readonly failed: PreprocessFailure[];
  /** Batches whose Lambda invocation failed as a whole. */
  readonly failedBatches: number;
}

const isPreprocessResult = (entry: ChildExecutionResult | PreprocessResult): entry is PreprocessResult =>
  typeof (entry as PreprocessResult).processed === 'number';

/**
 * Entries of one result file: a JSON array (the ResultWriter default) or JSON lines (`OutputType: JSONL`).
 */
export function parseResultFile(text: string): (ChildExecutionResult | PreprocessResult)[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as ChildExecutionResult[];
  return trimmed
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ChildExecutionResult);
}

/** Adds up child execution results (or, with a FLATTEN transformation, the outputs themselves): successful batches' counts, and every item of a failed batch as failed. */
export function summarize(
  children: readonly (ChildExecutionResult | PreprocessResult)[],
): Omit<PreprocessReport, 'executionName' | 'createdAt'> {
  let processed = 0;
  let skipped = 0;
  let failedBatches = 0;
  const failed: PreprocessFailure[] = [];
  for (const child of children) {
    if (isPreprocessResult(child)) {
      processed += child.processed;
      skipped += child.skipped;
      failed.push(...child.failed);
      continue;
    }
    if (child.Status === 'SUCCEEDED' && child.Output) {
      const output = JSON.parse(child.Output) as PreprocessResult;
      processed += output.processed;
      skipped += output.skipped;
      failed.push(...output.failed);
      continue;
    }
    failedBatches++;
    const reason = `its batch failed (${child.Error ?? child.Status ?? 'unknown error'}${child.Cause ? `: ${child.Cause}` : ''})`;
    let items: S3Item[] = [];
    try {
      items = (JSON.parse(child.Input ?? '{}') as { Items?: S3Item[] }).Items ?? [];
    } catch {
      items = [];
    }
    failed.push(...items.map((item) => ({ key: item.Key, reason })));
  }
  return { processed, skipped, failed, failedBatches };
}

/** Collects the Distributed Map's results into one report object. */
export async function handler(event: PreprocessReportEvent): Promise<PreprocessReportResult> {
  const children: (ChildExecutionResult | PreprocessResult)[] = [];
  const details = event.resultWriterDetails;
  if (details) {
    const manifest = JSON.parse(await getText(s3, details.Bucket, details.Key)) as ResultWriterManifest;
    const files = [
      ...(manifest.ResultFiles?.SUCCEEDED ?? []),
      ...(manifest.ResultFiles?.FAILED ?? []),
      ...(manifest.ResultFiles?.PENDING ?? []),
    ];
    for (const file of files) {
      children.push(...parseResultFile(await getText(s3, details.Bucket, file.Key)));
    }
  }
  const report: PreprocessReport = {
    executionName: event.executionName,
    createdAt: new Date().toISOString(),
    ...summarize(children),
  };
  const reportKey = preprocessReportKey(event.executionName);
  await putJson(s3, event.datasetBucket, reportKey, report, true);
  return { processed: report.processed, skipped: report.skipped, failed: report.failed.length, reportKey };
}
