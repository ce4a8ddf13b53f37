"""The serving app on the session's tiny model: in process for the request rules, under gunicorn for the real server."""
import base64
import importlib.machinery
import importlib.util
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
from pathlib import Path
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


def gunicorn_bind(monkeypatch: pytest.MonkeyPatch, ml_root: Path, environment: dict[str, str]) -> str:
    """The address ``bin/serve`` hands gunicorn's ``--bind`` in `environment` (the exec is intercepted), serving a
    model folder under `ml_root` whose model.json names the fp32 variant (serve sizes gunicorn from it)."""
    (ml_root / "model").mkdir(parents=True, exist_ok=True)
    (ml_root / "model" / "model.json").write_text(json.dumps({"variant": "fp32"}))
    monkeypatch.setenv("ML_ROOT", str(ml_root))
    loader = importlib.machinery.SourceFileLoader("serve_entry", str(CONTAINER / "bin" / "serve"))
    spec = importlib.util.spec_from_loader("serve_entry", loader)
    assert spec is not None
    serve = importlib.util.module_from_spec(spec)
    loader.exec_module(serve)
    for name in ("MODEL_SERVER_HOST", "SAGEMAKER_BIND_TO_PORT", "MODEL_SERVER_WORKERS", "OMP_NUM_THREADS",
                 "MXNET_CPU_WORKER_NTHREADS", "OPENCV_FOR_THREADS_NUM"):
        monkeypatch.setenv(name, "")  # so that teardown restores what serve sets in this process
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    executed: list[list[str]] = []
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: executed.append(argv))
    serve.main()
    argv = executed[0]
    return argv[argv.index("--bind") + 1]


