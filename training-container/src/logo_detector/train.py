"""The ``train`` entry point: SageMaker's training contract around the model backend (``backends``).

Reads hyperparameters and the train/validation/images channels under ``ML_ROOT``; writes the model, classes and
metrics to ``<ML_ROOT>/model``; checkpoints every epoch; on failure writes the reason to ``<ML_ROOT>/output/failure``
and exits non-zero. Log lines ``epoch=<n> train_loss=<x>``, ``epoch=<n> val_mAP=<x>``, ``best_val_mAP=<x>``,
``int8_val_mAP=<x>`` and ``serving_int8=<0|1>`` are the training job's metric definitions.
"""
import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .backends import (TRAINING_BACKEND, Backend, QuantizationUnavailableError, TrainingResult, TrainingRun,
                       Validation, Variant, get_backend)
from . import report
from .errors import OperatorFixableError
from .evaluation import Evaluation, summary
from .hyperparameters import SPEC, Hyperparameters, HyperparameterError, parse_hyperparameters
from .manifest import ManifestCounts, Sample, read_manifest
from .paths import MLPaths, ml_paths
from .pretrained import find_voc_weights

# SageMaker shows at most 1024 characters of the failure reason.
FAILURE_LIMIT = 1000
# Two mAPs this close count as equal when judging int8 against fp32's mAP minus the tolerance (float subtraction).
MAP_EPSILON = 1e-9


class DatasetError(OperatorFixableError):
    """A channel is missing or yields no usable image."""


def log(message: str) -> None:
    """A progress line on stdout, flushed so CloudWatch shows it at once."""
    print(message, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line overrides of hyperparameters.json (``train --help`` lists every hyperparameter)."""
    parser = argparse.ArgumentParser(
        prog="train",
        description="Fine-tunes SSD-512 MobileNet 1.0 on the manifests under $ML_ROOT (default /opt/ml). "
        "Hyperparameters come from input/config/hyperparameters.json; options given here override them.",
    )
    for key, (_, help_text) in SPEC.items():
        parser.add_argument(f"--{key}", default=None, help=help_text)
    return parser.parse_args(argv)


def load_hyperparameters(paths: MLPaths, overrides: argparse.Namespace) -> Hyperparameters:
    """hyperparameters.json (all strings), overridden by any command-line option, validated."""
    raw: Dict[str, object] = {}
    if paths.hyperparameters.is_file():
        try:
            raw = json.loads(paths.hyperparameters.read_text())
        except ValueError as err:
            raise HyperparameterError(f"{paths.hyperparameters} is not valid JSON: {err}") from None
        if not isinstance(raw, dict):
            raise HyperparameterError(f"{paths.hyperparameters} must hold a JSON object.")
    raw.update({k: v for k, v in vars(overrides).items() if v is not None})
    return parse_hyperparameters(raw)


def get_dataset(paths: MLPaths, params: Hyperparameters, channel: str) -> Tuple[List[Sample], ManifestCounts]:
    """The samples of the ``train`` or ``validation`` channel (``<channel>/<channel>.manifest``)."""
    manifest = paths.channel(channel) / f"{channel}.manifest"
    if not manifest.is_file():
        raise DatasetError(f"The {channel} channel has no {channel}.manifest (looked for {manifest}).")
    images = paths.channel("images")
    if not images.is_dir():
        raise DatasetError(f"The images channel is missing (looked for {images}).")
    samples, counts = read_manifest(manifest, images, params.classes, params.label_attribute,
                                    params.images_s3_prefix)
    log(f"{channel}: {counts.images} images, {counts.boxes} boxes; skipped {counts.skipped_lines} lines without "
        f"annotations, clipped {counts.clipped} boxes at the image edge, rejected {counts.rejected} empty boxes")
    if not samples:
        raise DatasetError(f"{manifest} has no image with a usable box; label some images and run again.")
    return samples, counts


def report_epoch(epoch: int, train_loss: float, validation: Optional[Validation]) -> None:
    """Prints the metric lines of one epoch."""
    log(f"epoch={epoch} train_loss={train_loss!r}")
    if validation is not None:
        mean_ap, per_class = validation
        log(f"epoch={epoch} val_mAP={mean_ap!r}")
        log(f"epoch {epoch} AP per class: " + ", ".join(f"{k}={'n/a' if v is None else f'{v:.4f}'}"
                                                         for k, v in per_class.items()))


def choose_variant(fp32_map: Optional[float], int8_map: Optional[float], tolerance: float,
                   fp32_f1: Optional[float] = None, int8_f1: Optional[float] = None) -> Tuple[Variant, str]:
    """The variant to serve, and why: int8 when its mAP is at most ``tolerance`` below fp32's (both VOC07 at IoU 0.5
    on the same split through the serving path) and, when both are given, so is its F1 at its own calibrated
    threshold (the operating point clients get by default); else fp32; fp32 when there is no int8 mAP.

    mAP alone is not enough: quantizing the class head can squeeze scores together, and VOC07's ranking of tied
    scores then keeps the mAP while the detections clients see at the calibrated threshold lose recall."""
    if int8_map is None:
        return "fp32", "there is no int8 mAP to compare"
    fp32 = fp32_map or 0.0
    if fp32 - int8_map > tolerance + MAP_EPSILON:
        return "fp32", f"int8's mAP {int8_map:.4f} is more than {tolerance:g} below fp32's {fp32:.4f}"
    if fp32_f1 is not None and (int8_f1 or 0.0) < fp32_f1 - tolerance - MAP_EPSILON:
        return "fp32", (f"int8's F1 at its calibrated threshold, {int8_f1 or 0.0:.4f}, is more than {tolerance:g} "
                        f"below fp32's {fp32_f1:.4f} (its mAP {int8_map:.4f} is within {tolerance:g})")
    if fp32_f1 is not None:
        return "int8", (f"its mAP {int8_map:.4f} and F1 {int8_f1 or 0.0:.4f} are within {tolerance:g} of fp32's "
                        f"{fp32:.4f} and {fp32_f1:.4f}")
    return "int8", f"its mAP {int8_map:.4f} is within {tolerance:g} of fp32's {fp32:.4f}"


def best_f1(evaluation: Evaluation) -> Optional[float]:
    """F1 at the evaluation's calibrated threshold; None when no threshold finds a true box."""
    return None if evaluation.threshold is None else evaluation.threshold.f1


