"""Training hyperparameters: SageMaker passes every value as a string; this module gives them types and checks them.

Which hyperparameters exist, and their types, limits, defaults and help, is the training job's contract,
contracts/training-job.json, which the CDK app reads too (the state machine can only send names it lists). This
module turns each contract type into a parser; ``Hyperparameters`` is the typed result, one field per name.
"""
import json
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .errors import OperatorFixableError
from .paths import training_job_contract, training_job_contract_path


class HyperparameterError(OperatorFixableError, ValueError):
    """A hyperparameter is missing, misspelt or has a value out of range; the message names the key."""


@dataclass(frozen=True)
class Hyperparameters:
    """Validated training settings, one field per hyperparameter of the contract (see ``SPEC`` for each meaning)."""

    classes: Tuple[str, ...]
    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    wd: float
    lr_decay_epochs: Tuple[int, ...]
    lr_decay: float
    lr_schedule: str
    warmup_iterations: int
    data_shape: int
    val_interval: int
    seed: int
    pretrained: str
    num_workers: int
    max_iterations_per_epoch: int
    label_attribute: Optional[str]
    images_s3_prefix: Optional[str]
    int8_tolerance: float


Parser = Callable[[str, str], Any]


def _int(minimum: int, multiple_of: Optional[int] = None) -> Parser:
    def parse(key: str, value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} is not an integer.") from None
        if number < minimum:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} must be at least {minimum}.")
        if multiple_of and number % multiple_of:
            raise HyperparameterError(
                f"Hyperparameter {key}={value!r} must be a multiple of {multiple_of} "
                f"(e.g. {8 * multiple_of}, {16 * multiple_of})."
            )
        return number

    return parse


def _float(low: float, high: float) -> Parser:
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


def _choice(*allowed: str) -> Parser:
    def parse(key: str, value: str) -> str:
        if value.strip() not in allowed:
            raise HyperparameterError(f"Hyperparameter {key}={value!r} must be one of: {', '.join(allowed)}.")
        return value.strip()

    return parse


def _optional_text(key: str, value: str) -> Optional[str]:
    return value.strip() or None


# Each contract type, its parser (built from the entry's limits) and the Python type of its field.
_TYPES: Dict[str, Tuple[Callable[[Dict[str, Any]], Parser], Any]] = {
    "integer": (lambda entry: _int(entry["minimum"], entry.get("multipleOf")), int),
    "number": (lambda entry: _float(float(entry["minimum"]), float(entry["maximum"])), float),
    "choice": (lambda entry: _choice(*entry["choices"]), str),
    "text": (lambda entry: _optional_text, Optional[str]),
    "class-list": (lambda entry: _classes, Tuple[str, ...]),
    "epoch-list": (lambda entry: _epoch_list, Tuple[int, ...]),
}


def _spec(contract: Mapping[str, Dict[str, Any]]) -> Dict[str, Tuple[Parser, str]]:
    """A parser and help text per hyperparameter of the contract, checked against ``Hyperparameters``."""
    field_types = {f.name: f.type for f in fields(Hyperparameters)}
    if list(contract) != list(field_types):
        raise ValueError(
            f"{training_job_contract_path()} lists the hyperparameters {', '.join(contract)}, but Hyperparameters "
            f"has the fields {', '.join(field_types)}; keep both the same, in the same order."
        )
    spec = {}
    for key, entry in contract.items():
        if entry["type"] not in _TYPES or _TYPES[entry["type"]][1] != field_types[key]:
            raise ValueError(
                f"{training_job_contract_path()}: hyperparameter {key} has type {entry['type']!r}, which does not "
                f"parse into Hyperparameters.{key} ({field_types[key]}); known types: {', '.join(_TYPES)}."
            )
        help_text = f"{entry['description']} Required." if entry.get("required") else entry["description"]
        spec[key] = (_TYPES[entry["type"]][0](entry), help_text)
    return spec


_CONTRACT: Mapping[str, Dict[str, Any]] = training_job_contract()["hyperparameters"]

SPEC: Dict[str, Tuple[Parser, str]] = _spec(_CONTRACT)
"""Every hyperparameter: its parser and its help text (``train --help``)."""

REQUIRED: Tuple[str, ...] = tuple(key for key, entry in _CONTRACT.items() if entry.get("required"))
"""Hyperparameters without a default; a job without them fails."""

DEFAULTS: Dict[str, object] = {
    key: None if entry["default"] is None else SPEC[key][0](key, entry["default"])
    for key, entry in _CONTRACT.items()
    if key not in REQUIRED
}
"""The typed value of every hyperparameter that has a default."""


def parse_hyperparameters(raw: Mapping[str, object]) -> Hyperparameters:
    """Types and validates SageMaker's hyperparameters; a key SageMaker adds itself (``sagemaker_*``) is ignored."""
    unknown = sorted(k for k in raw if k not in SPEC and not k.startswith("sagemaker_"))
    if unknown:
        raise HyperparameterError(
            f"Unknown hyperparameter(s): {', '.join(unknown)}. Known: {', '.join(SPEC)}."
        )
    for key in REQUIRED:
        if key not in raw:
            raise HyperparameterError(f"Hyperparameter {key} is required. {_CONTRACT[key]['description']}")
    values: Dict[str, Any] = dict(DEFAULTS)
    for key, (parse, _) in SPEC.items():
        if key in raw:
            value = raw[key]
            if not isinstance(value, str):
                value = json.dumps(value) if isinstance(value, list) else str(value)
            values[key] = parse(key, value)
    return Hyperparameters(**values)
