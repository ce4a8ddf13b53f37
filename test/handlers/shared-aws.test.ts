import { parseS3Uri } from '../../lambda/shared/aws';

describe('parseS3Uri', () => {
  test.each([
    ['an s3:// URI', 's3://b/labels/a.json', { bucket: 'b', key: 'labels/a.json' }],
    ['an s3:// prefix', 's3://b/models/', { bucket: 'b', key: 'models/' }],
    ['a whole bucket', 's3://b', { bucket: 'b', key: '' }],
    [
      'a path-style HTTPS URL, as CDK writes for S3Location.fromBucket',
      'https://s3.us-east-1.amazonaws.com/b/manifests/train/',
      { bucket: 'b', key: 'manifests/train/' },
    ],
    [
      'a virtual-hosted HTTPS URL',
      'https://b.s3.us-east-1.amazonaws.com/images/',
      { bucket: 'b', key: 'images/' },
    ],
  ])('reads %s', (_name, uri, expected) => {
    expect(parseS3Uri(uri)).toEqual(expected);
  });

  test.each(['/tmp/x', 'b/key', 'https://example.com/b/key', ''])(
    'rejects %j naming the value and the accepted forms',
    (uri) => {
      expect(() => parseS3Uri(uri)).toThrow(
        `Not an S3 location (expected s3://bucket/key or an S3 HTTPS URL): ${uri}`,
      );
    },
  );
});
