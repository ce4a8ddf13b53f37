"""A small generated validation split with made-up detections, for report tests (no model, no training)."""
from pathlib import Path
from typing import List, Tuple

import numpy as np

from logo_detector.evaluation import Evaluation, evaluate
from logo_detector.report import ReportImage
from tinydata import draw_image

CLASSES = ["logo", "badge"]


def make_split(folder: Path, images: int = 8, seed: int = 7) -> Tuple[Evaluation, List[ReportImage]]:
    """Generated JPEGs (one bright shape per true box) under ``folder/images/``, true boxes, and detections that
    find most boxes, place some badly, miss some and add strays; returns their evaluation and the report's images."""
    rng = np.random.default_rng(seed)
    truth, found, shown = [], [], []
    for index in range(images):
        width, height = (320, 240) if index % 2 else (240, 320)
        side = int(rng.integers(60, 100))
        left, top = int(rng.integers(5, width - side - 5)), int(rng.integers(5, height - side - 5))
        key = f"shop/img-{index:02d}.jpg"
        path = folder / "images" / key
        draw_image(path, width, height, (left, top, side, side), seed=seed + index)
        box = (left, top, left + side, top + side)
        class_id = index % len(CLASSES)
        truth.append([(class_id, *box)])
        detections = []
        if index % 4 != 3:  # every fourth image's box is missed
            shift = 0 if index % 3 else side // 3  # every third one found, but placed badly
            detections.append((class_id, float(rng.uniform(0.55, 0.98)), box[0] + shift, box[1], box[2] + shift,
                               box[3]))
        if index % 3 == 1:  # a stray
            x, y = int(rng.integers(0, width - 50)), int(rng.integers(0, height - 50))
            detections.append((int(rng.integers(0, 2)), float(rng.uniform(0.3, 0.9)), x, y, x + 45, y + 40))
        found.append(detections)
        shown.append(ReportImage(key, path, width, height))
    return evaluate(truth, found, CLASSES), shown
