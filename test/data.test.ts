import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DataBuckets } from '../lib/data';
import { newApp } from './app-context';

function synth(props: ConstructorParameters<typeof DataBuckets>[2] = {}): Template {
  const stack = new Stack(newApp(), 'Test');
  new DataBuckets(stack, 'Buckets', props);
  return Template.fromStack(stack);
}

describe('DataBuckets', () => {
  test('creates four buckets without physical names', () => {
    const template = synth();
    template.resourceCountIs('AWS::S3::Bucket', 4);
    for (const bucket of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect(bucket.Properties.BucketName).toBeUndefined();
    }
  });

  test('every bucket blocks public access, is encrypted and versioned, and enforces ownership', () => {
    const template = synth();
    template.allResourcesProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } })]),
      },
    });
  });

  test('every bucket denies requests without TLS', () => {
    const policies = synth().findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(4);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      );
    }
  });

  test('raw, dataset and artifacts buckets log their access to the log bucket under their own prefix', () => {
    const template = synth();
    for (const prefix of ['raw/', 'dataset/', 'artifacts/']) {
      template.hasResourceProperties('AWS::S3::Bucket', {
        LoggingConfiguration: { DestinationBucketName: { Ref: Match.anyValue() }, LogFilePrefix: prefix },
      });
    }
  });

  test('buckets are retained by default and destroyed with their objects in dev', () => {
    const kept = synth().findResources('AWS::S3::Bucket');
    expect(Object.values(kept).every((b) => b.DeletionPolicy === 'Retain')).toBe(true);
    synth().resourceCountIs('Custom::S3AutoDeleteObjects', 0);

    const dev = synth({ destroyOnRemoval: true });
    expect(
      Object.values(dev.findResources('AWS::S3::Bucket')).every((b) => b.DeletionPolicy === 'Delete'),
    ).toBe(true);
    dev.resourceCountIs('Custom::S3AutoDeleteObjects', 4);
  });

  test('CORS for the Ground Truth worker UI only when asked', () => {
    expect(
      Object.values(synth().findResources('AWS::S3::Bucket')).some((b) => b.Properties.CorsConfiguration),
    ).toBe(false);
    synth({ labelingCors: true }).hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedMethods: ['GET'] })] },
    });
  });

  test('rejects a non-positive version retention', () => {
    expect(() => synth({ noncurrentVersionDays: 0 })).toThrow(
      /noncurrentVersionDays must be a positive integer, got 0/,
    );
  });
});
