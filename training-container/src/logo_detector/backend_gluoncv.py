"""The ``gluoncv-ssd`` backend: dataset, model, training loop, checkpoints, export, int8 quantization and the serving
predictor.

MXNet is retired upstream; everything that imports it or GluonCV lives here. ``BACKEND`` is the object
``backends.BACKENDS`` registers; the manifest, hyperparameter, preprocessing and HTTP modules know nothing of MXNet.
"""
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Tuple

import mxnet as mx
import numpy as np
import numpy.typing as npt
from gluoncv import model_zoo
from gluoncv.data.batchify import Pad, Stack
from gluoncv.data.batchify import Tuple as BatchTuple
from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
from gluoncv.loss import SSDMultiBoxLoss
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
from mxnet import autograd, gluon
from mxnet.contrib.quantization import quantize_net_v2

from .backends import (Detection, EpochCallback, QuantizationUnavailableError, TrainingResult, TrainingRun,
                       Validation, Variant)
from .errors import OperatorFixableError
from .hyperparameters import Hyperparameters
from .manifest import Sample
from .mxnet_gpu import prepare_gpus
from .preprocessing import MEAN, STD, gray3, load_luma, model_input
from .pretrained import VOC_MODEL, PretrainedWeightsError

CUSTOM_MODEL = "ssd_512_mobilenet1.0_custom"
EXPORT_PREFIX = "model"
INT8_PREFIX = "model-int8"
PREFIXES: Dict[Variant, str] = {"fp32": EXPORT_PREFIX, "int8": INT8_PREFIX}
# Left in float32 by every int8 recipe, as GluonCV's own SSD quantization leaves them (dmlc/gluon-cv
# scripts/detection/ssd/eval_ssd.py, its --calibration option): every layer whose name contains one of these, i.e. the
# flattened class and box predictions and their concatenation, which feed the box decoder and NMS.
INT8_EXCLUDED_MATCHES = ("flatten", "concat")
# The ways to quantize, fastest first: what each also keeps in float32 (layer names containing these). Training
# tries them in this order and keeps the first whose mAP is within int8_tolerance. "float-ends" keeps the first five
# convolutions (the full-resolution ones) and the twelve prediction heads in float32: on a model trained from scratch
# on generated images (the local run's recipe), VOC07 mAP on 42 held-out images was 0.643 for fp32, 0.251 for
# "gluoncv" and 0.676 for "float-ends", whose forward pass took about 0.37x fp32's against 0.21x.
INT8_RECIPES: Dict[str, Tuple[str, ...]] = {
    "gluoncv": (),
    "float-ends": ("mobilenet0_conv0_", "mobilenet0_conv1_", "mobilenet0_conv2_", "mobilenet0_conv3_",
                   "mobilenet0_conv4_", "convpredictor"),
}
# 'naive' takes each layer's minimum and maximum over the calibration images as its int8 range (GluonCV's SSD
# default). At most CALIBRATION_IMAGES validation images are used, drawn with the run's seed.
CALIBRATION_MODE = "naive"
CALIBRATION_IMAGES = 32
NMS = {"nms_thresh": 0.45, "nms_topk": 400, "post_nms": 100}
# arg:/aux: and the top block's prefix, e.g. "arg:ssd0_", before a parameter's name in an exported file.
EXPORTED_PREFIX = re.compile(r"^(arg|aux):[a-z]+\d+_")
# state.json's format. 2: no pickle anywhere, and a SHA-256 for each file. 1 (no "format" key) pickled the optimizer.
CHECKPOINT_FORMAT = 2


class CheckpointError(OperatorFixableError):
    """The checkpoint folder holds a run this job cannot resume."""


def devices() -> List[mx.Context]:
    """Every visible GPU, or the CPU when there is none."""
    return [mx.gpu(i) for i in range(mx.context.num_gpus())] or [mx.cpu()]