def test_serve_binds_all_interfaces_in_the_container_and_the_host_it_is_given_elsewhere(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # SageMaker hosting reaches the container from outside it; local mode and the tests must not be reachable.
    assert gunicorn_bind(monkeypatch, tmp_path, {}) == "0.0.0.0:8080"
    assert gunicorn_bind(monkeypatch, tmp_path, {"MODEL_SERVER_HOST": "127.0.0.1",
                                                 "SAGEMAKER_BIND_TO_PORT": "9001"}) == (
        "127.0.0.1:9001"
    )


def test_serve_gives_mxnet_openmp_and_opencv_the_threads_it_sizes_each_worker(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gunicorn_bind(monkeypatch, tmp_path, {"MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "3"})
    assert [os.environ[name] for name in ("OMP_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS",
                                          "OPENCV_FOR_THREADS_NUM")] == ["3", "3", "3"]
    gunicorn_bind(monkeypatch, tmp_path, {})
    assert os.environ["OPENCV_FOR_THREADS_NUM"] == "1"  # one worker per vCPU, one thread each


def test_serve_runs_gunicorn_on_the_sagemaker_port(trained):
    port = free_port()
    env = {**os.environ, "ML_ROOT": str(trained.root), "SAGEMAKER_BIND_TO_PORT": str(port),
           "MODEL_SERVER_HOST": "127.0.0.1", "MODEL_SERVER_WORKERS": "1", "MODEL_VERSION": "train-tiny"}
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


def truncated_png() -> bytes:
    """A PNG with half of its pixel data cut off (its header intact)."""
    pixels = np.random.default_rng(5).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    whole = buffer.getvalue()
    return whole[: len(whole) // 2]


def test_a_truncated_image_gets_400_whatever_was_imported_before(client):
    # The client's app runs the real backend, whose GluonCV import turns Pillow's "load truncated images" on for
    # the whole process; set it here too, so the test holds whatever GluonCV does.
    from PIL import ImageFile
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    for data, content_type in ((truncated_png(), "image/png"), (jpeg_bytes()[:-400], "image/jpeg")):
        response = client.post("/invocations", data=data, content_type=content_type)
        assert response.status_code == 400, response.get_json()
        assert response.get_json()["error"]["code"] == "invalid_image"


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # nested deeper than Python's recursion limit
    b"[" + b"1," * 2_500_000 + b"1]",  # 5 MB of numbers
    b'{"image": "", "maxResults": ' + b"9" * 100_000 + b"}",  # an integer of 100000 digits
])
def test_a_deep_or_huge_json_body_gets_400(client, body):
    response = client.post("/invocations", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("content_type, data", [
    ("application/json", b'{"image": "abc", '),
    ("application/json", b"[" * 100_000),
    ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00" +
     b"garbage" * 10),
    ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(30)),
])
def test_error_messages_carry_no_parser_text_or_addresses(client, content_type, data):
    response = client.post("/invocations", data=data, content_type=content_type)
    assert 400 <= response.status_code < 500
    message = response.get_json()["error"]["message"]
    for internal in ("0x", "BytesIO", "object at", "line 1 column", "Expecting", "Traceback", "recursion"):
        assert internal not in message, message


def webp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (90, 60), (200, 30, 30)).save(buffer, format="WEBP")
    return buffer.getvalue()


@pytest.mark.parametrize("content_type, make", [
    ("image/webp", webp_bytes),
    ("application/octet-stream", png_bytes),
    ("image/jpeg", png_bytes),  # a wrong label: the bytes decide
])
def test_any_image_or_octet_stream_type_is_taken_when_the_bytes_are_an_accepted_format(client, content_type, make):
    response = client.post("/invocations", data=make(), content_type=content_type)
    assert response.status_code == 200, response.get_json()


def test_other_formats_and_oversized_images_are_refused_before_decoding(client):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    response = client.post("/invocations", data=heic, content_type="application/octet-stream")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_image"
    assert "HEIC" in response.get_json()["error"]["message"] and "sips" in response.get_json()["error"]["message"]

    buffer = io.BytesIO()
    Image.new("L", (8000, 7000), 128).save(buffer, format="PNG")
    response = client.post("/invocations", data=buffer.getvalue(), content_type="image/png")
    assert response.status_code == 413
    assert response.get_json()["error"] == {
        "code": "image_too_large",
        "message": "Image too large: 56.0 MP (8000x7000 pixels), limit 16 MP. Downsize it and try again: the model "
                   "sees 512x512 pixels, so 1024 pixels on the longest side loses nothing.",
    }


@pytest.fixture(scope="module")
def batch_client(trained):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BATCH_MODE", "true")
        patch.setenv("BATCH_MIN_SCORE", "0.05")
        return create_app(trained.model_dir).test_client()


def test_batch_mode_answers_a_bad_image_200_with_its_error_so_the_transform_job_goes_on(batch_client):
    response = batch_client.post("/invocations", data=b"these bytes are no image",
                                 content_type="application/octet-stream")
    assert response.status_code == 200
    error = response.get_json()["error"]
    assert error["status"] == 415 and error["code"] == "unsupported_image"
    assert "Accepted formats" in error["message"]


def test_batch_mode_takes_its_min_score_from_the_job_and_returns_up_to_the_result_limit(batch_client, client):
    image = jpeg_bytes()
    batch = batch_client.post("/invocations", data=image, content_type="application/octet-stream").get_json()
    assert_well_formed(batch, 320, 240, 0.05, 100)
    everything = client.post("/invocations", data=image, content_type="image/jpeg",
                             headers={ATTRIBUTES: "minScore=0.05;maxResults=100"}).get_json()
    assert batch["detections"] == everything["detections"]


def test_batch_mode_keeps_error_statuses_for_requests_that_are_not_records(batch_client):
    assert batch_client.get("/invocations").status_code == 405


@pytest.mark.parametrize("value", ["high", "1.5"])
def test_a_bad_batch_min_score_stops_serve_at_start_naming_the_variable(value):
    from logo_detector.serving import batch_settings
    with pytest.raises(ValueError, match=r"BATCH_MIN_SCORE: minScore .* must be a number from 0 to 1"):
        batch_settings({"BATCH_MODE": "true", "BATCH_MIN_SCORE": value})
    assert batch_settings({"BATCH_MIN_SCORE": value}) is None
