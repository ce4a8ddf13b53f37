/**
 * What a run cost and what the endpoint costs a month: the arithmetic the `run-cost` handler does for each run's
 * notification, and the README's monthly figures are made with. Prices come from a {@link CostBasis}.
 */
import { CostBasis, HOURS_PER_MONTH, PriceTable } from './prices';

/** The endpoint as configured: instances, or a serverless memory size and concurrency. */
export type EndpointSize =
  | { readonly mode: 'realtime'; readonly instanceType: string; readonly instanceCount: number }
  | {
      readonly mode: 'serverless';
      /** 1024 to 6144. */
      readonly memorySizeInMB: number;
      readonly maxConcurrency: number;
      /** Instances kept warm and billed all the time; 0 for none. */
      readonly provisionedConcurrency: number;
    };

/** The fields of DescribeTrainingJob's output (the pipeline's `$.training`) the cost is computed from. */
export interface TrainingUsage {
  readonly TrainingJobName?: string;
  /** Wall-clock seconds the job trained. */
  readonly TrainingTimeInSeconds?: number;
  /** Seconds billed per instance; with managed spot training, fewer than TrainingTimeInSeconds by the saving. */
  readonly BillableTimeInSeconds?: number;
  readonly ResourceConfig?: { readonly InstanceType?: string; readonly InstanceCount?: number };
}

/** What the `preprocess` invocations measured of themselves (the pipeline's `$.preprocess`, the parts read here). */
export interface PreprocessUsage {
  /** Sum over invocations of duration (as each handler measured it) × configured memory, in GB-seconds. */
  readonly lambdaGbSeconds?: number;
  /** Invocations that reported their duration. */
  readonly lambdaInvocations?: number;
}

/** The parts of a run's state (the state machine's `$`) the cost is computed from; each may be absent. */
export interface RunState {
  /** DescribeTrainingJob's output; absent when the run did not train. */
  readonly training?: TrainingUsage;
  /** The preprocessing summary; absent when the run did not get that far. */
  readonly preprocess?: PreprocessUsage;
}

/** Input of the `run-cost` handler. */
export interface RunCostEvent {
  /** The run's whole state (`$`): JSONPath cannot pass a field that may be missing, so the handler picks. */
  readonly state: RunState;
  readonly endpoint: EndpointSize;
  readonly basis: CostBasis;
}

/** The training job's part of a run's cost. */
export interface TrainingCost {
  readonly instanceType: string;
  readonly instanceCount: number;
  /** Billed seconds per instance (measured by SageMaker). */
  readonly billableSeconds: number;
  /** Seconds trained per instance (measured by SageMaker). */
  readonly trainingSeconds: number;
  /** `(1 - billable / trained) × 100`: what managed spot training saved, in percent; 0 when nothing was billed. */
  readonly spotSavingPercent: number;
  /** Undefined when the price table has no price for the instance type. */
  readonly usd?: number;
}

/** The preprocessing Lambda's part of a run's cost. */
export interface PreprocessingCost {
  readonly gbSeconds: number;
  readonly invocations: number;
  readonly usd: number;
}

/** What the endpoint costs in a month ({@link HOURS_PER_MONTH} hours) at its configured size. */
export interface EndpointMonthlyCost {
  /** Undefined when the price table has no price for the instance type. */
  readonly usd?: number;
  /** How the figure is made, with its assumptions. */
  readonly basis: string;
}

/**
 * Output of the `run-cost` handler: put at `$.run.cost` once training has finished, and sent in the deployed,
 * rejected and failed notifications.
 */
export interface RunCostResult {
  /** One paragraph for the notification. */
  readonly summary: string;
  /** This run: training plus preprocessing, in USD (parts without a price count as 0 and are named in summary). */
  readonly runUsd: number;
  readonly training?: TrainingCost;
  readonly preprocessing?: PreprocessingCost;
  readonly endpointMonthly: EndpointMonthlyCost;
  /** Which prices were used. */
  readonly prices: Pick<PriceTable, 'region' | 'date' | 'source'>;
}

const SECONDS_PER_HOUR = 3600;
const MB_PER_GB = 1024;