def seed_everything(seed: int) -> None:
    """Seeds MXNet, numpy and Python's random (GluonCV's augmentations draw from the latter two)."""
    mx.random.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def build_network(classes: Sequence[str], voc_weights: Optional[Path]) -> gluon.HybridBlock:
    """SSD-512 MobileNet 1.0 for ``classes``: transferred from the VOC weights file, or randomly initialised.

    GluonCV's own ``transfer='voc'`` downloads the weights; this builds the VOC network without them, loads the
    local file, then swaps the class predictors as GluonCV does.
    """
    if voc_weights is None:
        net = model_zoo.get_model(CUSTOM_MODEL, classes=list(classes), pretrained_base=False)
    else:
        net = model_zoo.get_model(VOC_MODEL, pretrained=False, pretrained_base=False)
        net.load_parameters(str(voc_weights))
        net.reset_class(list(classes), reuse_weights=[c for c in classes if c in net.classes])
    net.set_nms(**NMS)
    with warnings.catch_warnings():
        # Parameters already loaded from the VOC file are left as they are (MXNet warns about each one).
        warnings.simplefilter("ignore")
        net.initialize()
    return net


def check_voc_weights(source: Path, destination: Path) -> int:
    """Checks that ``source`` holds GluonCV's ``ssd_512_mobilenet1.0_voc`` weights and writes them to ``destination``.

    Every parameter of the VOC network must be in the file, with its shape, and nothing else. ``source`` may be
    in ``save_parameters``' format (written to ``destination`` unchanged) or in ``export``'s (``arg:``/``aux:`` and
    the full parameter names; converted). ``destination`` is then loaded into the network as ``build_network``
    loads it. Returns the number of parameters. Raises ``PretrainedWeightsError`` naming what does not fit.
    """
    try:
        loaded = mx.nd.load(str(source))
    except mx.base.MXNetError as err:
        reason = str(err).strip().splitlines()[-1]
        raise PretrainedWeightsError(f"{source} is not an MXNet parameter file ({reason}).") from None
    if not isinstance(loaded, dict) or not loaded:
        raise PretrainedWeightsError(f"{source} holds no named parameters.")
    net = model_zoo.get_model(VOC_MODEL, pretrained=False, pretrained_base=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.initialize()
    net(mx.nd.zeros((1, 3, 512, 512)))  # gives every parameter its shape (some are deferred until a forward pass)
    params = net._collect_params_with_prefix()
    exported = all(key.startswith(("arg:", "aux:")) for key in loaded)
    if exported:
        # Exported names are full names under the network's own prefix, whose counter (ssd0_, ssd1_) depends on
        # how many networks the exporting process had built; match them without it.
        by_name = {param.name[len(net.prefix):]: key for key, param in params.items()}
        loaded = {by_name.get(EXPORTED_PREFIX.sub("", key), key): value for key, value in loaded.items()}
    expected = {key: tuple(param.shape) for key, param in params.items()}
    missing = sorted(expected.keys() - loaded.keys())
    extra = sorted(loaded.keys() - expected.keys())
    reshaped = [f"{key} {tuple(loaded[key].shape)} instead of {expected[key]}"
                for key in sorted(expected.keys() & loaded.keys()) if tuple(loaded[key].shape) != expected[key]]
    problems = [f"{len(found)} {what} (e.g. {', '.join(found[:3])})" for what, found in (
        (f"of the network's {len(expected)} parameters are missing", missing),
        ("parameters are not the network's", extra),
        ("parameters have another shape", reshaped),
    ) if found]
    if problems:
        raise PretrainedWeightsError(f"{source} does not fit GluonCV's {VOC_MODEL}: {'; '.join(problems)}.")
    if exported:
        for key, param in params.items():
            param.set_data(loaded[key])
        net.save_parameters(str(destination))
    else:
        shutil.copyfile(source, destination)
    net.load_parameters(str(destination))
    return len(expected)


class DetectionDataset(gluon.data.Dataset):
    """Samples as (luma image HxW uint8, label Nx5 float32 [xmin, ymin, xmax, ymax, class_id] in its pixels)."""

    def __init__(self, samples: Sequence[Sample]):
        self._samples = list(samples)

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, index: int) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        sample = self._samples[index]
        luma = load_luma(sample.image_path.read_bytes())
        # Boxes are in the manifest's image_size; rescale should the stored image differ from it.
        sx, sy = luma.shape[1] / sample.width, luma.shape[0] / sample.height
        label = np.array(
            [[b.xmin * sx, b.ymin * sy, b.xmax * sx, b.ymax * sy, b.class_id] for b in sample.boxes],
            dtype=np.float32,
        )
        return luma, label


