import {
  imageKeyFor,
  INT8_MAP_METRIC,
  labelKeyFor,
  METRIC_DEFINITIONS,
  SERVING_INT8_METRIC,
} from '../contracts';

describe('key derivation', () => {
  test('a raw key maps to one deterministic JPEG key under images/', () => {
    expect(imageKeyFor('raw/2024/shop front.PNG')).toBe('images/2024/shop front.jpg');
    expect(imageKeyFor('raw/a.b.jpeg')).toBe('images/a.b.jpg');
    expect(imageKeyFor('raw/noext')).toBe('images/noext.jpg');
  });

  test('an image key maps to its label document', () => {
    expect(labelKeyFor('images/2024/a.jpg')).toBe('labels/2024/a.json');
    expect(() => labelKeyFor('raw/a.jpg')).toThrow(/Not a preprocessed image key: raw\/a.jpg/);
  });
});

describe('metric definitions', () => {
  const log = 'epoch=3 train_loss=1.25\nepoch=3 val_mAP=0.4100\nbest_val_mAP=0.52\n';
  const last = (regex: string) => [...log.matchAll(new RegExp(regex, 'g'))].map((m) => Number(m[1])).pop();

  test('each metric matches only its own lines', () => {
    const byName = Object.fromEntries(METRIC_DEFINITIONS.map((d) => [d.Name, last(d.Regex)]));
    expect(byName).toEqual({ train_loss: 1.25, val_mAP: 0.41, best_val_mAP: 0.52 });
  });
});

describe('int8 metric definitions', () => {
  const log =
    'epoch=2 val_mAP=0.81\nbest_val_mAP=0.81\nserving int8: its mAP 0.8042 is within 0.01 of fp32s 0.8125\n' +
    'int8_val_mAP=0.8042\nserving_int8=1\n';
  const last = (regex: string) => [...log.matchAll(new RegExp(regex, 'g'))].map((m) => Number(m[1])).pop();

  test('the int8 mAP and the serving variant match only their own lines', () => {
    const byName = Object.fromEntries(METRIC_DEFINITIONS.map((d) => [d.Name, last(d.Regex)]));
    expect(byName).toEqual({
      train_loss: undefined,
      val_mAP: 0.81,
      best_val_mAP: 0.81,
      int8_val_mAP: 0.8042,
      serving_int8: 1,
    });
    expect(Object.keys(byName)).toContain(SERVING_INT8_METRIC);
    expect(Object.keys(byName)).toContain(INT8_MAP_METRIC);
  });
});
