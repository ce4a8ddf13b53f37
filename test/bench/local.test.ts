import { int8Figures } from '../../scripts/bench/local';

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

  test('an int8 model better than fp32 meets the goal; a run that trained no model says so', () => {
    const [better] = int8Figures({ fp32: 0.5, int8: { gluoncv: 0.52 }, serving: 'int8', tolerance: 0.01 });
    expect(better).toEqual(expect.objectContaining({ ratio: '+2.0 points', met: true }));
    expect(int8Figures(undefined)).toEqual([expect.objectContaining({ value: 'not reached' })]);
  });
});
