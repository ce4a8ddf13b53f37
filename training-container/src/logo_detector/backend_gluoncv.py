"""The MXNet/GluonCV boundary: dataset, model, training loop, checkpoints, export and the serving predictor.

MXNet is retired upstream; everything that imports it lives here, so another backend can replace this module
while the manifest, hyperparameter, preprocessing and HTTP modules stay as they are.
"""
import json
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mxnet as mx
import numpy as np
from gluoncv import model_zoo
from gluoncv.data.batchify import Pad, Stack
from gluoncv.data.batchify import Tuple as BatchTuple
from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
from gluoncv.loss import SSDMultiBoxLoss
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
from mxnet import autograd, gluon

from .errors import OperatorFixableError
from .hyperparameters import Hyperparameters
from .manifest import Sample
from .preprocessing import MEAN, STD, gray3, load_luma, model_input

CUSTOM_MODEL = "ssd_512_mobilenet1.0_custom"
VOC_MODEL = "ssd_512_mobilenet1.0_voc"
EXPORT_PREFIX = "model"
NMS = {"nms_thresh": 0.45, "nms_topk": 400, "post_nms": 100}


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


class DetectionDataset(gluon.data.Dataset):
    """Samples as (luma image HxW uint8, label Nx5 float32 [xmin, ymin, xmax, ymax, class_id] in its pixels)."""

    def __init__(self, samples: Sequence[Sample]):
        self._samples = list(samples)

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
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

    def __call__(self, luma: np.ndarray, label: np.ndarray):
        return self._ssd(mx.nd.array(gray3(luma), dtype="uint8"), label)


class ValTransform:
    """The serving path's preprocessing (``preprocessing.model_input``), with the boxes scaled to match."""

    def __init__(self, data_shape: int):
        self._size = data_shape

    def __call__(self, luma: np.ndarray, label: np.ndarray):
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
    return gluon.utils.split_and_load(batch, ctx_list=ctx[: batch.shape[0]], batch_axis=0, even_split=False)


def validate(net: gluon.HybridBlock, val_loader: gluon.data.DataLoader, ctx: List[mx.Context],
             classes: Sequence[str]) -> Tuple[float, Dict[str, Optional[float]]]:
    """VOC07 11-point mAP at IoU 0.5, and AP per class (None for a class with no validation box)."""
    metric = VOC07MApMetric(iou_thresh=0.5, class_names=list(classes))
    net.hybridize(static_alloc=True, static_shape=True)
    for images, labels in val_loader:
        det_boxes, det_ids, det_scores, gt_boxes, gt_ids = [], [], [], [], []
        for x, y in zip(_split(images, ctx), _split(labels, ctx)):
            ids, scores, boxes = net(x)
            det_ids.append(ids)
            det_scores.append(scores)
            det_boxes.append(boxes.clip(0, images.shape[2]))
            gt_ids.append(y.slice_axis(axis=-1, begin=4, end=5))
            gt_boxes.append(y.slice_axis(axis=-1, begin=0, end=4))
        metric.update(det_boxes, det_ids, det_scores, gt_boxes, gt_ids)
    names, values = metric.get()
    ap = {name: (None if np.isnan(v) else float(v)) for name, v in zip(names[:-1], values[:-1])}
    return (0.0 if np.isnan(values[-1]) else float(values[-1])), ap


@dataclass
class CheckpointState:
    """What ``state.json`` in the checkpoint folder records; it is written last, so it names complete files."""

    classes: List[str]
    data_shape: int
    epoch: int = 0
    best_map: float = -1.0
    best_epoch: int = 0
    best_ap_per_class: Dict[str, Optional[float]] = field(default_factory=dict)
    params_file: str = ""
    states_file: str = ""
    best_params_file: str = ""


def load_checkpoint_state(folder: Path) -> Optional[CheckpointState]:
    """The last committed checkpoint in ``folder``, or None when training has not checkpointed there yet."""
    path = folder / "state.json"
    if not path.is_file():
        return None
    try:
        state = CheckpointState(**json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path} is not a checkpoint this container wrote ({err}); empty the folder.") from None
    for name in (state.params_file, state.states_file, state.best_params_file):
        if name and not (folder / name).is_file():
            raise CheckpointError(f"{path} names {name}, which is missing from {folder}; empty the folder.")
    return state


