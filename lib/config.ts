import { Node } from 'constructs';

/** How images get their bounding boxes. */
export type LabelingMode = 'groundtruth' | 'import';

/** How clients authenticate to the detection API. */
export type ApiAuthMode = 'iam' | 'apiKey';

/** Training settings: where and how long the SageMaker training job runs, and its hyperparameters. */
export interface TrainingConfig {
  /** GPU instance type of the training job. */
  readonly instanceType: string;
  /** Run on managed spot capacity, checkpointing to S3 so an interruption resumes. */
  readonly useSpot: boolean;
  /** Longest the training job may run, in seconds. */
  readonly maxRuntimeSeconds: number;
  /** Longest the job may wait for spot capacity plus run, in seconds (only with spot). */
  readonly maxWaitSeconds: number;
  /** Full passes over the training set. */
  readonly epochs: number;
  /** Images per batch, across all GPUs. */
  readonly batchSize: number;
  /** SGD learning rate. */
  readonly learningRate: number;
  /** Side, in pixels, of the square the model sees. */
  readonly dataShape: number;
}

/** Endpoint settings. */
export interface EndpointConfig {
  readonly instanceType: string;
  readonly instanceCount: number;
}

/** Labeling settings. */
export interface LabelingConfig {
  /** `groundtruth` when a private workteam is configured, `import` otherwise. */
  readonly mode: LabelingMode;
  /** ARN of the private Ground Truth workteam (only in `groundtruth` mode). */
  readonly workteamArn?: string;
}

/** When a newly trained model may replace the live one. */
export interface QualityGateConfig {
  /** Lowest validation mAP (VOC07, IoU 0.5) a model must reach to be deployed. */
  readonly minMap: number;
  /** How much lower than the live model's mAP a new model may score and still be deployed. */
  readonly tolerance: number;
}

/** Detection API settings. */
export interface ApiConfig {
  readonly auth: ApiAuthMode;
  /** Steady-state requests per second across the stage. */
  readonly throttleRate: number;
  /** Burst of requests the stage absorbs above the rate. */
  readonly throttleBurst: number;
  /** Requests per day per API key (only in `apiKey` mode). */
  readonly quotaPerDay: number;
  /** Origins allowed by CORS; empty turns CORS off. */
  readonly corsOrigins: string[];
  /** Score below which detections are dropped when the client does not say. */
  readonly defaultMinScore: number;
}

/** Preprocessing settings. */
export interface PreprocessConfig {
  /** Longest side, in pixels, of a preprocessed image; smaller images are never enlarged. */
  readonly maxSide: number;
  /** Child executions of the Distributed Map running at once. */
  readonly maxConcurrency: number;
  /** Images per Lambda invocation. */
  readonly batchSize: number;
  /** Percentage of preprocessing batches that may fail before the run fails. */
  readonly toleratedFailurePercentage: number;
}

/** The whole app's configuration, validated. */
export interface AppConfig {
  /** Names of the object classes to detect, in class-id order. */
  readonly classes: string[];
  readonly training: TrainingConfig;
  readonly endpoint: EndpointConfig;
  readonly labeling: LabelingConfig;
  readonly qualityGate: QualityGateConfig;
  readonly api: ApiConfig;
  readonly preprocess: PreprocessConfig;
  /** E-mail address subscribed to pipeline notifications. */
  readonly notificationEmail?: string;
  /** EventBridge schedule expression that starts the pipeline. */
  readonly schedule?: string;
  /** Development mode: buckets and their objects are deleted with the stack. */
  readonly dev: boolean;
}

/** Raised when a configuration value is not allowed; the message names the key, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(key: string, value: unknown, allowed: string) {
    super(
      `Invalid configuration "${key}": got ${JSON.stringify(value)}; expected ${allowed}. ` +
        `Set it under "context" in cdk.json or pass -c ${key}=<value>.`,
    );
    this.name = 'ConfigError';
  }
}

type Raw = unknown;

/** One configuration key: its documentation and how its raw context value becomes a typed one. */
export interface ConfigKey {
  readonly key: string;
  readonly description: string;
  /** The default as a user would write it, for the README. */
  readonly defaultText: string;
}

