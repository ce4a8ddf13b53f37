import { Node } from 'constructs';
import {
  CostBasis,
  DEFAULT_PRICES,
  DEFAULT_SERVERLESS_USAGE,
  PriceTable,
  ServerlessUsage,
} from '../contracts';
import { SUPPORTED_TRAINING_FAMILIES, trainingInstanceProblem } from './training-gpus';

/** How images get their bounding boxes. */
export type LabelingMode = 'groundtruth' | 'import';

/** How clients authenticate to the detection API. */
export type ApiAuthMode = 'iam' | 'apiKey';

/** How the endpoint runs: instances that run all the time, or SageMaker Serverless Inference (scales to zero). */
export type EndpointMode = 'realtime' | 'serverless';

/** What the pipeline's execution logs hold: failures only, or every state with its data. */
export type ExecutionLogLevel = 'ERROR' | 'ALL';

/**
 * Raised when a configuration value is not allowed. The message is one paragraph that names the key, the value,
 * what is allowed and how to fix it.
 */
export class ConfigError extends Error {
  /**
   * @param key - the context key
   * @param value - the value as set (or as read, when a rule concerns the typed value)
   * @param allowed - what is allowed, e.g. "an integer from 1 to 1000"
   * @param fix - how to fix it; by default, how to set the key in cdk.json or with -c
   */
  constructor(
    public readonly key: string,
    value: unknown,
    allowed: string,
    fix = `Set it under "context" in cdk.json or pass -c ${key}=<value>.`,
  ) {
    super(`Invalid configuration "${key}": got ${JSON.stringify(value)}; expected ${allowed}. ${fix}`);
    this.name = 'ConfigError';
  }
}

/** The values of the keys read so far, by context key: what a later key's default or rule may depend on. */
type Earlier = Readonly<Record<string, unknown>>;

/**
 * One configuration key: its README row and how its raw context value becomes a typed one. Built by the
 * helpers below ({@link integer}, {@link text}, ...) and listed once, in {@link SETTINGS}.
 */
export interface Setting<T> {
  /** The context key: `-c key=value`, or `context.key` in cdk.json. */
  readonly key: string;
  /** What it sets, for the README. */
  readonly description: string;
  /** The default as a user would write it, for the README. */
  readonly defaultText: string;
  /**
   * The typed value, or the default when the key is unset.
   * @param raw - the context value: a string from `-c`, any JSON value from cdk.json, undefined when unset
   * @throws ConfigError naming the key, the value and what is allowed
   */
  readonly read: (raw: unknown, earlier: Earlier) => T;
}

/** What a rule found wrong: what is expected, and the value to report (the value read unless given). */
interface Problem {
  readonly expected: string;
  readonly value?: unknown;
}

/** What every helper takes: the README text and the key's own rule beyond its type and range. */
interface SettingOptions<T> {
  readonly description: string;
  /** @default - the default value, written as in cdk.json */
  readonly defaultText?: string;
  /** Answers what is wrong with a value of the right type, or undefined when it is allowed. */
  readonly check?: (value: T, raw: unknown, earlier: Earlier) => Problem | undefined;
}

function setting<T>(
  key: string,
  options: SettingOptions<T>,
  defaultText: string,
  parse: (raw: unknown, earlier: Earlier) => T,
): Setting<T> {
  return {
    key,
    description: options.description,
    defaultText: options.defaultText ?? defaultText,
    read: (raw, earlier) => {
      const value = parse(raw, earlier);
      const problem = options.check?.(value, raw, earlier);
      if (problem) throw new ConfigError(key, 'value' in problem ? problem.value : value, problem.expected);
      return value;
    },
  };
}

/** An unset key: absent, or `-c key=` with nothing after the `=`. */
const unset = (raw: unknown) => raw === undefined || raw === '';

/** A default that depends on an earlier key must say in words what it is. */
type NumberDefault =
  | { readonly default: number; readonly defaultText?: string }
  | { readonly default: (earlier: Earlier) => number; readonly defaultText: string };

type NumberOptions = SettingOptions<number> & NumberDefault & { readonly min: number; readonly max: number };

