"""How good a detector is on a labelled split, in plain numpy (no MXNet): the numbers the evaluation report shows.

Input per image: the true boxes ``(class_id, xmin, ymin, xmax, ymax)`` and the detections
``(class_id, score, xmin, ymin, xmax, ymax)`` (the backend detector's tuple), all in that image's pixels.
Output (``evaluate``):

- VOC07 AP at IoU 0.5 per class and its mean, computed exactly as GluonCV's ``VOC07MApMetric`` (the figure training
  logs as ``val_mAP``): greedy matching by score, boxes as integer pixels (+1 on the far edges), 11-point precision.
- COCO-style AP per class and its mean over IoU 0.50, 0.55, ..., 0.95, as pycocotools computes it for area "all":
  the 100 best detections per image and class, each matched to the unmatched true box it overlaps most, precision
  made non-increasing and read at 101 recall points.
- Per class, the precision-recall curve (VOC matching at IoU 0.5) and the score threshold that maximizes F1; over all
  classes pooled, the one threshold a client should pass as ``minScore``.
- Per image, at that threshold: the true positives, the false positives and the missed true boxes, and a badness
  score that orders the report's gallery worst first.

A class without any true box has no AP (None) and does not count in either mean, as in both reference tools.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

# Any element type: the arrays here hold float64 boxes and scores or int class ids.
Array = npt.NDArray[Any]

TruthBox = Tuple[int, float, float, float, float]
"""A true box: class id, then xmin, ymin, xmax, ymax in pixels."""
Detection = Tuple[int, float, float, float, float, float]
"""A detection: class id, score in [0, 1], then xmin, ymin, xmax, ymax in pixels."""

VOC_IOU = 0.5
# Both grids are built the way pycocotools builds them, so the thresholds compare exactly as there.
COCO_IOUS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
COCO_RECALLS = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1, endpoint=True)
COCO_MAX_DETECTIONS = 100
# Serving's default minScore: the gallery's cut when no threshold finds a single true positive.
FALLBACK_THRESHOLD = 0.5
# A precision-recall curve keeps at most this many points (evenly spread, the best-F1 point always among them).
MAX_CURVE_POINTS = 400


@dataclass(frozen=True)
class OperatingPoint:
    """Keeping the detections that score at least ``threshold``: precision, recall, F1 and the counts behind them."""

    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    missed: int


@dataclass(frozen=True)
class Curve:
    """Precision-recall points at IoU 0.5, from the highest score down; ``score`` is the lowest score kept there."""

    recall: List[float]
    precision: List[float]
    score: List[float]


@dataclass(frozen=True)
class ClassResult:
    """One class's figures. AP values are None when the split has no true box of the class."""

    name: str
    true_boxes: int
    detections: int
    voc07_ap: Optional[float]
    coco_ap: Optional[float]
    coco_ap_by_iou: Optional[List[float]]
    curve: Curve
    best: Optional[OperatingPoint]


@dataclass(frozen=True)
class Outcome:
    """One box in an image's verdict: a detection (with its score, and its IoU when it is a true positive) or a
    missed true box (score None)."""

    class_id: int
    box: Tuple[float, float, float, float]
    score: Optional[float] = None
    iou: Optional[float] = None


@dataclass(frozen=True)
class ImageResult:
    """One image at the gallery threshold. ``badness``: missed boxes plus the summed scores of false positives."""

    index: int
    true_positives: List[Outcome]
    false_positives: List[Outcome]
    missed: List[Outcome]
    badness: float


