"""evaluation.py: VOC07 AP equal to GluonCV's metric, COCO-style AP on hand-computed cases, thresholds, verdicts."""
import math

import numpy as np
import pytest

from logo_detector.evaluation import MAX_CURVE_POINTS, evaluate, summary

SQUARE = (0.0, 0.0, 100.0, 100.0)


def far(i: int):
    """A box that overlaps neither SQUARE nor another ``far`` box."""
    return (1000.0 + 200 * i, 1000.0, 1100.0 + 200 * i, 1100.0)


def random_split(rng: np.random.Generator, images: int, classes: int):
    """Random truth and detections: jittered copies of true boxes (some good, some poor) plus strays, float32 scores."""
    truth, found = [], []
    for _ in range(images):
        boxes = []
        for _ in range(rng.integers(0, 5)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(10, 120, 2)
            boxes.append((int(rng.integers(0, classes)), x, y, x + w, y + h))
        detections = []
        for k, x0, y0, x1, y1 in boxes:
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 0.25 * (x1 - x0), 4)
                label = k if rng.random() < 0.85 else int(rng.integers(0, classes))
                detections.append((label, 0.0, x0 + jitter[0], y0 + jitter[1], x1 + jitter[2], y1 + jitter[3]))
        for _ in range(rng.integers(0, 4)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(10, 120, 2)
            detections.append((int(rng.integers(0, classes)), 0.0, x, y, x + w, y + h))
        scores = rng.random(len(detections)).astype(np.float32)
        truth.append(boxes)
        found.append([(d[0], float(s), *d[2:]) for d, s in zip(detections, scores, strict=True)])
    return truth, found


def gluoncv_voc07(truth, found, classes):
    """GluonCV's VOC07MApMetric fed one image at a time: (AP per class with nan as None, mAP)."""
    from gluoncv.utils.metrics.voc_detection import VOC07MApMetric

    metric = VOC07MApMetric(iou_thresh=0.5, class_names=list(classes))
    for boxes, detections in zip(truth, found, strict=True):
        t = np.array(boxes, dtype=np.float64).reshape(-1, 5)
        d = np.array(detections, dtype=np.float64).reshape(-1, 6)
        metric.update(d[None, :, 2:], d[None, :, 0], d[None, :, 1], t[None, :, 1:], t[None, :, 0])
    _names, values = metric.get()
    return [None if math.isnan(v) else v for v in values[:-1]], values[-1]


@pytest.mark.parametrize("seed", range(6))
def test_voc07_ap_equals_gluoncvs_metric_on_random_data(seed):
    rng = np.random.default_rng(seed)
    classes = ["logo", "badge", "mark"]
    truth, found = random_split(rng, images=int(rng.integers(5, 40)), classes=len(classes))
    expected_ap, expected_map = gluoncv_voc07(truth, found, classes)
    result = evaluate(truth, found, classes)
    assert [c.voc07_ap for c in result.classes] == pytest.approx(expected_ap, abs=1e-12)
    assert result.voc07_map == pytest.approx(expected_map, abs=1e-12)
    assert result.voc07_map is not None
    assert 0.0 < result.voc07_map < 1.0, "the random data should be neither hopeless nor perfect"


def test_voc07_takes_the_best_overlap_even_when_taken_while_coco_takes_the_best_free_box():
    # Two true boxes 10 px apart; the second detection overlaps the first (taken) box most, the second one well.
    truth = [[(0, 0, 0, 100, 100), (0, 10, 0, 110, 100)]]
    found = [[(0, 0.9, 0, 0, 100, 100), (0, 0.8, 4, 0, 104, 100)]]
    result = evaluate(truth, found, ["logo"])
    assert result.voc07_map == pytest.approx(6 / 11)  # TP then FP: precision 1 up to recall 0.5, none beyond
    # COCO: the second detection takes the free box (IoU 94/106 = 0.887) at IoU 0.50 ... 0.85 (AP 1 each);
    # at 0.90 and 0.95 it is a false positive: precision 1 at the 51 recall points up to 0.5, 0 after.
    assert result.coco_map == pytest.approx((8 * 1.0 + 2 * 51 / 101) / 10)
    assert result.coco_map_50 == pytest.approx(1.0)
    assert result.coco_map_75 == pytest.approx(1.0)
    assert result.voc07_map == pytest.approx(gluoncv_voc07(truth, found, ["logo"])[1])


def test_coco_ap_averages_over_the_iou_thresholds_a_detection_passes():
    # IoU 0.72: a true positive at 0.50, 0.55, 0.60, 0.65, 0.70 and a false positive from 0.75 up.
    result = evaluate([[(0, *SQUARE)]], [[(0, 0.6, 0, 0, 100, 72)]], ["logo"])
    assert result.coco_map == pytest.approx(0.5)
    assert result.classes[0].coco_ap_by_iou == pytest.approx([1.0] * 5 + [0.0] * 5)
    assert result.voc07_map == pytest.approx(1.0)


def test_coco_ap_reads_the_non_increasing_precision_at_101_recall_points():
    # Two true boxes; hits at scores 0.9 and 0.7 with a false positive between: recall 0.5, 0.5, 1 and
    # precision 1, 0.5, 2/3, made non-increasing to 1, 2/3, 2/3. Recall points 0 ... 0.50 (51) read 1, the 50 above 2/3.
    truth = [[(0, *SQUARE), (0, *far(0))]]
    found = [[(0, 0.9, *SQUARE), (0, 0.8, *far(1)), (0, 0.7, *far(0))]]
    result = evaluate(truth, found, ["logo"])
    assert result.coco_map == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)