function numeric(key: string, options: NumberOptions, integer: boolean): Setting<number> {
  const fallback = options.default;
  return setting(key, options, String(fallback), (raw, earlier) => {
    if (unset(raw)) return typeof fallback === 'number' ? fallback : fallback(earlier);
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
    const { min, max } = options;
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new ConfigError(key, raw, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return value;
  });
}

/** A whole number from `min` to `max`. */
function integer(key: string, options: NumberOptions): Setting<number> {
  return numeric(key, options, true);
}

/** A number from `min` to `max`. */
function decimal(key: string, options: NumberOptions): Setting<number> {
  return numeric(key, options, false);
}

/** A number from `min` to `max`, or undefined when unset (`defaultText` says what happens then). */
function optionalDecimal(
  key: string,
  options: SettingOptions<number> & {
    readonly defaultText: string;
    readonly min: number;
    readonly max: number;
  },
): Setting<number | undefined> {
  const set = numeric(key, { ...options, default: 0 }, false);
  return { ...set, read: (raw, earlier) => (unset(raw) ? undefined : set.read(raw, earlier)) };
}

/** `true` or `false` (the strings too, as `-c` gives them). */
function flag(
  key: string,
  options: SettingOptions<boolean> & { readonly default: boolean },
): Setting<boolean> {
  return setting(key, options, String(options.default), (raw) => {
    if (unset(raw)) return options.default;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new ConfigError(key, raw, 'true or false');
  });
}

function trimmedString(key: string, raw: unknown): string | undefined {
  if (unset(raw)) return undefined;
  if (typeof raw !== 'string') throw new ConfigError(key, raw, 'a string');
  return raw.trim();
}

/** A string, trimmed. */
function text(key: string, options: SettingOptions<string> & { readonly default: string }): Setting<string> {
  return setting(key, options, options.default, (raw) => trimmedString(key, raw) ?? options.default);
}

/** A string, trimmed, or undefined when unset (the rule only sees a set value). */
function optionalText(
  key: string,
  options: Omit<SettingOptions<string>, 'defaultText'> & { readonly defaultText: string },
): Setting<string | undefined> {
  const { check } = options;
  return setting<string | undefined>(
    key,
    {
      ...options,
      check:
        check && ((value, raw, earlier) => (value === undefined ? undefined : check(value, raw, earlier))),
    },
    options.defaultText,
    (raw) => trimmedString(key, raw),
  );
}

/** One of a few strings. */
function oneOf<const T extends string>(
  key: string,
  options: SettingOptions<T> & { readonly default: T; readonly allowed: readonly T[] },
): Setting<T> {
  return setting(key, options, options.default, (raw) => {
    const value = trimmedString(key, raw) ?? options.default;
    if (!options.allowed.includes(value as T)) {
      throw new ConfigError(key, value, `one of ${options.allowed.join(', ')}`);
    }
    return value as T;
  });
}

/** A list of strings: a JSON array, or (from `-c`) a JSON array or comma-separated text; `''` is empty. */
function stringList(
  key: string,
  options: SettingOptions<string[]> & { readonly default: string[] },
): Setting<string[]> {
  const expected = 'a JSON array of strings or a comma-separated list';
  return setting(key, options, JSON.stringify(options.default), (raw) => {
    if (raw === undefined) return options.default;
    let value: unknown = raw;
    if (typeof raw === 'string') {
      const listed = raw.trim();
      if (listed.startsWith('[')) {
        try {
          value = JSON.parse(listed);
        } catch {
          throw new ConfigError(key, raw, expected);
        }
      } else {
        value = listed === '' ? [] : listed.split(',').map((s) => s.trim());
      }
    }
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new ConfigError(key, raw, expected);
    }
    return value;
  });
}

/**
 * The price table and the serverless usage assumed ({@link CostBasis}), with the fields of a JSON object merged over
 * {@link DEFAULT_PRICES} and {@link DEFAULT_SERVERLESS_USAGE}: any field of either (flat), the instance-hour maps
 * merged entry by entry. `{}` or unset keeps the table.
 */
