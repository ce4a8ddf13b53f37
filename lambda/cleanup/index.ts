import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** On stack deletion, removes the endpoint, endpoint configs and models the pipeline created at run time. */
export async function handler(
  _event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string }> {
  throw new Error('cleanup: not implemented yet');
}
