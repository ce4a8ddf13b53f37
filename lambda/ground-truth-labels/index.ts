import type { GroundTruthLabelsEvent, LabelsImported } from '../shared/contracts';

/** Converts a Ground Truth labeling job's output manifest into label documents. */
export async function handler(_event: GroundTruthLabelsEvent): Promise<LabelsImported> {
  throw new Error('ground-truth-labels: not implemented yet');
}