function costBasis(key: string, options: SettingOptions<CostBasis>): Setting<CostBasis> {
  const expected =
    'a JSON object of fields of the price table (contracts/prices.ts) or of the serverless usage assumed, e.g. ' +
    '{"inferenceInstanceHour": {"ml.m5.xlarge": 0.25}, "requestsPerMonth": 30000}';
  const texts = ['region', 'date', 'source'];
  const maps = ['trainingInstanceHour', 'inferenceInstanceHour'];
  const usageFields = Object.keys(DEFAULT_SERVERLESS_USAGE);
  const numbers = Object.keys(DEFAULT_PRICES).filter((f) => !texts.includes(f) && !maps.includes(f));
  return setting(key, options, '(the table in contracts/prices.ts)', (raw) => {
    if (unset(raw)) return { prices: DEFAULT_PRICES, serverlessUsage: DEFAULT_SERVERLESS_USAGE };
    let value: unknown = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new ConfigError(key, raw, expected);
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ConfigError(key, raw, expected);
    const price = (field: string, v: unknown) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new ConfigError(key, raw, `a number of US dollars, 0 or more, for ${field}`);
      }
      return v;
    };
    const prices: Record<string, unknown> = { ...DEFAULT_PRICES };
    const usage: Record<string, unknown> = { ...DEFAULT_SERVERLESS_USAGE };
    for (const [field, v] of Object.entries(value)) {
      if (texts.includes(field)) {
        if (typeof v !== 'string') throw new ConfigError(key, raw, `a string for ${field}`);
        prices[field] = v;
      } else if (maps.includes(field)) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          throw new ConfigError(key, raw, `an object of instance type to hourly price for ${field}`);
        }
        const entries = Object.entries(v as Record<string, unknown>).map(([type, p]) => {
          if (!INSTANCE_TYPE.test(type))
            throw new ConfigError(key, raw, `instance types such as ml.m5.xlarge in ${field}`);
          return [type, price(`${field}.${type}`, p)];
        });
        prices[field] = { ...(prices[field] as object), ...Object.fromEntries(entries) };
      } else if (numbers.includes(field)) {
        prices[field] = price(field, v);
      } else if (usageFields.includes(field)) {
        const n = price(field, v);
        if (field === 'requestsPerMonth' && n === 0)
          throw new ConfigError(key, raw, 'requestsPerMonth above 0');
        usage[field] = n;
      } else {
        throw new ConfigError(
          key,
          raw,
          `fields among ${[...texts, ...maps, ...numbers, ...usageFields].join(', ')} (got "${field}")`,
        );
      }
    }
    return { prices: prices as unknown as PriceTable, serverlessUsage: usage as unknown as ServerlessUsage };
  });
}

const INSTANCE_TYPE = /^ml\.([a-z0-9]+)\.([a-z0-9]+)$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const CLASS_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
const WORKTEAM_ARN =
  /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam\/private-crowd\/[A-Za-z0-9-]{1,63}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const SCHEDULE = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^)]+\))$/;
const MAX_JOB_SECONDS = 28 * 24 * 3600;

/** ProductionVariantServerlessConfig's MemorySizeInMB: 1024 to 6144, in whole gigabytes. */
export const SERVERLESS_MEMORY_MB = { min: 1024, max: 6144 } as const;

/** ProductionVariantServerlessConfig's MaxConcurrency and ProvisionedConcurrency: at most 200. */
export const SERVERLESS_MAX_CONCURRENCY = 200;

/**
 * Every configuration key, once: where its value goes in {@link AppConfig}, its type, default, rules and README
 * row. The README's configuration table is {@link configurationTable}'s output, in this order.
 */
