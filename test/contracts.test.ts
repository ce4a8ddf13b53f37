import { CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { join, relative } from 'path';
import {
  BEST_MAP_METRIC,
  CHANNELS,
  DATASET_MANIFEST_KEYS,
  displayKey,
  HYPERPARAMETERS,
  imageKeyFor,
  imageKeyForLabel,
  INT8_MAP_METRIC,
  labelingManifestKey,
  labelKeyFor,
  METRIC_DEFINITIONS,
  pendingLabelRequestKey,
  PREFIXES,
  evaluationReportKey,
  EVALUATION_REPORT_FILES,
  preprocessReportKey,
  rawKeyForImage,
  rawKeyProblem,
  SERVING_INT8_METRIC,
  trainingHyperparameters,
} from '../contracts';
import { detectorImage } from '../lib/training';
import { newApp } from './app-context';

const ROOT = join(__dirname, '..');
const CONTRACT_FILE = join(ROOT, 'contracts', 'training-job.json');

/** Runs Python in the project venv with the container's package importable; returns its stdout parsed as JSON. */
function python(code: string, ...args: string[]): unknown {
  const stdout = execFileSync(join(ROOT, '.venv', 'bin', 'python'), ['-c', code, ...args], {
    env: { ...process.env, PYTHONPATH: join(ROOT, 'training-container', 'src') },
    encoding: 'utf8',
  });
  return JSON.parse(stdout);
}

describe('S3 layout', () => {
  test('a raw key maps to one deterministic JPEG key under images/ that keeps its extension', () => {
    expect(imageKeyFor('raw/2024/shop front.PNG')).toBe('images/2024/shop front.PNG.jpg');
    expect(imageKeyFor('raw/a.b.jpeg')).toBe('images/a.b.jpeg.jpg');
    expect(imageKeyFor('raw/front.jpg')).toBe('images/front.jpg.jpg');
    expect(imageKeyFor('raw/noext')).toBe('images/noext.jpg');
  });

  test('no two raw keys share an image key or a label key: same base names with any extension, case or none', () => {
    const raw = [
      'raw/front.jpg',
      'raw/front.png',
      'raw/front.JPG',
      'raw/front.jpeg',
      'raw/front',
      'raw/front.jpg.jpg',
      'raw/front.png.jpg',
      'raw/shop/front.jpg',
      'raw/shop.front.jpg',
      'raw/a.JPG',
      'raw/a.jpeg',
      'raw/a',
    ];
    const images = raw.map((key) => imageKeyFor(key));
    expect(new Set(images).size).toBe(raw.length);
    expect(new Set(images.map(labelKeyFor)).size).toBe(raw.length);
    expect(images.map(rawKeyForImage)).toEqual(raw);
    expect(images.map((key) => imageKeyForLabel(labelKeyFor(key)))).toEqual(images);
  });

  test('an image key maps to its label document, and back', () => {
    expect(labelKeyFor('images/2024/a.png.jpg')).toBe('labels/2024/a.png.json');
    expect(() => labelKeyFor('raw/a.jpg')).toThrow(
      /Not a preprocessed image key \(images\/\.\.\.\.jpg\): raw\/a.jpg/,
    );
    expect(imageKeyForLabel('labels/2024/a.png.json')).toBe('images/2024/a.png.jpg');
    expect(imageKeyForLabel(labelKeyFor('images/x/y.z.jpg'))).toBe('images/x/y.z.jpg');
    expect(() => imageKeyForLabel('images/a.jpg')).toThrow(/Not a label document key: images\/a.jpg/);
  });

  test.each(
    [
      ['raw//tmp/x.png', 'has an empty path segment'],
      ['raw/a//b.png', 'has an empty path segment'],
      ['raw/', 'has an empty path segment'],
      ['raw/../x.png', 'has a "." or ".." path segment'],
      ['raw/./x.png', 'has a "." or ".." path segment'],
      ['raw/shop/..', 'has a "." or ".." path segment'],
      ['raw/a\nb.png', 'contains a control character'],
      ['raw/a\rb.png', 'contains a control character'],
      ['raw/a\u2028b.png', 'contains a control character'],
      ['raw/a\u202eb.png', 'contains a control character'],
      ['images/x.png', 'is not under raw/'],
    ].map(([key, problem]) => [displayKey(key), problem, key]),
  )('the raw key %s is refused: the key %s', (_shown, problem, key) => {
    expect(rawKeyProblem(key)).toMatch(new RegExp(`^${problem.replace(/[.*"()]/g, '\\$&')}`));
    expect(() => imageKeyFor(key)).toThrow(`The raw key ${displayKey(key)} ${rawKeyProblem(key)}`);
  });

  test.each(['raw/shop front.PNG', 'raw/café/crème.jpg', 'raw/..a/b..png', 'raw/a.'])(
    'the raw key %j is usable',
    (key) => expect(rawKeyProblem(key)).toBeUndefined(),
  );

  test('messages show a key as it is, or quoted with its line breaks and controls escaped', () => {
    expect(displayKey('raw/shop front.PNG')).toBe('raw/shop front.PNG');
    expect(displayKey('raw/café.jpg')).toBe('raw/café.jpg');
    expect(displayKey('raw/a\nnpm run x\u2028"b\\.png')).toBe('"raw/a\\nnpm run x\\u2028\\"b\\\\.png"');
    expect(displayKey('raw/\u202egnp.exe')).toBe('"raw/\\u202egnp.exe"');
    expect(displayKey('raw/a\nb')).not.toMatch(/[\n\r\u2028\u2029]/);
  });

  test('per-run and fixed keys sit under the prefixes the stages are granted', () => {
    expect(labelingManifestKey('run-1')).toBe('manifests/labeling/run-1.manifest');
    expect(pendingLabelRequestKey('run-7')).toBe('manifests/labeling/pending/run-7.json');
    expect(preprocessReportKey('run-1')).toBe('reports/run-1/preprocess.json');
    expect(DATASET_MANIFEST_KEYS).toEqual({
      all: 'manifests/dataset.manifest',
      train: 'manifests/train/train.manifest',
      validation: 'manifests/validation/validation.manifest',
    });
    expect(Object.values(PREFIXES).every((prefix) => /^[a-z-]+\/$/.test(prefix))).toBe(true);
  });

  test('a training job’s evaluation report lies in a folder of its own under reports/, named as the container writes it', () => {
    expect(evaluationReportKey('logodet-8e449b-train-abc', EVALUATION_REPORT_FILES.page)).toBe(
      'reports/logodet-8e449b-train-abc/report.html',
    );
    expect(EVALUATION_REPORT_FILES).toEqual({ page: 'report.html', figures: 'evaluation.json' });
    expect(() => evaluationReportKey('a/b', 'report.html')).toThrow(
      'The training job name a/b cannot be one segment of an evaluation report key',
    );
    expect(() => evaluationReportKey('job', '..')).toThrow('The file name .. cannot be one segment');
  });
});

describe('training job contract', () => {
  const log = 'epoch=3 train_loss=1.25\nepoch=3 val_mAP=0.4100\nbest_val_mAP=0.52\n';
  const last = (regex: string) => [...log.matchAll(new RegExp(regex, 'g'))].map((m) => Number(m[1])).pop();

  test('each metric matches only its own lines, and the quality gate reads one of them', () => {
    const byName = Object.fromEntries(METRIC_DEFINITIONS.map((d) => [d.Name, last(d.Regex)]));
    expect(byName).toEqual({ train_loss: 1.25, val_mAP: 0.41, best_val_mAP: 0.52 });
    expect(METRIC_DEFINITIONS.map((d) => d.Name)).toContain(BEST_MAP_METRIC);
  });

  test('the state machine may send only hyperparameters the contract lists, and must send the required ones', () => {
    expect(trainingHyperparameters({ classes: '["logo"]', epochs: '3' })).toEqual({
      classes: '["logo"]',
      epochs: '3',
    });
    expect(() => trainingHyperparameters({ epochs: '3' })).toThrow(
      'Training hyperparameter classes is required by contracts/training-job.json; pass a value.',
    );
  });

  test('the container reads the same file, and takes from it every hyperparameter, default and channel', () => {
    // The container's own modules (logo_detector.paths, .hyperparameters) in the project venv (npm run py:env).
    const defaults = Object.fromEntries(
      Object.entries(HYPERPARAMETERS).flatMap(([name, spec]) => (spec.default ? [[name, spec.default]] : [])),
    );
    const container = python(
      'import dataclasses, json, sys\n' +
        'from logo_detector import hyperparameters as h, paths\n' +
        'parse = lambda raw: dataclasses.asdict(h.parse_hyperparameters(raw))\n' +
        'sent = {"classes": \'["logo"]\', **json.loads(sys.argv[1])}\n' +
        'print(json.dumps({"file": str(paths.training_job_contract_path()), "names": list(h.SPEC),\n' +
        '  "required": list(h.REQUIRED), "channels": list(paths.training_job_contract()["channels"]),\n' +
        '  "same": parse(sent) == parse({"classes": sent["classes"]})}))',
      JSON.stringify(defaults),
    );
    expect(container).toEqual({
      file: CONTRACT_FILE,
      names: Object.keys(HYPERPARAMETERS),
      required: Object.entries(HYPERPARAMETERS)
        .filter(([, spec]) => spec.required)
        .map(([name]) => name),
      channels: Object.keys(CHANNELS),
      // Sending every default as TypeScript reads it gives what the container defaults to.
      same: true,
    });
  });

  test('Python and JavaScript read the same numbers with each metric regex', () => {
    const lines = [
      'epoch=12 train_loss=3.5e-02',
      'epoch=12 val_mAP=0.61',
      'best_val_mAP=1e-3',
      'int8_val_mAP=0.6',
      'serving_int8=1',
      'unrelated',
    ];
    const captured = python(
      'import json, re, sys\n' +
        'from logo_detector.paths import training_job_contract\n' +
        'lines = json.loads(sys.argv[1])\n' +
        'print(json.dumps({m["name"]: [x.group(1) for l in lines for x in [re.search(m["regex"], l)] if x]\n' +
        '  for m in training_job_contract()["metrics"]}))',
      JSON.stringify(lines),
    );
    const inJs = Object.fromEntries(
      METRIC_DEFINITIONS.map((d) => [
        d.Name,
        lines.flatMap((line) => new RegExp(d.Regex).exec(line)?.slice(1, 2) ?? []),
      ]),
    );
    expect(captured).toEqual(inJs);
    expect(inJs).toEqual({
      train_loss: ['3.5e-02'],
      val_mAP: ['0.61'],
      best_val_mAP: ['1e-3'],
      int8_val_mAP: ['0.6'],
      serving_int8: ['1'],
    });
  });
});

describe('training image', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
      .sort();

  test('its build context holds the container sources and the training-job contract, and nothing else', () => {
    const app = newApp();
    const stack = new Stack(app, 'Test');
    new CfnWaitConditionHandle(stack, 'Placeholder'); // synthesis rejects a template without resources
    detectorImage(stack, 'Image', 'gpu');
    const outdir = app.synth().directory;
    const [asset] = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    const context = files(join(outdir, asset));

    expect(context).toEqual(
      expect.arrayContaining([
        'contracts/training-job.json',
        'training-container/Dockerfile',
        'training-container/requirements.txt',
        'training-container/docker/fetch-pretrained.sh',
        'training-container/bin/train',
        'training-container/bin/serve',
        'training-container/src/logo_detector/hyperparameters.py',
      ]),
    );
    const outside = context.filter(
      (file) =>
        !/^training-container\/(bin|src|docker)\//.test(file) &&
        ![
          '.dockerignore',
          'contracts/training-job.json',
          'training-container/Dockerfile',
          'training-container/requirements.txt',
        ].includes(file),
    );
    expect(outside).toEqual([]);
    expect(context.filter((file) => /__pycache__|\.pyc$/.test(file))).toEqual([]);
    expect(readFileSync(join(outdir, asset, 'contracts', 'training-job.json'), 'utf8')).toBe(
      readFileSync(CONTRACT_FILE, 'utf8'),
    );
  });
});

describe('int8 metric definitions', () => {
  const log =
    'epoch=2 val_mAP=0.81\nbest_val_mAP=0.81\nserving int8: its mAP 0.8042 is within 0.01 of fp32s 0.8125\n' +
    'int8_val_mAP=0.8042\nserving_int8=1\n';
  const last = (regex: string) => [...log.matchAll(new RegExp(regex, 'g'))].map((m) => Number(m[1])).pop();

  test('the int8 mAP and the serving variant match only their own lines', () => {
    const byName = Object.fromEntries(METRIC_DEFINITIONS.map((d) => [d.Name, last(d.Regex)]));
    expect(byName).toEqual({
      train_loss: undefined,
      val_mAP: 0.81,
      best_val_mAP: 0.81,
      int8_val_mAP: 0.8042,
      serving_int8: 1,
    });
    expect(Object.keys(byName)).toContain(SERVING_INT8_METRIC);
    expect(Object.keys(byName)).toContain(INT8_MAP_METRIC);
  });
});
