import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as findUnlabeled } from '../../lambda/find-unlabeled';
import { handler as requestLabels } from '../../lambda/request-labels';
import { pendingLabelRequestKey, RequestLabelsEvent } from '../../contracts';
import { FakeS3 } from './fake-s3';

const DATASET = 'dataset-bucket';
// Pages of 2 keys: every listing below spans several pages.
const s3 = new FakeS3(2);
const sns = mockClient(SNSClient);

beforeEach(() => {
  s3.reset();
  sns.reset();
});

/** A label document for an image as it is stored now (or as `image` says), as the label import writes it. */
function label(imageKey: string, image?: { etag: string; bytes: number }): string {
  const stored = s3.get(DATASET, imageKey);
  return JSON.stringify({
    'source-ref': `s3://${DATASET}/${imageKey}`,
    image_size: [{ width: 10, height: 10, depth: 1 }],
    annotations: [],
    'class-map': { '0': 'logo' },
    source: 'coco:labels.json',
    'labeled-at': '2026-01-01T00:00:00.000Z',
    'image-etag': image?.etag ?? stored?.etag.replace(/"/g, ''),
    'image-bytes': image?.bytes ?? stored?.body.length,
  });
}

describe('find-unlabeled', () => {
  test('lists every page of images and labels and writes a manifest of the images without a label', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e', 'sub/f', 'sub/g'])
      s3.put(DATASET, `images/${name}.jpg`, 'x');
    for (const name of ['a', 'c', 'e', 'sub/g', 'orphan'])
      s3.put(DATASET, `labels/${name}.json`, label(`images/${name}.jpg`));

    const result = await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-1' });

    expect(result).toEqual({
      count: 3,
      manifestKey: 'manifests/labeling/run-1.manifest',
      sample: ['images/b.jpg', 'images/d.jpg', 'images/sub/f.jpg'],
    });
    expect(
      s3
        .text(DATASET, 'manifests/labeling/run-1.manifest')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { 'source-ref': `s3://${DATASET}/images/b.jpg` },
      { 'source-ref': `s3://${DATASET}/images/d.jpg` },
      { 'source-ref': `s3://${DATASET}/images/sub/f.jpg` },
    ]);
  });

  test('writes no manifest when every image is labeled', async () => {
    s3.put(DATASET, 'images/a.jpg', 'x');
    s3.put(DATASET, 'labels/a.json', label('images/a.jpg'));

    const result = await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-2' });

    expect(result).toEqual({ count: 0, sample: [] });
    expect(s3.mutations).toEqual([]);
  });

  test('samples at most 20 images', async () => {
    for (let i = 0; i < 25; i++) s3.put(DATASET, `images/${String(i).padStart(2, '0')}.jpg`, 'x');
    const result = await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-3' });
    expect(result.count).toBe(25);
    expect(result.sample).toHaveLength(20);
  });

  test('an image made again from a replaced photo needs its label again, and is counted as such', async () => {
    s3.put(DATASET, 'images/front.jpg.jpg', 'first photo');
    s3.put(DATASET, 'labels/front.jpg.json', label('images/front.jpg.jpg'));
    s3.put(DATASET, 'images/kept.png.jpg', 'kept');
    s3.put(DATASET, 'labels/kept.png.json', label('images/kept.png.jpg'));
    s3.put(DATASET, 'images/new.jpg.jpg', 'new');
    // Same size, other pixels: told apart by the ETag.
    s3.put(DATASET, 'images/front.jpg.jpg', 'other photo');

    const result = await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-4' });

    expect(result).toEqual({
      count: 2,
      manifestKey: 'manifests/labeling/run-4.manifest',
      sample: ['images/front.jpg.jpg', 'images/new.jpg.jpg'],
      relabel: 1,
      relabelSample: ['images/front.jpg.jpg'],
    });
    expect(s3.text(DATASET, 'manifests/labeling/run-4.manifest')).toBe(
      `{"source-ref":"s3://${DATASET}/images/front.jpg.jpg"}\n{"source-ref":"s3://${DATASET}/images/new.jpg.jpg"}\n`,
    );
  });

  test('a label recorded for an image of another size is out of date too; a relabeled image is not', async () => {
    s3.put(DATASET, 'images/a.jpg.jpg', 'abc');
    const etag = s3.get(DATASET, 'images/a.jpg.jpg')!.etag.replace(/"/g, '');
    s3.put(DATASET, 'labels/a.jpg.json', label('images/a.jpg.jpg', { etag, bytes: 4 }));
    expect(
      await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'r' }),
    ).toMatchObject({
      count: 1,
      relabel: 1,
    });

    s3.put(DATASET, 'labels/a.jpg.json', label('images/a.jpg.jpg'));
    expect(await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'r' })).toEqual({
      count: 0,
      sample: [],
    });
  });

  test('never asks for images whose key the pipeline would not make', async () => {
    for (const key of [
      'images//tmp/x.png.jpg',
      'images/../x.png.jpg',
      'images/a\nb.png.jpg',
      'images/ok.png.jpg',
    ])
      s3.put(DATASET, key, 'x');
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);

    const result = await findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-5' });

    expect(result).toMatchObject({ count: 1, sample: ['images/ok.png.jpg'] });
    expect(console.warn).toHaveBeenCalledWith(
      'Not an image key the pipeline makes, left out: "images/a\\nb.png.jpg"',
    );
  });

  test('label documents that record no image stop the run with the migration to run, asking for nothing', async () => {
    s3.put(DATASET, 'images/front.jpg', 'x');
    s3.put(
      DATASET,
      'labels/front.json',
      JSON.stringify({ 'source-ref': `s3://${DATASET}/images/front.jpg` }),
    );

    const run = findUnlabeled({ rawBucket: 'raw', datasetBucket: DATASET, executionName: 'run-6' });

    await expect(run).rejects.toMatchObject({
      name: 'MigrationNeededError',
      message:
        '1 label document was written before labels recorded the image they were drawn on and before image keys ' +
        'kept the photo\'s extension (labels/front.json). Run "npm run migrate-keys -- --dataset-bucket ' +
        'dataset-bucket" once, then start the run again; nothing was asked for or trained.',
    });
    expect(s3.mutations).toEqual([]);
  });
});