export const SETTINGS = {
  classes: stringList('classes', {
    default: ['logo'],
    description: 'Class names to detect, in class-id order (JSON array or comma-separated).',
    check: (classes, raw) => {
      if (classes.length === 0 || classes.length > 100 || !classes.every((c) => CLASS_NAME.test(c))) {
        return {
          value: raw,
          expected:
            '1 to 100 class names of letters, digits, space, "_", "." or "-", starting with a letter or digit',
        };
      }
      if (new Set(classes).size !== classes.length) {
        return { value: raw, expected: 'class names without duplicates' };
      }
      return undefined;
    },
  }),
  training: {
    instanceType: text('trainingInstanceType', {
      default: 'ml.g4dn.xlarge',
      description:
        `GPU instance type for training: families ${SUPPORTED_TRAINING_FAMILIES.map((f) => `ml.${f.family}`).join(', ')} ` +
        '(see [Training GPUs](#training-gpus) for why not ml.p3 or ml.p5).',
      check: (instanceType) => {
        const problem = trainingInstanceProblem(instanceType);
        return problem === undefined ? undefined : { expected: problem };
      },
    }),
    useSpot: flag('trainingUseSpot', {
      default: true,
      description: 'Managed spot training with checkpoints to S3.',
    }),
    maxRuntimeSeconds: integer('trainingMaxRuntimeSeconds', {
      default: 14400,
      min: 600,
      max: MAX_JOB_SECONDS,
      description: 'Stopping condition: longest training run, in seconds.',
    }),
    maxWaitSeconds: integer('trainingMaxWaitSeconds', {
      default: (earlier) => 2 * (earlier.trainingMaxRuntimeSeconds as number),
      defaultText: 'twice `trainingMaxRuntimeSeconds` (28800)',
      min: 600,
      max: MAX_JOB_SECONDS,
      description: 'With spot: longest wait for capacity plus run, in seconds (at least the max runtime).',
      check: (maxWait, _raw, earlier) => {
        const maxRuntime = earlier.trainingMaxRuntimeSeconds as number;
        if (!earlier.trainingUseSpot || maxWait >= maxRuntime) return undefined;
        return {
          expected: `at least trainingMaxRuntimeSeconds (${maxRuntime}) when trainingUseSpot is true`,
        };
      },
    }),
    epochs: integer('epochs', { default: 40, min: 1, max: 1000, description: 'Training epochs.' }),
    batchSize: integer('batchSize', { default: 16, min: 1, max: 256, description: 'Training batch size.' }),
    learningRate: decimal('learningRate', {
      default: 0.001,
      min: 1e-6,
      max: 1,
      description: 'SGD learning rate.',
    }),
    int8Tolerance: decimal('int8Tolerance', {
      default: 0.01,
      min: 0,
      max: 1,
      description:
        "Serve the int8 model when its validation mAP, and its F1 at its calibrated threshold, are each at most this much below fp32's (0 to 1: 0.01 is one point), else fp32.",
    }),
    dataShape: integer('dataShape', {
      default: 512,
      min: 128,
      max: 1024,
      description: 'Square input size of the SSD model, in pixels (multiple of 32).',
      check: (shape, raw) =>
        shape % 32 === 0 ? undefined : { value: raw, expected: 'a multiple of 32 from 128 to 1024' },
    }),
  },
  endpoint: {
    mode: oneOf<EndpointMode>('endpointMode', {
      default: 'realtime',
      allowed: ['realtime', 'serverless'],
      description:
        '`realtime`: instances that run (and bill) all the time; `serverless`: SageMaker Serverless Inference, ' +
        'billed per request, with cold starts, CPU only and no network isolation (see ' +
        '[Endpoint modes](#endpoint-modes)).',
    }),
    instanceType: text('endpointInstanceType', {
      default: 'ml.m5.xlarge',
      description: 'With `realtime`: instance type of the inference endpoint.',
      check: (instanceType) =>
        INSTANCE_TYPE.test(instanceType)
          ? undefined
          : { expected: 'a SageMaker instance type such as ml.m5.xlarge' },
    }),
    instanceCount: integer('endpointInstanceCount', {
      default: 1,
      min: 1,
      max: 10,
      description: 'With `realtime`: instances behind the endpoint.',
    }),
    serverlessMemorySizeInMB: integer('serverlessMemorySizeInMB', {
      default: 4096,
      min: SERVERLESS_MEMORY_MB.min,
      max: SERVERLESS_MEMORY_MB.max,
      description:
        'With `serverless`: memory of each serverless instance, in MB (1024 to 6144 in steps of 1024); ' +
        'SageMaker gives CPU in proportion.',
      check: (memory, raw) =>
        memory % 1024 === 0
          ? undefined
          : { value: raw, expected: '1024, 2048, 3072, 4096, 5120 or 6144 (whole gigabytes)' },
    }),
    serverlessMaxConcurrency: integer('serverlessMaxConcurrency', {
      default: 5,
      min: 1,
      max: SERVERLESS_MAX_CONCURRENCY,
      description:
        'With `serverless`: most requests served at once; more are throttled (the API answers 503). ' +
        'The account has a per-Region total across serverless endpoints.',
    }),
    serverlessProvisionedConcurrency: integer('serverlessProvisionedConcurrency', {
      default: 0,
      min: 0,
      max: SERVERLESS_MAX_CONCURRENCY,
      description:
        'With `serverless`: instances kept warm (no cold start for that many concurrent requests) and billed ' +
        'all the time; 0 for none. At most `serverlessMaxConcurrency`.',
      check: (provisioned, _raw, earlier) => {
        const max = earlier.serverlessMaxConcurrency as number;
        return provisioned <= max ? undefined : { expected: `at most serverlessMaxConcurrency (${max})` };
      },
    }),
  },
  detect: {
    instanceType: text('detectInstanceType', {
      default: 'ml.m5.xlarge',
      description: 'Instance type of the batch detection (Batch Transform) job `npm run detect` starts.',
      check: (instanceType) =>
        INSTANCE_TYPE.test(instanceType)
          ? undefined
          : { expected: 'a SageMaker instance type such as ml.m5.xlarge' },
    }),
    inputBuckets: stringList('detectInputBuckets', {
      default: [],
      defaultText: '[] (the raw bucket)',
      description:
        'Buckets `npm run detect` may read images from (JSON array or comma-separated); the batch job and its steps get read access to these only.',
      check: (buckets) => {
        const bad = buckets.find((bucket) => !BUCKET_NAME.test(bucket));
        return bad === undefined
          ? undefined
          : { value: bad, expected: 'S3 bucket names (3 to 63 lowercase letters, digits, "." or "-")' };
      },
    }),
  },
  labeling: {
    workteamArn: optionalText('workteamArn', {
      defaultText: '(none: import mode)',
      description:
        'Private Ground Truth workteam ARN; when set, labeling runs in `groundtruth` mode, otherwise `import`.',
      check: (arn) =>
        WORKTEAM_ARN.test(arn)
          ? undefined
          : {
              expected:
                'the ARN of a private workteam, arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name> ' +
                '(the public Mechanical Turk workforce has closed); leave it unset to import labels instead',
            },
    }),
  },
  qualityGate: {
    minMap: decimal('minMap', {
      default: 0.5,
      min: 0,
      max: 1,
      description: 'Quality gate: lowest validation mAP to deploy (0 to 1).',
    }),
    tolerance: decimal('mapTolerance', {
      default: 0.02,
      min: 0,
      max: 1,
      description:
        'Quality gate: how far below the live model a new model may score and still deploy (0 to 1).',
    }),
  },
  api: {
    auth: oneOf<ApiAuthMode>('apiAuth', {
      default: 'iam',
      allowed: ['iam', 'apiKey'],
      description: 'API authentication: `iam` (SigV4) or `apiKey` (API key with usage plan).',
    }),
    throttleRate: decimal('apiThrottleRate', {
      default: 10,
      min: 1,
      max: 10000,
      description: 'Stage throttling: requests per second.',
    }),
    throttleBurst: integer('apiThrottleBurst', {
      default: 20,
      min: 1,
      max: 5000,
      description: 'Stage throttling: burst.',
    }),
    quotaPerDay: integer('apiQuotaPerDay', {
      default: 10000,
      min: 1,
      max: 100_000_000,
      description: 'With `apiKey`: requests per key per day.',
    }),
    corsOrigins: stringList('apiCorsOrigins', {
      default: [],
      description: 'Origins allowed by CORS (JSON array or comma-separated); empty turns CORS off.',
      check: (origins) => {
        const bad = origins.find((origin) => !/^https?:\/\/[^/\s]+$/.test(origin));
        if (bad === undefined) return undefined;
        return { value: bad, expected: 'origins such as https://app.example.com (scheme and host, no path)' };
      },
    }),
    defaultMinScore: optionalDecimal('apiDefaultMinScore', {
      defaultText: "(none: the live model's calibrated threshold, else 0.5)",
      min: 0,
      max: 1,
      description:
        "`minScore` for requests that send none (0 to 1). Unset, the API uses the live model's calibrated threshold " +
        '(the score that maximizes F1 on the validation split), or 0.5 when the live model has none recorded.',
    }),
  },
  preprocess: {
    maxSide: integer('preprocessMaxSide', {
      default: 1024,
      min: 64,
      max: 8192,
      description: 'Longest side of preprocessed images, in pixels; smaller images are not enlarged.',
    }),
    maxConcurrency: integer('preprocessMaxConcurrency', {
      default: 20,
      min: 1,
      max: 1000,
      description: 'Preprocessing: Lambda batches running at once.',
    }),
    batchSize: integer('preprocessBatchSize', {
      default: 25,
      min: 1,
      max: 1000,
      description: 'Preprocessing: images per Lambda invocation.',
    }),
    toleratedFailurePercentage: decimal('preprocessToleratedFailurePercentage', {
      default: 5,
      min: 0,
      max: 100,
      description:
        'Preprocessing: percentage of raw files that may fail with an error (not files refused for their key, size or format) before the run fails.',
    }),
  },
  cost: costBasis('prices', {
    description:
      "Prices each run's cost notification and the README's monthly figures use: a JSON object overriding fields " +
      'of the us-east-1 price table in contracts/prices.ts (and the serverless traffic assumed), e.g. ' +
      '`{"region": "eu-west-1", "inferenceInstanceHour": {"ml.m5.xlarge": 0.26}, "requestsPerMonth": 30000}`.',
  }),
  notificationEmail: optionalText('notificationEmail', {
    defaultText: '(none)',
    description: 'E-mail address subscribed to pipeline notifications (confirm the subscription e-mail).',
    check: (email) => (EMAIL.test(email) ? undefined : { expected: 'an e-mail address' }),
  }),
  schedule: optionalText('schedule', {
    defaultText: '(none: start by hand)',
    description: 'EventBridge schedule that starts the pipeline, e.g. `rate(1 day)`.',
    check: (schedule) =>
      SCHEDULE.test(schedule)
        ? undefined
        : { expected: 'an EventBridge schedule such as rate(1 day) or cron(0 3 * * ? *)' },
  }),
  executionLogLevel: oneOf<ExecutionLogLevel>('executionLogLevel', {
    default: 'ERROR',
    allowed: ['ERROR', 'ALL'],
    description:
      'Pipeline execution logs: `ERROR` logs failures only, without state data; `ALL` logs every state with its input and output, task tokens included (for debugging).',
  }),
  dev: flag('dev', {
    default: false,
    description: 'Development mode: buckets and their contents are deleted on `cdk destroy`.',
  }),
} satisfies SettingsTable;