class TrainTransform:
    """GluonCV's SSD training augmentation and target generation, fed the shared grayscale-to-3-channel image."""

    def __init__(self, data_shape: int, anchors: mx.nd.NDArray):
        self._ssd = SSDDefaultTrainTransform(data_shape, data_shape, anchors, mean=MEAN, std=STD)

    def __call__(self, luma: npt.NDArray[np.uint8], label: npt.NDArray[np.float32]) -> Tuple[Any, Any, Any]:
        """(image tensor, class targets, box targets) for one sample."""
        image, cls_targets, box_targets = self._ssd(mx.nd.array(gray3(luma), dtype="uint8"), label)
        return image, cls_targets, box_targets


class ValTransform:
    """The serving path's preprocessing (``preprocessing.model_input``), with the boxes scaled to match."""

    def __init__(self, data_shape: int):
        self._size = data_shape

    def __call__(self, luma: npt.NDArray[np.uint8], label: npt.NDArray[np.float32]) -> Tuple[Any, Any]:
        """(image tensor, label with its boxes in the tensor's pixels) for one sample."""
        height, width = luma.shape
        scaled = label.copy()
        scaled[:, (0, 2)] *= self._size / width
        scaled[:, (1, 3)] *= self._size / height
        return mx.nd.array(model_input(luma, self._size)), mx.nd.array(scaled)


def get_dataloader(net: gluon.HybridBlock, train_dataset: DetectionDataset, val_dataset: DetectionDataset,
                   params: Hyperparameters) -> Tuple[gluon.data.DataLoader, gluon.data.DataLoader, int]:
    """Training and validation loaders; the batch size shrinks to the training set's size when that is smaller."""
    size = params.data_shape
    with autograd.train_mode():
        _, _, anchors = net(mx.nd.zeros((1, 3, size, size)))
    batch_size = min(params.batch_size, len(train_dataset))
    train_loader = gluon.data.DataLoader(
        train_dataset.transform(TrainTransform(size, anchors.as_in_context(mx.cpu()))),
        batch_size, shuffle=True, batchify_fn=BatchTuple(Stack(), Stack(), Stack()), last_batch="rollover",
        num_workers=params.num_workers,
    )
    val_loader = gluon.data.DataLoader(
        val_dataset.transform(ValTransform(size)),
        batch_size, shuffle=False, batchify_fn=BatchTuple(Stack(), Pad(pad_val=-1)), last_batch="keep",
        num_workers=params.num_workers,
    )
    return train_loader, val_loader, batch_size


def _split(batch: mx.nd.NDArray, ctx: List[mx.Context]) -> List[mx.nd.NDArray]:
    return list(gluon.utils.split_and_load(batch, ctx_list=ctx[: batch.shape[0]], batch_axis=0, even_split=False))


