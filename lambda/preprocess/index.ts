import type { PreprocessEvent, PreprocessResult } from '../shared/contracts';

/** Converts a batch of raw images to grayscale, oriented, resized JPEGs under images/. */
export async function handler(_event: PreprocessEvent): Promise<PreprocessResult> {
  throw new Error('preprocess: not implemented yet');
}
