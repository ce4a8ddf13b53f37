import type { FindUnlabeledEvent, FindUnlabeledResult } from '../shared/contracts';

/** Lists the preprocessed images that have no label yet and writes their labeling manifest. */
export async function handler(_event: FindUnlabeledEvent): Promise<FindUnlabeledResult> {
  throw new Error('find-unlabeled: not implemented yet');
}