def validate(net: gluon.HybridBlock, val_loader: gluon.data.DataLoader, ctx: List[mx.Context],
             classes: Sequence[str]) -> Validation:
    """VOC07 11-point mAP at IoU 0.5, and AP per class (None for a class with no validation box)."""
    metric = VOC07MApMetric(iou_thresh=0.5, class_names=list(classes))
    net.hybridize(static_alloc=True, static_shape=True)
    for images, labels in val_loader:
        det_boxes, det_ids, det_scores, gt_boxes, gt_ids = [], [], [], [], []
        for x, y in zip(_split(images, ctx), _split(labels, ctx), strict=True):
            ids, scores, boxes = net(x)
            det_ids.append(ids)
            det_scores.append(scores)
            det_boxes.append(boxes.clip(0, images.shape[2]))
            gt_ids.append(y.slice_axis(axis=-1, begin=4, end=5))
            gt_boxes.append(y.slice_axis(axis=-1, begin=0, end=4))
        metric.update(det_boxes, det_ids, det_scores, gt_boxes, gt_ids)
    names, values = metric.get()
    ap = {name: (None if np.isnan(v) else float(v)) for name, v in zip(names[:-1], values[:-1], strict=True)}
    return (0.0 if np.isnan(values[-1]) else float(values[-1])), ap


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@dataclass
class CheckpointState:
    """What ``state.json`` in the checkpoint folder records; it is written last, so it names complete files.

    Nothing in a checkpoint is pickled: weights and the optimizer's momentum are MXNet NDArray files, and the
    optimizer's update counts are here. ``sha256`` holds each file's digest, checked before anything is loaded.
    """

    classes: List[str]
    data_shape: int
    format: int = CHECKPOINT_FORMAT
    epoch: int = 0
    best_map: float = -1.0
    best_epoch: int = 0
    best_ap_per_class: Dict[str, Optional[float]] = field(default_factory=dict)
    params_file: str = ""
    states_file: str = ""
    best_params_file: str = ""
    num_update: int = 0
    update_counts: Dict[str, Dict[str, int]] = field(default_factory=dict)
    """The optimizer's update count of each parameter index, per device id (JSON keys are strings)."""
    sha256: Dict[str, str] = field(default_factory=dict)

    def files(self) -> List[str]:
        """The files this state names, in the checkpoint folder."""
        return [name for name in (self.params_file, self.states_file, self.best_params_file) if name]


def load_checkpoint_state(folder: Path) -> Optional[CheckpointState]:
    """The last committed checkpoint in ``folder``, or None when training has not checkpointed there yet.

    Raises ``CheckpointError`` when state.json is not one this container writes, or when a file it names is missing
    or does not have the SHA-256 it records (changed, or copied only in part).
    """
    path = folder / "state.json"
    if not path.is_file():
        return None
    fix = "empty the folder (or give this run its own checkpoint location) and train again."
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        if raw.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"{path} is a checkpoint of format {raw.get('format', 1)!r}; this container resumes only format "
                f"{CHECKPOINT_FORMAT}, which holds no pickled optimizer state (loading pickle can run code); {fix}"
            )
        state = CheckpointState(**raw)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path} is not a checkpoint this container wrote ({err}); {fix}") from None
    for name in state.files():
        if Path(name).name != name:
            raise CheckpointError(f"{path} names {name!r}, which is not a file name; {fix}")
        file = folder / name
        if not file.is_file():
            raise CheckpointError(f"{path} names {name}, which is missing from {folder}; {fix}")
        recorded, found = state.sha256.get(name), sha256_of(file)
        if found != recorded:
            raise CheckpointError(
                f"{file} does not have the SHA-256 {path.name} records for it (recorded {recorded}, found {found}): "
                f"it was changed or copied only in part; {fix}"
            )
    return state


def _updaters(trainer: gluon.Trainer) -> List[Any]:
    """The optimizer updaters that hold the trainer's state: the kvstore's when it updates, else one per device.

    ``Trainer.save_states`` and ``load_states`` reach the same objects, but write and read them with pickle.
    """
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    if trainer._params_to_init:
        trainer._init_params()
    return [trainer._kvstore._updater] if trainer._update_on_kvstore else list(trainer._updaters)


def save_optimizer_state(trainer: gluon.Trainer, path: Path) -> Tuple[int, Dict[str, Dict[str, int]]]:
    """Writes the optimizer's per-parameter state (SGD momentum) as an MXNet NDArray file, never pickle.

    Returns the optimizer's update counts, (num_update, {device id: {parameter index: count}}), for state.json.
    """
    updater = _updaters(trainer)[0]
    arrays = {}
    for index, value in updater.states.items():
        if value is None:  # SGD without momentum keeps no state
            continue
        if not isinstance(value, mx.nd.NDArray):
            raise TypeError(f"Optimizer state {index} is a {type(value).__name__}; checkpoints hold NDArrays only.")
        arrays[str(index)] = value
    mx.nd.save(str(path), arrays)
    optimizer = updater.optimizer
    counts = {str(device): {str(index): int(count) for index, count in per_device.items()}
              for device, per_device in optimizer._all_index_update_counts.items()}
    return int(optimizer.num_update), counts


