import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { defaultMinScoreOf, FALLBACK_MIN_SCORE } from '../../contracts';
import { ApiError } from './responses';

/** What `GET /model` answers about the live model (the record's endpoint name stays internal). */
export interface ModelInfo {
  /** Model version: the name of the training job that produced it. */
  readonly version: string;
  /** Validation mAP (VOC07, IoU 0.5) the quality gate measured, 0 to 1. */
  readonly map: number | null;
  /** Which export serves: `int8` or `fp32`; null when the record does not say (models deployed before int8). */
  readonly variant: 'int8' | 'fp32' | null;
  /** Validation mAP of the int8 variant, 0 to 1, or null when none was made or the record does not say. */
  readonly mapInt8: number | null;
  /** Average precision per class, 0 to 1. */
  readonly apPerClass: Record<string, number>;
  /**
   * The calibrated score threshold, 0 to 1 (the score that maximizes F1 on the validation split), or null when the
   * record has none. `POST /detections` uses it when a request sends no `minScore` (unless configured otherwise).
   */
  readonly threshold: number | null;
  /** S3 URI of the model's evaluation report (`report.html`), or null when the record has none. */
  readonly reportUri: string | null;
  /** ISO-8601 time the model went live, or null if unknown. */
  readonly deployedAt: string | null;
}

/**
 * Reads the live-model SSM parameter (JSON written by the pipeline, see contracts/live-model.ts).
 * Throws a 404 `NoModelDeployed` {@link ApiError} before the first deployment, and a 500 for an unreadable
 * record or SSM failure (logged with the cause).
 */
export async function readLiveModel(client: SSMClient, parameterName: string): Promise<ModelInfo> {
  let value: string | undefined;
  try {
    const { Parameter } = await client.send(new GetParameterCommand({ Name: parameterName }));
    value = Parameter?.Value;
  } catch (error) {
    const throttled = error instanceof Error && error.name === 'ThrottlingException';
    throw throttled
      ? new ApiError(
          503,
          'ServiceUnavailable',
          'Too many requests for the model record. Retry shortly.',
          { 'Retry-After': '1' },
          error,
        )
      : new ApiError(500, 'InternalError', 'Internal error.', {}, error);
  }
  let record: {
    version?: unknown;
    map?: unknown;
    variant?: unknown;
    mapInt8?: unknown;
    apPerClass?: unknown;
    threshold?: unknown;
    reportUri?: unknown;
    deployedAt?: unknown;
  };
  try {
    record = JSON.parse(value ?? '') as typeof record;
  } catch (error) {
    throw new ApiError(500, 'InternalError', 'Internal error.', {}, error);
  }
  if (record === null || typeof record !== 'object') {
    throw new ApiError(
      500,
      'InternalError',
      'Internal error.',
      {},
      `live-model record is not an object: ${value}`,
    );
  }
  if (record.version === null || record.version === undefined) {
    throw new ApiError(
      404,
      'NoModelDeployed',
      'No model is deployed yet: the pipeline has not finished its first deployment.',
    );
  }
  if (typeof record.version !== 'string') {
    throw new ApiError(
      500,
      'InternalError',
      'Internal error.',
      {},
      `live-model version is not a string: ${value}`,
    );
  }
  const apPerClass =
    typeof record.apPerClass === 'object' && record.apPerClass !== null
      ? Object.fromEntries(Object.entries(record.apPerClass).filter(([, ap]) => typeof ap === 'number'))
      : {};
  return {
    version: record.version,
    map: typeof record.map === 'number' ? record.map : null,
    variant: record.variant === 'int8' || record.variant === 'fp32' ? record.variant : null,
    mapInt8: typeof record.mapInt8 === 'number' ? record.mapInt8 : null,
    apPerClass,
    threshold:
      typeof record.threshold === 'number' && record.threshold >= 0 && record.threshold <= 1
        ? record.threshold
        : null,
    reportUri: typeof record.reportUri === 'string' ? record.reportUri : null,
    deployedAt: typeof record.deployedAt === 'string' ? record.deployedAt : null,
  };
}

export { FALLBACK_MIN_SCORE };

/** How long the live model's threshold is reused before the record is read again, in milliseconds. */
export const THRESHOLD_CACHE_MS = 60_000;

/** Where a request's default `minScore` came from. */
export type MinScoreSource = 'calibrated' | 'fallback';

let cachedThreshold: { minScore: number; source: MinScoreSource; until: number } | undefined;

/** Forgets the cached threshold (for tests). */
export function clearThresholdCache(): void {
  cachedThreshold = undefined;
}

/**
 * The `minScore` for a request that sends none and a deployment that configures none: the live model's calibrated
 * threshold, or {@link FALLBACK_MIN_SCORE} when the record has none (no model yet, a model without an evaluation
 * report) or cannot be read (the detection goes on; `onError` hears why). Read at most once per
 * {@link THRESHOLD_CACHE_MS}, so a new model's threshold applies within a minute of its deployment.
 */
export async function calibratedMinScore(
  client: SSMClient,
  parameterName: string,
  onError: (error: unknown) => void,
  now: number = Date.now(),
): Promise<{ minScore: number; source: MinScoreSource }> {
  if (cachedThreshold && now < cachedThreshold.until) {
    return { minScore: cachedThreshold.minScore, source: cachedThreshold.source };
  }
  let threshold: number | null = null;
  try {
    threshold = (await readLiveModel(client, parameterName)).threshold;
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 'NoModelDeployed')) onError(error);
  }
  const found = {
    minScore: defaultMinScoreOf({ threshold: threshold ?? undefined }),
    source: threshold === null ? ('fallback' as const) : ('calibrated' as const),
  };
  cachedThreshold = { ...found, until: now + THRESHOLD_CACHE_MS };
  return found;
}
