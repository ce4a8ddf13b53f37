"""The evaluation report written beside every trained model: ``report.html`` and ``evaluation.json``.

``evaluate_split`` runs a detector over the validation samples exactly as serving does (``preprocessing.model_input``
in, boxes scaled back to the image and clipped), scores the detections with ``evaluation.evaluate`` and writes:

- ``evaluation.json``: every figure (means, per-class AP, PR curves, thresholds, each image's verdict);
- ``report.html``: one self-contained page (inline CSS, PR curves as inline SVG, thumbnails as ``data:`` JPEGs with an
  SVG overlay of the boxes; no script, no external resource, a Content-Security-Policy that forbids any), so it opens
  the same from S3, from a model.tar.gz or from ``local-out/``.

This module needs no MXNet: the detector comes in as a function (the backend's ``Detector.detect``).
"""
import base64
import html
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt
from PIL import Image

from .evaluation import ClassResult, Detection, Evaluation, ImageResult, Outcome, evaluate
from .manifest import Sample
from .preprocessing import ImageError, load_luma, model_input

# Any element type: the arrays here hold float64 boxes and scores or int class ids.
Array = npt.NDArray[Any]

REPORT_FILE = "report.html"
EVALUATION_FILE = "evaluation.json"
# The gallery shows the worst images only, so the page stays a few megabytes; evaluation.json lists every image.
GALLERY_LIMIT = 100
THUMBNAIL_SIDE = 360
THUMBNAIL_QUALITY = 80
# An untrained model can put a hundred boxes on an image; only its most confident false positives are drawn.
DRAWN_FALSE_POSITIVES = 10

TP_COLOR, FP_COLOR, MISSED_COLOR = "#1f9d55", "#e3342f", "#f6993f"

Detect = Callable[[Array], Sequence[Detection]]
"""The backend's detector: a model input (3 x data_shape x data_shape) to detections in its pixels."""


@dataclass(frozen=True)
class Variants:
    """The exported variants side by side: VOC07 mAP at IoU 0.5 of each on the same split (``int8_map`` None when no
    int8 model was made), which one serves, and why."""

    serving: str
    fp32_map: Optional[float]
    int8_map: Optional[float]
    reason: str


@dataclass(frozen=True)
class ReportImage:
    """A validation image as the report names and shows it; boxes are in ``width`` x ``height`` pixels."""

    name: str
    path: Path
    width: int
    height: int


def detect_split(samples: Sequence[Sample], classes: Sequence[str], data_shape: int,
                 detect: Detect) -> Tuple[Evaluation, List[ReportImage]]:
    """Detects on every sample as serving does and evaluates; returns the evaluation and the images in its order, for
    ``write_report``. Writes nothing."""
    truth, found, images = [], [], []
    for sample in samples:
        luma = load_luma(sample.image_path.read_bytes())
        detections = detect(model_input(luma, data_shape))
        found.append(_to_image_pixels(detections, len(classes), sample.width / data_shape,
                                      sample.height / data_shape, sample.width, sample.height))
        truth.append([(b.class_id, b.xmin, b.ymin, b.xmax, b.ymax) for b in sample.boxes])
        images.append(ReportImage(_display_name(sample.image_path), sample.image_path, sample.width, sample.height))
    return evaluate(truth, found, classes), images


def evaluate_split(model_dir: Path, samples: Sequence[Sample], classes: Sequence[str], data_shape: int,
                   detect: Detect, version: Optional[str], facts: Optional[Mapping[str, str]] = None) -> Evaluation:
    """Detects on every sample as serving does, evaluates, and writes evaluation.json and report.html to
    ``model_dir``; returns the evaluation (``evaluation.summary`` of it is what metrics.json adds)."""
    result, images = detect_split(samples, classes, data_shape, detect)
    write_report(model_dir, result, images, version, facts or {})
    return result


