import { JsonPath } from 'aws-cdk-lib/aws-stepfunctions';
import { AssembleDatasetEvent } from '../contracts';
import { handlerEvent } from '../lib/handler-event';

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
});

/**
 * The compile-time half, checked by `npm run typecheck` and never called: each @ts-expect-error line must stay an
 * error, or tsc fails ("Unused '@ts-expect-error' directive").
 */
export function payloadsThatMustNotCompile(): unknown[] {
  const missing = { rawBucket: 'raw', datasetBucket: 'dataset', classes: ['logo'] };
  return [
    // @ts-expect-error a required field is missing
    handlerEvent<AssembleDatasetEvent>(missing),
    // @ts-expect-error a field is misspelt
    handlerEvent<AssembleDatasetEvent>({ ...missing, validationPercentage: 20 }),
    // @ts-expect-error a field has the wrong type
    handlerEvent<AssembleDatasetEvent>({ ...complete, classes: 'logo' }),
    // @ts-expect-error the event type must be named: without it no payload type-checks
    handlerEvent(complete),
  ];
}
