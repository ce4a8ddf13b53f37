"""What can be checked of the image without a Docker engine: pins, entry points, paths, the build context, the
training job's contract, and the weights fetch."""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import CONTAINER, REPO
from logo_detector.paths import training_job_contract_path
from logo_detector.pretrained import VOC_WEIGHTS_FILE, VOC_WEIGHTS_SHA1, VOC_WEIGHTS_URL

DOCKERFILE = (CONTAINER / "Dockerfile").read_text()
INSTRUCTIONS = re.sub(r"\\\n", " ", "\n".join(l for l in DOCKERFILE.splitlines() if not l.lstrip().startswith("#")))
FETCH = CONTAINER / "docker" / "fetch-pretrained.sh"
# The build context is the repository root (lib/training.ts, detectorImage); COPY sources are relative to it.
COPIES = {destination: source
          for source, destination in re.findall(r"^COPY (?:--\S+ )*(\S+) (\S+)$", INSTRUCTIONS, re.M)}
DOCKERIGNORE = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]


def requirement_pins(path: Path) -> dict:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            name, sep, version = line.partition("==")
            assert sep and version, f"{path.name}: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_every_requirement_is_pinned_and_the_frozen_stack_holds():
    pins = requirement_pins(CONTAINER / "requirements.txt")
    assert pins["mxnet"] == "1.9.1" and pins["numpy"] == "1.23.5" and pins["gluoncv"] == "0.10.5.post0"
    assert {"flask", "gunicorn", "opencv-python", "pillow"} <= set(pins)
    requirement_pins(REPO / "requirements-dev.txt")
    assert "-r training-container/requirements.txt" in (REPO / "requirements-dev.txt").read_text()


def test_the_image_installs_requirements_txt_and_only_swaps_mxnet_for_the_gpu():
    assert COPIES["/opt/program/requirements.txt"] == "training-container/requirements.txt"
    installs = [i.split() for i in re.findall(r"pip install ([^&\n]*)", INSTRUCTIONS)]
    assert installs == [["--no-cache-dir", "--disable-pip-version-check", "pip==25.3"],
                        ["--no-cache-dir", "--disable-pip-version-check", "-r", "/opt/program/requirements.txt"]]
    swap = re.search(r"sed -i 's/\^(.+?)\$/(.+?)/'", INSTRUCTIONS)
    assert swap.group(1).replace("\\", "") == "mxnet==1.9.1" and swap.group(2) == "mxnet-cu112==1.9.1"
    assert "mxnet==1.9.1" in (CONTAINER / "requirements.txt").read_text().splitlines()
    assert "pip check" in INSTRUCTIONS


def test_device_build_arg_selects_gpu_by_default_or_cpu():
    assert re.search(r"^ARG DEVICE=gpu$", INSTRUCTIONS, re.M)
    assert re.search(r"^FROM nvidia/cuda:11\.\d+\.\d+-cudnn8-runtime-ubuntu22\.04 AS base-gpu$", INSTRUCTIONS, re.M)
    assert re.search(r"^FROM ubuntu:22\.04 AS base-cpu$", INSTRUCTIONS, re.M)
    assert re.search(r"^FROM base-\$\{DEVICE\}$", INSTRUCTIONS, re.M)
    assert "python3.11 -m venv /opt/venv" in INSTRUCTIONS
    assert "libgl1" in INSTRUCTIONS and "libglib2.0-0" in INSTRUCTIONS


def test_train_and_serve_are_executables_on_path():
    path = re.search(r"PATH=([^\s]+)", INSTRUCTIONS).group(1).split(":")
    assert "/opt/program/bin" in path
    assert COPIES["/opt/program/bin"] == "training-container/bin"
    assert COPIES["/opt/program/src"] == "training-container/src"
    for name in ("train", "serve"):
        script = CONTAINER / "bin" / name
        assert script.read_text().startswith("#!/usr/bin/env python3\n")
        assert os.access(script, os.X_OK)
    assert not re.search(r"^(ENTRYPOINT|CMD)", INSTRUCTIONS, re.M), "SageMaker passes train/serve as the command"