@dataclass(frozen=True)
class Int8Outcome:
    """What quantizing found: the evaluation of the int8 graph left in the model folder (None when none was made),
    the recipe that made it, each tried recipe's mAP, and why there is none when the backend cannot quantize."""

    evaluation: Optional[Evaluation]
    recipe: Optional[str]
    tried: Dict[str, Optional[float]]
    unavailable: Optional[str]
    tried_f1: Dict[str, Optional[float]] = field(default_factory=dict)


def evaluate_int8(paths: MLPaths, params: Hyperparameters, backend: Backend, validation: Sequence[Sample],
                  fp32: Evaluation) -> Int8Outcome:
    """Quantizes the exported model with each of the backend's recipes, fastest first, calibrated on
    ``validation``, and evaluates each on it until one is within ``int8_tolerance`` of ``fp32`` by
    ``choose_variant``'s rule; the last one tried stays in the model folder."""
    evaluation: Optional[Evaluation] = None
    tried: Dict[str, Optional[float]] = {}
    tried_f1: Dict[str, Optional[float]] = {}
    for recipe in backend.int8_recipes:
        try:
            backend.quantize(paths.model, validation, params, log, recipe)
        except QuantizationUnavailableError as err:
            log(f"no int8 variant: {err}")
            return Int8Outcome(None, None, {}, f"no int8 model was made: {err}")
        evaluation, _ = report.detect_split(validation, params.classes, params.data_shape,
                                            backend.load_detector(paths.model, "int8").detect)
        tried[recipe], tried_f1[recipe] = evaluation.voc07_map, best_f1(evaluation)
        log(f"int8 recipe {recipe}: validation mAP {_number(evaluation.voc07_map)} and best F1 "
            f"{_number(best_f1(evaluation))} against fp32's {_number(fp32.voc07_map)} and {_number(best_f1(fp32))}")
        if choose_variant(fp32.voc07_map, evaluation.voc07_map, params.int8_tolerance,
                          best_f1(fp32), best_f1(evaluation))[0] == "int8":
            break
    return Int8Outcome(evaluation, recipe if tried else None, tried, None, tried_f1)


