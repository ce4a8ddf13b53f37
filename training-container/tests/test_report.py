"""report.py: the self-contained page and evaluation.json, and the serving-path evaluation of a split."""
import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from conftest import metric_regexes
from logo_detector import report
from logo_detector.manifest import read_manifest
from logo_detector.preprocessing import MEAN, STD
from logo_detector.report import evaluate_split, headline, write_report
from reportdata import CLASSES, make_split
from tinydata import make_ml_root


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    result, images = make_split(folder)
    write_report(folder / "model", result, images, "train-2026-11-30-1200", {"Best epoch": "3 of 4"})
    return result, images, (folder / "model" / "report.html").read_text(), \
        json.loads((folder / "model" / "evaluation.json").read_text())


def test_the_page_loads_nothing_from_anywhere_else(written):
    _, _, page, _ = written
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", page, re.I)
    assert not re.search(r"url\(|@import|<script|<link|<iframe", page, re.I)
    assert "Content-Security-Policy" in page and "default-src 'none'; img-src data:" in page


def test_the_page_shows_the_model_the_means_the_threshold_and_each_class(written):
    result, _, page, _ = written
    assert "<title>Evaluation of train-2026-11-30-1200</title>" in page
    assert f"{result.voc07_map:.4f}" in page and f"{result.coco_map:.4f}" in page
    assert f"{result.threshold.threshold:.3f}" in page
    assert "Best epoch</dt><dd>3 of 4" in page
    rows = re.findall(r"<tr><td>([^<]+)</td>", page)
    assert rows == CLASSES
    assert len(re.findall(r'<figure class="pr-plot">', page)) == len(CLASSES)
    assert len(re.findall(r'<polyline class="pr"', page)) == len(CLASSES)


def test_the_gallery_shows_every_image_worst_first_as_small_embedded_jpegs(written):
    result, images, page, _ = written
    names = re.findall(r'<div class="name" title="([^"]+)">', page)
    assert names == [images[i.index].name for i in result.worst_first()]
    assert result.worst_first()[0].badness > result.worst_first()[-1].badness
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == len(images)
    for source in sources:
        assert source.startswith("data:image/jpeg;base64,")
        thumbnail = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert max(thumbnail.size) <= report.THUMBNAIL_SIDE
    # Every verdict is drawn: one box per true positive, false positive and missed box.
    drawn = {kind: len(re.findall(rf'<g class="{kind}">', page)) for kind in ("tp", "fp", "missed")}
    assert drawn == {"tp": sum(len(i.true_positives) for i in result.images),
                     "fp": sum(len(i.false_positives) for i in result.images),
                     "missed": sum(len(i.missed) for i in result.images)}
    assert drawn["tp"] and drawn["fp"] and drawn["missed"]


def test_evaluation_json_holds_every_figure_and_each_images_verdict(written):
    result, images, _, document = written
    assert document["version"] == "train-2026-11-30-1200"
    assert document["class_names"] == CLASSES
    assert document["voc07_map"] == pytest.approx(result.voc07_map, abs=1e-6)
    assert document["coco_map"] == pytest.approx(result.coco_map, abs=1e-6)
    assert document["threshold"]["threshold"] == pytest.approx(result.threshold.threshold, abs=1e-6)
    logo = document["classes"][0]
    assert set(logo) >= {"voc07_ap", "coco_ap", "coco_ap_by_iou", "curve", "best"}
    assert len(logo["curve"]["recall"]) == len(logo["curve"]["precision"]) == len(logo["curve"]["score"]) > 0
    assert [(i["name"], i["width"], i["height"]) for i in document["images"]] == [
        (image.name, image.width, image.height) for image in images]
    assert {"true_positives", "false_positives", "missed", "badness"} <= set(document["images"][0])


def test_the_gallery_stops_at_its_limit_and_says_where_the_rest_are(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "GALLERY_LIMIT", 3)
    result, images = make_split(tmp_path)
    page = report.render(result, images, None, {})
    assert len(re.findall(r'<figure class="card">', page)) == 3
    assert f"The 3 worst of {len(images)} images (the others are in evaluation.json)" in page
    assert "Evaluation of a local run" in page


def test_an_unreadable_image_gets_a_placeholder_instead_of_failing_the_report(tmp_path):
    result, images = make_split(tmp_path, images=2)
    images[0].path.write_bytes(b"not an image")
    page = report.render(result, images, "v1", {})
    assert page.count("image unavailable") == 1 and page.count("<img ") == 1


