import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join, relative, sep } from 'path';
import type { DetectResultsResult } from '../../contracts';
import { detectionJobKeys } from '../../contracts';
import { getBytes, listKeys } from '../../lambda/shared/aws';
import { ExecutionReport, LocalRunner } from '../emulator/runner';

/** Where local mode uploads the `--detect` folder, in the raw bucket (outside `raw/`, so no run trains on it). */
export const LOCAL_DETECT_PREFIX = 'detect/';

/** What {@link detectFolder} did. */
export interface DetectedFolder {
  readonly report: ExecutionReport;
  /** The results step's summary, when the run succeeded. */
  readonly results?: DetectResultsResult;
  /** Files uploaded from the folder. */
  readonly uploaded: number;
  /** The local copy of the job's folder: detections.jsonl, failures.jsonl, annotated/. */
  readonly outDir: string;
}

/** Every file under `dir`, sub-folders included, as paths relative to it with `/` separators, sorted. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * `npm start -- --detect DIR`: the same detect workflow `npm run detect` starts in AWS, run locally. Uploads every
 * file of `dir` under {@link LOCAL_DETECT_PREFIX} in the raw bucket, runs the workflow on that prefix with `runner`
 * (the synthesized detect state machine; its transform job served by the container's `serve`), and copies the
 * job's folder (detections, failures, annotated copies) from the artifacts bucket to `outDir`.
 */
export async function detectFolder(options: {
  readonly dir: string;
  readonly runner: LocalRunner;
  readonly executionName: string;
  readonly s3: S3Client;
  readonly rawBucket: string;
  readonly artifactsBucket: string;
  readonly minScore: number;
  readonly outDir: string;
  readonly log: (line: string) => void;
}): Promise<DetectedFolder> {
  const { s3, rawBucket, artifactsBucket, log } = options;
  const files = filesUnder(options.dir);
  if (files.length === 0) throw new Error(`--detect ${options.dir} holds no file`);
  for (const path of files) {
    await s3.send(
      new PutObjectCommand({
        Bucket: rawBucket,
        Key: `${LOCAL_DETECT_PREFIX}${path}`,
        Body: readFileSync(join(options.dir, path)),
      }),
    );
  }
  log(`uploaded ${files.length} files from ${options.dir} under s3://${rawBucket}/${LOCAL_DETECT_PREFIX}`);
  const report = await options.runner.execute(options.executionName, {
    input: `s3://${rawBucket}/${LOCAL_DETECT_PREFIX}`,
    minScore: options.minScore,
    annotate: true,
  });
  const results = (report.output as { results?: DetectResultsResult } | undefined)?.results;
  const { folder } = detectionJobKeys(options.executionName);
  for (const key of await listKeys(s3, artifactsBucket, folder)) {
    // The transform job's raw answers and its manifest stay in the bucket; the results come here.
    if (!/\/(detections|failures)\.jsonl$|\/annotated\//.test(key)) continue;
    const target = join(options.outDir, key.slice(folder.length));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await getBytes(s3, artifactsBucket, key));
  }
  return { report, results, uploaded: files.length, outDir: options.outDir };
}
