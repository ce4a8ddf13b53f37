"""Ground Truth output manifests (JSON lines) read into training samples, with counts of what was dropped."""
import json
import math
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .errors import OperatorFixableError


class ManifestError(OperatorFixableError, ValueError):
    """A manifest line cannot be used; the message names the file and line number."""


@dataclass(frozen=True)
class Box:
    """One object in the pixel coordinates of its image: corners, and the class id."""

    class_id: int
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class Sample:
    """One labeled image: its file in the images channel, its size from the manifest, and its boxes."""

    image_path: Path
    width: int
    height: int
    boxes: Tuple[Box, ...]


@dataclass
class ManifestCounts:
    """What a manifest yielded (images, boxes) and what was dropped or changed on the way."""

    images: int = 0
    boxes: int = 0
    skipped_lines: int = 0
    clipped: int = 0
    rejected: int = 0

    def to_dict(self) -> Dict[str, int]:
        """The counts as metrics.json stores them."""
        return asdict(self)


@dataclass(frozen=True)
class _Line:
    path: Path
    number: int
    record: Dict[str, Any] = field(repr=False)

    def error(self, message: str) -> ManifestError:
        return ManifestError(f"{self.path}, line {self.number}: {message}")


def read_manifest(
    manifest: Path,
    images_dir: Path,
    classes: Sequence[str],
    label_attribute: Optional[str] = None,
    images_s3_prefix: Optional[str] = None,
) -> Tuple[List[Sample], ManifestCounts]:
    """Reads a Ground Truth object-detection output manifest.

    Lines whose label has no annotations are skipped and counted; boxes reaching past the image edge are clipped,
    and boxes with no area left are rejected (both counted). Anything malformed raises ``ManifestError`` naming
    the file and line.
    """
    samples: List[Sample] = []
    counts = ManifestCounts()
    with open(manifest, encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as err:
                raise ManifestError(f"{manifest}, line {number}: not valid JSON ({err}).") from None
            if not isinstance(record, dict):
                raise ManifestError(f"{manifest}, line {number}: expected a JSON object.")
            sample = _sample(_Line(manifest, number, record), images_dir, classes, label_attribute,
                             images_s3_prefix, counts)
            if sample is None:
                counts.skipped_lines += 1
                continue
            samples.append(sample)
            counts.images += 1
            counts.boxes += len(sample.boxes)
    return samples, counts


def _sample(line: _Line, images_dir: Path, classes: Sequence[str], label_attribute: Optional[str],
            images_s3_prefix: Optional[str], counts: ManifestCounts) -> Optional[Sample]:
    attribute = _label_attribute(line, label_attribute)
    label = line.record[attribute]
    if not isinstance(label, dict):
        raise line.error(f"label attribute {attribute!r} is not an object.")
    annotations = label.get("annotations") or []
    if not isinstance(annotations, list):
        raise line.error(f"{attribute}.annotations is not a list.")
    if not annotations:
        return None
    width, height = _image_size(line, label, attribute)
    _check_class_map(line, attribute, classes)
    boxes = []
    for index, annotation in enumerate(annotations):
        box, clipped = _box(line, annotation, index, width, height, len(classes))
        counts.clipped += clipped
        if box is None:
            counts.rejected += 1
        else:
            boxes.append(box)
    if not boxes:
        return None
    return Sample(_image_path(line, images_dir, images_s3_prefix), width, height, tuple(boxes))


def _label_attribute(line: _Line, configured: Optional[str]) -> str:
    if configured:
        if configured not in line.record:
            raise line.error(f"no label attribute {configured!r} (hyperparameter label_attribute).")
        return configured
    found = [k for k in line.record if f"{k}-metadata" in line.record and not k.endswith("-metadata")]
    if len(found) == 1:
        return found[0]
    if not found:
        raise line.error("no label attribute: expected a key with a '<key>-metadata' sibling, as Ground Truth writes.")
    raise line.error(f"several label attributes ({', '.join(found)}); set hyperparameter label_attribute.")


def _image_size(line: _Line, label: Dict[str, Any], attribute: str) -> Tuple[int, int]:
    sizes = label.get("image_size")
    size = sizes[0] if isinstance(sizes, list) and sizes else None
    width = size.get("width") if isinstance(size, dict) else None
    height = size.get("height") if isinstance(size, dict) else None
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise line.error(f"{attribute}.image_size must be [{{\"width\": W, \"height\": H, ...}}] "
                         "with positive integers.")
    return width, height


def _check_class_map(line: _Line, attribute: str, classes: Sequence[str]) -> None:
    metadata = line.record.get(f"{attribute}-metadata")
    class_map = metadata.get("class-map") if isinstance(metadata, dict) else None
    if not isinstance(class_map, dict):
        return
    for key, name in class_map.items():
        if key.isdigit() and int(key) < len(classes) and classes[int(key)] != name:
            raise line.error(
                f"class-map names class {key} {name!r}, but hyperparameter classes names it {classes[int(key)]!r}; "
                "the classes must be listed in class-id order."
            )


def _box(line: _Line, annotation: object, index: int, width: int, height: int,
         num_classes: int) -> Tuple[Optional[Box], int]:
    where = f"annotation {index}"
    if not isinstance(annotation, dict):
        raise line.error(f"{where} is not an object.")
    class_id = annotation.get("class_id")
    if not isinstance(class_id, int) or isinstance(class_id, bool) or not 0 <= class_id < num_classes:
        raise line.error(f"{where} has class_id {class_id!r}; expected an integer from 0 to {num_classes - 1}.")
    values = []
    for key in ("left", "top", "width", "height"):
        value = annotation.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise line.error(f"{where} has {key} {value!r}; expected a number of pixels.")
        values.append(float(value))
    left, top, box_width, box_height = values
    corners = (left, top, left + box_width, top + box_height)
    xmin, ymin = max(corners[0], 0.0), max(corners[1], 0.0)
    xmax, ymax = min(corners[2], float(width)), min(corners[3], float(height))
    clipped = int((xmin, ymin, xmax, ymax) != corners and box_width > 0 and box_height > 0)
    if xmax - xmin < 1 or ymax - ymin < 1:
        return None, 0
    return Box(class_id, xmin, ymin, xmax, ymax), clipped


def _image_path(line: _Line, images_dir: Path, images_s3_prefix: Optional[str]) -> Path:
    source = line.record.get("source-ref")
    if not isinstance(source, str) or not source.startswith("s3://"):
        raise line.error(f"source-ref {source!r} is not an s3:// URI.")
    if images_s3_prefix:
        prefix = images_s3_prefix if images_s3_prefix.endswith("/") else images_s3_prefix + "/"
    else:
        bucket = source[len("s3://"):].split("/", 1)[0]
        prefix = f"s3://{bucket}/images/"
    if not source.startswith(prefix):
        raise line.error(f"source-ref {source!r} is not under {prefix} (hyperparameter images_s3_prefix).")
    relative = source[len(prefix):]
    segments = relative.split("/")
    if any(segment in ("", ".", "..") for segment in segments) or any(_unsafe(c) for c in relative):
        raise line.error(
            f"source-ref {source!r} does not name an image under {prefix}: its path has an empty, '.' or '..' "
            "segment or a control character. Delete its label document and preprocess the photo under a valid key."
        )
    path = images_dir.joinpath(*segments)
    # Resolved, symbolic links included: the file read must be inside the channel, whatever the path says.
    if not path.resolve().is_relative_to(images_dir.resolve()):
        raise line.error(f"source-ref {source!r} resolves outside the images channel ({path.resolve()}).")
    if not path.is_file():
        raise line.error(f"image {source} is not in the images channel (looked for {path}).")
    return path


def _unsafe(character: str) -> bool:
    """Control characters, line and paragraph separators, bidirectional controls: never part of an image key."""
    return unicodedata.category(character) in ("Cc", "Zl", "Zp") or "\u202a" <= character <= "\u202e" or (
        "\u2066" <= character <= "\u2069")