def load_optimizer_state(trainer: gluon.Trainer, path: Path, num_update: int,
                         update_counts: Dict[str, Dict[str, int]]) -> None:
    """Restores what ``save_optimizer_state`` wrote; the trainer's hyperparameters (rate, momentum, decay) stay."""
    fix = "Empty the folder (or give this run its own checkpoint location) and train again."
    try:
        arrays = mx.nd.load(str(path)) or {}  # a file of no arrays (SGD without momentum) loads as []
    except mx.base.MXNetError as err:
        reason = str(err).strip().splitlines()[-1]
        raise CheckpointError(f"{path} is not an optimizer-state file this container wrote ({reason}). {fix}") from None
    if not isinstance(arrays, dict) or not all(index.isdigit() for index in arrays):
        raise CheckpointError(f"{path} holds arrays not named by parameter index: not a file this container wrote. "
                              f"{fix}")
    states = {int(index): value for index, value in arrays.items()}
    for updater in _updaters(trainer):
        # As Updater.set_states does: each device's updater copies a state to its weight's device on first use.
        updater.states = dict(states)
        updater.states_synced = dict.fromkeys(states, False)
    optimizer = trainer._optimizer
    optimizer.num_update = num_update
    optimizer._all_index_update_counts = {int(device): {int(index): count for index, count in per_device.items()}
                                          for device, per_device in update_counts.items()}
    optimizer._index_update_count = optimizer._all_index_update_counts.setdefault(0, {})