def headline(result: Evaluation) -> str:
    """One log line with the report's main figures."""
    threshold = ("no threshold finds a true box" if result.threshold is None else
                 f"score threshold {result.threshold.threshold:.4f} (precision {result.threshold.precision:.3f}, "
                 f"recall {result.threshold.recall:.3f}, F1 {result.threshold.f1:.3f})")
    return (f"evaluation of the exported model on {len(result.images)} validation images: VOC07 mAP "
            f"{_number(result.voc07_map)}, COCO mAP {_number(result.coco_map)}, {threshold}; "
            f"{REPORT_FILE} and {EVALUATION_FILE} written beside the model")


def write_report(folder: Path, result: Evaluation, images: Sequence[ReportImage], version: Optional[str],
                 facts: Mapping[str, str], variants: Optional[Variants] = None) -> None:
    """Writes ``evaluation.json`` and ``report.html`` to ``folder``; ``images`` are in the evaluation's order and
    ``facts`` are shown in the page's header (for example the best epoch). ``variants``, when given, puts both
    variants' mAP beside the figures of ``result``, which should be the serving variant's."""
    if len(images) != len(result.images):
        raise ValueError(f"{len(images)} images for an evaluation of {len(result.images)}; pass one per image.")
    folder.mkdir(parents=True, exist_ok=True)
    document = {"version": version, "class_names": [c.name for c in result.classes], **result.to_dict()}
    if variants is not None:
        document["variants"] = asdict(variants)
    for entry, image in zip(document["images"], images, strict=True):
        entry.update(name=image.name, width=image.width, height=image.height)
    (folder / EVALUATION_FILE).write_text(json.dumps(document, indent=1))
    (folder / REPORT_FILE).write_text(render(result, images, version, facts, variants), encoding="utf-8")


def render(result: Evaluation, images: Sequence[ReportImage], version: Optional[str],
           facts: Mapping[str, str], variants: Optional[Variants] = None) -> str:
    """The report page as one HTML string."""
    names = [c.name for c in result.classes]
    shown = result.worst_first()[:GALLERY_LIMIT]
    title = f"Evaluation of {version or 'a local run'}"
    return _PAGE.format(
        title=_text(title),
        style=_STYLE,
        header=_header(result, images, version, facts, variants),
        table=_class_table(result.classes),
        curves="".join(_curve_figure(c) for c in result.classes),
        legend=_legend(),
        gallery_note=_text(_gallery_note(result, len(shown))),
        gallery="".join(_card(image, images[image.index], names) for image in shown),
    )


def _to_image_pixels(found: Sequence[Detection], num_classes: int, scale_x: float, scale_y: float, width: int,
                     height: int) -> List[Detection]:
    """Detections from the model's square view to the image's pixels, clipped, empty boxes dropped (as serving)."""
    kept = []
    for class_id, score, xmin, ymin, xmax, ymax in found:
        left, top = min(max(xmin * scale_x, 0.0), width), min(max(ymin * scale_y, 0.0), height)
        right, bottom = min(max(xmax * scale_x, 0.0), width), min(max(ymax * scale_y, 0.0), height)
        if 0 <= class_id < num_classes and right > left and bottom > top:
            kept.append((int(class_id), float(score), left, top, right, bottom))
    return kept


def _display_name(path: Path) -> str:
    """The path below the images channel (``input/data/images/``, the dataset's key below images/), else the name."""
    parts = path.parts
    for i in range(len(parts) - 2, 1, -1):
        if parts[i - 2:i + 1] == ("input", "data", "images"):
            return "/".join(parts[i + 1:])
    return path.name


