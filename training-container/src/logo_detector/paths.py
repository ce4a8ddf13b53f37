"""Where the container reads and writes: SageMaker's /opt/ml layout, rooted at ``ML_ROOT`` when it is set; and
where it finds the training job's contract, which it shares with the CDK app."""
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping

DEFAULT_ML_ROOT = "/opt/ml"

# The package's own folder: training-container/src/logo_detector in a checkout, /opt/program/src/logo_detector
# in the image.
_PACKAGE_DIR = Path(__file__).resolve().parent


def training_job_contract_path(package_dir: Path = _PACKAGE_DIR) -> Path:
    """contracts/training-job.json, two folders above ``src/``: in a checkout the repository's own file; in the
    image ``/opt/contracts/training-job.json``, where the Dockerfile copies it (the image mirrors the checkout:
    ``/opt/program`` is training-container/, ``/opt`` the repository root)."""
    return package_dir.parents[2] / "contracts" / "training-job.json"


@functools.cache
def training_job_contract() -> Dict[str, Any]:
    """The training job's contract (hyperparameters, channels, metric definitions), read once.

    Raises FileNotFoundError naming the path when the file is not where :func:`training_job_contract_path` says:
    run the code from a checkout of the repository, or build the image from the repository root.
    """
    path = training_job_contract_path()
    try:
        contract: Dict[str, Any] = json.loads(path.read_text())
        return contract
    except FileNotFoundError:
        raise FileNotFoundError(
            f"The training job contract {path} is missing. In a checkout it is the repository's "
            "contracts/training-job.json; an image must be built from the repository root with "
            "training-container/Dockerfile, which copies it there."
        ) from None


@dataclass(frozen=True)
class MLPaths:
    """The SageMaker paths under one root (``/opt/ml`` in SageMaker, a temporary folder in tests and local mode)."""

    root: Path

    @property
    def hyperparameters(self) -> Path:
        """``input/config/hyperparameters.json``: every value a string."""
        return self.root / "input" / "config" / "hyperparameters.json"

    def channel(self, name: str) -> Path:
        """The folder of one input channel (File mode); ``name`` must be a channel of the training job's contract."""
        channels = training_job_contract()["channels"]
        if name not in channels:
            raise ValueError(f"{name!r} is not a channel of {training_job_contract_path()}: {', '.join(channels)}.")
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
