"""Finding the VOC-pretrained SSD weights without the network: a ``pretrained`` channel, else the image's copy.

The channel (the artifacts bucket's ``pretrained/``) holds either GluonCV's original file, recognised by its
published SHA-1, or a file ``npm run fetch-pretrained`` checked and uploaded with a record of its SHA-1
(``weights.json``, written by ``pretrained_upload``).
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from .errors import OperatorFixableError
from .paths import MLPaths

VOC_MODEL = "ssd_512_mobilenet1.0_voc"
VOC_WEIGHTS_FILE = "ssd_512_mobilenet1.0_voc-37c18076.params"
VOC_WEIGHTS_SHA1 = "37c180765a4eb3e67751d6bacac47bb9156f5fff"
VOC_WEIGHTS_URL = (
    "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/gluon/models/ssd_512_mobilenet1.0_voc-37c18076.zip"
)
# The record of a checked file, beside it in pretrained/: {"file", "sha1", "model", "parameters", "source", ...}.
WEIGHTS_RECORD = "weights.json"
# Where the Dockerfile puts the copy it fetched at build time (outside /opt/ml, which SageMaker mounts over).
DEFAULT_BAKED_DIR = "/opt/pretrained"
HOW_TO_SUPPLY = (
    "Supply the weights once: npm run fetch-pretrained copies GluonCV's VOC SSD from SageMaker JumpStart (or checks "
    "a file given with --file) to the artifacts bucket's pretrained/ prefix; or, with GluonCV's original file "
    f"(SHA-1 {VOC_WEIGHTS_SHA1}), upload the .params file to the artifacts bucket under pretrained/ yourself"
)


class PretrainedWeightsError(OperatorFixableError):
    """The VOC weights are not available (or not the expected file); the message says how to supply them."""


def sha1_of(path: Path) -> str:
    """Hex SHA-1 of a file."""
    digest = hashlib.sha1()  # noqa: S324 - the digest GluonCV publishes for its weights (and puts in the file name)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_record(channel: Path) -> Optional[Dict[str, Any]]:
    """The channel's ``weights.json``, or None when there is none; raises when it is not one the command writes."""
    path = channel / WEIGHTS_RECORD
    if not path.is_file():
        return None
    fix = (f"Delete pretrained/{WEIGHTS_RECORD} from the artifacts bucket, or run npm run fetch-pretrained again "
           "to rewrite it.")
    try:
        record = json.loads(path.read_text())
    except ValueError as err:
        raise PretrainedWeightsError(f"{path} is not JSON ({err}). {fix}") from None
    if not (isinstance(record, dict) and all(isinstance(record.get(k), str) for k in ("file", "sha1"))):
        raise PretrainedWeightsError(f'{path} has no "file" and "sha1" strings. {fix}')
    return record


def find_voc_weights(paths: MLPaths, environ: Mapping[str, str] = os.environ) -> Path:
    """The VOC weights file: from the ``pretrained`` channel (SHA-1 checked), else the copy baked into the image.

    In the channel, a file is used when it has GluonCV's published SHA-1, or the one ``weights.json`` records for
    it. Never downloads: training jobs may run with network isolation.
    """
    channel = paths.channel("pretrained")
    candidates = sorted(channel.rglob("*.params")) if channel.is_dir() else []
    record = read_record(channel) if channel.is_dir() else None
    if record is not None:
        recorded = channel / str(record["file"])
        if recorded in candidates:
            found = sha1_of(recorded)
            if found == record["sha1"]:
                return recorded
            raise PretrainedWeightsError(
                f"{recorded} does not have the SHA-1 {WEIGHTS_RECORD} records for it (recorded {record['sha1']}, "
                f"found {found}): it changed after it was checked. {HOW_TO_SUPPLY}."
            )
    for candidate in candidates:
        if sha1_of(candidate) == VOC_WEIGHTS_SHA1:
            return candidate
    if candidates:
        names = ", ".join(str(c) for c in candidates)
        raise PretrainedWeightsError(
            f"The pretrained channel holds {names}, but none has the SHA-1 of GluonCV's {VOC_WEIGHTS_FILE} or the "
            f"one {WEIGHTS_RECORD} records for it. {HOW_TO_SUPPLY}."
        )
    baked = Path(environ.get("LOGO_DETECTOR_PRETRAINED_DIR") or DEFAULT_BAKED_DIR) / VOC_WEIGHTS_FILE
    if baked.is_file() and sha1_of(baked) == VOC_WEIGHTS_SHA1:
        return baked
    raise PretrainedWeightsError(
        f"pretrained=voc needs GluonCV's VOC weights ({VOC_MODEL}), and there are none: no pretrained channel "
        f"({channel}) and no copy in the image ({baked}; GluonCV's download host no longer answers the image build). "
        f"{HOW_TO_SUPPLY}; the pipeline maps that prefix to the pretrained channel. Or set hyperparameter "
        "pretrained=none to train from random initialisation."
    )
