import { App } from 'aws-cdk-lib';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { DEFAULT_PRICES, DEFAULT_SERVERLESS_USAGE } from '../contracts';
import { ConfigError, configFromContext, loadConfig, nearestKey } from '../lib/config';

const from = (context: Record<string, unknown>) => loadConfig((key) => context[key]);

describe('configuration defaults', () => {
  test('an empty context gives the documented defaults', () => {
    const config = from({});
    expect(config.classes).toEqual(['logo']);
    expect(config.training).toMatchObject({
      instanceType: 'ml.g4dn.xlarge',
      useSpot: true,
      maxRuntimeSeconds: 14400,
      maxWaitSeconds: 28800,
      dataShape: 512,
    });
    expect(config.endpoint).toEqual({
      mode: 'realtime',
      instanceType: 'ml.m5.xlarge',
      instanceCount: 1,
      serverlessMemorySizeInMB: 4096,
      serverlessMaxConcurrency: 5,
      serverlessProvisionedConcurrency: 0,
    });
    expect(config.cost).toEqual({ prices: DEFAULT_PRICES, serverlessUsage: DEFAULT_SERVERLESS_USAGE });
    expect(config.detect).toEqual({ instanceType: 'ml.m5.xlarge', inputBuckets: [] });
    expect(config.labeling).toEqual({ mode: 'import' });
    expect(config.api.auth).toBe('iam');
    expect(config.api.corsOrigins).toEqual([]);
    expect(config.preprocess.maxSide).toBe(1024);
    expect(config.dev).toBe(false);
    expect(config.notificationEmail).toBeUndefined();
    expect(config.executionLogLevel).toBe('ERROR');
  });

  test('-c values arrive as strings and are coerced to their types', () => {
    const config = from({
      classes: 'bcbs, acme',
      trainingUseSpot: 'false',
      epochs: '5',
      learningRate: '0.01',
      apiCorsOrigins: '["https://a.example.com"]',
      dev: 'true',
    });
    expect(config.classes).toEqual(['bcbs', 'acme']);
    expect(config.training.useSpot).toBe(false);
    expect(config.training.epochs).toBe(5);
    expect(config.training.learningRate).toBe(0.01);
    expect(config.api.corsOrigins).toEqual(['https://a.example.com']);
    expect(config.dev).toBe(true);
  });

  test('a private workteam ARN switches labeling to Ground Truth', () => {
    const arn = 'arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/logo-team';
    expect(from({ workteamArn: arn }).labeling).toEqual({ mode: 'groundtruth', workteamArn: arn });
  });

  test.each(['ml.g4dn.xlarge', 'ml.g5.2xlarge', 'ml.g6.xlarge', 'ml.g6e.xlarge', 'ml.p4d.24xlarge'])(
    'training on %s is allowed: the MXNet build runs on its GPU',
    (instanceType) => {
      expect(from({ trainingInstanceType: instanceType }).training.instanceType).toBe(instanceType);
    },
  );

  test('serverless mode with its memory and concurrency, from -c strings', () => {
    expect(
      from({
        endpointMode: 'serverless',
        serverlessMemorySizeInMB: '6144',
        serverlessMaxConcurrency: '20',
        serverlessProvisionedConcurrency: '2',
      }).endpoint,
    ).toMatchObject({
      mode: 'serverless',
      serverlessMemorySizeInMB: 6144,
      serverlessMaxConcurrency: 20,
      serverlessProvisionedConcurrency: 2,
    });
  });

  test('prices override fields of the table; instance prices are merged entry by entry', () => {
    const { cost } = from({
      prices:
        '{"region": "eu-west-1", "inferenceInstanceHour": {"ml.m5.xlarge": 0.26}, "requestsPerMonth": 30000}',
    });
    expect(cost.prices.region).toBe('eu-west-1');
    expect(cost.prices.inferenceInstanceHour['ml.m5.xlarge']).toBe(0.26);
    expect(cost.prices.inferenceInstanceHour['ml.c5.xlarge']).toBe(
      DEFAULT_PRICES.inferenceInstanceHour['ml.c5.xlarge'],
    );
    expect(cost.prices.lambdaGbSecond).toBe(DEFAULT_PRICES.lambdaGbSecond);
    expect(cost.serverlessUsage).toEqual({ ...DEFAULT_SERVERLESS_USAGE, requestsPerMonth: 30000 });
  });

  test('the max wait defaults to twice the max runtime', () => {
    expect(from({ trainingMaxRuntimeSeconds: 3600 }).training.maxWaitSeconds).toBe(7200);
  });

  test('int8 may serve within one point of fp32 by default, and the tolerance is configurable', () => {
    expect(from({}).training.int8Tolerance).toBe(0.01);
    expect(from({ int8Tolerance: '0.03' }).training.int8Tolerance).toBe(0.03);
  });

  test("the API's default minScore is unset (the live model's threshold) unless configured", () => {
    expect(from({}).api.defaultMinScore).toBeUndefined();
    expect(from({ apiDefaultMinScore: '' }).api.defaultMinScore).toBeUndefined();
    expect(from({ apiDefaultMinScore: '0.4' }).api.defaultMinScore).toBe(0.4);
  });
});

