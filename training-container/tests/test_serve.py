"""The serving app on the session's tiny model: in process for the request rules, under gunicorn for the real server."""
import base64
import io
import itertools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Optional

import numpy as np
import pytest
from PIL import Image

from conftest import CONTAINER
from logo_detector.backends import UnknownVariantError
from logo_detector.hardware import describe_cpu, read_cpuinfo
from logo_detector.serving import create_app, parse_custom_attributes, RequestError

ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


def jpeg_bytes(width=320, height=240, exif_orientation=None) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    pixels[60:160, 80:200] = 230
    buffer = io.BytesIO()
    image = Image.fromarray(pixels, "RGB")
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, format="JPEG", exif=exif)
    else:
        image.save(buffer, format="JPEG")
    return buffer.getvalue()


def png_bytes(width=200, height=150) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 40).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_well_formed(body: dict, width: int, height: int, min_score: float, max_results: int) -> None:
    assert set(body) == {"model", "image", "detections"}
    assert body["image"] == {"width": width, "height": height}
    assert isinstance(body["model"]["version"], str) and body["model"]["version"]
    scores = [d["score"] for d in body["detections"]]
    assert scores == sorted(scores, reverse=True)
    assert len(body["detections"]) <= max_results
    for detection in body["detections"]:
        assert detection["label"] == "logo"
        assert min_score <= detection["score"] <= 1
        box = detection["box"]
        assert box["left"] >= 0 and box["top"] >= 0 and box["width"] > 0 and box["height"] > 0
        assert box["left"] + box["width"] <= width + 0.05 and box["top"] + box["height"] <= height + 0.05


@pytest.fixture(scope="module")
def client(trained):
    return create_app(trained.model_dir).test_client()


def test_ping_answers_once_the_model_is_loaded(client):
    response = client.get("/ping")
    assert response.status_code == 200


def test_jpeg_detections_are_in_the_received_images_pixels(client):
    response = client.post("/invocations", data=jpeg_bytes(), content_type="image/jpeg",
                           headers={ATTRIBUTES: "minScore=0;maxResults=5"})
    assert response.status_code == 200
    body = response.get_json()
    assert_well_formed(body, 320, 240, 0.0, 5)
    assert len(body["detections"]) == 5  # an untrained model still proposes boxes at score >= 0


def test_exif_orientation_is_applied_before_detection(client):
    response = client.post("/invocations", data=jpeg_bytes(320, 240, exif_orientation=6), content_type="image/jpeg",
                           headers={ATTRIBUTES: "minScore=0;maxResults=100"})
    assert_well_formed(response.get_json(), 240, 320, 0.0, 100)


def test_min_score_and_max_results_filter_detections(client):
    everything = client.post("/invocations", data=jpeg_bytes(), content_type="image/jpeg",
                             headers={ATTRIBUTES: "minScore=0;maxResults=100"}).get_json()["detections"]
    # Between two shown scores, not on one: scores are shown rounded, so detections that tie on the shown value
    # can fall either side of a threshold equal to it.
    shown = sorted({d["score"] for d in everything})
    midpoints = [(low + high) / 2 for low, high in itertools.pairwise(shown) if high - low >= 0.0002]
    threshold = midpoints[len(midpoints) // 2]
    filtered = client.post("/invocations", data=jpeg_bytes(), content_type="image/jpeg",
                           headers={ATTRIBUTES: f"minScore={threshold};maxResults=100"}).get_json()["detections"]
    assert filtered and all(d["score"] >= threshold for d in filtered)
    assert [d for d in everything if d["score"] >= threshold] == filtered


def test_json_body_carries_base64_image_and_options(client):
    body = {"image": base64.b64encode(png_bytes()).decode(), "minScore": 0, "maxResults": 3}
    response = client.post("/invocations", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    assert_well_formed(response.get_json(), 200, 150, 0.0, 3)


@pytest.mark.parametrize("content_type, data, status, code", [
    ("image/jpeg", b"GIF89a not a jpeg", 415, "unsupported_image"),
    ("text/plain", b"hello", 415, "unsupported_media_type"),
    ("application/json", b"{bad", 400, "invalid_json"),
    ("application/json", b'{"image": "***"}', 400, "invalid_base64"),
    ("application/json", b'{"image": "R0lGODlh"}', 415, "unsupported_image"),
    ("image/jpeg", b"\xff\xd8\xff\xe0 truncated", 400, "invalid_image"),
    ("image/png", b"", 400, "empty_image"),
    ("image/jpeg", b"\xff\xd8\xff" + bytes(7 * 1024 * 1024), 413, "request_entity_too_large"),
])
def test_bad_input_is_answered_with_a_clear_error(client, content_type, data, status, code):
    response = client.post("/invocations", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


@pytest.mark.parametrize("header, code", [
    ("minScore=2", "invalid_min_score"),
    ("maxResults=0", "invalid_max_results"),
    ("maxResults=many", "invalid_max_results"),
    ("minScore", "invalid_attributes"),
])
def test_bad_custom_attributes_are_rejected_with_400(client, header, code):
    response = client.post("/invocations", data=jpeg_bytes(), content_type="image/jpeg", headers={ATTRIBUTES: header})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_custom_attributes_ignore_keys_meant_for_others():
    assert parse_custom_attributes(" minScore=0.7 ; trace=abc;maxResults=3;") == {"minScore": "0.7", "maxResults": "3"}
    with pytest.raises(RequestError):
        parse_custom_attributes("minScore=0.7;oops")


def test_model_version_comes_from_the_environment_else_metrics(trained, monkeypatch):
    monkeypatch.setenv("MODEL_VERSION", "train-2026-11-26")
    versioned = create_app(trained.model_dir).test_client()
    assert versioned.get("/ping").get_json()["model"]["version"] == "train-2026-11-26"
    monkeypatch.delenv("MODEL_VERSION")
    unversioned = create_app(trained.model_dir).test_client()
    assert unversioned.get("/ping").get_json()["model"]["version"] == "unknown"


def model_copy(trained, folder, variant, without):
    """The session's model in ``folder`` with model.json naming ``variant`` and the file ``without`` removed."""
    shutil.copytree(trained.model_dir, folder)
    spec = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**spec, "variant": variant}))
    (folder / without).unlink()
    return folder