def _save_checkpoint(folder: Path, net: gluon.HybridBlock, trainer: gluon.Trainer, state: CheckpointState,
                     improved: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state.params_file = f"epoch-{state.epoch:04d}.params"
    state.states_file = f"epoch-{state.epoch:04d}.states"
    net.save_parameters(str(folder / state.params_file))
    trainer.save_states(str(folder / state.states_file))
    if improved:
        state.best_params_file = f"best-epoch-{state.epoch:04d}.params"
        net.save_parameters(str(folder / state.best_params_file))
    temporary = folder / "state.json.tmp"
    temporary.write_text(json.dumps(asdict(state), indent=2))
    os.replace(temporary, folder / "state.json")
    keep = {"state.json", state.params_file, state.states_file, state.best_params_file}
    for stale in folder.glob("*epoch-*"):
        if stale.name not in keep:
            stale.unlink()


def learning_rate(params: Hyperparameters, epoch: int) -> float:
    """The step schedule: the base rate times ``lr_decay`` for each decay epoch already completed."""
    return params.learning_rate * params.lr_decay ** sum(1 for e in params.lr_decay_epochs if epoch > e)


EpochCallback = Callable[[int, float, Optional[Tuple[float, Dict[str, Optional[float]]]]], None]


def train(net: gluon.HybridBlock, train_loader: gluon.data.DataLoader, val_loader: gluon.data.DataLoader,
          params: Hyperparameters, checkpoints: Path, resume: Optional[CheckpointState],
          on_epoch: EpochCallback, log: Callable[[str], None]) -> CheckpointState:
    """SGD with the step schedule over every device, validating every ``val_interval`` epochs and after the last.

    Checkpoints to ``checkpoints`` after each epoch and resumes from ``resume``; returns the final state, whose
    ``best_params_file`` holds the best epoch's weights.
    """
    ctx = devices()
    state = resume or CheckpointState(classes=list(params.classes), data_shape=params.data_shape)
    net.collect_params().reset_ctx(ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": params.learning_rate, "wd": params.wd, "momentum": params.momentum})
    if resume is not None:
        net.load_parameters(str(checkpoints / resume.params_file), ctx=ctx)
        trainer.load_states(str(checkpoints / resume.states_file))
    loss_fn = SSDMultiBoxLoss()
    for epoch in range(state.epoch + 1, params.epochs + 1):
        trainer.set_learning_rate(learning_rate(params, epoch))
        net.hybridize(static_alloc=True, static_shape=True)
        started, seen, total_loss, batches = time.time(), 0, 0.0, 0
        for i, (images, cls_targets, box_targets) in enumerate(train_loader):
            if params.max_iterations_per_epoch and i >= params.max_iterations_per_epoch:
                break
            with autograd.record():
                cls_preds, box_preds = [], []
                for x in _split(images, ctx):
                    cls_pred, box_pred, _ = net(x)
                    cls_preds.append(cls_pred)
                    box_preds.append(box_pred)
                sum_loss, _, _ = loss_fn(cls_preds, box_preds, _split(cls_targets, ctx), _split(box_targets, ctx))
                autograd.backward(sum_loss)
            trainer.step(1)
            batch_loss = sum(float(l.sum().asscalar()) for l in sum_loss) / images.shape[0]
            total_loss, batches, seen = total_loss + batch_loss, batches + 1, seen + images.shape[0]
            if (i + 1) % 20 == 0:
                log(f"epoch {epoch} batch {i + 1}: loss {batch_loss:.4f}, {seen / (time.time() - started):.1f} images/s")
        validation = None
        if epoch % params.val_interval == 0 or epoch == params.epochs:
            validation = validate(net, val_loader, ctx, params.classes)
        on_epoch(epoch, total_loss / max(batches, 1), validation)
        state.epoch = epoch
        improved = validation is not None and validation[0] > state.best_map
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


class Detector:
    """The exported model on the CPU: model input in, detections in the model input's pixel coordinates out."""

    def __init__(self, model_dir: Path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._net = gluon.SymbolBlock.imports(
                str(model_dir / f"{EXPORT_PREFIX}-symbol.json"), ["data"],
                str(model_dir / f"{EXPORT_PREFIX}-0000.params"), ctx=mx.cpu(),
            )
        self._net.hybridize(static_alloc=True, static_shape=True)

    def detect(self, tensor: np.ndarray) -> List[Tuple[int, float, float, float, float, float]]:
        """(class_id, score, xmin, ymin, xmax, ymax) for each detection, best first."""
        ids, scores, boxes = self._net(mx.nd.array(tensor[np.newaxis]))
        ids, scores, boxes = ids[0, :, 0].asnumpy(), scores[0, :, 0].asnumpy(), boxes[0].asnumpy()
        found = [(int(i), float(s), *map(float, b)) for i, s, b in zip(ids, scores, boxes) if i >= 0]
        return sorted(found, key=lambda d: -d[1])
