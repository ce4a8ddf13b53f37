import type { AssembleDatasetEvent, AssembleDatasetResult } from '../shared/contracts';

/** Merges label documents into the cumulative dataset manifest and its train/validation split. */
export async function handler(_event: AssembleDatasetEvent): Promise<AssembleDatasetResult> {
  throw new Error('assemble-dataset: not implemented yet');
}
