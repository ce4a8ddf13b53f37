"""Training and serving see the same picture: the parity corpus through every door.

``test/parity/write-corpus.ts`` generates the corpus (every kind of image a user can send) and runs the TypeScript
doors on it: the preprocess handler (whose stored image the training reader reads), the reference canonical
transform (sharp) and the API proxy (what it forwards to the endpoint). Here the container's side reads the same
files: the training reader and the validation transform on the stored images, the serving app on the originals as
the proxy forwarded them and as sent straight to the endpoint. Their model-input pixels (0 to 255, before
normalization) must agree within the tolerance below, and the Python canonical transform must match the sharp
reference it implements.
"""
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import numpy.typing as npt
import pytest

from conftest import REPO
from logo_detector import preprocessing
from logo_detector.preprocessing import (MEAN, STD, ImageTooLargeError, UnsupportedFormatError, canonical_image,
                                         check_image_header, read_image_header)
from logo_detector.serving import create_app

# Model-input agreement between the training and serving paths, in gray levels (issue 11's bound).
MEAN_LIMIT, P99_LIMIT = 1.5, 6.0
DATA_SHAPE = 512


@dataclass
class Corpus:
    folder: Path
    index: Dict[str, Any]

    def read(self, relative: str) -> bytes:
        return (self.folder / relative).read_bytes()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """Runs the TypeScript corpus writer (the same one the jest suite runs) into a folder of this session."""
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    if not tsx.exists():
        pytest.fail("node_modules/.bin/tsx is missing: run npm ci (the TypeScript side writes the parity corpus)")
    folder = tmp_path_factory.mktemp("parity")
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "SILENT", "POWERTOOLS_METRICS_DISABLED": "true"}
    run = subprocess.run([str(tsx), "test/parity/write-corpus.ts", str(folder)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return Corpus(folder, json.loads((folder / "index.json").read_text()))


class RecordingDetector:
    """The serving app's detector, replaced: records the model input it is given and finds nothing."""

    def __init__(self) -> None:
        self.inputs: List[npt.NDArray[np.float32]] = []

    def detect(self, image: npt.NDArray[np.float32]) -> list:
        self.inputs.append(image)
        return []


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Tuple[Any, RecordingDetector]:
    model_dir = tmp_path_factory.mktemp("model")
    (model_dir / "classes.json").write_text('["logo"]')
    (model_dir / "model.json").write_text(json.dumps({"data_shape": DATA_SHAPE, "backend": "gluoncv-ssd"}))
    detector = RecordingDetector()
    return create_app(model_dir, detector=detector).test_client(), detector


def pixels(tensor: Any) -> npt.NDArray[np.float64]:
    """Model-input pixels (0 to 255) of a normalized 3 x S x S tensor: the channels are equal, take the first."""
    array = np.asarray(tensor.asnumpy() if hasattr(tensor, "asnumpy") else tensor, dtype=np.float64)
    return (array[0] * STD[0] + MEAN[0]) * 255.0


def stats(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> Tuple[float, float, float]:
    """(mean, 99th percentile, max) of the absolute difference, in gray levels."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return float(diff.mean()), float(np.percentile(diff, 99)), float(diff.max())


def images(corpus: Corpus) -> Iterator[Dict[str, Any]]:
    yield from corpus.index["images"]


def training_pixels(corpus: Corpus, image: Dict[str, Any]) -> npt.NDArray[np.float64]:
    """The training path's end: the stored image through the training reader and the validation transform."""
    from logo_detector.backend_gluoncv import DetectionDataset, ValTransform
    from logo_detector.manifest import Box, Sample

    stored = image["stored"]
    sample = Sample(corpus.folder / stored["file"], stored["width"], stored["height"], (Box(0, 0, 0, 1, 1),))
    tensor, _ = ValTransform(DATA_SHAPE)(*DetectionDataset([sample])[0])
    return pixels(tensor)


def served_pixels(serving: Tuple[Any, RecordingDetector], data: bytes, content_type: str) -> npt.NDArray[np.float64]:
    client, detector = serving
    response = client.post("/invocations", data=data, content_type=content_type)
    assert response.status_code == 200, response.get_json()
    return pixels(detector.inputs[-1])


def test_every_corpus_image_is_preprocessed_and_passes_the_api(corpus: Corpus):
    assert len(corpus.index["images"]) >= 40
    kinds = {image["kind"] for image in images(corpus)}
    assert {"saturated colours", "CMYK JPEG", "RGBA PNG", "gray+alpha PNG", "palette+tRNS PNG", "16-bit gray PNG",
            "16-bit RGB PNG", "1-bit PNG", "gray JPEG", "progressive JPEG", "interlaced PNG", "EXIF orientation JPEG",
            "EXIF orientation PNG", "WebP", "tiny", "extreme aspect"} <= kinds
    for image in images(corpus):
        assert "file" in image["stored"], (image["name"], image["stored"])
        assert [passage["status"] for passage in image["api"]] == [200, 200, 200], (image["name"], image["api"])


def test_python_canonical_transform_matches_the_sharp_reference(corpus: Corpus):
    """Same size always; within one or two levels (rounding) when no resampling is involved."""
    problems = []
    for image in images(corpus):
        reference = image["canonical"]
        expected = np.frombuffer(corpus.read(reference["file"]), dtype=np.uint8)
        expected = expected.reshape(reference["height"], reference["width"])
        ours = canonical_image(corpus.read(image["original"]), corpus.index["maxSide"])
        if ours.luma.shape != expected.shape:
            problems.append(f"{image['name']}: size {ours.luma.shape} != reference {expected.shape}")
            continue
        mean, p99, worst = stats(ours.luma, expected)
        header = image["header"]
        resampled = max(header["width"], header["height"]) > corpus.index["maxSide"]
        if (not resampled and worst > 2) or mean > MEAN_LIMIT or p99 > P99_LIMIT:
            problems.append(f"{image['name']} ({image['kind']}): mean {mean:.2f}, p99 {p99:.1f}, max {worst:.0f}")
    assert not problems, "\n".join(problems)


def test_training_and_serving_paths_give_the_model_the_same_pixels(corpus: Corpus, serving):
    """Stored image through the training reader, against the original through the API and straight to the endpoint."""
    rows, problems = [], []
    for image in images(corpus):
        trained = training_pixels(corpus, image)
        media_type = preprocessing.ACCEPTED_FORMATS[image["header"]["format"]][1]
        doors = {"endpoint": served_pixels(serving, corpus.read(image["original"]), media_type)}
        for passage in image["api"]:
            doors[f"API {passage['sent']}"] = served_pixels(serving, corpus.read(passage["forwardedFile"]),
                                                            passage["forwardedType"])
        for door, served in doors.items():
            mean, p99, worst = stats(trained, served)
            rows.append((image["kind"], image["name"], door, mean, p99, worst))
            if mean > MEAN_LIMIT or p99 > P99_LIMIT:
                problems.append(f"{image['name']} via {door}: mean {mean:.2f}, p99 {p99:.1f}, max {worst:.0f}")
    print(parity_table(rows))
    assert not problems, "training and serving disagree:\n" + "\n".join(problems)


def parity_table(rows: List[Tuple[str, str, str, float, float, float]]) -> str:
    """Worst mean, p99 and max difference per image kind, over every image and door of that kind."""
    lines = [f"{'kind':24s} {'images':>6s} {'mean':>6s} {'p99':>6s} {'max':>5s}"]
    for kind in sorted({row[0] for row in rows}):
        of_kind = [row for row in rows if row[0] == kind]
        lines.append(f"{kind:24s} {len({row[1] for row in of_kind}):6d} {max(r[3] for r in of_kind):6.2f} "
                     f"{max(r[4] for r in of_kind):6.1f} {max(r[5] for r in of_kind):5.0f}")
    return "\n".join(lines)


def test_saturated_colours_keep_their_bt601_gray_through_training_and_serving(corpus: Corpus, serving):
    """Issue 11 case 1: red, green, blue, yellow, gray 128 and (200, 30, 30) bands; the contrast must not flip."""
    image = next(i for i in images(corpus) if i["name"] == "bands.png")
    trained = training_pixels(corpus, image)
    served = served_pixels(serving, corpus.read(image["original"]), "image/png")
    centres = [int((band + 0.5) * DATA_SHAPE / 6) for band in range(6)]
    expected = [76, 150, 29, 226, 128, 81]
    for view in (trained, served):
        assert [round(view[DATA_SHAPE // 2, x]) for x in centres] == pytest.approx(expected, abs=2)


def test_every_door_refuses_the_same_files_with_the_same_message(corpus: Corpus, serving):
    client, _ = serving
    for refusal in corpus.index["refusals"]:
        data = corpus.read(refusal["file"])
        expected = {"unsupported-format": (UnsupportedFormatError, 415), "too-large": (ImageTooLargeError, 413)}
        error_type, status = expected[refusal["reason"]]
        with pytest.raises(error_type) as raised:
            check_image_header(data)
        assert raised.value.message == refusal["preprocess"] == refusal["api"]["error"]["message"]
        assert refusal["api"]["status"] == status
        response = client.post("/invocations", data=data, content_type="application/octet-stream")
        assert response.status_code == status
        assert response.get_json()["error"]["message"] == raised.value.message


def test_the_python_contract_states_what_the_typescript_contract_states(corpus: Corpus):
    contract = corpus.index["contract"]
    assert [{"name": name, "mediaType": media} for name, media in preprocessing.ACCEPTED_FORMATS.values()] == \
        contract["acceptedFormats"]
    assert preprocessing.ACCEPTED_FORMATS_TEXT == contract["acceptedFormatsText"]
    assert preprocessing.MAX_IMAGE_MEGAPIXELS == contract["maxMegapixels"]
    for other, message in contract["unsupported"].items():
        assert preprocessing.unsupported_format_message(other or None) == message
    for case in contract["tooLarge"]:
        assert preprocessing.megapixels(case["width"], case["height"]) == case["megapixels"]
        assert preprocessing.too_large_message(case["width"], case["height"]) == case["message"]


def test_headers_are_read_alike_on_both_sides(corpus: Corpus):
    for image in images(corpus):
        header = read_image_header(corpus.read(image["original"]))
        assert header is not None and vars(header) == image["header"], image["name"]

