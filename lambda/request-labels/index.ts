import type { RequestLabelsEvent } from '../shared/contracts';

/** Import mode: records the task token and asks operators, through SNS, to import labels. */
export async function handler(_event: RequestLabelsEvent): Promise<void> {
  throw new Error('request-labels: not implemented yet');
}
