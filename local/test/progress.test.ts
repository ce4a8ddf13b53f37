import {
  MIN_TRAINING_IMAGES,
  MIN_VALIDATION_BOXES,
  TrainingProgress,
  calibratedThreshold,
  datasetAdvice,
  splitCounts,
  variantMaps,
} from '../app/progress';

describe('training progress in the terminal', () => {
  test('one line per epoch with the loss, the validation mAP and the time since training started', () => {
    let now = 0;
    const progress = new TrainingProgress(30, () => now);
    const log = [
      'model: ssd_512_mobilenet1.0_custom, classes [logo], data_shape 256, random initialisation; devices cpu(0)',
      'train: 10 images, 14 boxes; skipped 0 lines without annotations, clipped 1 boxes at the image edge, rejected 0 empty boxes',
      'validation: 3 images, 4 boxes; skipped 0 lines without annotations, clipped 0 boxes at the image edge, rejected 0 empty boxes',
      'epoch=1 train_loss=12.345678901234567',
      'epoch=1 val_mAP=0.0012345678901234',
      'epoch 1 AP per class: logo=0.0012',
      'epoch 1 done in 4.2s; checkpoint saved',
      'epoch=2 train_loss=9.87654321',
      'epoch=2 val_mAP=0.05',
      'epoch 2 AP per class: logo=0.0500',
    ];
    const shown = log.flatMap((line) => {
      now += 21000;
      return progress.line(line);
    });
    now += 1000;
    shown.push(...progress.line('epoch 2 done in 4.0s; checkpoint saved'));
    shown.push(...progress.line('best_val_mAP=0.05000000000000001'));

    expect(shown).toEqual([
      'dataset: 10 training images (14 boxes), 3 validation images (4 boxes)',
      'epoch=1 train_loss=12.3457 val_mAP=0.0012 (of 30; 02:06)',
      'epoch=2 train_loss=9.8765 val_mAP=0.05 (of 30; 03:10)',
      'best_val_mAP=0.05',
    ]);
  });

  test('an epoch without validation shows its loss; its line comes when the next epoch starts if no "done" line does', () => {
    const progress = new TrainingProgress(3, () => 0);
    expect(progress.line('epoch=1 train_loss=2.5')).toEqual([]);
    expect(progress.line('epoch=2 train_loss=2.25')).toEqual(['epoch=1 train_loss=2.5 (of 3; 00:00)']);
  });

  test('errors are shown as they are', () => {
    const progress = new TrainingProgress(3, () => 0);
    expect(progress.line('Traceback (most recent call last):')).toEqual([
      'Traceback (most recent call last):',
    ]);
    expect(progress.line('training failed: The train channel has no train.manifest')).toEqual([
      'training failed: The train channel has no train.manifest',
    ]);
  });
});

describe('advice on a small dataset of your own', () => {
  const counts = (train: number, validationBoxes: number) => ({
    train: { images: train, boxes: train * 2 },
    validation: { images: 3, boxes: validationBoxes },
  });

  test('too few training images and a validation split too small to measure: both, with the counts and what to do', () => {
    const advice = datasetAdvice(counts(10, 4), false);
    expect(advice[0]).toMatch(/^Too few images to learn from: 10 training images, fewer than 50\./);
    expect(advice[1]).toMatch(
      /^Validation too small to measure: 3 images with 4 boxes, fewer than 10 boxes; one box more or less found moves the mAP by about 0\.25\./,
    );
    expect(advice[2]).toMatch(/label more images/);
    expect(advice[3]).toMatch(/pretrained weights.*\.local\/pretrained\/.*README, "Pretrained weights"/);
  });

  test('no advice to use pretrained weights when the run used them', () => {
    const advice = datasetAdvice(counts(10, 20), true);
    expect(advice).toHaveLength(2);
    expect(advice.join('\n')).not.toContain('pretrained');
  });

  test('nothing to say at the thresholds', () => {
    expect(datasetAdvice(counts(MIN_TRAINING_IMAGES, MIN_VALIDATION_BOXES), false)).toEqual([]);
  });

  test('the counts come from the model metrics.json', () => {
    expect(
      splitCounts({
        map: 0.1,
        counts: {
          train: { images: 10, boxes: 14, skipped_lines: 0, clipped: 1, rejected: 0 },
          validation: { images: 3, boxes: 4, skipped_lines: 0, clipped: 0, rejected: 0 },
        },
      }),
    ).toEqual({ train: { images: 10, boxes: 14 }, validation: { images: 3, boxes: 4 } });
    expect(splitCounts(undefined)).toBeUndefined();
    expect(splitCounts({ counts: { train: { images: 1 } } })).toBeUndefined();
  });
});

describe('calibratedThreshold', () => {
  test('is the threshold training calibrated on the validation split, rounded to 3 decimals', () => {
    expect(calibratedThreshold({ threshold: { score: 0.41234, precision: 0.9, recall: 0.8 } })).toBe(0.412);
  });

  test('is undefined when the model has none, or an out-of-range one', () => {
    expect(calibratedThreshold({ threshold: null })).toBeUndefined();
    expect(calibratedThreshold({})).toBeUndefined();
    expect(calibratedThreshold(undefined)).toBeUndefined();
    expect(calibratedThreshold({ threshold: { score: 0 } })).toBeUndefined();
    expect(calibratedThreshold({ threshold: { score: 1.5 } })).toBeUndefined();
  });
});

describe('variantMaps', () => {
  test('reads fp32 and every int8 recipe tried, in order, with the variant that serves and the tolerance', () => {
    const metrics = {
      map_fp32: 0.643,
      int8_recipes_tried: { gluoncv: 0.251, 'float-ends': 0.676 },
      serving: 'int8',
      int8_tolerance: 0.02,
    };
    const maps = variantMaps(metrics);
    expect(maps).toEqual({
      fp32: 0.643,
      int8: { gluoncv: 0.251, 'float-ends': 0.676 },
      serving: 'int8',
      tolerance: 0.02,
    });
    expect(Object.keys(maps!.int8)).toEqual(['gluoncv', 'float-ends']);
  });

  test('reads the F1s at the calibrated threshold when the metrics have them, leaving out a null one', () => {
    const maps = variantMaps({
      map_fp32: 1,
      int8_recipes_tried: { gluoncv: 1, 'float-ends': 1 },
      serving: 'int8',
      int8_tolerance: 0.01,
      f1_fp32: 1,
      int8_recipes_f1: { gluoncv: 0.9375, 'float-ends': null },
    });
    expect(maps?.f1).toEqual({ fp32: 1, int8: { gluoncv: 0.9375 } });
  });

  test('leaves out a recipe without an mAP, and is undefined for a model without an fp32 mAP', () => {
    expect(variantMaps({ map_fp32: 0.5, int8_recipes_tried: { gluoncv: null }, serving: 'fp32' })).toEqual({
      fp32: 0.5,
      int8: {},
      serving: 'fp32',
      tolerance: 0.01,
    });
    expect(variantMaps({ map: 0.5 })).toBeUndefined();
    expect(variantMaps(undefined)).toBeUndefined();
  });
});
