"""Checkpoints hold no pickle and record each file's SHA-256; a resume re-measures the best epoch, not trusts it."""
import json
import pickle
import re
import shutil
from pathlib import Path
from typing import Tuple

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from conftest import TINY_HYPERPARAMETERS, TrainedModel, run_train
from logo_detector.backend_gluoncv import (
    CheckpointError,
    load_checkpoint_state,
    load_optimizer_state,
    save_optimizer_state,
    sha256_of,
)
from tinydata import make_ml_root

INPUT = mx.nd.array(np.random.default_rng(0).normal(size=(2, 4)))


def small_trainer(momentum: float = 0.9) -> Tuple[gluon.nn.Dense, gluon.Trainer]:
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Uniform(0.5))
    return net, gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": momentum, "wd": 5e-4})


def step(net: gluon.nn.Dense, trainer: gluon.Trainer) -> None:
    with autograd.record():
        loss = (net(INPUT) ** 2).sum()
    loss.backward()
    trainer.step(INPUT.shape[0])


def resumed_copy(trained: TrainedModel, tmp_path: Path, epochs: int) -> Path:
    """A new job (same classes and data_shape, ``epochs`` epochs) holding a copy of the session's checkpoint."""
    root = make_ml_root(tmp_path, train=2, validation=1,
                        hyperparameters={**TINY_HYPERPARAMETERS, "epochs": str(epochs)})
    shutil.copytree(trained.root / "checkpoints", root / "checkpoints")
    return root


def test_optimizer_state_round_trips_exactly_without_pickle(tmp_path):
    net, trainer = small_trainer()
    step(net, trainer)
    step(net, trainer)
    net.save_parameters(str(tmp_path / "w.params"))
    counts = save_optimizer_state(trainer, tmp_path / "w.states")
    step(net, trainer)

    resumed, resumed_trainer = small_trainer()
    resumed.load_parameters(str(tmp_path / "w.params"))
    load_optimizer_state(resumed_trainer, tmp_path / "w.states", *counts)
    step(resumed, resumed_trainer)
    without_momentum, fresh_trainer = small_trainer()
    without_momentum.load_parameters(str(tmp_path / "w.params"))
    step(without_momentum, fresh_trainer)

    np.testing.assert_array_equal(resumed.weight.data().asnumpy(), net.weight.data().asnumpy())
    assert resumed_trainer._optimizer.num_update == trainer._optimizer.num_update == 3
    assert not np.array_equal(without_momentum.weight.data().asnumpy(), net.weight.data().asnumpy())
    assert not (tmp_path / "w.states").read_bytes().startswith(b"\x80"), "the state file must not be a pickle"


def test_optimizer_state_without_momentum_round_trips(tmp_path):
    net, trainer = small_trainer(momentum=0.0)
    step(net, trainer)
    counts = save_optimizer_state(trainer, tmp_path / "w.states")
    _, resumed_trainer = small_trainer(momentum=0.0)
    load_optimizer_state(resumed_trainer, tmp_path / "w.states", *counts)
    assert resumed_trainer._optimizer.num_update == 1


def test_state_json_records_the_sha256_of_every_file(trained):
    folder = trained.root / "checkpoints"
    state = json.loads((folder / "state.json").read_text())
    names = [state["params_file"], state["states_file"], state["best_params_file"]]
    assert state["format"] == 2
    assert state["sha256"] == {name: sha256_of(folder / name) for name in names}


@pytest.mark.parametrize("which", ["params_file", "states_file", "best_params_file"])
def test_a_changed_checkpoint_file_is_refused_naming_it(trained, tmp_path, which):
    folder = resumed_copy(trained, tmp_path, epochs=3) / "checkpoints"
    name = json.loads((folder / "state.json").read_text())[which]
    data = bytearray((folder / name).read_bytes())
    data[-1] ^= 1
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{re.escape(name)} does not have the SHA-256 state\.json records"):
        load_checkpoint_state(folder)


def test_a_checkpoint_of_the_pickling_format_is_not_resumed(trained, tmp_path):
    folder = resumed_copy(trained, tmp_path, epochs=3) / "checkpoints"
    state = json.loads((folder / "state.json").read_text())
    del state["format"], state["sha256"]
    (folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"checkpoint of format 1; .* no pickled optimizer state"):
        load_checkpoint_state(folder)


class Payload:
    """Unpickling this creates ``marker``: what an attacker who can write checkpoints/ would plant."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> Tuple[object, Tuple[Path]]:
        return Path.touch, (self.marker,)


def test_a_pickle_planted_as_optimizer_state_is_never_unpickled(trained, tmp_path):
    root = resumed_copy(trained, tmp_path, epochs=3)
    folder = root / "checkpoints"
    state = json.loads((folder / "state.json").read_text())
    marker = tmp_path / "payload-ran"
    # The attacker can write state.json too, so the recorded digest matches the planted file.
    (folder / state["states_file"]).write_bytes(pickle.dumps(Payload(marker)))
    state["sha256"][state["states_file"]] = sha256_of(folder / state["states_file"])
    (folder / "state.json").write_text(json.dumps(state))

    result = run_train(root)

    assert result.returncode != 0
    assert not marker.exists()
    failure = (root / "output" / "failure").read_text()
    assert f"{state['states_file']} is not an optimizer-state file this container wrote" in failure
    assert "Empty the folder" in failure
    # MXNet's own Trainer.load_states, which resuming used before, runs it (and only then fails).
    _, trainer = small_trainer()
    with pytest.raises(AttributeError):
        trainer.load_states(str(folder / state["states_file"]))
    assert marker.exists()


def test_a_resume_measures_the_best_epoch_again_instead_of_trusting_state_json(trained, tmp_path):
    root = resumed_copy(trained, tmp_path, epochs=3)
    state_file = root / "checkpoints" / "state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "best_map": 0.999, "best_ap_per_class": {"logo": 0.999}}))

    result = run_train(root)

    assert result.returncode == 0, result.stdout + result.stderr
    measured = re.search(r"re-measured from its weights: mAP (\S+)", result.stdout)
    epoch_3 = re.search(r"^epoch=3 val_mAP=(\S+)$", result.stdout, re.M)
    assert measured and epoch_3
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    assert metrics["map"] != 0.999
    assert metrics["map"] == max(float(measured.group(1)), float(epoch_3.group(1)))
    assert f"best_val_mAP={metrics['map']!r}" in result.stdout
