"""The check npm run fetch-pretrained runs: the file that fits the VOC network, found, checked, named and recorded."""
import json
import os
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path
from typing import Tuple

import mxnet as mx
import numpy as np
import pytest
from gluoncv import model_zoo

from conftest import CONTAINER
from logo_detector.backend_gluoncv import build_network
from logo_detector.paths import MLPaths
from logo_detector.pretrained import VOC_MODEL, WEIGHTS_RECORD, PretrainedWeightsError, find_voc_weights, sha1_of
from logo_detector.pretrained_upload import prepare_upload


@pytest.fixture(scope="module")
def voc_files(tmp_path_factory) -> Tuple[Path, Path]:
    """The VOC network's weights (random, not GluonCV's), saved as save_parameters and as export write them."""
    folder = tmp_path_factory.mktemp("voc")
    net = model_zoo.get_model(VOC_MODEL, pretrained=False, pretrained_base=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.initialize(mx.init.Uniform(1.0))
    net.hybridize()
    net(mx.nd.zeros((1, 3, 512, 512)))
    net.save_parameters(str(folder / "voc.params"))
    net.export(str(folder / "exported"))
    return folder / "voc.params", folder / "exported-0000.params"


def test_the_command_finds_the_file_that_fits_in_an_archive_and_records_it(tmp_path, voc_files):
    saved, _ = voc_files
    archive = tmp_path / "train-model.tar"
    mx.nd.save(str(tmp_path / "base.params"), {"features.0.weight": mx.nd.zeros((2, 2))})
    (tmp_path / "info.json").write_text("{}")
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "info.json", "model/info.json")
        tar.add(tmp_path / "base.params", "model/base.params")
        tar.add(saved, "model/ssd.params")
    out = tmp_path / "out"
    origin = "s3://jumpstart-cache-prod-us-east-1/mxnet-training/train-x.tar.gz"

    done = subprocess.run([sys.executable, "-m", "logo_detector.pretrained_upload", str(archive), str(out),
                           "--origin", origin], env={**os.environ, "PYTHONPATH": str(CONTAINER / "src")},
                          capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[-1])
    digest = sha1_of(saved)
    assert record == {**record, "file": f"{VOC_MODEL}-{digest[:8]}.params", "sha1": digest, "model": VOC_MODEL,
                      "parameters": 205, "source": origin, "member": "model/ssd.params"}
    assert json.loads((out / WEIGHTS_RECORD).read_text()) == record
    assert (out / record["file"]).read_bytes() == saved.read_bytes()
    channel = MLPaths(tmp_path / "ml")
    channel.channel("pretrained").parent.mkdir(parents=True)
    out.rename(channel.channel("pretrained"))
    assert find_voc_weights(channel, {}) == channel.channel("pretrained") / record["file"]


def test_exported_weights_are_converted_to_the_file_training_loads(tmp_path, voc_files):
    saved, exported = voc_files
    record = prepare_upload(exported, tmp_path, str(exported))
    converted = tmp_path / record["file"]
    assert record["member"] is None and record["sha1"] == sha1_of(converted)
    original, loaded = mx.nd.load(str(saved)), mx.nd.load(str(converted))
    assert loaded.keys() == original.keys()
    for key in ("features.mobilenet0_conv0_weight", "class_predictors.0.predictor.weight"):
        np.testing.assert_array_equal(loaded[key].asnumpy(), original[key].asnumpy())
    build_network(["logo"], converted)  # as training loads it


def test_a_file_of_other_parameters_is_refused_naming_what_does_not_fit(tmp_path):
    small = tmp_path / "small.params"
    mx.nd.save(str(small), {"features.mobilenet0_conv0_weight": mx.nd.zeros((1,)), "head.weight": mx.nd.zeros((1,))})
    with pytest.raises(PretrainedWeightsError) as refused:
        prepare_upload(small, tmp_path / "out", "small.params")
    message = str(refused.value)
    assert f"does not fit GluonCV's {VOC_MODEL}" in message
    assert "204 of the network's 205 parameters are missing" in message
    assert "1 parameters are not the network's (e.g. head.weight)" in message
    assert "features.mobilenet0_conv0_weight (1,) instead of (32, 3, 3, 3)" in message
    assert not (tmp_path / "out" / WEIGHTS_RECORD).exists()


def test_bytes_that_are_no_parameter_file_are_refused(tmp_path):
    junk = tmp_path / "junk.params"
    junk.write_bytes(b"not an NDArray file")
    with pytest.raises(PretrainedWeightsError, match="is not an MXNet parameter file"):
        prepare_upload(junk, tmp_path / "out", "junk.params")


def test_an_archive_without_a_params_file_says_what_it_holds(tmp_path):
    archive = tmp_path / "a.tar.gz"
    (tmp_path / "readme.txt").write_text("hello")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "readme.txt", "docs/readme.txt")
    with pytest.raises(PretrainedWeightsError, match=r"a\.tar\.gz holds no \.params file \(it holds docs/readme.txt\)"):
        prepare_upload(archive, tmp_path / "out", "a.tar.gz")
