import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { PublishReportEvent } from '../../contracts';
import { consoleUrl, handler } from '../../lambda/publish-report';
import { extractFiles } from '../../lambda/publish-report/tar';
import { FakeS3 } from './fake-s3';

const ARTIFACTS = 'artifacts-bucket';
const JOB = 'logodet-8e449b-train-0123456789abcdef';
const MODEL_KEY = `models/${JOB}/output/model.tar.gz`;
const s3 = new FakeS3();

const PAGE = '<!doctype html><title>Evaluation</title><p>report</p>';
const FIGURES = {
  version: JOB,
  class_names: ['logo', 'badge', 'seal'],
  classes: [
    { name: 'logo', voc07_ap: 0.91, true_boxes: 12 },
    { name: 'badge', voc07_ap: 0.64, true_boxes: 5 },
    { name: 'seal', voc07_ap: null, true_boxes: 0 },
  ],
  voc07_map: 0.775,
  threshold: { threshold: 0.4375, precision: 0.9, recall: 0.85, f1: 0.874 },
  variants: { serving: 'int8', fp32_map: 0.78, int8_map: 0.775, reason: 'within tolerance' },
};
const METRICS = [
  { MetricName: 'best_val_mAP', Value: 0.8 },
  { MetricName: 'int8_val_mAP', Value: 0.775 },
  { MetricName: 'serving_int8', Value: 1 },
];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'publish-report-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => {
  s3.reset();
  process.env.AWS_REGION = 'eu-west-1';
});

/**
 * A gzipped tarball made by GNU tar from `files` (path → content), as `tar -czf model.tar.gz -C model .` makes
 * local mode's (entries named `./<path>`); `format` is tar's `--format`.
 */
