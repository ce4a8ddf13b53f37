/**
 * `npm run migrate-keys -- [--dataset-bucket NAME] [--stack NAME] [--apply]`
 *
 * Brings a dataset made before image keys kept the photo's extension, and before label documents recorded the image
 * they were drawn on, to today's layout: each image is moved to the key its photo now maps to
 * (`images/front.jpg` made from `raw/front.png` → `images/front.png.jpg`), and each label document moves with its
 * image and records it. A label whose size is not its image's (it was drawn on the other photo of a same-name pair,
 * or on an earlier version) is dropped: the next run asks for that image to be labeled. Without `--apply` it only
 * prints what it would do. Run it once after upgrading, before the next pipeline run; running it again is harmless.
 */
import './node-version';
import { exitWith } from './cli';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  HeadObjectCommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  listKeys,
  listObjects,
  mapLimit,
  normalizeEtag,
  putJson,
  s3ClientOptions,
} from '../lambda/shared/aws';
import {
  displayKey,
  imageKeyFor,
  IMAGE_EXTENSION,
  LabelDocument,
  labelIsCurrent,
  labelKeyFor,
  PREFIXES,
  rawKeyProblem,
  StoredObject,
} from '../contracts';
import { isLegacyLabel, readLabels, StoredLabel } from '../lambda/shared/labels/tracking';
import { StackOutputError, stackOutput } from './stack-output';

/** The data stack whose `DatasetBucketName` output names the dataset bucket. */
const DATA_STACK_NAME = 'LogoDetectionData';

// S3 calls in flight.
const CONCURRENCY = 16;

/** One change of a migration, in the order they are applied: copies, then label writes, then deletes. */
export type MigrationStep =
  | { readonly kind: 'copy'; readonly from: string; readonly to: string }
  | {
      readonly kind: 'label';
      readonly key: string;
      /** The document to write, without the image it records (read when it is written). */
      readonly document: Omit<LabelDocument, 'image-etag' | 'image-bytes'>;
      readonly imageKey: string;
    }
  | { readonly kind: 'delete'; readonly key: string };

/** What a migration would do: its steps, and one line per image for the operator. */
export interface MigrationPlan {
  readonly steps: MigrationStep[];
  readonly lines: string[];
  /** Labels that will not be used again: their images are asked for on the next run. */
  readonly dropped: number;
  /** Images left as they are until the migration runs again (their new key still holds another image). */
  readonly deferred: number;
}

/**
 * The raw key an image was made from, as preprocessing stored it in `source-key` (URI-encoded when it was not
 * printable ASCII).
 */
export function sourceKeyOf(stored: string): string {
  try {
    const decoded = decodeURIComponent(stored);
    return /[^\x20-\x7e]/.test(decoded) ? decoded : stored;
  } catch {
    return stored;
  }
}

const sizeOf = (head: HeadObjectCommandOutput) => ({
  width: Number(head.Metadata?.width),
  height: Number(head.Metadata?.height),
});

/** Whether a label's declared image size is the image's. */
function sameSize(label: StoredLabel, size: { width: number; height: number }): boolean {
  const declared = label?.image_size?.[0];
  return declared?.width === size.width && declared?.height === size.height;
}

/**
 * Works out the migration of a dataset bucket: for every image whose key is not the one its photo maps to now
 * ({@link imageKeyFor} of its `source-key`), a copy to that key, its label carried over when it fits the image,
 * and the old objects deleted; for every label that records no image, the image recorded. Reads only.
 */
