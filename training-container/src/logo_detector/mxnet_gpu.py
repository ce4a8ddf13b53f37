"""Which GPUs the image's MXNet build runs on, checked before training touches one.

The GPU image installs ``mxnet-cu112`` 1.9.1, MXNet's last release. Its build compiles GPU code (cubins) for compute
capability 5.0, 6.0, 7.0, 8.0 and 8.6 and embeds no PTX, so nothing can be compiled for a newer GPU at run time.
A cubin runs on a GPU of the same major compute capability and an equal or higher minor one (NVIDIA's compatibility
rule): 7.0 code runs on a T4 (7.5), 8.6 code on an L4 or L40S (8.9), and nothing runs on an H100 (9.0), where MXNet
would fail deep inside its first kernel with "no kernel image is available". ``prepare_gpus`` checks every visible
GPU first and fails with a reason an operator can act on.

MXNet's runtime kernel fusion is the one part that does not run the build's cubins: it compiles kernels with NVRTC
for the GPU's exact architecture while training runs. On a GPU newer than the build's newest cubin (8.9) that path
has never been tried with MXNet 1.9.1, and it would fail mid-training, so it is turned off there
(``MXNET_USE_FUSION=0``): a little slower, and everything else runs the 8.6 code.

The same facts decide which SageMaker families the CDK app accepts (``lib/training-gpus.ts``); a test checks that
the two agree. This module imports no MXNet: it runs before MXNet reads its environment.
"""
import os
import subprocess
from dataclasses import dataclass
from typing import Callable, Dict, List, MutableMapping, Optional, Sequence, Tuple

from .errors import OperatorFixableError

# (major, minor) compute capability.
Capability = Tuple[int, int]

BUILD = "mxnet-cu112 1.9.1"
CUBINS: Tuple[Capability, ...] = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))
# Above this, kernel fusion is turned off: the newest capability the build was made for.
FUSION_NEWEST: Capability = (8, 6)
# The SageMaker families whose GPUs the build runs on (lib/training-gpus.ts decides which ones the app accepts).
SUPPORTED_FAMILIES = "ml.g4dn (T4), ml.g5 (A10G), ml.g6 (L4), ml.g6e (L40S), ml.p4d or ml.p4de (A100)"


class UnsupportedGpuError(OperatorFixableError):
    """A GPU the image's MXNet build has no code for; the message names it and the instance types that work."""


@dataclass(frozen=True)
class Gpu:
    """One GPU as the driver reports it."""

    index: int
    name: str
    capability: Capability


def _text(capability: Capability) -> str:
    return f"{capability[0]}.{capability[1]}"


def cubin_for(capability: Capability, cubins: Sequence[Capability] = CUBINS) -> Optional[Capability]:
    """The newest cubin of the same major version and an equal or lower minor one, or None when there is none."""
    runnable = [c for c in cubins if c[0] == capability[0] and c[1] <= capability[1]]
    return max(runnable) if runnable else None


def check_compute_capability(capability: Capability, gpu: str = "The GPU",
                             cubins: Sequence[Capability] = CUBINS) -> Dict[str, str]:
    """The environment MXNet needs on a GPU of ``capability``; ``{}`` when it needs nothing.

    Raises ``UnsupportedGpuError`` when the build has no code the GPU can run.
    """
    if cubin_for(capability, cubins) is None:
        built = ", ".join(_text(c) for c in cubins)
        raise UnsupportedGpuError(
            f"{gpu} has compute capability {_text(capability)}, and the image's MXNet ({BUILD}, its last release) "
            f"carries GPU code only for compute capability {built}, with no PTX to compile for other GPUs; a GPU "
            f"runs only code built for its own major version, so every MXNet kernel would fail on it. Train on "
            f"{SUPPORTED_FAMILIES}: set trainingInstanceType (e.g. -c trainingInstanceType=ml.g4dn.xlarge) and "
            "deploy again."
        )
    return {"MXNET_USE_FUSION": "0"} if capability > FUSION_NEWEST else {}


def parse_nvidia_smi(output: str) -> List[Gpu]:
    """The GPUs in ``nvidia-smi --query-gpu=index,name,compute_cap --format=csv,noheader`` output."""
    gpus = []
    for line in output.splitlines():
        if not line.strip():
            continue
        index, _, rest = line.partition(",")
        name, _, capability = rest.rpartition(",")
        major, _, minor = capability.strip().partition(".")
        if not (index.strip().isdigit() and major.isdigit() and minor.isdigit()):
            raise ValueError(f"unexpected nvidia-smi line {line!r}")
        gpus.append(Gpu(int(index), name.strip(), (int(major), int(minor))))
    return gpus


def probe_gpus(run: Callable[..., "subprocess.CompletedProcess[str]"] = subprocess.run) -> List[Gpu]:
    """The visible NVIDIA GPUs, from ``nvidia-smi``; ``[]`` on a host without one (no ``nvidia-smi``).

    Raises ``RuntimeError`` when ``nvidia-smi`` is there but cannot say (e.g. a driver too old for ``compute_cap``).
    """
    try:
        done = run(["nvidia-smi", "--query-gpu=index,name,compute_cap", "--format=csv,noheader"],
                   capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        return []
    if done.returncode != 0:
        raise RuntimeError(f"nvidia-smi exited with {done.returncode}: {(done.stderr or done.stdout).strip()}")
    return parse_nvidia_smi(done.stdout)


def prepare_gpus(log: Callable[[str], None], probe: Callable[[], List[Gpu]] = probe_gpus,
                 environ: MutableMapping[str, str] = os.environ) -> List[Gpu]:
    """Checks every visible GPU against the build and sets what MXNet needs for it in ``environ``.

    Call before MXNet builds a graph. A setting already in ``environ`` is kept. Raises ``UnsupportedGpuError`` for
    a GPU the build cannot run on; when the GPUs cannot be read, logs why and leaves the decision to MXNet.
    """
    try:
        gpus = probe()
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as err:
        log(f"could not read the GPUs' compute capability ({err}); going on without the check")
        return []
    for gpu in gpus:
        needs = check_compute_capability(gpu.capability, f"GPU {gpu.index} ({gpu.name})")
        for key, value in needs.items():
            environ.setdefault(key, value)
        extra = f"; {', '.join(f'{k}={environ[k]}' for k in needs)}" if needs else ""
        log(f"GPU {gpu.index}: {gpu.name}, compute capability {_text(gpu.capability)}, runs the build's "
            f"{_text(cubin_for(gpu.capability) or gpu.capability)} code{extra}")
    return gpus