/**
 * Every configuration key, in README order. The README's configuration table is checked against this list.
 */
export const CONFIG_KEYS: ConfigKey[] = [
  {
    key: 'classes',
    description: 'Class names to detect, in class-id order (JSON array or comma-separated).',
    defaultText: '["logo"]',
  },
  {
    key: 'trainingInstanceType',
    description:
      'GPU instance type for training (ml.p3, ml.g4dn, ml.g5, ml.p4d families; ml.p5 is not supported by MXNet 1.9.1).',
    defaultText: 'ml.p3.2xlarge',
  },
  {
    key: 'trainingUseSpot',
    description: 'Managed spot training with checkpoints to S3.',
    defaultText: 'true',
  },
  {
    key: 'trainingMaxRuntimeSeconds',
    description: 'Stopping condition: longest training run, in seconds.',
    defaultText: '14400',
  },
  {
    key: 'trainingMaxWaitSeconds',
    description: 'With spot: longest wait for capacity plus run, in seconds (at least the max runtime).',
    defaultText: '28800',
  },
  { key: 'epochs', description: 'Training epochs.', defaultText: '40' },
  { key: 'batchSize', description: 'Training batch size.', defaultText: '16' },
  { key: 'learningRate', description: 'SGD learning rate.', defaultText: '0.001' },
  {
    key: 'dataShape',
    description: 'Square input size of the SSD model, in pixels (multiple of 32).',
    defaultText: '512',
  },
  {
    key: 'endpointInstanceType',
    description: 'Instance type of the inference endpoint.',
    defaultText: 'ml.m5.xlarge',
  },
  { key: 'endpointInstanceCount', description: 'Instances behind the endpoint.', defaultText: '1' },
  {
    key: 'workteamArn',
    description:
      'Private Ground Truth workteam ARN; when set, labeling runs in `groundtruth` mode, otherwise `import`.',
    defaultText: '(none: import mode)',
  },
  {
    key: 'minMap',
    description: 'Quality gate: lowest validation mAP to deploy (0 to 1).',
    defaultText: '0.5',
  },
  {
    key: 'mapTolerance',
    description:
      'Quality gate: how far below the live model a new model may score and still deploy (0 to 1).',
    defaultText: '0.02',
  },
  {
    key: 'apiAuth',
    description: 'API authentication: `iam` (SigV4) or `apiKey` (API key with usage plan).',
    defaultText: 'iam',
  },
  { key: 'apiThrottleRate', description: 'Stage throttling: requests per second.', defaultText: '10' },
  { key: 'apiThrottleBurst', description: 'Stage throttling: burst.', defaultText: '20' },
  { key: 'apiQuotaPerDay', description: 'With `apiKey`: requests per key per day.', defaultText: '10000' },
  {
    key: 'apiCorsOrigins',
    description: 'Origins allowed by CORS (JSON array or comma-separated); empty turns CORS off.',
    defaultText: '[]',
  },
  {
    key: 'apiDefaultMinScore',
    description: 'Default `minScore` for detections (0 to 1).',
    defaultText: '0.5',
  },
  {
    key: 'preprocessMaxSide',
    description: 'Longest side of preprocessed images, in pixels; smaller images are not enlarged.',
    defaultText: '1024',
  },
  {
    key: 'preprocessMaxConcurrency',
    description: 'Preprocessing: Lambda batches running at once.',
    defaultText: '20',
  },
  {
    key: 'preprocessBatchSize',
    description: 'Preprocessing: images per Lambda invocation.',
    defaultText: '25',
  },
  {
    key: 'preprocessToleratedFailurePercentage',
    description: 'Preprocessing: percentage of failed batches tolerated before the run fails.',
    defaultText: '5',
  },
  {
    key: 'notificationEmail',
    description: 'E-mail address subscribed to pipeline notifications (confirm the subscription e-mail).',
    defaultText: '(none)',
  },
  {
    key: 'schedule',
    description: 'EventBridge schedule that starts the pipeline, e.g. `rate(1 day)`.',
    defaultText: '(none: start by hand)',
  },
  {
    key: 'dev',
    description: 'Development mode: buckets and their contents are deleted on `cdk destroy`.',
    defaultText: 'false',
  },
];