describe('configuration errors name the key, the value and what is allowed', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['classes empty', { classes: [] }, /"classes".*1 to 100 class names/],
    ['classes duplicated', { classes: ['logo', 'logo'] }, /"classes".*without duplicates/],
    ['classes not JSON', { classes: '[logo' }, /"classes".*JSON array/],
    ['classes bad name', { classes: ['-x'] }, /"classes"/],
    [
      'training instance not a GPU',
      { trainingInstanceType: 'ml.m5.xlarge' },
      /"trainingInstanceType".*"ml.m5.xlarge".*GPU/,
    ],
    [
      'training instance p5: its H100 cannot run the MXNet build',
      { trainingInstanceType: 'ml.p5.48xlarge' },
      /"trainingInstanceType".*"ml\.p5\.48xlarge".*ml\.g4dn \(NVIDIA T4\).*ml\.p5 has NVIDIA H100 GPUs \(compute capability 9\.0\).*mxnet-cu112 1\.9\.1 carries GPU code only for compute capability 5\.0, 6\.0, 7\.0, 8\.0 and 8\.6 and no PTX/,
    ],
    [
      'training instance p3: retired by AWS',
      { trainingInstanceType: 'ml.p3.2xlarge' },
      /"trainingInstanceType".*ml\.p3 has NVIDIA V100 GPUs \(compute capability 7\.0\), which the build runs on, but AWS has retired P3/,
    ],
    [
      'training instance not of the form ml.<family>.<size>',
      { trainingInstanceType: 'g5.xlarge' },
      /"trainingInstanceType".*"g5\.xlarge".*not an ml\.<family>\.<size> instance type/,
    ],
    ['spot not a boolean', { trainingUseSpot: 'yes' }, /"trainingUseSpot".*"yes".*true or false/],
    ['max runtime too short', { trainingMaxRuntimeSeconds: 10 }, /"trainingMaxRuntimeSeconds".*from 600/],
    [
      'max wait below runtime',
      { trainingMaxRuntimeSeconds: 7200, trainingMaxWaitSeconds: 3600 },
      /"trainingMaxWaitSeconds".*at least trainingMaxRuntimeSeconds \(7200\)/,
    ],
    ['epochs not a number', { epochs: 'abc' }, /"epochs".*"abc".*an integer from 1 to 1000/],
    ['epochs fractional', { epochs: 2.5 }, /"epochs".*an integer/],
    ['batch size zero', { batchSize: 0 }, /"batchSize"/],
    ['learning rate too big', { learningRate: 3 }, /"learningRate".*a number from/],
    ['data shape not a multiple of 32', { dataShape: 500 }, /"dataShape".*multiple of 32/],
    [
      'endpoint instance malformed',
      { endpointInstanceType: 'm5.xlarge' },
      /"endpointInstanceType".*"m5.xlarge"/,
    ],
    ['endpoint count too high', { endpointInstanceCount: 11 }, /"endpointInstanceCount".*from 1 to 10/],
    ['detect instance malformed', { detectInstanceType: 'm5.xlarge' }, /"detectInstanceType".*"m5.xlarge"/],
    [
      'detect input bucket not a bucket name',
      { detectInputBuckets: 'photos,s3://other' },
      /"detectInputBuckets".*"s3:\/\/other".*S3 bucket names/,
    ],
    [
      'public workforce',
      { workteamArn: 'arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default' },
      /"workteamArn".*private workteam.*Mechanical Turk/,
    ],
    ['min mAP above 1', { minMap: 1.5 }, /"minMap".*from 0 to 1/],
    ['tolerance negative', { mapTolerance: -0.1 }, /"mapTolerance"/],
    ['unknown auth mode', { apiAuth: 'cognito' }, /"apiAuth".*"cognito".*one of iam, apiKey/],
    ['throttle rate zero', { apiThrottleRate: 0 }, /"apiThrottleRate"/],
    ['throttle burst fractional', { apiThrottleBurst: 1.5 }, /"apiThrottleBurst"/],
    ['quota zero', { apiQuotaPerDay: 0 }, /"apiQuotaPerDay"/],
    [
      'CORS origin with a path',
      { apiCorsOrigins: ['https://a.example.com/app'] },
      /"apiCorsOrigins".*no path/,
    ],
    ['default min score above 1', { apiDefaultMinScore: 2 }, /"apiDefaultMinScore"/],
    [
      'int8 tolerance above 1',
      { int8Tolerance: '1.5' },
      /"int8Tolerance": got "1.5"; expected a number from 0 to 1/,
    ],
    ['max side too small', { preprocessMaxSide: 10 }, /"preprocessMaxSide"/],
    ['concurrency zero', { preprocessMaxConcurrency: 0 }, /"preprocessMaxConcurrency"/],
    ['batch of zero images', { preprocessBatchSize: 0 }, /"preprocessBatchSize"/],
    [
      'tolerated failure above 100',
      { preprocessToleratedFailurePercentage: 101 },
      /"preprocessToleratedFailurePercentage"/,
    ],
    ['e-mail malformed', { notificationEmail: 'ops' }, /"notificationEmail".*"ops".*an e-mail address/],
    ['schedule malformed', { schedule: 'every day' }, /"schedule".*rate\(1 day\)/],
    [
      'log level not ERROR or ALL',
      { executionLogLevel: 'DEBUG' },
      /"executionLogLevel".*"DEBUG".*one of ERROR, ALL/,
    ],
    ['dev not a boolean', { dev: 'maybe' }, /"dev".*true or false/],
    [
      'unknown endpoint mode',
      { endpointMode: 'async' },
      /"endpointMode".*"async".*one of realtime, serverless/,
    ],
    [
      'serverless memory not whole gigabytes',
      { serverlessMemorySizeInMB: 1500 },
      /"serverlessMemorySizeInMB".*1500.*1024, 2048, 3072, 4096, 5120 or 6144/,
    ],
    [
      'serverless memory above 6 GB',
      { serverlessMemorySizeInMB: 8192 },
      /"serverlessMemorySizeInMB".*from 1024 to 6144/,
    ],
    [
      'serverless concurrency above 200',
      { serverlessMaxConcurrency: 201 },
      /"serverlessMaxConcurrency".*from 1 to 200/,
    ],
    [
      'provisioned concurrency above the maximum',
      { serverlessMaxConcurrency: 2, serverlessProvisionedConcurrency: 3 },
      /"serverlessProvisionedConcurrency".*at most serverlessMaxConcurrency \(2\)/,
    ],
    [
      'prices not JSON',
      { prices: '{inferenceInstanceHour' },
      /"prices".*a JSON object of fields of the price table/,
    ],
    [
      'prices with an unknown field',
      { prices: { gpuHour: 1 } },
      /"prices".*fields among region, .*\(got "gpuHour"\)/,
    ],
    ['a negative price', { prices: { lambdaGbSecond: -1 } }, /"prices".*0 or more, for lambdaGbSecond/],
    [
      'a price for something that is not an instance type',
      { prices: { inferenceInstanceHour: { m5: 0.2 } } },
      /"prices".*instance types such as ml\.m5\.xlarge in inferenceInstanceHour/,
    ],
    ['a string key given a number', { workteamArn: 5 }, /"workteamArn".*a string/],
  ];

  test.each(cases)('%s', (_name, context, message) => {
    expect(() => from(context)).toThrow(ConfigError);
    expect(() => from(context)).toThrow(message);
    expect(() => from(context)).toThrow(/-c \w+=<value>/);
  });

  test('a misspelt key set with -c is rejected with the list of known keys', () => {
    const app = new App({ context: { epoch: '5' } });
    expect(() => configFromContext(app.node)).toThrow(/"epoch".*a known configuration key \(classes, /);
  });

  test("CDK's own context keys are not mistaken for ours", () => {
    const app = new App({
      context: { '@aws-cdk/core:checkSecretUsage': true, 'aws:cdk:enable-path-metadata': true },
    });
    expect(() => configFromContext(app.node)).not.toThrow();
  });
});

