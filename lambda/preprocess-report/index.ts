import type { PreprocessReportEvent, PreprocessReportResult } from '../shared/contracts';

/** Collects the Distributed Map's results into one report object. */
export async function handler(_event: PreprocessReportEvent): Promise<PreprocessReportResult> {
  throw new Error('preprocess-report: not implemented yet');
}