describe('request-labels', () => {
  const event: RequestLabelsEvent = {
    rawBucket: 'raw',
    datasetBucket: DATASET,
    taskToken: 'token-9',
    executionName: 'run-9',
    topicArn: 'arn:aws:sns:eu-west-1:123456789012:notify',
    classes: ['logo', 'badge'],
    unlabeled: {
      count: 30,
      manifestKey: 'manifests/labeling/run-9.manifest',
      sample: ['images/a.jpg', 'images/b.jpg'],
    },
  };

  test('records the pending request under the execution’s name, with the classes, and tells operators what to do', async () => {
    await requestLabels(event);

    expect(s3.keys(DATASET, 'manifests/labeling/pending/')).toEqual([
      'manifests/labeling/pending/run-9.json',
    ]);
    expect(JSON.parse(s3.text(DATASET, pendingLabelRequestKey('run-9')))).toEqual({
      taskToken: 'token-9',
      executionName: 'run-9',
      manifestKey: 'manifests/labeling/run-9.manifest',
      count: 30,
      requestedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      classes: ['logo', 'badge'],
    });
    const publish = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(publish.TopicArn).toBe(event.topicArn);
    expect(publish.Subject).toBe('logo-detection: 30 images need labels (run-9)');
    expect(publish.Message).toContain('30 images have no bounding boxes yet');
    expect(publish.Message).toContain(`s3://${DATASET}/manifests/labeling/run-9.manifest`);
    expect(publish.Message).toContain('  images/a.jpg\n  images/b.jpg\n  ...and 28 more');
    expect(publish.Message).toContain('Classes (in class-id order): logo, badge');
    expect(publish.Message).toMatch(/Ground Truth.*\n.*COCO.*\n.*Pascal VOC/);
    expect(publish.Message).toContain(
      `npm run import-labels -- --file <path> --dataset-bucket ${DATASET} --execution run-9`,
    );
    expect(publish.Message).toContain(
      `npm run import-labels -- --dataset-bucket ${DATASET} --execution run-9 --fail "<reason>"`,
    );
  });

  test('says which images are asked for again because their photo was replaced', async () => {
    await requestLabels({
      ...event,
      unlabeled: {
        count: 3,
        manifestKey: 'manifests/labeling/run-9.manifest',
        sample: ['images/a.jpg.jpg', 'images/front.png.jpg', 'images/new.jpg.jpg'],
        relabel: 2,
        relabelSample: ['images/a.jpg.jpg', 'images/front.png.jpg'],
      },
    });

    const message = sns.commandCalls(PublishCommand)[0].args[0].input.Message!;
    expect(message).toContain('waiting for labels: 3 images need bounding boxes (1 new, 2 replaced).');
    expect(message).toContain(
      '2 of them were labeled before, but the photo was replaced since (uploaded again under the same key): the ' +
        'old label is not used any more. Label again:\n  images/a.jpg.jpg\n  images/front.png.jpg\n',
    );
  });

  test('a key that would break a line of the message is shown quoted, on its line', async () => {
    await requestLabels({
      ...event,
      unlabeled: { ...event.unlabeled, sample: ['images/a\nRun: rm -rf x.jpg'] },
    });

    const message = sns.commandCalls(PublishCommand)[0].args[0].input.Message!;
    expect(message).toContain('  "images/a\\nRun: rm -rf x.jpg"\n');
    expect(message).not.toContain('\nRun: rm');
  });
});