def test_coco_counts_only_the_100_best_detections_of_an_image_and_class():
    # 100 stray detections outscore the one hit, which therefore does not count.
    strays = [(0, 0.9, *far(i)) for i in range(100)]
    result = evaluate([[(0, *SQUARE)]], [[*strays, (0, 0.5, *SQUARE)]], ["logo"])
    assert result.coco_map == 0.0
    assert result.voc07_map == pytest.approx(1 / 101)  # VOC keeps every detection: precision 1/101 at recall 1


def test_a_class_without_true_boxes_has_no_ap_and_does_not_lower_the_means():
    truth = [[(0, *SQUARE)]]
    found = [[(0, 0.9, *SQUARE), (1, 0.8, *far(0))]]
    result = evaluate(truth, found, ["logo", "badge"])
    logo, badge = result.classes
    assert logo.voc07_ap == pytest.approx(1.0) and logo.coco_ap == pytest.approx(1.0)
    assert (badge.voc07_ap, badge.coco_ap, badge.best) == (None, None, None)
    assert (badge.true_boxes, badge.detections) == (0, 1)
    assert result.voc07_map == pytest.approx(1.0) and result.coco_map == pytest.approx(1.0)


def test_the_threshold_maximizes_f1():
    # Three true boxes; detections TP .9, FP .8, TP .7, FP .6, FP .5: F1 is 1/2, 2/5, 2/3, 4/7, 1/2 at those cuts.
    truth = [[(0, *SQUARE), (0, *far(0)), (0, *far(1))]]
    found = [[(0, 0.9, *SQUARE), (0, 0.8, *far(5)), (0, 0.7, *far(0)), (0, 0.6, *far(6)), (0, 0.5, *far(7))]]
    best = evaluate(truth, found, ["logo"]).threshold
    assert best.threshold == pytest.approx(0.7)
    assert (best.precision, best.recall, best.f1) == (pytest.approx(2 / 3), pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert (best.true_positives, best.false_positives, best.missed) == (2, 1, 1)


def test_the_threshold_never_splits_equal_scores():
    # TP .9, TP .8, FP .8: keeping only the first .8 would give F1 1, but a threshold keeps both: F1 0.8 at .8.
    truth = [[(0, *SQUARE), (0, *far(0))]]
    found = [[(0, 0.9, *SQUARE), (0, 0.8, *far(0)), (0, 0.8, *far(3))]]
    best = evaluate(truth, found, ["logo"]).threshold
    assert (best.threshold, best.precision, best.recall, best.f1) == (
        pytest.approx(0.8), pytest.approx(2 / 3), pytest.approx(1.0), pytest.approx(0.8))


def test_the_overall_threshold_pools_the_classes_and_each_class_has_its_own():
    truth = [[(0, *SQUARE), (1, *far(0))]]
    found = [[(0, 0.9, *SQUARE), (1, 0.3, *far(0)), (1, 0.8, *far(4))]]
    result = evaluate(truth, found, ["logo", "badge"])
    assert result.classes[0].best.threshold == pytest.approx(0.9)
    assert result.classes[1].best.threshold == pytest.approx(0.3)
    # Pooled: .9 TP, .8 FP, .3 TP over 2 boxes: F1 2/3 at .9, 1/2 at .8, 4/5 at .3.
    assert result.threshold.threshold == pytest.approx(0.3) and result.threshold.f1 == pytest.approx(0.8)


def test_without_any_true_positive_there_is_no_threshold_and_the_gallery_uses_servings_default():
    result = evaluate([[(0, *SQUARE)]], [[(0, 0.7, *far(0))]], ["logo"])
    assert result.threshold is None and result.classes[0].best is None
    assert result.gallery_threshold == 0.5
    assert summary(result)["threshold"] is None


def test_images_get_verdicts_at_the_threshold_and_the_worst_come_first():
    truth = [
        [(0, *SQUARE)],                    # 0: found
        [(0, *SQUARE), (0, *far(0))],      # 1: one found, one missed
        [(0, *SQUARE)],                    # 2: missed, and a confident false positive
        [(0, *SQUARE)],                    # 3: found, plus a duplicate and a detection under the threshold
        [(0, *SQUARE)],                    # 4, 5: found with lower scores
        [(0, *SQUARE)],
    ]
    found = [
        [(0, 0.95, *SQUARE)],
        [(0, 0.9, *SQUARE)],
        [(0, 0.85, *far(0))],
        [(0, 0.9, 0, 0, 100, 90), (0, 0.8, *SQUARE), (0, 0.1, *far(2))],
        [(0, 0.75, *SQUARE)],
        [(0, 0.7, *SQUARE)],
    ]
    result = evaluate(truth, found, ["logo"])
    # Pooled F1 over 7 boxes: 2/8 at .95, 6/10 at .9, 6/11 at .85, 6/12 at .8, 8/13 at .75, 10/14 at .7, 10/15 at .1.
    assert result.gallery_threshold == result.threshold.threshold == pytest.approx(0.7)
    by_index = {image.index: image for image in result.images}
    assert [len(by_index[3].true_positives), len(by_index[3].false_positives), len(by_index[3].missed)] == [1, 1, 0]
    assert by_index[3].true_positives[0].iou == pytest.approx(91 * 101 / (101 * 101))  # VOC's +1 pixel convention
    assert by_index[3].false_positives[0].score == pytest.approx(0.8)
    assert [o.box for o in by_index[1].missed] == [far(0)]
    assert by_index[2].badness == pytest.approx(1 + 0.85)
    assert [image.index for image in result.worst_first()] == [2, 1, 3, 0, 4, 5]
    assert by_index[0].badness == 0.0


def test_the_curve_is_thinned_but_keeps_its_best_f1_point():
    rng = np.random.default_rng(3)
    boxes = [(0, *far(i)) for i in range(600)]
    hits = [(0, float(s), *far(i)) for i, s in enumerate(rng.random(600))]
    strays = [(0, float(s), *far(1000 + i)) for i, s in enumerate(rng.random(300))]
    result = evaluate([boxes], [hits + strays], ["logo"])
    curve, best = result.classes[0].curve, result.classes[0].best
    assert len(curve.recall) <= MAX_CURVE_POINTS
    assert curve.recall[-1] == pytest.approx(1.0)
    assert best.threshold in curve.score
    assert np.all(np.diff(curve.score) <= 0)


def test_summary_is_what_metrics_json_adds():
    result = evaluate([[(0, *SQUARE)], []], [[(0, 0.9, *SQUARE)], [(0, 0.4, *far(0))]], ["logo", "badge"])
    assert summary(result) == {
        "coco_mAP": 1.0,
        "ap": {"logo": {"voc07": 1.0, "coco": 1.0}, "badge": {"voc07": None, "coco": None}},
        "threshold": {"score": 0.9, "precision": 1.0, "recall": 1.0, "f1": 1.0,
                      "per_class": {"logo": {"score": 0.9, "precision": 1.0, "recall": 1.0, "f1": 1.0},
                                    "badge": None}},
    }


def test_mismatched_inputs_are_refused_with_what_to_fix():
    with pytest.raises(ValueError, match="2 images of ground truth but 1 of detections"):
        evaluate([[], []], [[]], ["logo"])
    with pytest.raises(ValueError, match="image 0's detections use class id 3; ids must be 0 to 1"):
        evaluate([[]], [[(3, 0.5, *SQUARE)]], ["logo", "badge"])
