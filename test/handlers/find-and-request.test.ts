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

describe('find-unlabeled', () => {
  test('lists every page of images and labels and writes a manifest of the images without a label', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e', 'sub/f', 'sub/g'])
      s3.put(DATASET, `images/${name}.jpg`, 'x');
    for (const name of ['a', 'c', 'e', 'sub/g', 'orphan']) s3.put(DATASET, `labels/${name}.json`, '{}');

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
    s3.put(DATASET, 'labels/a.json', '{}');

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
});
