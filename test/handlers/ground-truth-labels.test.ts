import { handler } from '../../lambda/ground-truth-labels';
import { LabelFileError } from '../../lambda/shared/labels/validate';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
const OUTPUT = 'ground-truth/run-4/logos/manifests/output/output.manifest';
const s3 = new FakeS3();

const line = (name: string, annotations: object[], extra: object = {}) =>
  JSON.stringify({
    'source-ref': `s3://${DATASET}/images/${name}.jpg`,
    logos: { image_size: [{ width: 100, height: 80, depth: 3 }], annotations },
    'logos-metadata': {
      'class-map': { '0': 'logo' },
      type: 'groundtruth/object-detection',
      'human-annotated': 'yes',
      'job-name': 'labeling-job/run-4',
    },
    ...extra,
  });

beforeEach(() => {
  s3.reset();
  for (const name of ['a', 'b', 'c'])
    s3.put(DATASET, `images/${name}.jpg`, 'x', { width: '100', height: '80' });
});

describe('ground-truth-labels', () => {
  test("converts the job's output manifest into label documents, skipping items workers could not label", async () => {
    s3.put(
      DATASET,
      OUTPUT,
      [
        line('a', [{ class_id: 0, left: 5, top: 6, width: 7, height: 8 }]),
        line('b', []),
        JSON.stringify({
          'source-ref': `s3://${DATASET}/images/c.jpg`,
          'logos-metadata': { 'failure-reason': 'ClientError: expired' },
        }),
      ].join('\n'),
    );

    const result = await handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      outputManifestUri: `s3://${DATASET}/${OUTPUT}`,
      labelAttributeName: 'logos',
    });

    expect(result).toEqual({ imported: 2, empty: 1, format: 'groundtruth', skipped: 1 });
    expect(JSON.parse(s3.text(DATASET, 'labels/a.json'))).toMatchObject({
      annotations: [{ class_id: 0, left: 5, top: 6, width: 7, height: 8 }],
      'class-map': { '0': 'logo' },
      source: `groundtruth:s3://${DATASET}/${OUTPUT}`,
    });
    expect(s3.keys(DATASET, 'labels/')).toEqual(['labels/a.json', 'labels/b.json']);
  });

  test('checks the labels against the configured classes when the event gives them', async () => {
    s3.put(DATASET, OUTPUT, line('a', [{ class_id: 0, left: 5, top: 6, width: 7, height: 8 }]));

    const run = handler({
      rawBucket: 'raw',
      datasetBucket: DATASET,
      outputManifestUri: `s3://${DATASET}/${OUTPUT}`,
      labelAttributeName: 'logos',
      classes: ['brand'],
    });

    await expect(run).rejects.toBeInstanceOf(LabelFileError);
    await expect(run).rejects.toThrow('class "logo" is not a configured class (configured: "brand")');
    expect(s3.keys(DATASET, 'labels/')).toEqual([]);
  });
});