@pytest.mark.parametrize("variant, other_graph", [("int8", "model-symbol.json"), ("fp32", "model-int8-symbol.json")])
def test_serving_loads_the_variant_model_json_names_and_logs_it(trained, tmp_path, caplog, variant, other_graph):
    model_dir = model_copy(trained, tmp_path / "model", variant, without=other_graph)
    with caplog.at_level(logging.INFO, logger="logo_detector.serving"):
        client = create_app(model_dir).test_client()
    assert f"(gluoncv-ssd, {variant} variant) loaded from {model_dir}" in caplog.text
    response = client.post("/invocations", data=jpeg_bytes(), content_type="image/jpeg",
                           headers={ATTRIBUTES: "minScore=0;maxResults=5"})
    assert response.status_code == 200
    assert_well_formed(response.get_json(), 320, 240, 0.0, 5)


def test_a_model_json_without_a_variant_serves_fp32(trained, tmp_path, caplog):
    model_dir = model_copy(trained, tmp_path / "model", "fp32", without="model-int8-symbol.json")
    spec = json.loads((model_dir / "model.json").read_text())
    del spec["variant"]
    (model_dir / "model.json").write_text(json.dumps(spec))
    with caplog.at_level(logging.INFO, logger="logo_detector.serving"):
        create_app(model_dir)
    assert "(gluoncv-ssd, fp32 variant)" in caplog.text


def test_an_unknown_variant_fails_naming_the_known_ones(trained, tmp_path):
    model_dir = model_copy(trained, tmp_path / "model", "int4", without="model-int8-symbol.json")
    with pytest.raises(UnknownVariantError) as error:
        create_app(model_dir)
    assert "Unknown model variant 'int4'" in str(error.value) and "fp32 or int8" in str(error.value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, path: str, data: Optional[bytes] = None, content_type: Optional[str] = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers={"Content-Type": content_type} if content_type else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_serve_runs_gunicorn_on_the_sagemaker_port(trained):
    port = free_port()
    env = {**os.environ, "ML_ROOT": str(trained.root), "SAGEMAKER_BIND_TO_PORT": str(port),
           "MODEL_SERVER_WORKERS": "1", "MODEL_VERSION": "train-tiny"}
    server = subprocess.Popen([sys.executable, str(CONTAINER / "bin" / "serve")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = request(port, "/ping")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.communicate()[0].decode()
                assert time.monotonic() < deadline, "serve did not answer /ping"
                time.sleep(0.3)
        assert status == 200 and body["model"]["version"] == "train-tiny"

        status, body = request(port, "/invocations", jpeg_bytes(), "image/jpeg")
        assert status == 200
        assert_well_formed(body, 320, 240, 0.5, 20)
        assert body["model"]["version"] == "train-tiny"
        status, body = request(port, "/invocations", png_bytes(), "image/png")
        assert status == 200 and body["image"] == {"width": 200, "height": 150}
        encoded = json.dumps({"image": base64.b64encode(jpeg_bytes()).decode()}).encode()
        status, body = request(port, "/invocations", encoded, "application/json")
        assert status == 200 and body["image"] == {"width": 320, "height": 240}
        status, body = request(port, "/invocations", b"plain text", "text/plain")
        assert status == 415 and body["error"]["code"] == "unsupported_media_type"
        status, body = request(port, "/invocations", b"{bad", "application/json")
        assert status == 400 and body["error"]["code"] == "invalid_json"
    finally:
        server.terminate()
        server.wait(timeout=30)
    log = server.stdout.read().decode() if server.stdout else ""
    variant = json.loads((trained.model_dir / "model.json").read_text())["variant"]
    assert f"serve: {describe_cpu(read_cpuinfo())}" in log, "serve logs the CPU and the flags that decide int8 speed"
    assert "serve: 1 workers x " in log and "MODEL_SERVER_WORKERS=1" in log
    assert f"(gluoncv-ssd, {variant} variant) loaded from" in log