def _number(value: Optional[float], digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _header(result: Evaluation, images: Sequence[ReportImage], version: Optional[str],
            facts: Mapping[str, str], variants: Optional[Variants]) -> str:
    boxes = sum(c.true_boxes for c in result.classes)
    found = [sum(len(getattr(i, kind)) for i in result.images)
             for kind in ("true_positives", "false_positives", "missed")]
    point = result.threshold
    tiles = [
        ("mAP at IoU 0.5", _number(result.voc07_map), "VOC07, 11-point interpolation"),
        ("mAP at IoU 0.5:0.95", _number(result.coco_map),
         f"COCO-style, 101-point; at 0.5 {_number(result.coco_map_50, 3)}, at 0.75 {_number(result.coco_map_75, 3)}"),
        ("Score threshold", "none" if point is None else f"{point.threshold:.3f}",
         "no threshold finds a true box" if point is None else
         f"best F1 {point.f1:.3f}: precision {point.precision:.3f}, recall {point.recall:.3f}"),
        ("At that threshold", f"{found[0]} / {found[1]} / {found[2]}",
         "true positives / false positives / missed boxes"),
    ]
    if variants is not None:
        int8 = "not made" if variants.int8_map is None else _number(variants.int8_map)
        tiles.append(("mAP at IoU 0.5, fp32 / int8", f"{_number(variants.fp32_map)} / {int8}",
                      f"serving {variants.serving}, the figures on this page: {variants.reason}"))
    facts_html = "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in {
        "Model version": version or "local run (no training job name)",
        "Validation split": f"{len(images)} images, {boxes} true boxes",
        "Classes": ", ".join(c.name for c in result.classes),
        **facts,
        "Generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }.items())
    tiles_html = "".join(f'<div class="tile"><div class="label">{_text(label)}</div>'
                         f'<div class="value">{_text(value)}</div><div class="note">{_text(note)}</div></div>'
                         for label, value, note in tiles)
    return f'<dl class="facts">{facts_html}</dl><div class="tiles">{tiles_html}</div>'


def _class_table(classes: Sequence[ClassResult]) -> str:
    rows = []
    for c in classes:
        at_50, at_75 = (c.coco_ap_by_iou[0], c.coco_ap_by_iou[5]) if c.coco_ap_by_iou else (None, None)
        best = c.best
        cells = [_text(c.name), str(c.true_boxes), str(c.detections), _number(c.voc07_ap), _number(c.coco_ap),
                 _number(at_50), _number(at_75),
                 *(["n/a"] * 4 if best is None else
                   [f"{best.threshold:.3f}", f"{best.precision:.3f}", f"{best.recall:.3f}", f"{best.f1:.3f}"])]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return "".join(rows)


# The PR plot's geometry in SVG user units: the plot area's origin and size inside a 340 x 300 view.
_PX, _PY, _PW, _PH = 48, 14, 276, 240


def _xy(recall: float, precision: float) -> Tuple[float, float]:
    return _PX + recall * _PW, _PY + (1 - precision) * _PH


def _curve_figure(c: ClassResult) -> str:
    parts = [f'<rect x="{_PX}" y="{_PY}" width="{_PW}" height="{_PH}" class="plot-bg"/>']
    for f1 in (0.2, 0.4, 0.6, 0.8):  # iso-F1 lines: where precision and recall trade at equal F1
        r = np.linspace(f1 / (2 - f1) + 1e-6, 1, 40)
        p = f1 * r / (2 * r - f1)
        keep = p <= 1
        parts.append('<polyline class="iso" points="' + " ".join(
            "%.1f,%.1f" % _xy(a, b) for a, b in zip(r[keep], p[keep], strict=True)) + '"/>')
        x, y = _xy(1, f1 / (2 - f1))
        parts.append(f'<text class="iso-label" x="{x - 3:.1f}" y="{y - 4:.1f}" text-anchor="end">F1 {f1:.1f}</text>')
    for t in np.linspace(0, 1, 6):
        x, y = _xy(t, t)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{_PY}" x2="{x:.1f}" y2="{_PY + _PH}"/>'
                     f'<line class="grid" x1="{_PX}" y1="{y:.1f}" x2="{_PX + _PW}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{_PY + _PH + 16}" text-anchor="middle">{t:.1f}</text>'
                     f'<text class="tick" x="{_PX - 6}" y="{y + 4:.1f}" text-anchor="end">{t:.1f}</text>')
    parts.append(f'<text class="axis" x="{_PX + _PW / 2}" y="{_PY + _PH + 34}" text-anchor="middle">recall</text>'
                 f'<text class="axis" transform="translate(14 {_PY + _PH / 2}) rotate(-90)" '
                 f'text-anchor="middle">precision</text>')
    curve = c.curve
    if curve.recall and curve.recall[-1] > 0:
        points = [(0.0, curve.precision[0]), *zip(curve.recall, curve.precision, strict=True)]
        parts.append('<polyline class="pr" points="' + " ".join("%.1f,%.1f" % _xy(r, p) for r, p in points) + '">'
                     f"<title>{_text(c.name)}: precision-recall at IoU 0.5</title></polyline>")
    else:
        why = ("no true box of this class" if not c.true_boxes else "no detection of this class" if not curve.recall
               else "no true positive at any score")
        parts.append(f'<text class="empty" x="{_PX + _PW / 2}" y="{_PY + _PH / 2}" text-anchor="middle">{why}</text>')
    if c.best is not None:
        x, y = _xy(c.best.recall, c.best.precision)
        anchor, dx = ("end", -9) if c.best.recall > 0.6 else ("start", 9)
        parts.append(f'<circle class="best" cx="{x:.1f}" cy="{y:.1f}" r="5"><title>threshold {c.best.threshold:.3f}:'
                     f' precision {c.best.precision:.3f}, recall {c.best.recall:.3f}</title></circle>'
                     f'<text class="best-label" x="{x + dx:.1f}" y="{y + (16 if y < _PY + 30 else -8):.1f}" '
                     f'text-anchor="{anchor}">score \u2265 {c.best.threshold:.3f}</text>')
    caption = f"AP@0.5 {_number(c.voc07_ap, 3)} \u00b7 AP@[.5:.95] {_number(c.coco_ap, 3)}"
    return (f'<figure class="pr-plot"><figcaption><strong>{_text(c.name)}</strong> <span>{caption}</span>'
            f'</figcaption><svg viewBox="0 0 340 300" role="img" aria-label="precision-recall curve of '
            f'{_text(c.name)}">{"".join(parts)}</svg></figure>')


