import type { QualityGateEvent, QualityGateResult } from '../shared/contracts';

/** Decides whether a newly trained model may replace the live one. */
export async function handler(_event: QualityGateEvent): Promise<QualityGateResult> {
  throw new Error('quality-gate: not implemented yet');
}