export async function planMigration(s3: S3Client, bucket: string): Promise<MigrationPlan> {
  const [images, labelKeys] = await Promise.all([
    listObjects(s3, bucket, PREFIXES.images),
    listKeys(s3, bucket, PREFIXES.labels),
  ]);
  const imageKeys = [...images.keys()].filter((key) => key.endsWith(IMAGE_EXTENSION)).sort();
  const heads = new Map(
    await mapLimit(imageKeys, CONCURRENCY, async (key) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return [key, head] as const;
    }),
  );
  const labels = await readLabels(s3, bucket, labelKeys);
  const steps: MigrationStep[] = [];
  const lines: string[] = [];
  let dropped = 0;
  let deferred = 0;
  const drop = (labelKey: string, why: string) => {
    steps.push({ kind: 'delete', key: labelKey });
    lines.push(`  label ${displayKey(labelKey)} dropped: ${why}; the next run asks for its image again`);
    dropped++;
  };

  for (const imageKey of imageKeys) {
    const head = heads.get(imageKey)!;
    const stored = head.Metadata?.['source-key'];
    const labelKey = labelKeyFor(imageKey);
    const label = labels.get(labelKey);
    if (stored === undefined) {
      lines.push(
        `${displayKey(imageKey)}: left as it is (it records no source-key: not made by preprocessing)`,
      );
      continue;
    }
    const source = sourceKeyOf(stored);
    const problem = rawKeyProblem(source);
    if (problem !== undefined) {
      lines.push(`${displayKey(imageKey)}: deleted, with its label: its photo's key ${problem}`);
      steps.push({ kind: 'delete', key: imageKey });
      if (labels.has(labelKey)) steps.push({ kind: 'delete', key: labelKey });
      continue;
    }
    const target = imageKeyFor(source);
    const size = sizeOf(head);
    if (target === imageKey) {
      if (!labels.has(labelKey) || !isLegacyLabel(label)) continue;
      lines.push(`${imageKey}: in place`);
      if (sameSize(label, size)) {
        steps.push({ kind: 'label', key: labelKey, document: label as LabelDocument, imageKey });
        lines.push(`  label ${labelKey} records its image`);
      } else {
        drop(labelKey, `drawn on a picture of another size than ${imageKey} (${size.width}x${size.height})`);
      }
      continue;
    }

    let fits = true;
    if (images.has(target)) {
      const current = heads.get(target)!;
      if (current.Metadata?.['source-key'] !== stored) {
        lines.push(`${imageKey}: left for now: ${target} still holds the image of another photo; run again`);
        deferred++;
        continue;
      }
      fits = current.Metadata?.['source-etag'] === head.Metadata?.['source-etag'];
      lines.push(`${imageKey}: deleted, ${target} (from ${displayKey(source)}) exists already`);
    } else {
      steps.push({ kind: 'copy', from: imageKey, to: target });
      lines.push(`${imageKey} → ${target} (from ${displayKey(source)})`);
    }
    if (labels.has(labelKey)) {
      const newLabelKey = labelKeyFor(target);
      const drawnOnIt = isLegacyLabel(label)
        ? sameSize(label, size)
        : label !== undefined && labelIsCurrent(label, images.get(imageKey));
      if (labels.has(newLabelKey) && !isLegacyLabel(labels.get(newLabelKey))) {
        steps.push({ kind: 'delete', key: labelKey });
        lines.push(`  label ${labelKey} deleted: ${newLabelKey} is newer`);
      } else if (!fits) {
        drop(labelKey, `the photo was replaced since ${imageKey} was made`);
      } else if (!drawnOnIt) {
        drop(labelKey, `drawn on a picture of another size than ${imageKey} (${size.width}x${size.height})`);
      } else {
        const document = { ...(label as LabelDocument), 'source-ref': `s3://${bucket}/${target}` };
        steps.push({ kind: 'label', key: newLabelKey, document, imageKey: target });
        steps.push({ kind: 'delete', key: labelKey });
        lines.push(`  label ${labelKey} → ${newLabelKey}`);
      }
    }
    steps.push({ kind: 'delete', key: imageKey });
  }
  const order = { copy: 0, label: 1, delete: 2 };
  steps.sort((a, b) => order[a.kind] - order[b.kind]);
  const written = new Set(
    steps.flatMap((s) => (s.kind === 'copy' ? [s.to] : s.kind === 'label' ? [s.key] : [])),
  );
  const clash = steps.find((s) => s.kind === 'delete' && written.has(s.key));
  if (clash)
    throw new Error(
      `Migration plan would delete what it writes: ${displayKey((clash as { key: string }).key)}`,
    );
  return { steps, lines, dropped, deferred };
}