def _legend() -> str:
    return (f'<div class="legend"><span><svg viewBox="0 0 28 14"><rect x="2" y="2" width="24" height="10" '
            f'stroke="{TP_COLOR}"/></svg>true positive (score)</span>'
            f'<span><svg viewBox="0 0 28 14"><rect x="2" y="2" width="24" height="10" stroke="{FP_COLOR}"/></svg>'
            f'false positive (score)</span>'
            f'<span><svg viewBox="0 0 28 14"><rect x="2" y="2" width="24" height="10" stroke="{MISSED_COLOR}" '
            f'stroke-dasharray="4 3"/></svg>missed true box</span></div>')


def _gallery_note(result: Evaluation, shown: int) -> str:
    total = len(result.images)
    why = ("the F1-best threshold" if result.threshold is not None else
           "serving's default minScore, as no threshold finds a true box")
    which = (f"The {shown} worst of {total} images (the others are in {EVALUATION_FILE})" if shown < total else
             f"All {total} images")
    return (f"Detections scoring at least {result.gallery_threshold:.3f} ({why}), matched to true boxes at IoU 0.5. "
            f"{which}, ordered by badness: missed boxes plus the scores of false positives.")


def _thumbnail(image: ReportImage) -> Optional[str]:
    """A small JPEG of the image as a data: URI, or None when it cannot be read."""
    try:
        luma = load_luma(image.path.read_bytes())
    except (OSError, ImageError):  # any image the canonical transform refuses: unreadable, another format, too large
        return None
    picture = Image.fromarray(luma, mode="L")
    picture.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _box_svg(outcome: Outcome, kind: str, names: Sequence[str], font: float, width: int) -> str:
    x0, y0, x1, y1 = outcome.box
    name = names[outcome.class_id]
    if outcome.score is None:
        label = name if len(names) > 1 else "missed"
    else:
        label = f"{name} {outcome.score:.2f}" if len(names) > 1 else f"{outcome.score:.2f}"
    tooltip = {"tp": f"true positive: {name}, score {outcome.score or 0:.3f}, IoU {outcome.iou or 0:.2f}",
               "fp": f"false positive: {name}, score {outcome.score or 0:.3f}",
               "missed": f"missed: {name}"}[kind]
    # Above the box when there is room, else inside its top; flush right when it would run past the image's edge.
    text_y = y0 - font * 0.3 if y0 > font * 1.2 else y0 + font
    text_x, anchor = (x0, "start") if x0 + 0.62 * font * len(label) <= width else (x1, "end")
    return (f'<g class="{kind}"><title>{_text(tooltip)}</title>'
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}"/>'
            f'<text x="{text_x:.1f}" y="{text_y:.1f}" font-size="{font:.1f}" text-anchor="{anchor}">{_text(label)}'
            f'</text></g>')


