import { JsonPath } from 'aws-cdk-lib/aws-stepfunctions';
import { AssembleDatasetEvent } from '../contracts';
import { handlerEvent } from '../lib/handler-event';

// The compile-time half of these tests runs in `npm run typecheck`: each @ts-expect-error line must stay an error,
// or tsc fails ("Unused '@ts-expect-error' directive").
const complete = {
  rawBucket: 'raw',
  datasetBucket: 'dataset',
  classes: ['logo'],
  validationPercent: JsonPath.numberAt('$.config.validationPercent'),
};

describe('handlerEvent', () => {
  test('passes a complete payload through unchanged, JSONPath values included', () => {
    expect(handlerEvent<AssembleDatasetEvent>(complete)).toBe(complete);
  });

  test('refuses at compile time a payload that is not the handler event', () => {
    const missing = { rawBucket: 'raw', datasetBucket: 'dataset', classes: ['logo'] };
    const payloads = [
      // @ts-expect-error a required field is missing
      () => handlerEvent<AssembleDatasetEvent>(missing),
      // @ts-expect-error a field is misspelt
      () => handlerEvent<AssembleDatasetEvent>({ ...missing, validationPercentage: 20 }),
      // @ts-expect-error a field has the wrong type
      () => handlerEvent<AssembleDatasetEvent>({ ...complete, classes: 'logo' }),
      // @ts-expect-error the event type must be named: without it no payload type-checks
      () => handlerEvent(complete),
    ];
    expect(payloads).toHaveLength(4);
  });
});