/** A level of {@link SETTINGS}: settings and groups of settings, by field name. */
interface SettingsTable {
  readonly [field: string]: Setting<unknown> | SettingsTable;
}

/** The typed values of a level of {@link SETTINGS}, with the same fields. */
type Loaded<T> = { readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : Loaded<T[K]> };

type Settings = typeof SETTINGS;

/** Training settings: the SageMaker training job's instance, spot and stopping condition, and hyperparameters. */
export type TrainingConfig = Loaded<Settings['training']>;

/** Endpoint settings. */
export type EndpointConfig = Loaded<Settings['endpoint']>;

/** Batch detection settings: the transform job's instance and the buckets it may read. */
export type DetectConfig = Loaded<Settings['detect']>;

/** Labeling settings: the workteam, and the mode it implies. */
export type LabelingConfig = Loaded<Settings['labeling']> & {
  /** `groundtruth` when a private workteam is configured, `import` otherwise. */
  readonly mode: LabelingMode;
};

/** When a newly trained model may replace the live one. */
export type QualityGateConfig = Loaded<Settings['qualityGate']>;

/** Detection API settings. */
export type ApiConfig = Loaded<Settings['api']>;

/** Preprocessing settings. */
export type PreprocessConfig = Loaded<Settings['preprocess']>;