def _card(result: ImageResult, image: ReportImage, names: Sequence[str]) -> str:
    # Labels about 14 px high whatever the image's size and shape, once it is letterboxed into the 4:3 frame.
    font = max(image.width / 4, image.height / 3) * 0.18
    boxes = "".join([_box_svg(o, "missed", names, font, image.width) for o in result.missed]
                    + [_box_svg(o, "fp", names, font, image.width)
                       for o in result.false_positives[:DRAWN_FALSE_POSITIVES]]
                    + [_box_svg(o, "tp", names, font, image.width) for o in result.true_positives])
    source = _thumbnail(image)
    picture = (f'<img src="{source}" alt="{_text(image.name)}">' if source else
               '<div class="unavailable">image unavailable</div>')
    undrawn = (f" ({DRAWN_FALSE_POSITIVES} drawn)" if len(result.false_positives) > DRAWN_FALSE_POSITIVES
               else "")
    counts = (f'<span class="n-tp">{len(result.true_positives)} TP</span> \u00b7 '
              f'<span class="n-fp">{len(result.false_positives)} FP{undrawn}</span> \u00b7 '
              f'<span class="n-missed">{len(result.missed)} missed</span>')
    return (f'<figure class="card"><div class="frame">{picture}<svg class="overlay" viewBox="0 0 {image.width} '
            f'{image.height}">{boxes}</svg></div><figcaption>'
            f'<div class="name" title="{_text(image.name)}">{_text(image.name)}</div>'
            f'<div class="counts"><span>{counts}</span>'
            f'<span class="badness" title="missed boxes plus the summed scores of false positives">'
            f'badness {result.badness:.2f}</span></div></figcaption></figure>')