def test_names_and_labels_are_escaped(tmp_path):
    result, images = make_split(tmp_path, images=2)
    images = [report.ReportImage('<b>"x"</b>.jpg', i.path, i.width, i.height) for i in images]
    page = report.render(result, images, "<script>", {"a&b": "<i>"})
    assert "<b>" not in page and "<script>" not in page and "<i>" not in page
    assert "&lt;b&gt;&quot;x&quot;&lt;/b&gt;.jpg" in page and "a&amp;b" in page


def bright_blob_detector(tensor):
    """A real detector for tinydata's images: the bounding box of the bright shape in the model input."""
    bright = tensor[0] > (0.6 - MEAN[0]) / STD[0]
    rows, cols = np.flatnonzero(bright.any(axis=1)), np.flatnonzero(bright.any(axis=0))
    box = (0, 0.9, float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
    # Two more that serving would drop: outside the image after clipping, and a class the model does not have.
    return [box, (0, 0.8, -40.0, -40.0, -5.0, -5.0), (7, 0.95, 10.0, 10.0, 50.0, 50.0)]


def test_a_split_is_evaluated_through_servings_preprocessing_and_scaled_back_to_each_image(tmp_path):
    root = make_ml_root(tmp_path, train=0, validation=4)
    data = root / "input" / "data"
    samples, _ = read_manifest(data / "validation" / "validation.manifest", data / "images", ["logo"])
    result = evaluate_split(tmp_path / "model", samples, ["logo"], 256, bright_blob_detector, "v7",
                            {"Best epoch": "1 of 1"})
    assert result.voc07_map == pytest.approx(1.0)
    assert result.coco_map is not None
    assert result.coco_map > 0.7, "boxes found at 256 x 256 should land within a few pixels of the truth"
    assert [len(i.false_positives) for i in result.images] == [0] * 4
    document = json.loads((tmp_path / "model" / "evaluation.json").read_text())
    assert [i["name"] for i in document["images"]] == [f"tiny/img-{n:02d}.jpg" for n in range(4)]
    assert (tmp_path / "model" / "report.html").is_file()


def test_the_headline_log_line_is_not_mistaken_for_a_training_metric(written):
    result, _, _, _ = written
    line = headline(result)
    assert f"VOC07 mAP {result.voc07_map:.4f}" in line and f"{result.threshold.threshold:.4f}" in line
    for name, regex in metric_regexes().items():
        assert not re.search(regex, line), f"{name}'s metric definition would parse the report's log line"


def test_the_summary_puts_int8s_map_beside_fp32s_and_names_the_variant_that_serves(tmp_path):
    result, images = make_split(tmp_path)
    variants = report.Variants("int8", 0.8125, 0.8042, "its mAP 0.8042 is within 0.01 of fp32's 0.8125")
    write_report(tmp_path / "model", result, images, "v8", {}, variants)
    page = (tmp_path / "model" / "report.html").read_text()
    assert "mAP at IoU 0.5, fp32 / int8" in page and "0.8125 / 0.8042" in page
    assert "serving int8, the figures on this page: its mAP 0.8042 is within 0.01 of fp32&#x27;s 0.8125" in page
    document = json.loads((tmp_path / "model" / "evaluation.json").read_text())
    assert document["variants"] == {"serving": "int8", "fp32_map": 0.8125, "int8_map": 0.8042,
                                    "reason": "its mAP 0.8042 is within 0.01 of fp32's 0.8125"}
    without = report.render(result, images, "v8", {}, report.Variants("fp32", 0.8, None, "no int8 model was made"))
    assert "0.8000 / not made" in without
    assert "fp32 / int8" not in report.render(result, images, "v8", {})


def test_the_report_files_and_the_fields_the_pipeline_reads_are_the_contracts(written, tmp_path):
    """The pipeline's publish-report step finds both files at the root of model.tar.gz by the names in
    contracts/training-job.json, and reads the per-class AP, the calibrated threshold and the fp32 mAP from
    evaluation.json (EvaluationFigures in contracts/training-job.ts)."""
    from logo_detector.paths import training_job_contract

    files = training_job_contract()["evaluationReport"]
    assert (report.REPORT_FILE, report.EVALUATION_FILE) == (files["page"], files["figures"])
    result, images, _, document = written
    assert [(c["name"], c["voc07_ap"]) for c in document["classes"]] == \
        [(c.name, pytest.approx(c.voc07_ap, abs=1e-6)) for c in result.classes]
    assert document["threshold"]["threshold"] == pytest.approx(result.threshold.threshold, abs=1e-6)
    write_report(tmp_path, result, images, None, {}, report.Variants("int8", 0.8, 0.79, "within tolerance"))
    variants = json.loads((tmp_path / files["figures"]).read_text())["variants"]
    assert (variants["serving"], variants["fp32_map"], variants["int8_map"]) == ("int8", 0.8, 0.79)