/** The whole app's configuration, validated: {@link SETTINGS}' values, field for field. */
export interface AppConfig extends Omit<Loaded<Settings>, 'labeling'> {
  readonly labeling: LabelingConfig;
}

function isSetting(entry: Setting<unknown> | SettingsTable): entry is Setting<unknown> {
  return typeof entry.read === 'function';
}

function flatten(table: SettingsTable): Setting<unknown>[] {
  return Object.values(table).flatMap((entry) => (isSetting(entry) ? [entry] : flatten(entry)));
}

/** Every configuration key's setting, in README order. */
export const CONFIG_KEYS: readonly Setting<unknown>[] = flatten(SETTINGS);

const KNOWN = CONFIG_KEYS.map((s) => s.key);

/** The README's configuration table (Markdown), one row per key. */
export function configurationTable(): string {
  return [
    '| key | default | what it sets |',
    '| --- | --- | --- |',
    ...CONFIG_KEYS.map((s) => `| \`${s.key}\` | ${s.defaultText} | ${s.description} |`),
  ].join('\n');
}

/** Reads raw context values by key; `Node.tryGetContext` in the app, a plain object in tests. */
export type ContextReader = (key: string) => unknown;

/**
 * Reads and validates the app's configuration from CDK context, key by key in {@link SETTINGS}' order.
 *
 * Values come from cdk.json's `context` or `-c key=value` (which always arrives as a string).
 * @throws ConfigError naming the first bad key, its value and what is allowed
 */