def test_the_build_context_lets_in_what_the_dockerfile_copies_and_nothing_else():
    assert DOCKERIGNORE[0] == "*", "the root .dockerignore must start by leaving everything out"
    allowed = [pattern[1:] for pattern in DOCKERIGNORE if pattern.startswith("!")]
    for source in COPIES.values():
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        assert any(source == a or source.startswith(a + "/") for a in allowed), f"{source} is not in .dockerignore"
    for path in set(allowed) - {"training-container/Dockerfile"}:
        assert any(path == s or path.startswith(s + "/") for s in COPIES.values()), f"{path} is let in but not copied"
    assert not (CONTAINER / ".dockerignore").exists(), "the context is the repository root: use its .dockerignore"


def test_the_image_carries_the_contract_where_the_code_looks_for_it():
    # In a checkout the code reads the repository's file; in the image, the file the Dockerfile copies from it.
    assert training_job_contract_path() == REPO / "contracts" / "training-job.json"
    package_in_image = Path(next(d for d, s in COPIES.items() if s == "training-container/src")) / "logo_detector"
    assert COPIES.get(str(training_job_contract_path(package_in_image))) == "contracts/training-job.json"


def test_nothing_is_baked_under_opt_ml():
    assert "/opt/ml" not in INSTRUCTIONS
    assert "/opt/ml" not in FETCH.read_text()


def test_weights_are_fetched_at_build_and_sha1_checked():
    default_url = re.search(r"^ARG PRETRAINED_URL=(\S+)$", INSTRUCTIONS, re.M).group(1)
    assert default_url == VOC_WEIGHTS_URL
    assert 'bash /tmp/fetch-pretrained.sh "$PRETRAINED_URL" /opt/pretrained' in INSTRUCTIONS
    assert "LOGO_DETECTOR_PRETRAINED_DIR=/opt/pretrained" in INSTRUCTIONS
    script = FETCH.read_text()
    assert f"sha1={VOC_WEIGHTS_SHA1}" in script and f"file={VOC_WEIGHTS_FILE}" in script
    assert "sha1sum --check" in script


def run_fetch(url: str, dest: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(FETCH), url, str(dest)], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("case", ["unreachable", "wrong file"])
def test_the_build_goes_on_without_weights_and_says_why(tmp_path, case):
    if case == "unreachable":
        url = (tmp_path / "absent.zip").as_uri()
    else:
        archive = tmp_path / "weights.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr(VOC_WEIGHTS_FILE, b"some other weights")
        url = archive.as_uri()
    result = run_fetch(url, tmp_path / "pretrained")
    assert result.returncode == 0
    assert "no VOC weights in this image" in result.stdout
    assert list((tmp_path / "pretrained").iterdir()) == []


@pytest.mark.parametrize("device, status", [("gpu", 0), ("cpu", 0), ("tpu", 1)])
def test_the_device_step_swaps_exactly_the_mxnet_line(tmp_path, device, status):
    step = re.search(r'case "\$DEVICE" in.*?esac', INSTRUCTIONS, re.S).group(0)
    requirements = tmp_path / "requirements.txt"
    original = (CONTAINER / "requirements.txt").read_text()
    requirements.write_text(original)
    result = subprocess.run(["sh", "-c", step.replace("/opt/program/requirements.txt", str(requirements))],
                            env={**os.environ, "DEVICE": device}, capture_output=True, text=True, timeout=30)
    assert result.returncode == status, result.stderr
    expected = original.replace("\nmxnet==1.9.1\n", "\nmxnet-cu112==1.9.1\n") if device == "gpu" else original
    assert requirements.read_text() == expected
    if status:
        assert "DEVICE must be gpu or cpu, not 'tpu'" in result.stderr
