import {
  CostBasis,
  DEFAULT_PRICES,
  DEFAULT_SERVERLESS_USAGE,
  endpointMonthlyCost,
  formatUsd,
  preprocessingCost,
  runCost,
  trainingCost,
} from '../contracts';
import { handler } from '../lambda/run-cost';

const basis: CostBasis = { prices: DEFAULT_PRICES, serverlessUsage: DEFAULT_SERVERLESS_USAGE };
const REALTIME = { mode: 'realtime', instanceType: 'ml.m5.xlarge', instanceCount: 1 } as const;
const SERVERLESS = {
  mode: 'serverless',
  memorySizeInMB: 4096,
  maxConcurrency: 5,
  provisionedConcurrency: 0,
} as const;

/** A spot job on the default instance: 2,400 s trained, 900 s billed. */
const SPOT_JOB = {
  TrainingJobName: 'logodet-abc123-train-1',
  TrainingTimeInSeconds: 2400,
  BillableTimeInSeconds: 900,
  ResourceConfig: { InstanceType: 'ml.g4dn.xlarge', InstanceCount: 1 },
};

describe('the cost of a run', () => {
  test('training: billed seconds × instances × the hourly price, with the spot saving from trained vs billed', () => {
    // 900 s of ml.g4dn.xlarge at $0.736 an hour.
    expect(trainingCost(SPOT_JOB, DEFAULT_PRICES)).toEqual({
      instanceType: 'ml.g4dn.xlarge',
      instanceCount: 1,
      billableSeconds: 900,
      trainingSeconds: 2400,
      spotSavingPercent: 62.5,
      usd: 0.184,
    });
    const twoInstances = { ...SPOT_JOB, ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 2 } };
    expect(trainingCost(twoInstances, DEFAULT_PRICES).usd).toBeCloseTo((900 * 2 * 1.408) / 3600, 10);
  });

  test('training on an instance type the table has no price for has no price, not a made-up one', () => {
    const job = { ...SPOT_JOB, ResourceConfig: { InstanceType: 'ml.p4d.24xlarge', InstanceCount: 1 } };
    expect(trainingCost(job, DEFAULT_PRICES).usd).toBeUndefined();
    expect(runCost({ state: { training: job }, endpoint: REALTIME, basis }).summary).toContain(
      'training at no known price (900 billed seconds of 1 × ml.p4d.24xlarge, 63 % saved by spot; add ml.p4d.24xlarge to prices)',
    );
  });

  test('a job that billed nothing (local mode) reports no spot saving', () => {
    const local = { ...SPOT_JOB, BillableTimeInSeconds: 0 };
    expect(trainingCost(local, DEFAULT_PRICES)).toMatchObject({ usd: 0, spotSavingPercent: 0 });
    expect(runCost({ state: { training: local }, endpoint: REALTIME, basis }).summary).toContain(
      'training $0.00 (0 billed seconds of 1 × ml.g4dn.xlarge)',
    );
  });

  test('preprocessing: measured GB-seconds at the Lambda price, plus the requests', () => {
    // 3,000 GB-s × $0.0000166667 + 40 requests × $0.0000002.
    expect(preprocessingCost({ lambdaGbSeconds: 3000, lambdaInvocations: 40 }, DEFAULT_PRICES)).toEqual({
      gbSeconds: 3000,
      invocations: 40,
      usd: expect.closeTo(0.0500081, 7),
    });
  });

  test('a real-time endpoint costs its instances for 730 hours a month', () => {
    expect(endpointMonthlyCost(REALTIME, basis).usd).toBeCloseTo(167.9, 10);
    expect(endpointMonthlyCost({ ...REALTIME, instanceCount: 2 }, basis).usd).toBeCloseTo(335.8, 10);
    expect(endpointMonthlyCost({ ...REALTIME, instanceType: 'ml.g4dn.xlarge' }, basis)).toEqual({
      basis: expect.stringContaining('the price table has no price for ml.g4dn.xlarge'),
    });
  });

  test('a serverless endpoint costs the assumed requests, their data and any provisioned concurrency', () => {
    // 9,000 requests × 1 s × 4 GB × $0.00002 = $0.72, plus 9,000 × 0.5 MB = 4.39 GB × $0.016 = $0.0703.
    const onDemand = endpointMonthlyCost(SERVERLESS, basis);
    expect(onDemand.usd).toBeCloseTo(0.72 + (4500 / 1024) * 0.016, 10);
    expect(onDemand.basis).toBe(
      'serverless, 4096 MB, assuming 9,000 requests a month of 1 s and 0.5 MB each ($0.09 per 1,000 requests); ' +
        'nothing when no requests arrive',
    );
    // One instance of 4 GB kept warm: 4 × 730 × 3600 s × $0.0000048.
    const warm = endpointMonthlyCost({ ...SERVERLESS, provisionedConcurrency: 1 }, basis);
    expect(warm.usd! - onDemand.usd!).toBeCloseTo(4 * 730 * 3600 * 0.0000048, 10);
    expect(warm.basis).toContain('plus 1 provisioned instance(s) kept warm all month ($50.46)');
  });

  test('the summary says what was measured, what assumed, what is not counted, and which prices', async () => {
    const result = await handler({
      state: { training: SPOT_JOB, preprocess: { lambdaGbSeconds: 3000, lambdaInvocations: 40 } },
      endpoint: REALTIME,
      basis,
    });
    expect(result.runUsd).toBeCloseTo(0.184 + 0.0500081, 7);
    expect(result.summary).toBe(
      'This run cost about $0.23: training $0.18 (900 billed seconds of 1 × ml.g4dn.xlarge, 63 % saved by spot); ' +
        'preprocessing $0.05 (3000.0 Lambda GB-seconds over 40 invocations, as the handlers timed themselves). ' +
        'The endpoint costs about $167.90 a month (1 × ml.m5.xlarge, 730 hours, running whether or not requests ' +
        'arrive). Not counted: S3, Step Functions, CloudWatch, KMS, data transfer and labeling. Prices: us-east-1 ' +
        'on demand as of 2026-12-01.',
    );
    expect(result.prices).toEqual({
      region: 'us-east-1',
      date: '2026-12-01',
      source: DEFAULT_PRICES.source,
    });
  });

  test('a run that failed before training costs only what it measured', () => {
    const result = runCost({
      state: { preprocess: { lambdaGbSeconds: 12, lambdaInvocations: 1 } },
      endpoint: SERVERLESS,
      basis,
    });
    expect(result.training).toBeUndefined();
    expect(result.summary).toMatch(
      /^This run cost about under \$0\.01: preprocessing under \$0\.01 \(12\.0 Lambda GB-seconds/,
    );
    expect(runCost({ state: {}, endpoint: SERVERLESS, basis }).summary).toMatch(
      /^This run cost about \$0\.00\. The endpoint costs about \$0\.79 a month/,
    );
  });

  test('amounts are in dollars and cents, with thousands separated', () => {
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(0.004)).toBe('under $0.01');
    expect(formatUsd(0)).toBe('$0.00');
  });
});
