"""Tiny generated detection data: grayscale JPEGs with one bright shape each, and Ground Truth manifests."""
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

BUCKET = "dataset-bucket"
ATTRIBUTE = "bounding-box"


def draw_image(path: Path, width: int, height: int, box: Sequence[int], seed: int) -> None:
    """A noisy dark grayscale JPEG with a bright filled ellipse inside ``box`` (left, top, width, height)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 60, size=(height, width), dtype=np.uint8)
    image = Image.fromarray(pixels, mode="L")
    left, top, w, h = box
    ImageDraw.Draw(image).ellipse([left, top, left + w - 1, top + h - 1], fill=230)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=92)


def manifest_line(key: str, width: int, height: int, annotations: List[dict], classes: Sequence[str]) -> str:
    """One Ground Truth object-detection output-manifest line for ``s3://<bucket>/images/<key>``."""
    return json.dumps({
        "source-ref": f"s3://{BUCKET}/images/{key}",
        ATTRIBUTE: {"image_size": [{"width": width, "height": height, "depth": 1}], "annotations": annotations},
        f"{ATTRIBUTE}-metadata": {
            "objects": [{"confidence": 1} for _ in annotations],
            "class-map": {str(i): c for i, c in enumerate(classes)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-11-01T10:00:00.000000",
            "job-name": "labeling-job/logos",
        },
    })


def make_ml_root(root: Path, train: int = 6, validation: int = 3,
                 hyperparameters: Optional[Dict[str, str]] = None) -> Path:
    """An ML_ROOT with train/validation/images channels and hyperparameters.json; returns ``root``."""
    data = root / "input" / "data"
    lines: Dict[str, List[str]] = {"train": [], "validation": []}
    for index in range(train + validation):
        channel = "train" if index < train else "validation"
        width, height = (320, 240) if index % 2 else (240, 320)
        side = 90 + 10 * (index % 3)
        left, top = 20 + 17 * index % (width - side - 20), 30 + 11 * index % (height - side - 30)
        key = f"tiny/img-{index:02d}.jpg"
        draw_image(data / "images" / key, width, height, (left, top, side, side), seed=index)
        box = {"class_id": 0, "left": left, "top": top, "width": side, "height": side}
        lines[channel].append(manifest_line(key, width, height, [box], ["logo"]))
    for channel, channel_lines in lines.items():
        (data / channel).mkdir(parents=True, exist_ok=True)
        (data / channel / f"{channel}.manifest").write_text("\n".join(channel_lines) + "\n")
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    return root
