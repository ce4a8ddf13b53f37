import { RunCostEvent, RunCostResult, runCost } from '../../contracts';

/**
 * What the run cost and what the endpoint costs a month ({@link runCost}), for the deployed and rejected
 * notifications: Step Functions' JSONPath cannot multiply. Pure arithmetic on the event; no AWS call.
 */
export async function handler(event: RunCostEvent): Promise<RunCostResult> {
  return runCost(event);
}