def _save_checkpoint(folder: Path, net: gluon.HybridBlock, trainer: gluon.Trainer, state: CheckpointState,
                     improved: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state.params_file = f"epoch-{state.epoch:04d}.params"
    state.states_file = f"epoch-{state.epoch:04d}.states"
    net.save_parameters(str(folder / state.params_file))
    state.num_update, state.update_counts = save_optimizer_state(trainer, folder / state.states_file)
    if improved:
        state.best_params_file = f"best-epoch-{state.epoch:04d}.params"
        net.save_parameters(str(folder / state.best_params_file))
    state.sha256 = {name: sha256_of(folder / name) for name in state.files()}
    temporary = folder / "state.json.tmp"
    temporary.write_text(json.dumps(asdict(state), indent=2))
    os.replace(temporary, folder / "state.json")
    keep = {"state.json", *state.files()}
    for stale in folder.glob("*epoch-*"):
        if stale.name not in keep:
            stale.unlink()


def learning_rate(params: Hyperparameters, epoch: int, batch: int = 0, batches_per_epoch: int = 1) -> float:
    """The rate for batch ``batch`` (from 0) of epoch ``epoch`` (from 1), each epoch ``batches_per_epoch`` long.

    ``lr_schedule`` "step": the base rate times ``lr_decay`` for each decay epoch already completed; "cosine": the
    base rate times a half cosine falling from 1 to 0 over all the run's batches. During the first
    ``warmup_iterations`` batches of the run the rate is further scaled by (batches done + 1) / warmup_iterations.
    """
    done = (epoch - 1) * batches_per_epoch + batch
    if params.lr_schedule == "cosine":
        rate = params.learning_rate * 0.5 * (1 + math.cos(math.pi * done / (params.epochs * batches_per_epoch)))
    else:
        rate = params.learning_rate * params.lr_decay ** sum(1 for e in params.lr_decay_epochs if epoch > e)
    if done < params.warmup_iterations:
        rate *= (done + 1) / params.warmup_iterations
    return rate


def train_loop(net: gluon.HybridBlock, train_loader: gluon.data.DataLoader, val_loader: gluon.data.DataLoader,
               params: Hyperparameters, checkpoints: Path, resume: Optional[CheckpointState],
               on_epoch: EpochCallback, log: Callable[[str], None]) -> CheckpointState:
    """SGD with the ``lr_schedule`` (and warmup) over every device, validating every ``val_interval`` epochs and
    after the last.

    Checkpoints to ``checkpoints`` after each validated epoch (every epoch with the default ``val_interval`` of 1;
    writing and hashing the weights and momentum, some 90 MB, would otherwise take a large share of a short CPU run's
    epochs) and resumes from ``resume``; returns the final state, whose ``best_params_file`` holds the best epoch's
    weights. On resume the best epoch's mAP is measured again from its
    weights rather than taken from state.json, so the metric lines always describe the weights that are exported.
    """
    ctx = devices()
    state = resume or CheckpointState(classes=list(params.classes), data_shape=params.data_shape)
    net.collect_params().reset_ctx(ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": params.learning_rate, "wd": params.wd, "momentum": params.momentum})
    if resume is not None:
        if resume.best_params_file:
            net.load_parameters(str(checkpoints / resume.best_params_file), ctx=ctx)
            state.best_map, state.best_ap_per_class = validate(net, val_loader, ctx, params.classes)
            log(f"the best epoch so far, {resume.best_epoch}, re-measured from its weights: mAP {state.best_map!r}")
        net.load_parameters(str(checkpoints / resume.params_file), ctx=ctx)
        load_optimizer_state(trainer, checkpoints / resume.states_file, resume.num_update, resume.update_counts)
    loss_fn = SSDMultiBoxLoss()
    batches_per_epoch = min(len(train_loader), params.max_iterations_per_epoch or len(train_loader))
    # SSD's graph differs between training and inference, and a hybridized block keeps the one it first ran: it is
    # hybridized anew before training and after each validation (validate does so before it runs).
    net.hybridize(static_alloc=True, static_shape=True)
    for epoch in range(state.epoch + 1, params.epochs + 1):
        started, seen, total_loss, batches = time.time(), 0, 0.0, 0
        for i, (images, cls_targets, box_targets) in enumerate(train_loader):
            if params.max_iterations_per_epoch and i >= params.max_iterations_per_epoch:
                break
            trainer.set_learning_rate(learning_rate(params, epoch, i, batches_per_epoch))
            with autograd.record():
                cls_preds, box_preds = [], []
                for x in _split(images, ctx):
                    cls_pred, box_pred, _ = net(x)
                    cls_preds.append(cls_pred)
                    box_preds.append(box_pred)
                sum_loss, _, _ = loss_fn(cls_preds, box_preds, _split(cls_targets, ctx), _split(box_targets, ctx))
                autograd.backward(sum_loss)
            trainer.step(1)
            batch_loss = sum(float(loss.sum().asscalar()) for loss in sum_loss) / images.shape[0]
            total_loss, batches, seen = total_loss + batch_loss, batches + 1, seen + images.shape[0]
            if (i + 1) % 20 == 0:
                log(f"epoch {epoch} batch {i + 1}: loss {batch_loss:.4f}, "
                    f"{seen / (time.time() - started):.1f} images/s")
        validation = None
        if epoch % params.val_interval == 0 or epoch == params.epochs:
            validation = validate(net, val_loader, ctx, params.classes)
            net.hybridize(static_alloc=True, static_shape=True)
        on_epoch(epoch, total_loss / max(batches, 1), validation)
        if validation is None:
            log(f"epoch {epoch} done in {time.time() - started:.1f}s")
            continue
        state.epoch = epoch
        improved = validation[0] > state.best_map
        if improved:
            state.best_map, state.best_epoch, state.best_ap_per_class = validation[0], epoch, validation[1]
        _save_checkpoint(checkpoints, net, trainer, state, improved)
        log(f"epoch {epoch} done in {time.time() - started:.1f}s; checkpoint saved")
    return state


def export_model(best_params: Path, classes: Sequence[str], data_shape: int, model_dir: Path) -> None:
    """Exports the best weights as a hybridized graph with NMS inside: ``model-symbol.json``, ``model-0000.params``."""
    net = build_network(classes, None)
    net.load_parameters(str(best_params), ctx=mx.cpu())
    net.hybridize()
    net(mx.nd.zeros((1, 3, data_shape, data_shape)))
    model_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # MXNet cannot infer the input's type before the symbol is bound; it is float32, as in serving.
        warnings.simplefilter("ignore")
        net.export(str(model_dir / EXPORT_PREFIX), epoch=0)


def import_export(model_dir: Path, variant: Variant) -> gluon.SymbolBlock:
    """The ``variant``'s exported graph and weights in ``model_dir``, on the CPU. A variant without weights of its
    own shares fp32's (see ``quantize_model``)."""
    prefix = model_dir / PREFIXES[variant]
    params = Path(f"{prefix}-0000.params")
    if not params.is_file():
        params = model_dir / f"{EXPORT_PREFIX}-0000.params"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gluon.SymbolBlock.imports(f"{prefix}-symbol.json", ["data"], str(params), ctx=mx.cpu())


def quantization_unavailable(enabled_features: Collection[str]) -> Optional[str]:
    """Why an MXNet build with these features (``mxnet.runtime.Features`` names) cannot make the int8 variant, or None
    when it can: MXNet's int8 operators on the CPU are oneDNN's, the feature called MKLDNN."""
    if "MKLDNN" in enabled_features:
        return None
    return "this MXNet build has no oneDNN (feature MKLDNN), which MXNet's int8 operators on the CPU need"


def calibration_samples(samples: Sequence[Sample], seed: int, limit: int = CALIBRATION_IMAGES) -> List[Sample]:
    """At most ``limit`` of ``samples``, drawn with ``seed``: the same split and seed always give the same images."""
    return random.Random(seed).sample(list(samples), min(limit, len(samples)))  # noqa: S311 - a sample, not a secret


def quantize_model(model_dir: Path, calibration: Sequence[Sample], data_shape: int, seed: int,
                   log: Callable[[str], None], recipe: str = "gluoncv") -> None:
    """Writes ``model-int8-symbol.json`` beside the fp32 export in ``model_dir``, quantized by ``recipe`` (a key of
    ``INT8_RECIPES``).

    MXNet's post-training quantization: convolutions (fused with their batch norm and ReLU) run in int8 with ranges
    calibrated on images of ``calibration`` preprocessed as serving does; the layers in ``INT8_EXCLUDED_MATCHES`` and
    the recipe's, the box decoder and NMS stay float32. The ranges are attributes of the graph and oneDNN quantizes
    the weights when the graph loads, so the int8 weights file is fp32's byte for byte: it is kept
    (``model-int8-0000.params``) only should it ever differ. Runs on the CPU, whatever device trained the model.
    Raises ``QuantizationUnavailableError`` when this MXNet build cannot quantize.
    """
    enabled = [name for name, feature in mx.runtime.Features().items() if feature.enabled]
    reason = quantization_unavailable(enabled)
    if reason is not None:
        raise QuantizationUnavailableError(reason)
    chosen = calibration_samples(calibration, seed)
    images = np.stack([model_input(load_luma(s.image_path.read_bytes()), data_shape) for s in chosen])
    seed_everything(seed)
    started = time.time()
    with warnings.catch_warnings():
        # MXNet warns, once per export and import, that it cannot infer the input's type before the graph is bound.
        warnings.simplefilter("ignore")
        int8 = quantize_net_v2(
            import_export(model_dir, "fp32"), quantized_dtype="auto",
            exclude_layers_match=[*INT8_EXCLUDED_MATCHES, *INT8_RECIPES[recipe]], calib_mode=CALIBRATION_MODE,
            calib_data=mx.io.NDArrayIter(data=mx.nd.array(images), batch_size=1),
            num_calib_examples=len(chosen), ctx=mx.cpu(),
        )
        int8.hybridize(static_alloc=True, static_shape=True)
        int8(mx.nd.zeros((1, 3, data_shape, data_shape)))  # export writes what a forward pass has cached
        int8.export(str(model_dir / INT8_PREFIX), epoch=0)
    own = model_dir / f"{INT8_PREFIX}-0000.params"
    if sha256_of(own) == sha256_of(model_dir / f"{EXPORT_PREFIX}-0000.params"):
        own.unlink()
    log(f"int8 variant ({recipe}) written beside the fp32 model: {CALIBRATION_MODE} calibration on {len(chosen)} "
        f"validation images (seed {seed}) in {time.time() - started:.1f}s")


class Detector:
    """An exported model on the CPU: model input in, detections in the model input's pixel coordinates out."""

    def __init__(self, model_dir: Path, variant: Variant = "fp32"):
        self._net = import_export(model_dir, variant)
        self._net.hybridize(static_alloc=True, static_shape=True)

    def detect(self, tensor: npt.NDArray[np.float32]) -> List[Detection]:
        """(class_id, score, xmin, ymin, xmax, ymax) for each detection, best first."""
        # MXNet reads the array where it is (a view of it is marked read-only meanwhile) instead of copying it.
        batch = mx.nd.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)[np.newaxis], zero_copy=True)
        ids, scores, boxes = self._net(batch)
        ids, scores, boxes = ids[0, :, 0].asnumpy(), scores[0, :, 0].asnumpy(), boxes[0].asnumpy()
        found = [(int(i), float(s), float(b[0]), float(b[1]), float(b[2]), float(b[3]))
                 for i, s, b in zip(ids, scores, boxes, strict=True) if i >= 0]
        return sorted(found, key=lambda d: -d[1])


