import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { missingCredentialsNote } from '../lib/app';
import { missingAwsSetup, stackOutput } from '../scripts/stack-output';

const cloudFormation = mockClient(CloudFormationClient);
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** A client whose region and credentials are what a person's machine would give it. */
function client(setup: { region?: string; credentials?: boolean }): CloudFormationClient {
  return new CloudFormationClient({
    region: async () => {
      if (!setup.region) throw new Error('Region is missing');
      return setup.region;
    },
    credentials: async () => {
      if (!setup.credentials) {
        throw Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        });
      }
      return CREDENTIALS;
    },
  });
}

const regionMissing = new Error('Region is missing');
const read = (setup: { region?: string; credentials?: boolean }) =>
  stackOutput(
    client(setup),
    'LogoDetectionPipeline',
    'StateMachineArn',
    'deploy it first with npx cdk deploy --all',
  );

beforeEach(() => cloudFormation.reset());

describe('what the operator commands say is missing from the AWS setup: credentials, region, stack, in that order', () => {
  test('no credentials and no region: the credentials come first, though the SDK reports the region', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(regionMissing);
    await expect(read({})).rejects.toThrow(
      /^Cannot read stack LogoDetectionPipeline: No AWS credentials were found\. Configure them first .*AWS_PROFILE/,
    );
  });

  test('credentials but no region: the region, and how to set it', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(regionMissing);
    await expect(read({ credentials: true })).rejects.toThrow(
      /^Cannot read stack LogoDetectionPipeline: No AWS region is set\. .*export AWS_REGION=<region>/,
    );
  });

  test('expired credentials are named as refused, with how to renew them', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredToken',
      }),
    );
    await expect(read({ credentials: true, region: 'eu-west-1' })).rejects.toThrow(
      /AWS refused your credentials \(ExpiredToken: .*\): .*aws sso login/,
    );
  });

  test('credentials and a region, but no stack: deploy it, in the region the command looked in', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id LogoDetectionPipeline does not exist'), {
        name: 'ValidationError',
      }),
    );
    const message = await read({ credentials: true, region: 'eu-west-1' }).catch((e: Error) => e.message);
    expect(message).toMatch(
      /^Cannot read stack LogoDetectionPipeline \(Stack with id .* does not exist\); deploy it first/,
    );
    expect(message).toContain('(looked in eu-west-1: AWS_REGION');
  });

  test('any other error is not taken for a setup problem', async () => {
    expect(await missingAwsSetup(new Error('Rate exceeded'))).toBeUndefined();
  });
});

describe('cdk deploy without credentials', () => {
  test('the app notes what to set up when the CLI found no account', () => {
    const note = missingCredentialsNote({ CDK_CLI_VERSION: '2.1000.0', CDK_DEFAULT_REGION: 'us-east-1' });
    expect(note).toMatch(
      /found no AWS credentials\. cdk synth does not need them; cdk bootstrap and cdk deploy do/,
    );
    expect(note!.indexOf('aws configure')).toBeLessThan(note!.indexOf('AWS_REGION'));
    expect(note).toContain('without one the CLI uses us-east-1');
  });

  test('no note when the CLI found an account, or when the app runs outside the CLI (tests, local mode)', () => {
    expect(
      missingCredentialsNote({
        CDK_CLI_VERSION: '2.1000.0',
        CDK_DEFAULT_REGION: 'eu-west-1',
        CDK_DEFAULT_ACCOUNT: '123456789012',
      }),
    ).toBeUndefined();
    expect(missingCredentialsNote({})).toBeUndefined();
  });
});
