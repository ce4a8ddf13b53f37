"""Finding the VOC-pretrained SSD weights without the network: a ``pretrained`` channel, else the image's copy."""
import hashlib
import os
from pathlib import Path
from typing import Mapping

from .errors import OperatorFixableError
from .paths import MLPaths

VOC_WEIGHTS_FILE = "ssd_512_mobilenet1.0_voc-37c18076.params"
VOC_WEIGHTS_SHA1 = "37c180765a4eb3e67751d6bacac47bb9156f5fff"
VOC_WEIGHTS_URL = (
    "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/gluon/models/ssd_512_mobilenet1.0_voc-37c18076.zip"
)
# Where the Dockerfile puts the copy it fetched at build time (outside /opt/ml, which SageMaker mounts over).
DEFAULT_BAKED_DIR = "/opt/pretrained"


class PretrainedWeightsError(OperatorFixableError):
    """The VOC weights are not available (or not the expected file); the message says how to supply them."""


def sha1_of(path: Path) -> str:
    """Hex SHA-1 of a file."""
    digest = hashlib.sha1()  # noqa: S324 - the digest GluonCV publishes for its weights (and puts in the file name)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_voc_weights(paths: MLPaths, environ: Mapping[str, str] = os.environ) -> Path:
    """The VOC weights file: from the ``pretrained`` channel (SHA-1 checked), else the copy baked into the image.

    Never downloads: training jobs may run with network isolation.
    """
    channel = paths.channel("pretrained")
    candidates = sorted(channel.rglob("*.params")) if channel.is_dir() else []
    for candidate in candidates:
        if sha1_of(candidate) == VOC_WEIGHTS_SHA1:
            return candidate
    if candidates:
        names = ", ".join(str(c) for c in candidates)
        raise PretrainedWeightsError(
            f"The pretrained channel holds {names}, but none has the SHA-1 of {VOC_WEIGHTS_FILE} "
            f"({VOC_WEIGHTS_SHA1}). Replace it with the original file from {VOC_WEIGHTS_URL} (unzip it), "
            "uploaded unchanged to the artifacts bucket under pretrained/."
        )
    baked = Path(environ.get("LOGO_DETECTOR_PRETRAINED_DIR") or DEFAULT_BAKED_DIR) / VOC_WEIGHTS_FILE
    if baked.is_file() and sha1_of(baked) == VOC_WEIGHTS_SHA1:
        return baked
    raise PretrainedWeightsError(
        f"pretrained=voc needs the GluonCV VOC weights {VOC_WEIGHTS_FILE} (SHA-1 {VOC_WEIGHTS_SHA1}), and there are "
        f"none: no pretrained channel ({channel}) and no copy in the image ({baked}; the image build could not "
        f"fetch it). Supply it once: download {VOC_WEIGHTS_URL}, unzip it, and upload the .params file to the "
        f"artifacts bucket under pretrained/ (aws s3 cp {VOC_WEIGHTS_FILE} s3://<artifacts bucket>/pretrained/); "
        "the pipeline maps that prefix to the pretrained channel. Or set hyperparameter pretrained=none to train "
        "from random initialisation."
    )