/** Reads raw context values by key; `Node.tryGetContext` in the app, a plain object in tests. */
export type ContextReader = (key: string) => Raw;

const GPU_FAMILIES = ['p3', 'p3dn', 'g4dn', 'g5', 'p4d', 'p4de'];
const INSTANCE_TYPE = /^ml\.([a-z0-9]+)\.([a-z0-9]+)$/;
const CLASS_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
const WORKTEAM_ARN =
  /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam\/private-crowd\/[A-Za-z0-9-]{1,63}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const SCHEDULE = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^)]+\))$/;

/** Context keys known to this app; anything else set with -c is most likely a typo. */
const KNOWN = new Set(CONFIG_KEYS.map((k) => k.key));

/**
 * Reads and validates the app's configuration from CDK context.
 *
 * Values come from cdk.json's `context` or `-c key=value` (which always arrives as a string).
 * Throws {@link ConfigError} naming the key, the bad value and what is allowed.
 */
export function loadConfig(read: ContextReader): AppConfig {
  const num = (key: string, def: number, min: number, max: number, integer: boolean): number => {
    const raw = read(key);
    if (raw === undefined || raw === '') return def;
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
    const what = `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new ConfigError(key, raw, what);
    }
    return value;
  };
  const bool = (key: string, def: boolean): boolean => {
    const raw = read(key);
    if (raw === undefined || raw === '') return def;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new ConfigError(key, raw, 'true or false');
  };
  const str = (key: string): string | undefined => {
    const raw = read(key);
    if (raw === undefined || raw === '') return undefined;
    if (typeof raw !== 'string') throw new ConfigError(key, raw, 'a string');
    return raw.trim();
  };
  const list = (key: string, def: string[]): string[] => {
    const raw = read(key);
    if (raw === undefined) return def;
    let value: unknown = raw;
    if (typeof raw === 'string') {
      const text = raw.trim();
      if (text.startsWith('[')) {
        try {
          value = JSON.parse(text);
        } catch {
          throw new ConfigError(key, raw, 'a JSON array of strings or a comma-separated list');
        }
      } else {
        value = text === '' ? [] : text.split(',').map((s) => s.trim());
      }
    }
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new ConfigError(key, raw, 'a JSON array of strings or a comma-separated list');
    }
    return value;
  };
  const oneOf = <T extends string>(key: string, def: T, allowed: readonly T[]): T => {
    const raw = str(key) ?? def;
    if (!allowed.includes(raw as T)) throw new ConfigError(key, raw, `one of ${allowed.join(', ')}`);
    return raw as T;
  };

  const classes = list('classes', ['logo']);
  if (classes.length === 0 || classes.length > 100 || !classes.every((c) => CLASS_NAME.test(c))) {
    throw new ConfigError(
      'classes',
      read('classes'),
      '1 to 100 class names of letters, digits, space, "_", "." or "-", starting with a letter or digit',
    );
  }
  if (new Set(classes).size !== classes.length) {
    throw new ConfigError('classes', read('classes'), 'class names without duplicates');
  }

  const trainingInstanceType = str('trainingInstanceType') ?? 'ml.p3.2xlarge';
  const family = INSTANCE_TYPE.exec(trainingInstanceType)?.[1];
  if (!family || !GPU_FAMILIES.includes(family)) {
    throw new ConfigError(
      'trainingInstanceType',
      trainingInstanceType,
      `a GPU training instance of the ${GPU_FAMILIES.map((f) => `ml.${f}`).join(', ')} families ` +
        '(MXNet 1.9.1 is built for CUDA 11.2, which does not run on ml.p5 H100)',
    );
  }
  const useSpot = bool('trainingUseSpot', true);
  const maxRuntimeSeconds = num('trainingMaxRuntimeSeconds', 14400, 600, 28 * 24 * 3600, true);
  const maxWaitSeconds = num('trainingMaxWaitSeconds', 2 * maxRuntimeSeconds, 600, 28 * 24 * 3600, true);
  if (useSpot && maxWaitSeconds < maxRuntimeSeconds) {
    throw new ConfigError(
      'trainingMaxWaitSeconds',
      maxWaitSeconds,
      `at least trainingMaxRuntimeSeconds (${maxRuntimeSeconds}) when trainingUseSpot is true`,
    );
  }
  const dataShape = num('dataShape', 512, 128, 1024, true);
  if (dataShape % 32 !== 0)
    throw new ConfigError('dataShape', read('dataShape'), 'a multiple of 32 from 128 to 1024');

  const endpointInstanceType = str('endpointInstanceType') ?? 'ml.m5.xlarge';
  if (!INSTANCE_TYPE.test(endpointInstanceType)) {
    throw new ConfigError(
      'endpointInstanceType',
      endpointInstanceType,
      'a SageMaker instance type such as ml.m5.xlarge',
    );
  }

  const workteamArn = str('workteamArn');
  if (workteamArn !== undefined && !WORKTEAM_ARN.test(workteamArn)) {
    throw new ConfigError(
      'workteamArn',
      workteamArn,
      'the ARN of a private workteam, arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name> ' +
        '(the public Mechanical Turk workforce has closed); leave it unset to import labels instead',
    );
  }

  const corsOrigins = list('apiCorsOrigins', []);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        'apiCorsOrigins',
        origin,
        'origins such as https://app.example.com (scheme and host, no path)',
      );
    }
  }

  const notificationEmail = str('notificationEmail');
  if (notificationEmail !== undefined && !EMAIL.test(notificationEmail)) {
    throw new ConfigError('notificationEmail', notificationEmail, 'an e-mail address');
  }
  const schedule = str('schedule');
  if (schedule !== undefined && !SCHEDULE.test(schedule)) {
    throw new ConfigError(
      'schedule',
      schedule,
      'an EventBridge schedule such as rate(1 day) or cron(0 3 * * ? *)',
    );
  }

  return {
    classes,
    training: {
      instanceType: trainingInstanceType,
      useSpot,
      maxRuntimeSeconds,
      maxWaitSeconds,
      epochs: num('epochs', 40, 1, 1000, true),
      batchSize: num('batchSize', 16, 1, 256, true),
      learningRate: num('learningRate', 0.001, 1e-6, 1, false),
      dataShape,
    },
    endpoint: {
      instanceType: endpointInstanceType,
      instanceCount: num('endpointInstanceCount', 1, 1, 10, true),
    },
    labeling: workteamArn ? { mode: 'groundtruth', workteamArn } : { mode: 'import' },
    qualityGate: {
      minMap: num('minMap', 0.5, 0, 1, false),
      tolerance: num('mapTolerance', 0.02, 0, 1, false),
    },
    api: {
      auth: oneOf<ApiAuthMode>('apiAuth', 'iam', ['iam', 'apiKey']),
      throttleRate: num('apiThrottleRate', 10, 1, 10000, false),
      throttleBurst: num('apiThrottleBurst', 20, 1, 5000, true),
      quotaPerDay: num('apiQuotaPerDay', 10000, 1, 100_000_000, true),
      corsOrigins,
      defaultMinScore: num('apiDefaultMinScore', 0.5, 0, 1, false),
    },
    preprocess: {
      maxSide: num('preprocessMaxSide', 1024, 64, 8192, true),
      maxConcurrency: num('preprocessMaxConcurrency', 20, 1, 1000, true),
      batchSize: num('preprocessBatchSize', 25, 1, 1000, true),
      toleratedFailurePercentage: num('preprocessToleratedFailurePercentage', 5, 0, 100, false),
    },
    notificationEmail,
    schedule,
    dev: bool('dev', false),
  };
}

/**
 * Reads the configuration from a construct's context, rejecting unknown keys that look like ours.
 */
export function configFromContext(node: Node, extraKeys: readonly string[] = []): AppConfig {
  const set = node.getAllContext();
  for (const key of Object.keys(set)) {
    // CDK's own keys contain ':' or start with 'aws-cdk'/'@aws-cdk'; ours are plain camelCase words.
    if (/^[a-z][A-Za-z0-9]*$/.test(key) && !KNOWN.has(key) && !extraKeys.includes(key)) {
      throw new ConfigError(key, set[key], `a known configuration key (${[...KNOWN].join(', ')})`);
    }
  }
  return loadConfig((key) => node.tryGetContext(key));
}