describe('a misspelt key gets the nearest known key as a suggestion', () => {
  const errorFor = (context: Record<string, unknown>): ConfigError => {
    try {
      configFromContext(new App({ context }).node);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error(`no ConfigError for ${JSON.stringify(context)}`);
  };

  test('-c epoch=60 is answered with "did you mean epochs" and the -c option that fixes it', () => {
    const error = errorFor({ epoch: '60' });
    expect(error.message).toContain('Did you mean "epochs"? Pass -c epochs=<value>');
  });

  test.each([
    ['a missing letter', 'epoch', 'epochs'],
    ['a wrong letter', 'epocs', 'epochs'],
    ['an extra letter', 'dataShapes', 'dataShape'],
    ['other case', 'learningrate', 'learningRate'],
    ['a transposition in a long key', 'trainingUesSpot', 'trainingUseSpot'],
    ['the key without its group prefix', 'useSpot', 'trainingUseSpot'],
    ['part of a key', 'cors', 'apiCorsOrigins'],
  ])('%s: %s means %s', (_case, typed, meant) => {
    expect(nearestKey(typed)).toBe(meant);
  });

  test.each(['region', 'env', 'foo'])('%s is like no known key and gets no suggestion', (typed) => {
    expect(nearestKey(typed)).toBeUndefined();
    const error = errorFor({ [typed]: 'x' });
    expect(error.message).not.toContain('Did you mean');
    expect(error.message).toContain('Remove it, or rename it to a known key');
  });
});

describe('how a configuration error reaches the user', () => {
  const root = join(__dirname, '..');
  // What the CLI gives the app: no version check or telemetry calls from a test, the assembly in a scratch dir.
  const cliEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: '1' };
  let outdir: string;
  beforeEach(() => {
    outdir = mkdtempSync(join(tmpdir(), 'config-error-'));
  });
  afterEach(() => rmSync(outdir, { recursive: true, force: true }));

  test('every message is one paragraph', () => {
    for (const context of [{ epochs: 'abc' }, { classes: [] }, { trainingUseSpot: 'yes' }]) {
      expect(() => from(context)).toThrow(/^[^\n]+$/);
    }
    expect(() => configFromContext(new App({ context: { epoch: '60' } }).node)).toThrow(/^[^\n]+$/);
  });

  test('cdk synth -c epoch=60 prints one paragraph, no stack trace, and fails', () => {
    const cdk = spawnSync(
      join(root, 'node_modules', '.bin', 'cdk'),
      ['synth', '--no-notices', '-c', 'epoch=60', '-o', outdir],
      { cwd: root, env: cliEnv, encoding: 'utf8' },
    );

    expect(cdk.status).not.toBe(0);
    const paragraph = cdk.stderr.split('\n').find((line) => line.startsWith('Invalid configuration'));
    expect(paragraph).toMatch(/^Invalid configuration "epoch": got "60"; .* Did you mean "epochs"\?/);
    expect(paragraph).toContain('cdk --debug shows where it was raised');
    expect(cdk.stderr).not.toMatch(/^\s+at /m);
    expect(cdk.stderr).not.toContain('ConfigError');
  });

  test('with CDK_DEBUG=true, which cdk --debug sets, the error is thrown with its stack trace', () => {
    const app = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
      cwd: root,
      env: {
        ...cliEnv,
        CDK_DEBUG: 'true',
        CDK_CONTEXT_JSON: JSON.stringify({ epoch: '60' }),
        CDK_OUTDIR: outdir,
      },
      encoding: 'utf8',
    });

    expect(app.status).not.toBe(0);
    expect(app.stderr).toContain('ConfigError: Invalid configuration "epoch"');
    expect(app.stderr).toMatch(/^\s+at configFromContext /m);
  });
});
