import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** A deployed stack's output cannot be read; the message names the stack, the output and what to do. */
export class StackOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackOutputError';
  }
}

/**
 * The value of one output of a deployed stack, for the operator commands.
 * @param fix - what the operator can do instead, appended to the error, e.g. "pass --dataset-bucket"
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
    throw new StackOutputError(
      `Cannot read stack ${stackName} (${(error as Error).message}); ${fix}, and check your AWS credentials and region`,
    );
  }
  const value = outputs?.find((o) => o.OutputKey === outputKey)?.OutputValue;
  if (!value) throw new StackOutputError(`Stack ${stackName} has no ${outputKey} output; ${fix}`);
  return value;
}
