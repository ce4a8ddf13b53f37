import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../lambda/quality-gate';
import type { QualityGateEvent } from '../../contracts';

const ssm = mockClient(SSMClient);
const PARAMETER = '/logo-detection/live-model';

const event = (map?: number): QualityGateEvent => ({
  finalMetrics: [
    { MetricName: 'train_loss', Value: 0.8 },
    ...(map === undefined ? [] : [{ MetricName: 'best_val_mAP', Value: map }]),
  ],
  minMap: 0.5,
  tolerance: 0.02,
});

function live(record: object): void {
  ssm.on(GetParameterCommand, { Name: PARAMETER }).resolves({ Parameter: { Value: JSON.stringify(record) } });
}

beforeEach(() => {
  ssm.reset();
  process.env.LIVE_MODEL_PARAMETER = PARAMETER;
});

describe('quality-gate', () => {
  test('accepts the first model that reaches the minimum', async () => {
    live({ version: null });
    expect(await handler(event(0.61))).toEqual({
      accept: true,
      map: 0.61,
      liveMap: null,
      reason: 'mAP 0.61 reaches the minimum 0.50 and no model is live yet.',
    });
  });

  test('rejects a model below the minimum', async () => {
    live({ version: null });
    expect(await handler(event(0.41))).toMatchObject({
      accept: false,
      map: 0.41,
      reason: 'mAP 0.41 is below the minimum 0.50; label more images or train longer.',
    });
  });

  test('accepts a model within the tolerance of the live one, rejects one further below', async () => {
    live({ version: 'train-1', map: 0.7, endpointName: 'e' });
    expect(await handler(event(0.69))).toMatchObject({ accept: true, liveMap: 0.7 });
    expect(await handler(event(0.75))).toMatchObject({ accept: true, liveMap: 0.7 });
    expect(await handler(event(0.6))).toEqual({
      accept: false,
      map: 0.6,
      liveMap: 0.7,
      reason: "mAP 0.60 is more than 0.02 below the live model's 0.70; the live model keeps serving.",
    });
  });

  test('rejects when the training job reported no best mAP', async () => {
    live({ version: 'train-1', map: 0.7 });
    const result = await handler(event());
    expect(result).toMatchObject({ accept: false, liveMap: 0.7 });
    expect(result.reason).toMatch(/^The training job reported no best_val_mAP metric/);
  });

  test('treats a missing record as no live model', async () => {
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('gone'), { name: 'ParameterNotFound' }));
    expect(await handler(event(0.55))).toMatchObject({ accept: true, liveMap: null });
  });
});
