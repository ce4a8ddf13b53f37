import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
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
    deployedAt: typeof record.deployedAt === 'string' ? record.deployedAt : null,
  };
}
