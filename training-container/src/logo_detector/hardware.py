"""What the serving machine's CPU offers, and how ``serve`` sizes gunicorn for it. No MXNet here.

``bin/serve`` reads the CPU flags from /proc/cpuinfo and logs the ones that decide how fast the int8 model runs, then
picks gunicorn workers and the inference threads each worker may use (OpenMP, MXNet's CPU engine) with
``server_size``. The rule comes from measurements of every combination on a 2-core machine (README, "Sizing").
"""
import os
from dataclasses import dataclass
from typing import Collection, FrozenSet, Mapping

# The flags that decide int8 speed (VNNI does an 8-bit dot product in one instruction; AMX in tiles) and fp32 speed.
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")


class SizingError(ValueError):
    """``MODEL_SERVER_WORKERS`` or ``OMP_NUM_THREADS`` is not a positive whole number."""


@dataclass(frozen=True)
class ServerSize:
    """gunicorn worker processes, the inference threads each one uses, and why."""

    workers: int
    threads: int
    reason: str


def cpu_flags(cpuinfo: str) -> FrozenSet[str]:
    """The flags of the first processor listed in /proc/cpuinfo's text (empty when it lists none)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def cpu_model(cpuinfo: str) -> str:
    """The first processor's model name in /proc/cpuinfo's text, or "unknown CPU"."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name":
            return value.strip()
    return "unknown CPU"


def int8_outlook(flags: Collection[str]) -> str:
    """What to expect of the int8 model on a CPU with these flags, in one sentence."""
    if "avx512_vnni" in flags or "amx_int8" in flags:
        return "VNNI present: expect the int8 forward pass to take under a third of fp32's, as measured with VNNI"
    if "avx512f" in flags:
        return ("AVX-512 without VNNI (Skylake): oneDNN emulates the 8-bit dot product, expect a smaller int8 gain "
                "than with VNNI (not measured)")
    return "no AVX-512: int8 runs on AVX2 kernels, expect little or no gain over fp32 (not measured)"


def describe_cpu(cpuinfo: str) -> str:
    """One log line: the model name, the relevant flags present and missing, and the int8 outlook."""
    flags = cpu_flags(cpuinfo)
    present = [f for f in RELEVANT_FLAGS if f in flags]
    missing = [f for f in RELEVANT_FLAGS if f not in flags]
    has = f"has {' '.join(present)}" if present else "has none of them"
    lacks = f"; lacks {' '.join(missing)}" if missing else ""
    return f"CPU {cpu_model(cpuinfo)}: {has}{lacks} ({int8_outlook(flags)})"


def _positive(environ: Mapping[str, str], key: str) -> int:
    value = environ[key]
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise SizingError(f"{key}={value!r} must be a whole number of at least 1 (or unset to size from the vCPUs).")
    return number


def server_size(vcpus: int, variant: str, environ: Mapping[str, str]) -> ServerSize:
    """Workers and inference threads per worker for ``vcpus`` and the model ``variant`` that serves.

    The rule: one worker per vCPU, one inference thread each, for both variants. Requests are independent images,
    so separate processes keep every core busy under load, where splitting one image over two threads leaves part of
    each core idle (int8 on 2 threads is no faster than on 1; fp32 gains 1.3x for twice the cores). The cost is fp32
    latency at low load. ``MODEL_SERVER_WORKERS`` and ``OMP_NUM_THREADS`` override either number; raises
    ``SizingError`` for a value that is not a positive whole number.
    """
    workers = max(1, vcpus)
    threads = 1
    reason = f"{vcpus} vCPUs, {variant} model: one worker per vCPU, one thread each"
    if environ.get("MODEL_SERVER_WORKERS"):
        workers = _positive(environ, "MODEL_SERVER_WORKERS")
        reason = f"MODEL_SERVER_WORKERS={workers}"
        threads = max(1, vcpus // workers)
    if environ.get("OMP_NUM_THREADS"):
        threads = _positive(environ, "OMP_NUM_THREADS")
        reason += f", OMP_NUM_THREADS={threads}"
    return ServerSize(workers, threads, reason)


def visible_vcpus() -> int:
    """The vCPUs this process may run on (its affinity mask, which a container's cpuset narrows)."""
    return len(os.sched_getaffinity(0)) or 1


def read_cpuinfo() -> str:
    """/proc/cpuinfo's text, or "" where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as stream:
            return stream.read()
    except OSError:
        return ""