function tarball(files: Record<string, string | Buffer>, format = 'gnu'): Buffer {
  const root = mkdtempSync(join(work, 'model-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  const out = join(work, `${Math.random().toString(36).slice(2)}.tar.gz`);
  execFileSync('tar', [`--format=${format}`, '-czf', out, '-C', root, '.']);
  return readFileSync(out);
}

/** A model folder as the training container writes it: the network first, the report files among the rest. */
function modelFiles(extra: Record<string, string | Buffer> = {}): Record<string, string | Buffer> {
  return {
    'model-symbol.json': '{"nodes": []}',
    // Larger than one gunzip chunk, so entries span chunks.
    'model-0000.params': randomBytes(300_000),
    'classes.json': '["logo", "badge", "seal"]',
    'report.html': PAGE,
    'evaluation.json': JSON.stringify(FIGURES),
    ...extra,
  };
}

const event = (finalMetrics = METRICS): PublishReportEvent => ({
  trainingJobName: JOB,
  modelArtifacts: `s3://${ARTIFACTS}/${MODEL_KEY}`,
  finalMetrics,
  reportBucket: ARTIFACTS,
});

describe('publish-report', () => {
  test('copies report.html and evaluation.json from model.tar.gz under reports/<job>/ and answers what they say', async () => {
    s3.put(ARTIFACTS, MODEL_KEY, tarball(modelFiles()));

    const result = await handler(event());

    const pageKey = `reports/${JOB}/report.html`;
    expect(s3.text(ARTIFACTS, pageKey)).toBe(PAGE);
    expect(s3.get(ARTIFACTS, pageKey)?.contentType).toBe('text/html; charset=utf-8');
    expect(JSON.parse(s3.text(ARTIFACTS, `reports/${JOB}/evaluation.json`))).toEqual(FIGURES);
    expect(s3.mutations.map((m) => m.key).sort()).toEqual([`reports/${JOB}/evaluation.json`, pageKey]);
    expect(result).toEqual({
      report: {
        uri: `s3://${ARTIFACTS}/${pageKey}`,
        consoleUrl: consoleUrl(ARTIFACTS, pageKey, 'eu-west-1'),
        figuresUri: `s3://${ARTIFACTS}/reports/${JOB}/evaluation.json`,
      },
      apPerClass: { logo: 0.91, badge: 0.64 },
      threshold: 0.4375,
      variant: 'int8',
      mapInt8: 0.775,
      mapFp32: 0.78,
      record: {
        apPerClass: { logo: 0.91, badge: 0.64 },
        threshold: 0.4375,
        variant: 'int8',
        mapInt8: 0.775,
        reportUri: `s3://${ARTIFACTS}/${pageKey}`,
      },
      summary:
        'The int8 model serves (validation mAP int8 0.775, fp32 0.780): within the int8 tolerance of fp32. ' +
        `Evaluation report: s3://${ARTIFACTS}/${pageKey} (console: ${consoleUrl(ARTIFACTS, pageKey, 'eu-west-1')}).`,
    });
  });

  test('links the report in the S3 console of the region, key escaped', () => {
    expect(consoleUrl('b', 'reports/job 1/report.html', 'eu-west-1')).toBe(
      'https://eu-west-1.console.aws.amazon.com/s3/object/b?region=eu-west-1&prefix=reports%2Fjob+1%2Freport.html',
    );
  });

  test('a model without a report (an older image) is no error: nothing is written and the summary says so', async () => {
    const files = modelFiles();
    delete files['report.html'];
    delete files['evaluation.json'];
    s3.put(ARTIFACTS, MODEL_KEY, tarball(files));

    const result = await handler(event([{ MetricName: 'best_val_mAP', Value: 0.8 }]));

    expect(s3.mutations).toEqual([]);
    expect(result.report).toBeNull();
    expect(result.record).toEqual({});
    expect([result.apPerClass, result.threshold, result.variant, result.mapInt8]).toEqual([
      null,
      null,
      null,
      null,
    ]);
    expect(result.summary).toContain(
      `No evaluation report: s3://${ARTIFACTS}/${MODEL_KEY} holds no report.html`,
    );
    expect(result.summary).toContain('did not report serving_int8');
  });

  test('records the fp32 variant and the int8 mAP from the training metrics when int8 did not make it', async () => {
    s3.put(ARTIFACTS, MODEL_KEY, tarball(modelFiles()));

    const result = await handler(
      event([
        { MetricName: 'int8_val_mAP', Value: 0.6 },
        { MetricName: 'serving_int8', Value: 0 },
      ]),
    );

    expect(result.record).toMatchObject({ variant: 'fp32', mapInt8: 0.6 });
    expect(result.summary).toMatch(
      /^The fp32 model serves \(validation mAP int8 0\.600, fp32 0\.780\): the int8 variant is more than/,
    );
  });

  test('never overwrites a published report: a later run with the same job name keeps the first copy', async () => {
    s3.put(ARTIFACTS, `reports/${JOB}/report.html`, 'the first report');
    s3.put(ARTIFACTS, MODEL_KEY, tarball(modelFiles()));

    const result = await handler(event());

    expect(s3.text(ARTIFACTS, `reports/${JOB}/report.html`)).toBe('the first report');
    expect(result.report?.uri).toBe(`s3://${ARTIFACTS}/reports/${JOB}/report.html`);
  });

  test('refuses a model.tar.gz that is not gzip, naming it', async () => {
    s3.put(ARTIFACTS, MODEL_KEY, 'not a tarball at all');

    await expect(handler(event())).rejects.toThrow(`s3://${ARTIFACTS}/${MODEL_KEY} is not a gzip file`);
  });
});

describe('tar reader', () => {
  const stream = (bytes: Buffer, chunk = 1000): Readable =>
    Readable.from(
      Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) =>
        bytes.subarray(i * chunk, (i + 1) * chunk),
      ),
    );
  const gunzipped = (gz: Buffer) => execFileSync('gzip', ['-dc'], { input: gz });
  const longDir = `${'deep-folder-name/'.repeat(7)}report-assets`;

  test.each(['gnu', 'pax', 'ustar', 'v7'])(
    'reads named files out of a %s archive, long paths included, in small chunks',
    async (format) => {
      const long = `${longDir}/figures.json`;
      // v7 headers hold at most 99 characters of name.
      const files = modelFiles(format === 'v7' ? {} : { [long]: '{"long": true}' });
      const tar = gunzipped(tarball(files, format));

      const wanted = ['report.html', 'evaluation.json', ...(format === 'v7' ? [] : [long])];
      const found = await extractFiles(stream(tar, 700), wanted, 1_000_000);

      expect(found.get('report.html')?.toString()).toBe(PAGE);
      expect(JSON.parse(found.get('evaluation.json')!.toString())).toEqual(FIGURES);
      if (format !== 'v7') expect(found.get(long)?.toString()).toBe('{"long": true}');
    },
  );

  test('leaves out the files the archive lacks', async () => {
    const tar = gunzipped(tarball({ 'classes.json': '[]' }));
    const found = await extractFiles(stream(tar), ['report.html'], 1000);
    expect([...found.keys()]).toEqual([]);
  });

  test('refuses a wanted file larger than the limit, and bytes that are no tar archive', async () => {
    const tar = gunzipped(tarball(modelFiles()));
    await expect(extractFiles(stream(tar), ['report.html'], 10)).rejects.toThrow(
      /report\.html in the archive is \d+ bytes, more than the 10 this reads/,
    );
    await expect(extractFiles(stream(randomBytes(2048)), ['report.html'], 10)).rejects.toThrow(
      'Not a tar archive',
    );
  });

  test('refuses an archive cut in the middle of a wanted file', async () => {
    const tar = gunzipped(tarball({ 'report.html': 'x'.repeat(5000) }));
    const cut = tar.subarray(0, 512 * 4);
    await expect(extractFiles(stream(cut), ['report.html'], 100_000)).rejects.toThrow(
      'The archive ends in the middle of an entry',
    );
  });

  test('the handler reads a model.tar.gz made of several gzip members', async () => {
    // gzip allows several members one after another (parallel compressors write them); gunzip must read them all.
    const tar = gunzipped(tarball(modelFiles()));
    const half = Math.floor(tar.length / 1024) * 512;
    s3.put(
      ARTIFACTS,
      MODEL_KEY,
      Buffer.concat([gzipSync(tar.subarray(0, half)), gzipSync(tar.subarray(half))]),
    );
    const result = await handler(event());
    expect(result.threshold).toBe(0.4375);
  });
});
