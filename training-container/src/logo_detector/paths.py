"""Where the container reads and writes: SageMaker's /opt/ml layout, rooted at ``ML_ROOT`` when it is set."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DEFAULT_ML_ROOT = "/opt/ml"


@dataclass(frozen=True)
class MLPaths:
    """The SageMaker paths under one root (``/opt/ml`` in SageMaker, a temporary folder in tests and local mode)."""

    root: Path

    @property
    def hyperparameters(self) -> Path:
        """``input/config/hyperparameters.json``: every value a string."""
        return self.root / "input" / "config" / "hyperparameters.json"

    def channel(self, name: str) -> Path:
        """The folder of one input channel (File mode)."""
        return self.root / "input" / "data" / name

    @property
    def model(self) -> Path:
        """Where training writes the model; SageMaker tars it, and the endpoint finds it here again."""
        return self.root / "model"

    @property
    def failure(self) -> Path:
        """A failed training job's reason, shown by DescribeTrainingJob."""
        return self.root / "output" / "failure"

    @property
    def checkpoints(self) -> Path:
        """SageMaker's default local checkpoint path, synced to S3 when the job has a checkpoint config."""
        return self.root / "checkpoints"


def ml_paths(environ: Mapping[str, str] = os.environ) -> MLPaths:
    """The paths under ``ML_ROOT`` (default ``/opt/ml``)."""
    return MLPaths(Path(environ.get("ML_ROOT") or DEFAULT_ML_ROOT))