def _number(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def save(paths: MLPaths, params: Hyperparameters, backend: Backend, result: TrainingResult,
         counts: Dict[str, ManifestCounts], validation: Sequence[Sample]) -> Dict[str, Any]:
    """Writes the exported model and its int8 variant, classes.json, model.json (naming the backend and the variant
    that serves), the evaluation report and metrics.json to the model folder. Both variants are evaluated on
    ``validation`` as the endpoint will run them; the report shows the one that serves, with both mAPs."""
    if result.best_weights is None:
        raise DatasetError("No epoch was validated, so there is no best model; set val_interval <= epochs.")
    backend.export(result.best_weights, params, paths.model)
    (paths.model / "classes.json").write_text(json.dumps(list(params.classes)))
    version = os.environ.get("TRAINING_JOB_NAME") or None
    fp32, images = report.detect_split(validation, params.classes, params.data_shape,
                                       backend.load_detector(paths.model, "fp32").detect)
    int8 = evaluate_int8(paths, params, backend, validation, fp32)
    int8_map = None if int8.evaluation is None else int8.evaluation.voc07_map
    int8_f1 = None if int8.evaluation is None else best_f1(int8.evaluation)
    variant, reason = choose_variant(fp32.voc07_map, int8_map, params.int8_tolerance, best_f1(fp32), int8_f1)
    if variant == "int8":
        reason = f"{reason} (recipe {int8.recipe})"
    served = int8.evaluation if variant == "int8" and int8.evaluation is not None else fp32
    (paths.model / "model.json").write_text(json.dumps({"backend": backend.name, "data_shape": params.data_shape,
                                                        "variant": variant}))
    reason = int8.unavailable or reason
    report.write_report(paths.model, served, images, version,
                        {"Best epoch": f"{result.best_epoch} of {result.epochs_run}",
                         "Training's val_mAP there": f"{result.best_map:.4f}"},
                        report.Variants(variant, fp32.voc07_map, int8_map, reason))
    log(report.headline(served))
    log(f"serving {variant}: {reason}")
    if int8_map is not None:
        log(f"int8_val_mAP={int8_map!r}")
    log(f"serving_int8={int(variant == 'int8')}")
    metrics = {
        "version": version,
        "map": result.best_map,
        "ap_per_class": result.best_ap_per_class,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "counts": {name: c.to_dict() for name, c in counts.items()},
        "serving": variant,
        "serving_reason": reason,
        "map_fp32": fp32.voc07_map,
        "map_int8": int8_map,
        "int8_recipe": int8.recipe,
        "int8_recipes_tried": int8.tried,
        "f1_fp32": best_f1(fp32),
        "f1_int8": int8_f1,
        "int8_recipes_f1": int8.tried_f1,
        "int8_tolerance": params.int8_tolerance,
        **summary(served),
    }
    (paths.model / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def write_failure(paths: MLPaths, error: BaseException) -> None:
    """The reason DescribeTrainingJob shows: one paragraph an operator can act on."""
    if isinstance(error, OperatorFixableError):
        reason = str(error)
    else:
        reason = f"Training failed unexpectedly: {type(error).__name__}: {error}. The job's log has the traceback."
    paths.failure.parent.mkdir(parents=True, exist_ok=True)
    paths.failure.write_text(" ".join(reason.split())[:FAILURE_LIMIT])


def run(paths: MLPaths, argv: Sequence[str]) -> None:
    """Parses, loads, trains, saves: each step a small function, as in GluonCV's train_ssd.py."""
    params = load_hyperparameters(paths, parse_args(argv))
    train_samples, train_counts = get_dataset(paths, params, "train")
    val_samples, val_counts = get_dataset(paths, params, "validation")
    backend = get_backend(TRAINING_BACKEND)
    result = backend.train(TrainingRun(
        params=params, train=train_samples, validation=val_samples, checkpoints=paths.checkpoints,
        pretrained_weights=lambda: find_voc_weights(paths) if params.pretrained == "voc" else None,
        on_epoch=report_epoch, log=log,
    ))
    metrics = save(paths, params, backend, result, {"train": train_counts, "validation": val_counts}, val_samples)
    log(f"best_val_mAP={metrics['map']!r}")
    log(f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']}; model written to {paths.model}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs training; on any error writes ``output/failure`` and returns 1."""
    paths = ml_paths()
    try:
        run(paths, sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:
        if stop.code not in (0, None):
            write_failure(paths, HyperparameterError("train was given invalid command-line options; see train --help."))
        raise
    except BaseException as error:  # noqa: BLE001 - every failure must reach output/failure
        traceback.print_exc()
        write_failure(paths, error)
        log(f"training failed: {paths.failure.read_text()}")
        return 1
    return 0
