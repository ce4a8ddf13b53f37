"""Training hyperparameters: SageMaker passes every value as a string; this module gives them types and checks them."""
import json
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .errors import OperatorFixableError


class HyperparameterError(OperatorFixableError, ValueError):
    """A hyperparameter is missing, misspelt or has a value out of range; the message names the key."""


@dataclass(frozen=True)
class Hyperparameters:
    """Validated training settings (see ``SPEC`` for what each one means)."""

    classes: Tuple[str, ...]
    epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 0.001
    momentum: float = 0.9
    wd: float = 0.0005
    lr_decay_epochs: Tuple[int, ...] = (30, 35)
    lr_decay: float = 0.1
    data_shape: int = 512
    val_interval: int = 1
    seed: int = 42
    pretrained: str = "voc"
    num_workers: int = 0
    max_iterations_per_epoch: int = 0
    label_attribute: Optional[str] = None
    images_s3_prefix: Optional[str] = None
    int8_tolerance: float = 0.01


def _int(minimum: int) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} is not an integer.") from None
        if number < minimum:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} must be at least {minimum}.")
        return number

    return parse


def _float(low: float, high: float) -> Callable[[str, str], float]:
    def parse(key: str, value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} is not a number.") from None
        if not low <= number <= high:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} must be between {low} and {high}.")
        return number

    return parse


def _classes(key: str, value: str) -> Tuple[str, ...]:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise HyperparameterError(
            f'Hyperparameter {key}={value!r} is not JSON; give the class names as a JSON list, e.g. ["logo"].'
        ) from None
    if not isinstance(parsed, list) or not parsed or not all(isinstance(c, str) and c.strip() for c in parsed):
        raise HyperparameterError(
            f'Hyperparameter {key}={value!r} must be a non-empty JSON list of class names, e.g. ["logo"].'
        )
    if len(set(parsed)) != len(parsed):
        raise HyperparameterError(f"Hyperparameter {key}={value!r} names a class twice.")
    return tuple(parsed)


def _epoch_list(key: str, value: str) -> Tuple[int, ...]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    try:
        epochs = tuple(sorted(int(p) for p in parts))
    except ValueError:
        raise HyperparameterError(
            f"Hyperparameter {key}={value!r} must be comma-separated epoch numbers, e.g. \"30,35\"."
        ) from None
    if any(e < 1 for e in epochs):
        raise HyperparameterError(f"Hyperparameter {key}={value!r}: epoch numbers start at 1.")
    return epochs


def _data_shape(key: str, value: str) -> int:
    size = _int(64)(key, value)
    if size % 32:
        raise HyperparameterError(f"Hyperparameter {key}={value!r} must be a multiple of 32 (e.g. 256, 512).")
    return size


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value.strip() not in allowed:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} must be one of: {', '.join(allowed)}.")
        return value.strip()

    return parse


def _optional_text(key: str, value: str) -> Optional[str]:
    return value.strip() or None


_S3_PREFIX_HELP = "S3 URI prefix stripped from source-ref to find an image in the images channel"
_INT8_HELP = ("Serve the int8 model when its validation mAP is at most this much below fp32's (0.01: one point), "
              "else fp32.")

SPEC: Dict[str, Tuple[Callable[[str, str], object], str]] = {
    "classes": (_classes, 'Class names in class-id order, as a JSON list (required), e.g. ["logo"].'),
    "epochs": (_int(1), "Training epochs."),
    "batch_size": (_int(1), "Images per batch, over all devices."),
    "learning_rate": (_float(1e-8, 10.0), "SGD learning rate."),
    "momentum": (_float(0.0, 1.0), "SGD momentum."),
    "wd": (_float(0.0, 1.0), "SGD weight decay."),
    "lr_decay_epochs": (_epoch_list, 'Epochs after which the learning rate decays, e.g. "30,35".'),
    "lr_decay": (_float(0.0, 1.0), "Factor applied to the learning rate at each decay epoch."),
    "data_shape": (_data_shape, "Square input size of the model, in pixels; a multiple of 32."),
    "val_interval": (_int(1), "Validate every this many epochs (and always after the last)."),
    "seed": (_int(0), "Random seed."),
    "pretrained": (_choice("voc", "none"), "voc: transfer from the VOC weights; none: random initialisation."),
    "num_workers": (_int(0), "Data loader worker processes (0: load in the main process)."),
    "max_iterations_per_epoch": (_int(0), "Stop each epoch after this many batches (0: all; for quick runs)."),
    "label_attribute": (_optional_text, "Manifest label attribute (default: the key with a -metadata sibling)."),
    "images_s3_prefix": (_optional_text, f"{_S3_PREFIX_HELP} (default: s3://<bucket>/images/)."),
    "int8_tolerance": (_float(0.0, 1.0), _INT8_HELP),
}

DEFAULTS: Dict[str, object] = {f.name: f.default for f in fields(Hyperparameters) if f.name != "classes"}


def parse_hyperparameters(raw: Mapping[str, object]) -> Hyperparameters:
    """Types and validates SageMaker's hyperparameters; a key SageMaker adds itself (``sagemaker_*``) is ignored."""
    unknown = sorted(k for k in raw if k not in SPEC and not k.startswith("sagemaker_"))
    if unknown:
        raise HyperparameterError(
            f"Unknown hyperparameter(s): {', '.join(unknown)}. Known: {', '.join(SPEC)}."
        )
    if "classes" not in raw:
        raise HyperparameterError('Hyperparameter classes is required: a JSON list of class names, e.g. ["logo"].')
    values: Dict[str, Any] = {}
    for key, (parse, _) in SPEC.items():
        if key in raw:
            value = raw[key]
            if not isinstance(value, str):
                value = json.dumps(value) if isinstance(value, list) else str(value)
            values[key] = parse(key, value)
    return Hyperparameters(**values)
