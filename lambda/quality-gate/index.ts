import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { LiveModel } from '../../contracts';
import { isNotFound } from '../shared/aws';
import { BEST_MAP_METRIC, QualityGateEvent, QualityGateResult } from '../../contracts';

const ssm = new SSMClient({});

const fmt = (n: number): string => n.toFixed(2);

/**
 * The gate's rule: accept iff the new model's best validation mAP reaches `minMap` and, when a model is live,
 * is no more than `tolerance` below the live model's mAP. `liveMap` null means nothing is deployed yet.
 */
export function decide(event: QualityGateEvent, liveMap: number | null): QualityGateResult {
  const metric = event.finalMetrics.find((m) => m.MetricName === BEST_MAP_METRIC);
  if (!metric || !Number.isFinite(metric.Value)) {
    return {
      accept: false,
      map: 0,
      liveMap,
      reason:
        `The training job reported no ${BEST_MAP_METRIC} metric, so its quality is unknown; ` +
        'check the training job log for an error before the final validation.',
    };
  }
  const map = metric.Value;
  if (map < event.minMap) {
    return {
      accept: false,
      map,
      liveMap,
      reason: `mAP ${fmt(map)} is below the minimum ${fmt(event.minMap)}; label more images or train longer.`,
    };
  }
  if (liveMap !== null && map < liveMap - event.tolerance) {
    return {
      accept: false,
      map,
      liveMap,
      reason:
        `mAP ${fmt(map)} is more than ${fmt(event.tolerance)} below the live model's ${fmt(liveMap)}; ` +
        'the live model keeps serving.',
    };
  }
  return {
    accept: true,
    map,
    liveMap,
    reason:
      liveMap === null
        ? `mAP ${fmt(map)} reaches the minimum ${fmt(event.minMap)} and no model is live yet.`
        : `mAP ${fmt(map)} reaches the minimum ${fmt(event.minMap)} and is within ${fmt(event.tolerance)} ` +
          `of (or above) the live model's ${fmt(liveMap)}.`,
  };
}

/** The live model's mAP from the live-model record (SSM parameter named by `LIVE_MODEL_PARAMETER`). */
export async function readLiveMap(parameterName: string): Promise<number | null> {
  let value: string | undefined;
  try {
    value = (await ssm.send(new GetParameterCommand({ Name: parameterName }))).Parameter?.Value;
  } catch (error) {
    if (isNotFound(error) || (error as Error).name === 'ParameterNotFound') return null;
    throw error;
  }
  const record = JSON.parse(value ?? '{}') as LiveModel;
  return record.version !== null && typeof record.map === 'number' ? record.map : null;
}

/**
 * Decides whether a newly trained model may replace the live one.
 * Environment: `LIVE_MODEL_PARAMETER`, the name of the live-model SSM parameter.
 */
export async function handler(event: QualityGateEvent): Promise<QualityGateResult> {
  const parameterName = process.env.LIVE_MODEL_PARAMETER;
  if (!parameterName)
    throw new Error('LIVE_MODEL_PARAMETER is not set: the name of the live-model SSM parameter');
  return decide(event, await readLiveMap(parameterName));
}