class GluonCVBackend:
    """GluonCV's SSD-512 MobileNet 1.0 on MXNet, fine-tuned from the VOC weights or from random initialisation."""

    name = "gluoncv-ssd"
    int8_recipes: Sequence[str] = tuple(INT8_RECIPES)

    def train(self, run: TrainingRun) -> TrainingResult:
        """Resumes from ``run.checkpoints`` when it holds a checkpoint of the same classes and data_shape."""
        prepare_gpus(run.log)
        params = run.params
        resume = load_checkpoint_state(run.checkpoints)
        if resume is not None and (resume.classes != list(params.classes) or resume.data_shape != params.data_shape):
            raise CheckpointError(
                f"The checkpoint in {run.checkpoints} is for classes {resume.classes} at data_shape "
                f"{resume.data_shape}, not {list(params.classes)} at {params.data_shape}; give this run its own "
                "checkpoint location."
            )
        voc_weights = run.pretrained_weights() if resume is None else None
        seed_everything(params.seed + (resume.epoch if resume else 0))
        net = build_network(params.classes, voc_weights)
        run.log(f"model: {CUSTOM_MODEL}, classes {list(params.classes)}, data_shape {params.data_shape}, "
                f"{'VOC weights ' + str(voc_weights) if voc_weights else 'random initialisation'}; "
                f"devices {', '.join(str(d) for d in devices())}")
        if resume is not None:
            run.log(f"resuming from checkpoint: epoch {resume.epoch} done, starting at epoch {resume.epoch + 1}")
        train_loader, val_loader, batch_size = get_dataloader(
            net, DetectionDataset(run.train), DetectionDataset(run.validation), params)
        if batch_size != params.batch_size:
            run.log(f"batch size {batch_size}: the training set has only {len(run.train)} images")
        state = train_loop(net, train_loader, val_loader, params, run.checkpoints, resume, run.on_epoch, run.log)
        return TrainingResult(
            best_map=state.best_map, best_ap_per_class=state.best_ap_per_class, best_epoch=state.best_epoch,
            epochs_run=state.epoch,
            best_weights=run.checkpoints / state.best_params_file if state.best_params_file else None,
        )

    def export(self, weights: Path, params: Hyperparameters, model_dir: Path) -> None:
        """``model-symbol.json`` and ``model-0000.params``: the hybridized graph with NMS inside."""
        export_model(weights, params.classes, params.data_shape, model_dir)

    def quantize(self, model_dir: Path, calibration: Sequence[Sample], params: Hyperparameters,
                 log: Callable[[str], None], recipe: str) -> None:
        """``model-int8-symbol.json``: see ``quantize_model`` and ``INT8_RECIPES``."""
        quantize_model(model_dir, calibration, params.data_shape, params.seed, log, recipe)

    def load_detector(self, model_dir: Path, variant: Variant = "fp32") -> Detector:
        """The exported graph of ``variant`` on the CPU."""
        return Detector(model_dir, variant)


BACKEND = GluonCVBackend()
