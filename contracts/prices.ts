/**
 * The prices a run's cost is computed with: one table, for one Region, with the date the figures were written down
 * and where they come from. The configuration key `prices` overrides any part of it (see lib/config.ts), e.g. for
 * another Region or a newer price.
 */

/** Prices in US dollars, before any free tier, Savings Plan or negotiated discount. */
export interface PriceTable {
  /** The Region the prices are for. */
  readonly region: string;
  /** When the figures were written down (ISO date). */
  readonly date: string;
  /** Where they come from. */
  readonly source: string;
  /**
   * SageMaker training, on demand, USD per instance-hour, by instance type. Managed spot training is billed at this
   * price for fewer seconds: DescribeTrainingJob's BillableTimeInSeconds already has the spot saving taken off.
   */
  readonly trainingInstanceHour: Readonly<Record<string, number>>;
  /** SageMaker real-time inference, on demand, USD per instance-hour, by instance type. */
  readonly inferenceInstanceHour: Readonly<Record<string, number>>;
  /** SageMaker Serverless Inference, on demand: USD per second of request processing per GB of configured memory. */
  readonly serverlessGbSecond: number;
  /**
   * SageMaker Serverless Inference, provisioned concurrency: USD per second per GB of configured memory per
   * provisioned instance, billed whether or not requests arrive.
   */
  readonly serverlessProvisionedGbSecond: number;
  /** SageMaker Serverless Inference: USD per GB of data processed, in and out. */
  readonly serverlessDataGb: number;
  /** AWS Lambda on x86_64: USD per GB-second of duration. */
  readonly lambdaGbSecond: number;
  /** AWS Lambda: USD per request. */
  readonly lambdaRequest: number;
}

/**
 * What a serverless endpoint's monthly cost is estimated for: it bills per request, so a month's cost depends on the
 * traffic, which only the operator knows. These are assumptions, not measurements; override them with `prices`.
 */
export interface ServerlessUsage {
  /** Requests in a month (the default, 9,000, is about 300 a day). */
  readonly requestsPerMonth: number;
  /** Seconds each request keeps an instance busy (billed duration; a cold start's model load is not billed). */
  readonly secondsPerRequest: number;
  /** Megabytes in and out per request (an image of about 0.5 MB and its JSON answer). */
  readonly megabytesPerRequest: number;
}

/** The price table and the serverless usage assumed: what the `prices` configuration key overrides. */
export interface CostBasis {
  readonly prices: PriceTable;
  readonly serverlessUsage: ServerlessUsage;
}

/**
 * us-east-1 on-demand prices as written down on 2026-12-01.
 *
 * Checked against a published AWS source that day: the Lambda figures (AWS whitepaper "How AWS Pricing Works",
 * Lambda chapter: $0.20 per million requests, $0.0000166667 per GB-second on x86_64) and the billing rule for spot
 * training (DescribeTrainingJob's BillableTimeInSeconds is the wall-clock time billed, spot saving included).
 *
 * Not verified against the SageMaker pricing page, which could not be consulted: every SageMaker figure below (the
 * training and inference instance-hours, and the serverless prices, of which the provisioned-concurrency one is the
 * least certain). They are the figures the SageMaker pricing page gave for us-east-1 when last read; check them
 * there (https://aws.amazon.com/sagemaker/pricing/) and override them with `prices` if they differ.
 */
export const DEFAULT_PRICES: PriceTable = {
  region: 'us-east-1',
  date: '2026-12-01',
  source:
    'https://aws.amazon.com/sagemaker/pricing/ and https://aws.amazon.com/lambda/pricing/ (on demand; SageMaker figures unverified)',
  trainingInstanceHour: {
    'ml.g4dn.xlarge': 0.736,
    'ml.g4dn.2xlarge': 1.053,
    'ml.g5.xlarge': 1.408,
    'ml.g5.2xlarge': 1.515,
  },
  inferenceInstanceHour: {
    'ml.m5.large': 0.115,
    'ml.m5.xlarge': 0.23,
    'ml.m5.2xlarge': 0.461,
    'ml.c5.large': 0.102,
    'ml.c5.xlarge': 0.204,
    'ml.c5.2xlarge': 0.408,
  },
  serverlessGbSecond: 0.00002,
  serverlessProvisionedGbSecond: 0.0000048,
  serverlessDataGb: 0.016,
  lambdaGbSecond: 0.0000166667,
  lambdaRequest: 0.0000002,
};

/** The serverless traffic a month's cost is estimated for, unless `prices` says otherwise. */
export const DEFAULT_SERVERLESS_USAGE: ServerlessUsage = {
  requestsPerMonth: 9000,
  secondsPerRequest: 1,
  megabytesPerRequest: 0.5,
};

/** Hours in the month the endpoint's monthly cost is given for (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;
