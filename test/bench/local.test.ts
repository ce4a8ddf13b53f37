import { qualityFigures } from '../../scripts/bench/local';

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