/** Applies a plan: copies (metadata kept), label documents recording their image as it is now, then deletes. */
export async function applyMigration(s3: S3Client, bucket: string, plan: MigrationPlan): Promise<void> {
  const of = (kind: MigrationStep['kind']) => plan.steps.filter((s) => s.kind === kind);
  await mapLimit(of('copy'), CONCURRENCY, async (step) => {
    const { from, to } = step as Extract<MigrationStep, { kind: 'copy' }>;
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: to,
        CopySource: `${bucket}/${encodeURIComponent(from)}`,
        MetadataDirective: 'COPY',
      }),
    );
  });
  await mapLimit(of('label'), CONCURRENCY, async (step) => {
    const { key, document, imageKey } = step as Extract<MigrationStep, { kind: 'label' }>;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: imageKey }));
    const image: StoredObject = { etag: normalizeEtag(head.ETag), bytes: head.ContentLength ?? 0 };
    const recorded: LabelDocument = { ...document, 'image-etag': image.etag, 'image-bytes': image.bytes };
    await putJson(s3, bucket, key, recorded);
  });
  await mapLimit(of('delete'), CONCURRENCY, async (step) => {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: (step as { key: string }).key }));
  });
}

/** The clients and output streams the command uses; tests pass mocked ones. */
export interface MigrateDeps {
  readonly s3: S3Client;
  readonly cloudFormation: CloudFormationClient;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const USAGE = `Usage: npm run migrate-keys -- [--dataset-bucket NAME] [--stack NAME] [--apply]

  --dataset-bucket NAME   dataset bucket (default: the ${DATA_STACK_NAME} stack's DatasetBucketName output)
  --stack NAME            data stack to read the bucket from (default: ${DATA_STACK_NAME})
  --apply                 make the changes (without it, only print them)`;

/** Runs the command; returns the process exit code. */
export async function main(argv: string[], deps: MigrateDeps): Promise<number> {
  const { s3, out, err } = deps;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        'dataset-bucket': { type: 'string' },
        stack: { type: 'string', default: DATA_STACK_NAME },
        apply: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let bucket = values['dataset-bucket'];
  try {
    bucket ??= await stackOutput(
      deps.cloudFormation,
      values.stack ?? DATA_STACK_NAME,
      'DatasetBucketName',
      'pass --dataset-bucket, or --stack with the name of your data stack',
    );
  } catch (error) {
    if (!(error instanceof StackOutputError)) throw error;
    err(error.message);
    return 2;
  }
  const plan = await planMigration(s3, bucket);
  plan.lines.forEach((line) => out(line));
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const moved = count(plan.steps.filter((s) => s.kind === 'copy').length, 'image');
  const labeled = count(plan.steps.filter((s) => s.kind === 'label').length, 'label');
  const dropped = count(plan.dropped, 'label');
  const later = plan.deferred ? ` ${count(plan.deferred, 'image')} left for a second pass.` : '';
  if (plan.steps.length === 0) {
    out(`Nothing to migrate in s3://${bucket}/.${later}`);
    return 0;
  }
  if (!values.apply) {
    out(
      `Dry run: would move ${moved}, write ${labeled} and drop ${dropped}.${later} Nothing was changed; run ` +
        'again with --apply to make these changes.',
    );
    return 0;
  }
  await applyMigration(s3, bucket, plan);
  out(`Migrated s3://${bucket}/: moved ${moved}, wrote ${labeled}, dropped ${dropped}.${later}`);
  if (plan.deferred) out('Run the command again to finish the images left for a second pass.');
  return 0;
}

if (require.main === module) {
  exitWith(
    'migrate-keys',
    main(process.argv.slice(2), {
      s3: new S3Client(s3ClientOptions()),
      cloudFormation: new CloudFormationClient({}),
      out: (line) => console.log(line),
      err: (line) => console.error(line),
    }),
    'Check your AWS credentials and region (AWS_PROFILE, AWS_REGION); running it again is harmless.',
  );
}