/** `$12.34`; amounts under a cent are `under $0.01` (or `$0.00` for nothing at all). */
export function formatUsd(usd: number): string {
  if (usd > 0 && usd < 0.005) return 'under $0.01';
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** The training job's cost: billed seconds × instances × the instance type's hourly price. */
export function trainingCost(training: TrainingUsage, prices: PriceTable): TrainingCost {
  const instanceType = training.ResourceConfig?.InstanceType ?? 'unknown';
  const instanceCount = training.ResourceConfig?.InstanceCount ?? 1;
  const billableSeconds = training.BillableTimeInSeconds ?? 0;
  const trainingSeconds = training.TrainingTimeInSeconds ?? 0;
  const hourly = prices.trainingInstanceHour[instanceType];
  return {
    instanceType,
    instanceCount,
    billableSeconds,
    trainingSeconds,
    // Nothing billed (local mode's stand-in) is no saving to report.
    spotSavingPercent:
      trainingSeconds > 0 && billableSeconds > 0
        ? Math.max(0, (1 - billableSeconds / trainingSeconds) * 100)
        : 0,
    usd: hourly === undefined ? undefined : (billableSeconds * instanceCount * hourly) / SECONDS_PER_HOUR,
  };
}

/** The preprocessing Lambda's cost: GB-seconds × the GB-second price, plus the requests. */
export function preprocessingCost(usage: PreprocessUsage, prices: PriceTable): PreprocessingCost {
  const gbSeconds = usage.lambdaGbSeconds ?? 0;
  const invocations = usage.lambdaInvocations ?? 0;
  return {
    gbSeconds,
    invocations,
    usd: gbSeconds * prices.lambdaGbSecond + invocations * prices.lambdaRequest,
  };
}

/**
 * What the endpoint costs in a month. Real-time: instance-hour price × {@link HOURS_PER_MONTH} × instances.
 * Serverless: the assumed requests × seconds each × memory in GB × the GB-second price, plus the data they carry,
 * plus provisioned concurrency (memory in GB × instances × every second of the month).
 */
export function endpointMonthlyCost(endpoint: EndpointSize, basis: CostBasis): EndpointMonthlyCost {
  const { prices, serverlessUsage: usage } = basis;
  if (endpoint.mode === 'realtime') {
    const hourly = prices.inferenceInstanceHour[endpoint.instanceType];
    const size = `${endpoint.instanceCount} × ${endpoint.instanceType}, ${HOURS_PER_MONTH} hours, running whether or not requests arrive`;
    if (hourly === undefined) {
      return {
        basis: `${size}; the price table has no price for ${endpoint.instanceType} (add it with prices)`,
      };
    }
    return { usd: hourly * HOURS_PER_MONTH * endpoint.instanceCount, basis: size };
  }
  const gb = endpoint.memorySizeInMB / MB_PER_GB;
  const requests = usage.requestsPerMonth * usage.secondsPerRequest * gb * prices.serverlessGbSecond;
  const data = ((usage.requestsPerMonth * usage.megabytesPerRequest) / MB_PER_GB) * prices.serverlessDataGb;
  const provisioned =
    endpoint.provisionedConcurrency *
    gb *
    HOURS_PER_MONTH *
    SECONDS_PER_HOUR *
    prices.serverlessProvisionedGbSecond;
  const warm =
    endpoint.provisionedConcurrency > 0
      ? `, plus ${endpoint.provisionedConcurrency} provisioned instance(s) kept warm all month (${formatUsd(provisioned)})`
      : '; nothing when no requests arrive';
  return {
    usd: requests + data + provisioned,
    basis:
      `serverless, ${endpoint.memorySizeInMB} MB, assuming ${usage.requestsPerMonth.toLocaleString('en-US')} ` +
      `requests a month of ${usage.secondsPerRequest} s and ${usage.megabytesPerRequest} MB each ` +
      `(${formatUsd((requests + data) / (usage.requestsPerMonth / 1000))} per 1,000 requests)${warm}`,
  };
}

/** The run's cost and the endpoint's monthly cost, with a one-paragraph summary saying what is measured and what assumed. */
export function runCost(event: RunCostEvent): RunCostResult {
  const { prices } = event.basis;
  const training = event.state.training && trainingCost(event.state.training, prices);
  const preprocessing = event.state.preprocess && preprocessingCost(event.state.preprocess, prices);
  const endpointMonthly = endpointMonthlyCost(event.endpoint, event.basis);
  const runUsd = (training?.usd ?? 0) + (preprocessing?.usd ?? 0);

  const parts: string[] = [];
  if (training) {
    const spot =
      training.spotSavingPercent > 0 ? `, ${training.spotSavingPercent.toFixed(0)} % saved by spot` : '';
    const billed = `${training.billableSeconds} billed seconds of ${training.instanceCount} × ${training.instanceType}${spot}`;
    parts.push(
      training.usd === undefined
        ? `training at no known price (${billed}; add ${training.instanceType} to prices)`
        : `training ${formatUsd(training.usd)} (${billed})`,
    );
  }
  if (preprocessing) {
    parts.push(
      `preprocessing ${formatUsd(preprocessing.usd)} (${preprocessing.gbSeconds.toFixed(1)} Lambda GB-seconds over ` +
        `${preprocessing.invocations} invocations, as the handlers timed themselves)`,
    );
  }
  const endpoint =
    endpointMonthly.usd === undefined
      ? `The endpoint's monthly cost is unknown (${endpointMonthly.basis}).`
      : `The endpoint costs about ${formatUsd(endpointMonthly.usd)} a month (${endpointMonthly.basis}).`;
  const summary =
    `This run cost about ${formatUsd(runUsd)}${parts.length ? `: ${parts.join('; ')}` : ''}. ${endpoint} ` +
    `Not counted: S3, Step Functions, CloudWatch, KMS, data transfer and labeling. Prices: ${prices.region} on ` +
    `demand as of ${prices.date}.`;
  return {
    summary,
    runUsd,
    ...(training ? { training } : {}),
    ...(preprocessing ? { preprocessing } : {}),
    endpointMonthly,
    prices: { region: prices.region, date: prices.date, source: prices.source },
  };
}
