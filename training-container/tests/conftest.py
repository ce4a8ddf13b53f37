"""Shared fixtures: the package on sys.path, and one tiny model trained (then resumed) once per session."""
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest

CONTAINER = Path(__file__).resolve().parents[1]
REPO = CONTAINER.parent
sys.path.insert(0, str(CONTAINER / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tinydata import make_ml_root  # noqa: E402

TINY_HYPERPARAMETERS = {
    "classes": '["logo"]',
    "epochs": "1",
    "batch_size": "4",
    "data_shape": "256",
    "pretrained": "none",
    "max_iterations_per_epoch": "2",
    "learning_rate": "0.01",
}


def metric_regexes() -> Dict[str, str]:
    """The training job's metric definitions, read from the pipeline's contracts so both sides agree."""
    contracts = (REPO / "contracts" / "pipeline.ts").read_text()
    block = contracts[contracts.index("METRIC_DEFINITIONS"):]
    names = {name: re.search(rf"{name} = '([^']+)'", contracts).group(1)
             for name in ("BEST_MAP_METRIC", "INT8_MAP_METRIC", "SERVING_INT8_METRIC")}
    found = re.findall(r"Name: (?:'([^']+)'|(\w+)), Regex: '([^']+)'", block[: block.index("] as const")])
    return {quoted or names[ref]: regex for quoted, ref, regex in found}


def run_train(ml_root: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs the train executable the way local mode does: the venv's python, ML_ROOT set."""
    environment = {**os.environ, "ML_ROOT": str(ml_root), "LOGO_DETECTOR_PRETRAINED_DIR": str(ml_root / "none"),
                   **(env or {})}
    return subprocess.run([sys.executable, str(CONTAINER / "bin" / "train"), *args], env=environment,
                          capture_output=True, text=True, timeout=600)


@dataclass
class TrainedModel:
    """The session's tiny model: a run of one epoch, then the same job resumed with epochs=2."""

    root: Path
    first: subprocess.CompletedProcess
    resumed: subprocess.CompletedProcess

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    def metrics(self) -> dict:
        return json.loads((self.model_dir / "metrics.json").read_text())

    @staticmethod
    def lines(run: subprocess.CompletedProcess) -> List[str]:
        return run.stdout.splitlines()


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TrainedModel:
    """Trains on generated images for one epoch, then resumes the same job to two epochs (as after a spot stop)."""
    root = make_ml_root(tmp_path_factory.mktemp("ml"), hyperparameters=TINY_HYPERPARAMETERS)
    first = run_train(root)
    assert first.returncode == 0, first.stdout + first.stderr
    hyperparameters = root / "input" / "config" / "hyperparameters.json"
    hyperparameters.write_text(json.dumps({**TINY_HYPERPARAMETERS, "epochs": "2"}))
    resumed = run_train(root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return TrainedModel(root, first, resumed)
