import {
  ApiCheck,
  ApiDetection,
  apiTable,
  describeHeldOut,
  heldOutScore,
  iou,
  matchDetections,
} from '../app/report';

const box = (left: number, top: number, width: number, height: number) => ({ left, top, width, height });
const detection = (score: number, b: ReturnType<typeof box>): ApiDetection => ({
  label: 'logo',
  score,
  box: b,
});

function check(detections: ApiDetection[], truth: ReturnType<typeof box>[]): ApiCheck {
  const hits = matchDetections(detections, truth);
  return {
    image: 'a.jpg',
    status: 200,
    latencyMs: 1,
    detections,
    body: {},
    expected: truth.length,
    truth,
    found: hits.filter(Boolean).length,
    falseBoxes: hits.filter((hit) => !hit).length,
  };
}

describe('iou', () => {
  test('is 1 for the same box, 0 for disjoint ones and the overlap over the union otherwise', () => {
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(iou(box(0, 0, 10, 10), box(20, 20, 10, 10))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(5, 0, 10, 10))).toBeCloseTo(50 / 150);
  });
});

describe('matchDetections', () => {
  test('a logo is found once: a second box on it, even a good one, is a false box', () => {
    const truth = [box(0, 0, 100, 100)];
    const hits = matchDetections(
      [detection(0.6, box(5, 5, 95, 95)), detection(0.9, box(0, 0, 100, 100))],
      truth,
    );
    expect(hits).toEqual([false, true]);
  });

  test('a box overlapping a logo by less than IoU 0.5 finds nothing', () => {
    expect(matchDetections([detection(0.9, box(0, 0, 100, 100))], [box(60, 0, 100, 100)])).toEqual([false]);
  });

  test('each detection takes the logo it overlaps most', () => {
    const truth = [box(0, 0, 100, 100), box(80, 0, 100, 100)];
    expect(matchDetections([detection(0.9, box(75, 0, 100, 100))], truth)).toEqual([true]);
    expect(
      matchDetections([detection(0.9, box(75, 0, 100, 100)), detection(0.8, box(0, 0, 90, 100))], truth),
    ).toEqual([true, true]);
  });
});

describe('heldOutScore', () => {
  test('counts the logos found and the false boxes over every image, with precision, recall and AP', () => {
    const score = heldOutScore([
      check(
        [detection(0.9, box(0, 0, 100, 100)), detection(0.3, box(300, 300, 50, 50))],
        [box(0, 0, 100, 100)],
      ),
      check([detection(0.8, box(10, 10, 50, 60))], [box(10, 10, 50, 60), box(200, 10, 50, 60)]),
    ]);
    expect(score).toEqual({
      logos: 3,
      found: 2,
      falseBoxes: 1,
      precision: 2 / 3,
      recall: 2 / 3,
      // Ranked 0.9 (hit), 0.8 (hit), 0.3 (miss): two of three logos found at precision 1.
      ap: 2 / 3,
    });
    expect(describeHeldOut(score!)).toBe(
      'found 2 of 3 logos (IoU ≥ 0.5), 1 false box: precision 0.67, recall 0.67, AP 0.67',
    );
  });

  test('a false box ranked above a found logo lowers the AP but not the recall', () => {
    const score = heldOutScore([
      check(
        [detection(0.9, box(300, 300, 50, 50)), detection(0.5, box(0, 0, 100, 100))],
        [box(0, 0, 100, 100)],
      ),
    ]);
    expect(score).toMatchObject({ found: 1, falseBoxes: 1, recall: 1, ap: 0.5 });
  });

  test('is undefined when no image has known logos (your own images)', () => {
    const own: ApiCheck = { image: 'mine.jpg', status: 200, latencyMs: 1, detections: [], body: {} };
    expect(heldOutScore([own])).toBeUndefined();
  });
});

describe('apiTable', () => {
  test('shows, per image, the logos drawn, those found and the false boxes', () => {
    const text = apiTable([
      check(
        [detection(0.9, box(0, 0, 100, 100)), detection(0.3, box(300, 300, 50, 50))],
        [box(0, 0, 100, 100)],
      ),
    ]);
    const [header, , row] = text.split('\n');
    expect(header).toMatch(/^image\s+logos\s+found\s+false\s+status/);
    expect(row).toMatch(/^a\.jpg\s+1\s+1\s+1\s+200\s+logo 0\.90 @0,0 100x100; logo 0\.30/);
  });
});
