import { S3Client } from '@aws-sdk/client-s3';
import { getText, putJson, s3ClientOptions } from '../shared/aws';
import {
  displayKey,
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
  /** Of `failed`, the files that failed with an error rather than for what they are. */
  readonly errors: number;
  /** Batches whose Lambda invocation failed as a whole; each of their files is in `failed`. */
  readonly failedBatches: number;
  /**
   * Raw keys whose photo was replaced under the same key since its image was made: the image was made again, and
   * the label drawn on the old one is no longer used (the run asks for a new one).
   */
  readonly replaced: string[];
  /** GB-seconds the successful invocations measured of themselves ({@link PreprocessResult.gbSeconds}), summed. */
  readonly lambdaGbSeconds: number;
  /** Invocations that reported their GB-seconds. */
  readonly lambdaInvocations: number;
}

/** More files failed with an error than `preprocessToleratedFailurePercentage` allows; the report lists them. */
export class PreprocessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreprocessError';
  }
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

/**
 * Adds up child execution results (or, with a FLATTEN transformation, the outputs themselves): successful
 * batches' counts, and every file of a failed batch (folder markers aside) as failed with an error.
 */
export function summarize(
  children: readonly (ChildExecutionResult | PreprocessResult)[],
): Omit<PreprocessReport, 'executionName' | 'createdAt'> {
  let processed = 0;
  let skipped = 0;
  let failedBatches = 0;
  let lambdaGbSeconds = 0;
  let lambdaInvocations = 0;
  const failed: PreprocessFailure[] = [];
  const replaced: string[] = [];
  const add = (output: PreprocessResult) => {
    processed += output.processed;
    skipped += output.skipped;
    failed.push(...output.failed);
    replaced.push(...(output.replaced ?? []));
    if (output.gbSeconds !== undefined) {
      lambdaGbSeconds += output.gbSeconds;
      lambdaInvocations++;
    }
  };
  for (const child of children) {
    if (isPreprocessResult(child)) {
      add(child);
      continue;
    }
    if (child.Status === 'SUCCEEDED' && child.Output) {
      add(JSON.parse(child.Output) as PreprocessResult);
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
    const files = items.filter((item) => !item.Key.endsWith('/'));
    failed.push(...files.map((item) => ({ key: item.Key, reason, error: true as const })));
  }
  const errors = failed.filter((f) => f.error).length;
  return { processed, skipped, failed, errors, failedBatches, replaced, lambdaGbSeconds, lambdaInvocations };
}

/**
 * The run's verdict on preprocessing: undefined when the files that failed with an error are at most
 * `toleratedPercentage` of all files listed, else why the run stops. Counted in files, not batches.
 */
export function overTolerance(
  report: Omit<PreprocessReport, 'executionName' | 'createdAt'>,
  toleratedPercentage: number,
  reportUri: string,
): string | undefined {
  const files = report.processed + report.skipped + report.failed.length;
  if (report.errors === 0 || (report.errors * 100) / files <= toleratedPercentage) return undefined;
  const listed = report.failed
    .filter((f) => f.error)
    .slice(0, 5)
    .map((f) => `${displayKey(f.key)} (${f.reason})`);
  const more = report.errors > listed.length ? `, and ${report.errors - listed.length} more` : '';
  return (
    `${report.errors} of ${files} raw files (${((report.errors * 100) / files).toFixed(1)} %) could not be ` +
    `preprocessed because of an error, more than the tolerated ${toleratedPercentage} % ` +
    `(preprocessToleratedFailurePercentage): ${listed.join('; ')}${more}. Every file is listed in ${reportUri}; ` +
    'start the run again once the cause is fixed (files already done are skipped).'
  );
}

/**
 * Collects the Distributed Map's results into one report object. Throws {@link PreprocessError}, after writing the
 * report, when more files failed with an error than the tolerated percentage of all files.
 */
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
  const verdict = overTolerance(
    report,
    event.toleratedFailurePercentage,
    `s3://${event.datasetBucket}/${reportKey}`,
  );
  if (verdict !== undefined) throw new PreprocessError(verdict);
  return {
    processed: report.processed,
    skipped: report.skipped,
    failed: report.failed.length,
    errors: report.errors,
    replaced: report.replaced.length,
    reportKey,
    lambdaGbSeconds: report.lambdaGbSeconds,
    lambdaInvocations: report.lambdaInvocations,
  };
}