_STYLE = """
:root { --ink: #1d2430; --muted: #5f6b7a; --line: #dde2e8; --bg: #f5f7fa; --card: #fff;
        --tp: %(tp)s; --fp: %(fp)s; --missed: %(missed)s; --accent: #2d5be3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin: 0 0 16px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 18px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.tile .label { color: var(--muted); font-size: 13px; font-weight: 600; }
.tile .value { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0; }
.tile .note { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; background: var(--card); border: 1px solid var(--line); width: 100%%; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: right;
         font-variant-numeric: tabular-nums; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef1f5; font-weight: 600; font-size: 12px; }
.table-wrap { overflow-x: auto; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 12px; }
figure { margin: 0; }
.pr-plot { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 4px; }
.pr-plot figcaption { display: flex; justify-content: space-between; gap: 8px; }
.pr-plot figcaption span { color: var(--muted); font-size: 12px; }
.pr-plot svg { width: 100%%; height: auto; display: block; }
.plot-bg { fill: #fbfcfd; stroke: #b8c0cc; }
.grid { stroke: #e6e9ee; } .tick { fill: var(--muted); font-size: 11px; } .axis { fill: var(--ink); font-size: 12px; }
.iso { fill: none; stroke: #c9d3f5; stroke-dasharray: 3 3; } .iso-label { fill: #8a9bd8; font-size: 10px; }
.pr { fill: none; stroke: var(--accent); stroke-width: 2.2; stroke-linejoin: round; }
.best { fill: var(--fp); stroke: #fff; stroke-width: 1.5; } .best-label { font-size: 11px; font-weight: 600; }
.empty { fill: var(--muted); font-size: 13px; }
.legend { display: flex; gap: 20px; flex-wrap: wrap; margin: 0 0 12px; color: var(--ink); }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.legend svg { width: 28px; height: 14px; } .legend rect { fill: none; stroke-width: 2.5; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px;
           align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
/* Image and overlay fill the same 4:3 box and are both letterboxed to the image's own aspect, so boxes line up. */
.frame { position: relative; aspect-ratio: 4 / 3; background: #2b2f36; }
.frame img { display: block; width: 100%%; height: 100%%; object-fit: contain; }
.frame .overlay { position: absolute; inset: 0; width: 100%%; height: 100%%; }
.overlay rect { fill: none; stroke-width: 2.5; vector-effect: non-scaling-stroke; }
.overlay text { font-family: system-ui, sans-serif; font-weight: 700; paint-order: stroke;
                stroke: rgba(0, 0, 0, .75); stroke-width: 3px; vector-effect: non-scaling-stroke; }
.overlay .tp rect { stroke: var(--tp); } .overlay .tp text { fill: var(--tp); }
.overlay .fp rect { stroke: var(--fp); } .overlay .fp text { fill: var(--fp); }
.overlay .missed rect { stroke: var(--missed); stroke-dasharray: 7 4; } .overlay .missed text { fill: var(--missed); }
.unavailable { display: grid; place-items: center; color: #bbb; width: 100%%; height: 100%%; }
.card figcaption { padding: 8px 10px; font-size: 12px; }
.card .name { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.n-tp { color: var(--tp); font-weight: 600; } .n-fp { color: var(--fp); font-weight: 600; }
.n-missed { color: #c46a12; font-weight: 600; } .badness { color: var(--muted); white-space: nowrap; }
.card .counts { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 8px; }
.help { color: var(--muted); font-size: 13px; max-width: 900px; } .help dt { font-weight: 600; color: var(--ink); }
.help dd { margin: 0 0 8px; }
""" % {"tp": TP_COLOR, "fp": FP_COLOR, "missed": MISSED_COLOR}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class="lead">The exported model, run on the validation split the way the endpoint runs it.</p>
<section id="summary">{header}</section>
<section id="classes">
<h2>Per class</h2>
<div class="table-wrap"><table>
<thead><tr><th>Class</th><th>True boxes</th><th>Detections</th><th>AP@0.5 (VOC07)</th><th>AP@[.5:.95]</th>
<th>AP@.5 (COCO)</th><th>AP@.75</th><th>Best threshold</th><th>Precision</th><th>Recall</th><th>F1</th></tr></thead>
<tbody>{table}</tbody>
</table></div>
</section>
<section id="curves">
<h2>Precision and recall</h2>
<p class="lead">At IoU 0.5, lowering the score threshold from left to right; the dot is the F1-best threshold,
the dashed lines join points of equal F1.</p>
<div class="plots">{curves}</div>
</section>
<section id="gallery">
<h2>Gallery, worst images first</h2>
<p class="lead">{gallery_note}</p>
{legend}
<div class="gallery">{gallery}</div>
</section>
<section id="help">
<h2>What the figures mean</h2>
<dl class="help">
<dt>AP@0.5 (VOC07)</dt><dd>Average precision at IoU 0.5 with 11-point interpolation, as training logs it
(val_mAP); the mean over classes that have true boxes is the mAP.</dd>
<dt>AP@[.5:.95]</dt><dd>COCO-style: AP with 101-point interpolation, averaged over IoU 0.50, 0.55, &hellip;, 0.95,
counting the 100 best detections per image and class. It rewards tight boxes.</dd>
<dt>Score threshold</dt><dd>The score that maximizes F1 over all classes pooled: pass it as minScore to keep the
detections that balance false alarms and misses best on this split.</dd>
<dt>Badness</dt><dd>Missed true boxes plus the summed scores of false positives at that threshold; the gallery is
sorted by it. {evaluation_file} beside this page holds every figure and every image's verdict.</dd>
</dl>
</section>
</main>
</body>
</html>
""".replace("{evaluation_file}", EVALUATION_FILE)
