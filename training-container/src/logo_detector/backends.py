"""What a model backend is, and the registry that finds one by the name ``model.json`` records.

A backend trains a detector from manifest samples, exports it into the model folder (fp32, and an int8 variant
beside it when it can quantize), and loads either export again to serve it. Everything around it (hyperparameters,
manifests, preprocessing, the train command, the HTTP app) is backend-free. Adding a backend: write one module with
an object that satisfies ``Backend``, and add one line to ``BACKENDS``. Backend modules are imported only when their
name is asked for, so nothing here imports MXNet.
"""
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Literal, Mapping, Optional, Protocol, Sequence, Tuple, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from .errors import OperatorFixableError
from .hyperparameters import Hyperparameters
from .manifest import Sample

# (class_id, score, xmin, ymin, xmax, ymax): one detection, its box in the model input's pixels.
Detection = Tuple[int, float, float, float, float, float]
# (mAP, AP per class): VOC07 11-point at IoU 0.5; a class with no validation box has AP None.
Validation = Tuple[float, Dict[str, Optional[float]]]
# Called after each epoch with (epoch, mean training loss, the validation when the epoch was validated).
EpochCallback = Callable[[int, float, Optional[Validation]], None]

# Which export of a model serves: the float32 network, or its post-training int8 quantization. model.json records it.
Variant = Literal["fp32", "int8"]
VARIANTS: Tuple[Variant, ...] = ("fp32", "int8")

# Name -> "module:attribute" of the backend object. The name is what training writes to model.json.
BACKENDS: Mapping[str, str] = {
    "gluoncv-ssd": "logo_detector.backend_gluoncv:BACKEND",
}
# The backend the train command uses.
TRAINING_BACKEND = "gluoncv-ssd"


class UnknownBackendError(OperatorFixableError, ValueError):
    """A backend name that is not in ``BACKENDS``; the message lists the known ones."""


class UnknownVariantError(OperatorFixableError, ValueError):
    """model.json names a variant that is not in ``VARIANTS``."""


class QuantizationUnavailableError(Exception):
    """This build of the backend cannot make the int8 variant; the message says why. Training then serves fp32."""


@dataclass(frozen=True)
class TrainingRun:
    """Everything a backend needs to train: settings, samples, where to checkpoint, and where to report."""

    params: Hyperparameters
    train: Sequence[Sample]
    validation: Sequence[Sample]
    checkpoints: Path
    """Checkpoint after each epoch here, and resume from what is here (SageMaker syncs it to S3)."""
    pretrained_weights: Callable[[], Optional[Path]]
    """The weights to start from, or None for random initialisation; called only when no checkpoint is resumed."""
    on_epoch: EpochCallback
    log: Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    """How training ended: the best validated epoch and the file holding its weights."""

    best_map: float
    best_ap_per_class: Dict[str, Optional[float]]
    best_epoch: int
    epochs_run: int
    best_weights: Optional[Path]
    """The best epoch's weights in the backend's own format; None when no epoch was validated."""


class Detector(Protocol):
    """A loaded model: the preprocessed image in, detections in the model input's pixel coordinates out."""

    def detect(self, tensor: npt.NDArray[np.float32]) -> List[Detection]:
        """Detections for one ``preprocessing.model_input`` array (3 x data_shape x data_shape), any order."""


@runtime_checkable
class Backend(Protocol):
    """A model implementation: how a detector is trained, exported to the model folder, and loaded to serve."""

    @property
    def name(self) -> str:
        """The registry name, written to model.json's ``backend`` field."""

    def train(self, run: TrainingRun) -> TrainingResult:
        """Trains on ``run.train``, validating on ``run.validation``; resumes from ``run.checkpoints``.

        Raises ``OperatorFixableError`` subclasses for what an operator can fix (e.g. an unusable checkpoint).
        """

    def export(self, weights: Path, params: Hyperparameters, model_dir: Path) -> None:
        """Writes ``weights`` (a ``TrainingResult.best_weights``) to ``model_dir`` as ``load_detector`` reads it."""

    @property
    def int8_recipes(self) -> Sequence[str]:
        """The ways ``quantize`` can make the int8 variant, fastest first (training tries them in this order)."""

    def quantize(self, model_dir: Path, calibration: Sequence[Sample], params: Hyperparameters,
                 log: Callable[[str], None], recipe: str) -> None:
        """Writes the int8 variant of the fp32 model in ``model_dir`` beside it (replacing one already there) by
        ``recipe``, calibrated on ``calibration`` with ``params.seed``. Raises ``QuantizationUnavailableError`` when
        this build cannot quantize."""

    def load_detector(self, model_dir: Path, variant: Variant = "fp32") -> Detector:
        """The ``variant`` of the model in ``model_dir``, loaded for inference on the CPU."""


def get_backend(name: object) -> Backend:
    """The registered backend called ``name``; raises ``UnknownBackendError`` naming the known ones."""
    if not isinstance(name, str) or name not in BACKENDS:
        raise UnknownBackendError(
            f"Unknown model backend {name!r}: this image knows {', '.join(repr(n) for n in sorted(BACKENDS))}. "
            "model.json's backend must name one of them (serve a model with an image whose "
            "logo_detector/backends.py registers its backend)."
        )
    module, _, attribute = BACKENDS[name].partition(":")
    return cast(Backend, getattr(importlib.import_module(module), attribute))


def parse_variant(value: object) -> Variant:
    """model.json's ``variant``: ``fp32`` when absent (models trained before int8 existed), else one of ``VARIANTS``;
    raises ``UnknownVariantError`` otherwise."""
    if value is None:
        return "fp32"
    for variant in VARIANTS:
        if value == variant:
            return variant
    raise UnknownVariantError(
        f"Unknown model variant {value!r} in model.json: this image serves {' or '.join(VARIANTS)}. Train the model "
        "again with this image, or set model.json's variant to one of them."
    )
