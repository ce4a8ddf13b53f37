"""The ``train`` entry point: SageMaker's training contract around the GluonCV backend.

Reads hyperparameters and the train/validation/images channels under ``ML_ROOT``; writes the model, classes and
metrics to ``<ML_ROOT>/model``; checkpoints every epoch; on failure writes the reason to ``<ML_ROOT>/output/failure``
and exits non-zero. Log lines ``epoch=<n> train_loss=<x>``, ``epoch=<n> val_mAP=<x>`` and ``best_val_mAP=<x>``
are the training job's metric definitions.
"""
import argparse
import json
import os
import sys
import traceback
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import OperatorFixableError
from .hyperparameters import SPEC, Hyperparameters, HyperparameterError, parse_hyperparameters
from .manifest import ManifestCounts, Sample, read_manifest
from .paths import MLPaths, ml_paths
from .pretrained import find_voc_weights

# SageMaker shows at most 1024 characters of the failure reason.
FAILURE_LIMIT = 1000


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


def report_epoch(epoch: int, train_loss: float, validation: Optional[Tuple[float, Dict[str, Optional[float]]]]):
    """Prints the metric lines of one epoch."""
    log(f"epoch={epoch} train_loss={train_loss!r}")
    if validation is not None:
        mean_ap, per_class = validation
        log(f"epoch={epoch} val_mAP={mean_ap!r}")
        log(f"epoch {epoch} AP per class: " + ", ".join(f"{k}={'n/a' if v is None else f'{v:.4f}'}"
                                                         for k, v in per_class.items()))


def save(paths: MLPaths, params: Hyperparameters, state, counts: Dict[str, ManifestCounts],
         validation: Sequence[Sample]) -> dict:
    """Writes the exported model, classes.json, model.json, the evaluation report and metrics.json to the model
    folder; the report evaluates the exported model on ``validation`` as the endpoint will run it."""
    from . import backend_gluoncv as backend
    from . import report
    from .evaluation import summary

    if not state.best_params_file:
        raise DatasetError("No epoch was validated, so there is no best model; set val_interval <= epochs.")
    backend.export_model(paths.checkpoints / state.best_params_file, params.classes, params.data_shape, paths.model)
    (paths.model / "classes.json").write_text(json.dumps(list(params.classes)))
    (paths.model / "model.json").write_text(json.dumps({"backend": "gluoncv-ssd", "data_shape": params.data_shape}))
    version = os.environ.get("TRAINING_JOB_NAME") or None
    evaluation = report.evaluate_split(paths.model, validation, params.classes, params.data_shape,
                                       backend.Detector(paths.model).detect, version,
                                       {"Best epoch": f"{state.best_epoch} of {state.epoch}",
                                        "Training's val_mAP there": f"{state.best_map:.4f}"})
    log(report.headline(evaluation))
    metrics = {
        "version": version,
        "map": state.best_map,
        "ap_per_class": state.best_ap_per_class,
        "epochs_run": state.epoch,
        "best_epoch": state.best_epoch,
        "counts": {name: c.to_dict() for name, c in counts.items()},
        **summary(evaluation),
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

    from . import backend_gluoncv as backend

    resume = backend.load_checkpoint_state(paths.checkpoints)
    if resume is not None and (resume.classes != list(params.classes) or resume.data_shape != params.data_shape):
        raise backend.CheckpointError(
            f"The checkpoint in {paths.checkpoints} is for classes {resume.classes} at data_shape "
            f"{resume.data_shape}, not {list(params.classes)} at {params.data_shape}; give this run its own "
            "checkpoint location."
        )
    voc_weights = find_voc_weights(paths) if params.pretrained == "voc" and resume is None else None
    backend.seed_everything(params.seed + (resume.epoch if resume else 0))
    net = backend.build_network(params.classes, voc_weights)
    log(f"model: {backend.CUSTOM_MODEL}, classes {list(params.classes)}, data_shape {params.data_shape}, "
        f"{'VOC weights ' + str(voc_weights) if voc_weights else 'random initialisation'}; "
        f"devices {', '.join(str(d) for d in backend.devices())}")
    if resume is not None:
        log(f"resuming from checkpoint: epoch {resume.epoch} done, starting at epoch {resume.epoch + 1}")
    train_loader, val_loader, batch_size = backend.get_dataloader(
        net, backend.DetectionDataset(train_samples), backend.DetectionDataset(val_samples), params)
    if batch_size != params.batch_size:
        log(f"batch size {batch_size}: the training set has only {len(train_samples)} images")
    state = backend.train(net, train_loader, val_loader, params, paths.checkpoints, resume, report_epoch, log)
    metrics = save(paths, params, state, {"train": train_counts, "validation": val_counts}, val_samples)
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