export function loadConfig(read: ContextReader): AppConfig {
  const earlier: Record<string, unknown> = {};
  const load = (table: SettingsTable): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(table).map(([field, entry]) => {
        if (!isSetting(entry)) return [field, load(entry)];
        earlier[entry.key] = entry.read(read(entry.key), earlier);
        return [field, earlier[entry.key]];
      }),
    );
  const loaded = load(SETTINGS) as Loaded<Settings>;
  const { workteamArn } = loaded.labeling;
  return {
    ...loaded,
    labeling: workteamArn ? { mode: 'groundtruth', workteamArn } : { mode: 'import', workteamArn: undefined },
  };
}

/** Edit distance between two strings: insertions, deletions and substitutions of one character. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * The known key a misspelt one most likely means: the nearest by edit distance (ignoring case), if it is near
 * enough to be a typo (one edit, or up to a third of the key's length), or a known key that contains it
 * (`useSpot` for `trainingUseSpot`). Undefined when none is.
 */
export function nearestKey(key: string): string | undefined {
  const typed = key.toLowerCase();
  const candidates = KNOWN.map((known) => ({ known, distance: editDistance(typed, known.toLowerCase()) }))
    .filter(
      ({ known, distance }) =>
        distance <= Math.max(1, Math.floor(key.length / 3)) ||
        (typed.length >= 4 && known.toLowerCase().includes(typed)),
    )
    .sort((a, b) => a.distance - b.distance);
  return candidates[0]?.known;
}

/**
 * Reads the configuration from a construct's context, rejecting unknown keys that look like ours and
 * suggesting the known key they most likely mean.
 */
export function configFromContext(node: Node): AppConfig {
  const set = node.getAllContext();
  for (const key of Object.keys(set)) {
    // CDK's own keys contain ':' or start with 'aws-cdk'/'@aws-cdk'; ours are plain camelCase words.
    if (/^[a-z][A-Za-z0-9]*$/.test(key) && !KNOWN.includes(key)) {
      const suggestion = nearestKey(key);
      throw new ConfigError(
        key,
        set[key],
        `a known configuration key (${KNOWN.join(', ')})`,
        suggestion
          ? `Did you mean "${suggestion}"? Pass -c ${suggestion}=<value>, or rename it under "context" in cdk.json.`
          : 'Remove it, or rename it to a known key, under "context" in cdk.json or in your -c options.',
      );
    }
  }
  return loadConfig((key) => node.tryGetContext(key));
}
