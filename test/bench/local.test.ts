import { int8Figures, qualityFigures } from '../../scripts/bench/local';

describe('the local run bench: int8 against fp32 on the trained model', () => {
  test('one figure per recipe tried, the drop in points, met only within the tolerance, the serving one marked', () => {
    const figures = int8Figures({
      fp32: 0.643,
      int8: { gluoncv: 0.251, 'float-ends': 0.638 },
      serving: 'int8',
      tolerance: 0.01,
    });

    expect(figures).toEqual([
      expect.objectContaining({
        name: 'validation mAP, int8 (recipe gluoncv)',
        value: '0.251',
        baseline: '0.643 fp32',
        ratio: '−39.2 points',
        met: false,
      }),
      expect.objectContaining({
        name: 'validation mAP, int8 (recipe float-ends), serves',
        value: '0.638',
        ratio: '−0.5 points',
        goal: '≥ fp32 − 1 point',
        met: true,
      }),
    ]);
  });

  test('with F1s, a row per recipe for its F1 at the calibrated threshold, held to the same tolerance', () => {
    const figures = int8Figures({
      fp32: 1.0,
      int8: { gluoncv: 1.0, 'float-ends': 1.0 },
      serving: 'int8',
      tolerance: 0.01,
      f1: { fp32: 1.0, int8: { gluoncv: 0.9375, 'float-ends': 1.0 } },
    });

    expect(figures.map((f) => [f.name, f.value, f.ratio, f.met])).toEqual([
      ['validation mAP, int8 (recipe gluoncv)', '1.000', '+0.0 points', true],
      ['F1 at its calibrated threshold, int8 (recipe gluoncv)', '0.938', '−6.3 points', false],
      ['validation mAP, int8 (recipe float-ends), serves', '1.000', '+0.0 points', true],
      ['F1 at its calibrated threshold, int8 (recipe float-ends)', '1.000', '+0.0 points', true],
    ]);
  });

  test('an int8 model better than fp32 meets the goal; a run that trained no model says so', () => {
    const [better] = int8Figures({ fp32: 0.5, int8: { gluoncv: 0.52 }, serving: 'int8', tolerance: 0.01 });
    expect(better).toEqual(expect.objectContaining({ ratio: '+2.0 points', met: true }));
    expect(int8Figures(undefined)).toEqual([expect.objectContaining({ value: 'not reached' })]);
  });
});

describe('qualityFigures', () => {
  test('meets the goals when the mAP is at least 0.8, every held-out logo is found and one box at most is false', () => {
    const figures = qualityFigures(0.85, {
      logos: 5,
      found: 5,
      falseBoxes: 1,
      precision: 5 / 6,
      recall: 1,
      ap: 1,
    });

    expect(figures.map((f) => [f.name, f.value, f.met])).toEqual([
      ['validation mAP (VOC07, IoU 0.5)', '0.850', true],
      ['held-out logos found (IoU ≥ 0.5)', '5 of 5', true],
      ['held-out false boxes', '1', true],
      ['held-out precision', '0.83', undefined],
      ['held-out recall', '1.00', undefined],
      ['held-out AP (answered detections)', '1.00', undefined],
    ]);
  });

  test('misses them on a missed logo, a second false box or a low mAP', () => {
    const figures = qualityFigures(0.79, {
      logos: 5,
      found: 4,
      falseBoxes: 2,
      precision: 4 / 6,
      recall: 0.8,
      ap: 0.8,
    });

    expect(figures.filter((f) => f.met !== undefined).map((f) => f.met)).toEqual([false, false, false]);
  });

  test('says the held-out images were not answered when the model was not deployed', () => {
    expect(qualityFigures(undefined, undefined).map((f) => [f.value, f.met])).toEqual([
      ['n/a', false],
      ['not answered', undefined],
    ]);
  });
});
