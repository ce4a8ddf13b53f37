import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** A deployed stack's output cannot be read; the message names the stack, the output and what to do. */
export class StackOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackOutputError';
  }
}

// Errors AWS answers when the credentials exist but are refused: expired, revoked or mistyped.
const REFUSED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'TokenRefreshRequired',
]);

const NO_CREDENTIALS =
  'No AWS credentials were found. Configure them first (aws configure, or aws sso login with ' +
  'AWS_PROFILE=<profile>), with the region you deployed to (AWS_REGION, or the region of the profile), and run ' +
  'the command again.';

const NO_REGION =
  'No AWS region is set. Set the region you deployed to: export AWS_REGION=<region> (e.g. eu-west-1), or a ' +
  'region in your profile (aws configure set region <region>), and run the command again.';

/**
 * What an AWS call's error says is missing from the caller's AWS setup, in the order to fix it: credentials
 * (none found, or refused), then the region. Undefined for any other error (a missing stack, a missing bucket...).
 * The SDK reports a missing region before it looks for credentials, so with `client` a missing region is
 * reported only once credentials are found too.
 */
export async function missingAwsSetup(
  error: unknown,
  client?: { readonly config: { credentials(): Promise<unknown> } },
): Promise<string | undefined> {
  const { name = '', message = '' } = (error ?? {}) as { name?: string; message?: string };
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message))
    return NO_CREDENTIALS;
  if (REFUSED_CREDENTIALS.has(name)) {
    return (
      `AWS refused your credentials (${name}: ${message}): they have expired or are not valid. Renew them ` +
      '(aws sso login, or new access keys with aws configure) and run the command again.'
    );
  }
  if (!/region is missing/i.test(message)) return undefined;
  if (client) {
    try {
      await client.config.credentials();
    } catch {
      return NO_CREDENTIALS;
    }
  }
  return NO_REGION;
}

/**
 * The value of one output of a deployed stack, for the operator commands. An error says what is missing, in
 * this order: AWS credentials, a region, the deployed stack (or its output).
 * @param fix - what the operator can do when the stack is not there, appended to the error, e.g. "pass --dataset-bucket"
 */
export async function stackOutput(
  cloudFormation: CloudFormationClient,
  stackName: string,
  outputKey: string,
  fix: string,
): Promise<string> {
  let outputs;
  try {
    outputs = (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]
      ?.Outputs;
  } catch (error) {
    const missing = await missingAwsSetup(error, cloudFormation);
    if (missing) throw new StackOutputError(`Cannot read stack ${stackName}: ${missing}`);
    const region = await cloudFormation.config.region().catch(() => undefined);
    throw new StackOutputError(
      `Cannot read stack ${stackName} (${(error as Error).message}); ${fix}` +
        (region
          ? ` (looked in ${region}: AWS_REGION, or your profile's region, must be the one you deployed to)`
          : ''),
    );
  }
  const value = outputs?.find((o) => o.OutputKey === outputKey)?.OutputValue;
  if (!value) throw new StackOutputError(`Stack ${stackName} has no ${outputKey} output; ${fix}`);
  return value;
}