@dataclass(frozen=True)
class Evaluation:
    """Everything ``evaluate`` found; ``to_dict`` is the JSON form (evaluation.json)."""

    classes: List[ClassResult]
    voc07_map: Optional[float]
    coco_map: Optional[float]
    coco_map_50: Optional[float]
    coco_map_75: Optional[float]
    threshold: Optional[OperatingPoint]
    gallery_threshold: float
    images: List[ImageResult]

    def worst_first(self) -> List[ImageResult]:
        """The images by decreasing badness; equally bad images keep their split order."""
        return sorted(self.images, key=lambda image: -image.badness)

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON types; floats rounded to 6 decimals."""
        rounded: Dict[str, Any] = _rounded(asdict(self))
        return rounded


def evaluate(truth: Sequence[Sequence[TruthBox]], detections: Sequence[Sequence[Detection]],
             classes: Sequence[str]) -> Evaluation:
    """Scores ``detections`` against ``truth`` (one list per image, same order) for the classes named ``classes``.

    Raises ValueError when the two lists differ in length or a class id is not an index into ``classes``.
    """
    if len(truth) != len(detections):
        raise ValueError(f"{len(truth)} images of ground truth but {len(detections)} of detections; give one list "
                         "per image to both.")
    images = [(_truth_arrays(t, len(classes), i), _detection_arrays(d, len(classes), i))
              for i, (t, d) in enumerate(zip(truth, detections, strict=True))]
    voc = _VocMatches(images, len(classes))
    coco = [_coco_ap(images, k) for k in range(len(classes))]
    results = []
    for k, name in enumerate(classes):
        scores, matched = voc.ranked(k)
        n_true = voc.true_boxes[k]
        coco_by_iou = coco[k]
        results.append(ClassResult(
            name=name,
            true_boxes=n_true,
            detections=len(scores),
            voc07_ap=_voc07_ap(matched, n_true) if n_true else None,
            coco_ap=float(np.mean(coco_by_iou)) if coco_by_iou is not None else None,
            coco_ap_by_iou=[float(v) for v in coco_by_iou] if coco_by_iou is not None else None,
            curve=_curve(scores, matched, n_true),
            best=_best_f1(scores, matched, n_true),
        ))
    with_truth = [r for r in results if r.true_boxes]
    pooled_scores, pooled_matched = voc.ranked(None)
    threshold = _best_f1(pooled_scores, pooled_matched, sum(voc.true_boxes))
    cut = threshold.threshold if threshold is not None else FALLBACK_THRESHOLD
    return Evaluation(
        classes=results,
        voc07_map=_mean([r.voc07_ap for r in with_truth]),
        coco_map=_mean([r.coco_ap for r in with_truth]),
        coco_map_50=_mean([r.coco_ap_by_iou[0] for r in with_truth if r.coco_ap_by_iou]),
        coco_map_75=_mean([r.coco_ap_by_iou[5] for r in with_truth if r.coco_ap_by_iou]),
        threshold=threshold,
        gallery_threshold=cut,
        images=[voc.image_result(i, cut) for i in range(len(images))],
    )


_Truth = Tuple[Array, Array]  # class ids (N,), boxes (N, 4)
_Found = Tuple[Array, Array, Array]  # class ids (M,), scores (M,), boxes (M, 4)
# One detection's verdict: score, matched (0/1), its index in the image, the true box's index (-1: none), IoU.
_Record = Tuple[float, int, int, int, float]


def _truth_arrays(boxes: Sequence[TruthBox], num_classes: int, image: int) -> _Truth:
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    ids = array[:, 0].astype(int)
    _check_ids(ids, num_classes, f"image {image}'s true boxes")
    return ids, array[:, 1:]


def _detection_arrays(found: Sequence[Detection], num_classes: int, image: int) -> _Found:
    array = np.asarray(found, dtype=np.float64).reshape(-1, 6)
    ids = array[:, 0].astype(int)
    _check_ids(ids, num_classes, f"image {image}'s detections")
    return ids, array[:, 1], array[:, 2:]


def _check_ids(ids: Array, num_classes: int, where: str) -> None:
    bad = ids[(ids < 0) | (ids >= num_classes)]
    if bad.size:
        raise ValueError(f"{where} use class id {int(bad[0])}; ids must be 0 to {num_classes - 1} (one per class).")


def _iou(a: Array, b: Array) -> Array:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), corners as given (no pixel offset)."""
    top_left = np.maximum(a[:, None, :2], b[:, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[:, 2:])
    inter = np.prod(bottom_right - top_left, axis=2) * (top_left < bottom_right).all(axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    iou: Array = inter / (area_a[:, None] + area_b - inter)
    return iou


class _VocMatches:
    """Every detection matched at IoU 0.5 the way GluonCV's VOC metric does, with where each one came from."""

    def __init__(self, images: Sequence[Tuple[_Truth, _Found]], num_classes: int):
        self._images = images
        self.true_boxes = [0] * num_classes
        # The same records twice: per class in GluonCV's accumulation order, and per image.
        self._by_class: List[List[_Record]] = [[] for _ in range(num_classes)]
        self._by_image: List[List[_Record]] = [[] for _ in images]
        for index, ((true_ids, true_boxes), (found_ids, scores, boxes)) in enumerate(images):
            for k in np.unique(np.concatenate((found_ids, true_ids))).tolist():
                truths, found = np.flatnonzero(true_ids == k), np.flatnonzero(found_ids == k)
                self.true_boxes[k] += len(truths)
                records = _voc_match(true_boxes[truths], truths, boxes, scores, found)
                self._by_class[k].extend(records)
                self._by_image[index].extend(records)

    def ranked(self, k: Optional[int]) -> Tuple[Array, Array]:
        """Scores and matched flags of class ``k`` (or of every class pooled when None), highest score first."""
        records = self._by_class[k] if k is not None else [r for rs in self._by_class for r in rs]
        scores = np.array([r[0] for r in records], dtype=np.float64)
        matched = np.array([r[1] for r in records], dtype=np.int64)
        order = scores.argsort()[::-1]
        return scores[order], matched[order]

    def image_result(self, index: int, cut: float) -> ImageResult:
        """The verdict on image ``index`` when only detections scoring at least ``cut`` are kept."""
        (true_ids, true_boxes), (found_ids, _, boxes) = self._images[index]
        hits: List[Outcome] = []
        misses: List[Outcome] = []
        found = set()
        for score, matched, d, t, overlap in self._by_image[index]:
            if score >= cut:
                outcome = Outcome(int(found_ids[d]), _box(boxes[d]), score, overlap if matched else None)
                (hits if matched else misses).append(outcome)
                found.add(t)
        hits.sort(key=lambda o: -(o.score or 0.0))
        misses.sort(key=lambda o: -(o.score or 0.0))
        missed = [Outcome(int(true_ids[t]), _box(true_boxes[t])) for t in range(len(true_ids)) if t not in found]
        badness = len(missed) + sum(float(o.score or 0.0) for o in misses)
        return ImageResult(index, hits, misses, missed, badness)


def _voc_match(true_boxes: Array, truths: Array, boxes: Array, scores: Array,
               found: Array) -> List[_Record]:
    """One image and class: its detections ``found`` (indices into ``boxes``) against its true boxes ``truths``
    (indices of the rows of ``true_boxes``), best score first, each a hit when the true box it overlaps most does so
    by at least 0.5 and is not yet taken. As in GluonCV, that box decides even when another would qualify."""
    found = found[scores[found].argsort()[::-1]]  # GluonCV's order, ties included
    if not len(truths):
        return [(float(scores[d]), 0, int(d), -1, 0.0) for d in found]
    # GluonCV treats corners as integer pixels: the far edges move out by one before the IoU.
    edge = np.array([0, 0, 1, 1], dtype=np.float64)
    iou = _iou(boxes[found] + edge, true_boxes + edge)
    taken = np.zeros(len(truths), dtype=bool)
    records: List[_Record] = []
    for row, (d, t) in enumerate(zip(found.tolist(), iou.argmax(axis=1).tolist(), strict=True)):
        overlap = float(iou[row, t])
        hit = overlap >= VOC_IOU and not taken[t]
        records.append((float(scores[d]), int(hit), d, int(truths[t]) if hit else -1, overlap if hit else 0.0))
        taken[t] |= overlap >= VOC_IOU
    return records


def _box(row: Array) -> Tuple[float, float, float, float]:
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def _voc07_ap(matched: Array, n_true: int) -> float:
    """GluonCV's VOC07 11-point AP: the mean over recall 0, 0.1, ..., 1 of the best precision at that recall or more."""
    tp = np.cumsum(matched == 1)
    precision = tp / np.arange(1, len(matched) + 1)
    recall = tp / n_true
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        reached = recall >= t
        ap += (float(np.max(precision[reached])) if reached.any() else 0.0) / 11.0
    return ap


def _cuts(scores: Array) -> Array:
    """Indices after which a threshold can fall: the last detection of each run of equal scores."""
    if not len(scores):
        return np.zeros(0, dtype=int)
    return np.flatnonzero(np.append(scores[1:] != scores[:-1], True))


def _best_f1(scores: Array, matched: Array, n_true: int) -> Optional[OperatingPoint]:
    """The threshold with the highest F1 (the highest such threshold on ties); None if no threshold finds a true box."""
    tp = np.cumsum(matched)
    cuts = _cuts(scores)
    if not n_true or not len(cuts) or tp[-1] == 0:
        return None
    kept = cuts + 1
    f1 = 2 * tp[cuts] / (kept + n_true)
    i = cuts[int(np.argmax(f1))]
    hits = int(tp[i])
    precision, recall = hits / (i + 1), hits / n_true
    return OperatingPoint(threshold=float(scores[i]), precision=precision, recall=recall,
                          f1=2 * precision * recall / (precision + recall), true_positives=hits,
                          false_positives=int(i + 1 - hits), missed=n_true - hits)


def _curve(scores: Array, matched: Array, n_true: int) -> Curve:
    """The precision-recall points at each threshold, thinned evenly to ``MAX_CURVE_POINTS`` (keeping the best F1)."""
    cuts = _cuts(scores)
    if not n_true or not len(cuts):
        return Curve([], [], [])
    tp = np.cumsum(matched)[cuts]
    if len(cuts) > MAX_CURVE_POINTS:
        keep = set(np.linspace(0, len(cuts) - 1, MAX_CURVE_POINTS - 1).round().astype(int).tolist())
        keep.add(int(np.argmax(2 * tp / (cuts + 1 + n_true))))
        chosen = np.array(sorted(keep))
        cuts, tp = cuts[chosen], tp[chosen]
    return Curve(recall=(tp / n_true).tolist(), precision=(tp / (cuts + 1)).tolist(), score=scores[cuts].tolist())


def _coco_ap(images: Sequence[Tuple[_Truth, _Found]], k: int) -> Optional[Array]:
    """Class ``k``'s AP at each IoU of ``COCO_IOUS`` as pycocotools computes it; None without a true box."""
    n_true = 0
    scores, hits = [], []
    for (true_ids, true_boxes), (found_ids, found_scores, found_boxes) in images:
        truths = true_boxes[true_ids == k]
        mine = np.flatnonzero(found_ids == k)
        mine = mine[np.argsort(-found_scores[mine], kind="mergesort")][:COCO_MAX_DETECTIONS]
        n_true += len(truths)
        scores.append(found_scores[mine])
        hits.append(_coco_match(found_boxes[mine], truths))
    if not n_true:
        return None
    all_scores = np.concatenate(scores)
    order = np.argsort(-all_scores, kind="mergesort")
    matched = np.concatenate(hits, axis=1)[:, order] if len(order) else np.zeros((len(COCO_IOUS), 0), dtype=bool)
    tp = np.cumsum(matched, axis=1).astype(float)
    fp = np.cumsum(~matched, axis=1).astype(float)
    ap = np.zeros(len(COCO_IOUS))
    for t in range(len(COCO_IOUS)):
        recall = tp[t] / n_true
        precision = tp[t] / (fp[t] + tp[t] + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # non-increasing, as pycocotools makes it
        at = np.searchsorted(recall, COCO_RECALLS, side="left")
        ap[t] = np.sum(precision[at[at < len(precision)]]) / len(COCO_RECALLS)
    return ap


def _coco_match(found: Array, truths: Array) -> Array:
    """(IoUs, detections) matched flags: each detection, best first, takes the still unmatched true box it overlaps
    most at that IoU threshold (pycocotools keeps the last of equal overlaps)."""
    matched = np.zeros((len(COCO_IOUS), len(found)), dtype=bool)
    if not len(found) or not len(truths):
        return matched
    iou = _iou(found, truths)
    taken = np.zeros((len(COCO_IOUS), len(truths)), dtype=bool)
    thresholds = np.minimum(COCO_IOUS, 1 - 1e-10)[:, None]
    for d in range(len(found)):
        candidate = np.where(~taken & (iou[d] >= thresholds), iou[d], -1.0)
        last_best = len(truths) - 1 - np.argmax(candidate[:, ::-1], axis=1)
        hit = candidate[np.arange(len(COCO_IOUS)), last_best] >= 0
        matched[hit, d] = True
        taken[np.flatnonzero(hit), last_best[hit]] = True
    return matched


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def summary(evaluation: Evaluation) -> Dict[str, object]:
    """What metrics.json adds: ``coco_mAP``, ``ap`` per class (VOC07 and COCO) and the calibrated ``threshold``
    (score, precision, recall, F1; ``per_class`` beside them). A threshold is null when none finds a true box."""
    def point(p: Optional[OperatingPoint]) -> Optional[Dict[str, Any]]:
        return None if p is None else _rounded({"score": p.threshold, "precision": p.precision,
                                                 "recall": p.recall, "f1": p.f1})
    threshold = point(evaluation.threshold)
    return {
        "coco_mAP": _rounded(evaluation.coco_map),
        "ap": {c.name: _rounded({"voc07": c.voc07_ap, "coco": c.coco_ap}) for c in evaluation.classes},
        "threshold": None if threshold is None else {
            **threshold, "per_class": {c.name: point(c.best) for c in evaluation.classes}},
    }
