"""The GPU check before training: which compute capabilities the MXNet build runs on, and the failure it writes."""
import os
import re
import subprocess
from typing import List

import pytest

from conftest import TINY_HYPERPARAMETERS, run_train
from logo_detector.mxnet_gpu import (
    Gpu,
    UnsupportedGpuError,
    check_compute_capability,
    cubin_for,
    parse_nvidia_smi,
    prepare_gpus,
    probe_gpus,
)
from tinydata import make_ml_root


@pytest.mark.parametrize(("gpu", "capability", "cubin"), [
    ("T4 (ml.g4dn)", (7, 5), (7, 0)),
    ("A10G (ml.g5)", (8, 6), (8, 6)),
    ("A100 (ml.p4d)", (8, 0), (8, 0)),
    ("L4 (ml.g6)", (8, 9), (8, 6)),
    ("V100 (ml.p3)", (7, 0), (7, 0)),
])
def test_a_gpu_runs_the_newest_code_of_its_major_version_not_above_its_minor(gpu, capability, cubin):
    assert cubin_for(capability) == cubin, gpu


@pytest.mark.parametrize("capability", [(8, 0), (8, 6), (7, 5)])
def test_fusion_stays_on_where_nvrtc_knows_the_architecture(capability):
    assert check_compute_capability(capability) == {}


def test_fusion_is_turned_off_on_a_newer_minor_version_than_the_build_knows():
    assert check_compute_capability((8, 9)) == {"MXNET_USE_FUSION": "0"}


@pytest.mark.parametrize("capability", [(9, 0), (10, 0), (3, 7)])
def test_a_gpu_of_another_major_version_is_refused_with_the_reason_and_the_families_that_work(capability):
    with pytest.raises(UnsupportedGpuError) as refused:
        check_compute_capability(capability, "GPU 0 (NVIDIA H100 80GB HBM3)")
    message = str(refused.value)
    assert f"GPU 0 (NVIDIA H100 80GB HBM3) has compute capability {capability[0]}.{capability[1]}" in message
    assert "mxnet-cu112 1.9.1" in message and "5.0, 6.0, 7.0, 8.0, 8.6" in message and "no PTX" in message
    assert "ml.g4dn" in message and "trainingInstanceType" in message


def test_nvidia_smi_output_is_read_gpu_by_gpu():
    output = "0, NVIDIA H100 80GB HBM3, 9.0\n1, Tesla T4, 7.5\n\n"
    assert parse_nvidia_smi(output) == [Gpu(0, "NVIDIA H100 80GB HBM3", (9, 0)), Gpu(1, "Tesla T4", (7, 5))]


def test_a_line_nvidia_smi_should_not_print_is_an_error():
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        parse_nvidia_smi("0, Tesla T4, [N/A]\n")


def test_a_host_without_nvidia_smi_has_no_gpu_to_check():
    def missing(*_args, **_kwargs) -> subprocess.CompletedProcess:
        raise FileNotFoundError("nvidia-smi")

    assert probe_gpus(missing) == []


def test_an_nvidia_smi_that_fails_is_reported_and_training_goes_on():
    def old_driver(*args, **_kwargs) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(args, 2, "", 'Field "compute_cap" is not a valid field to query.')

    lines: List[str] = []
    assert prepare_gpus(lines.append, probe=lambda: probe_gpus(old_driver), environ={}) == []
    assert "could not read the GPUs' compute capability" in lines[0] and "compute_cap" in lines[0]


def test_prepare_sets_what_the_gpu_needs_and_keeps_a_setting_already_made():
    l4 = [Gpu(0, "NVIDIA L4", (8, 9))]
    environ: dict = {}
    lines: List[str] = []
    prepare_gpus(lines.append, probe=lambda: l4, environ=environ)
    assert environ == {"MXNET_USE_FUSION": "0"}
    assert lines == ["GPU 0: NVIDIA L4, compute capability 8.9, runs the build's 8.6 code; MXNET_USE_FUSION=0"]
    preset = {"MXNET_USE_FUSION": "1"}
    prepare_gpus(lines.append, probe=lambda: l4, environ=preset)
    assert preset == {"MXNET_USE_FUSION": "1"}


def test_train_on_an_h100_fails_at_once_with_the_reason_in_the_failure_file(tmp_path):
    # The driver's view of the machine is all the check reads: an nvidia-smi that answers as on an ml.p5.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '0, NVIDIA H100 80GB HBM3, 9.0'\n")
    fake.chmod(0o755)
    root = make_ml_root(tmp_path / "ml", train=2, validation=1, hyperparameters=TINY_HYPERPARAMETERS)
    result = run_train(root, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert re.match(r"GPU 0 \(NVIDIA H100 80GB HBM3\) has compute capability 9\.0, and the image's MXNet", failure)
    assert "epoch=" not in result.stdout, "nothing may train before the check"
    assert not (root / "checkpoints").exists()
