"""Serving cost for the benchmark: time and peak memory per /invocations request, beside the bare forward pass.

Usage: serving.py RUNS WORKDIR NAME=IMAGE [NAME=IMAGE ...]
Trains a throwaway model on generated data (random init: cost does not depend on accuracy), starts the container's
`serve` (gunicorn, one worker) on a free local port and, for each image, times RUNS requests after a warm-up and
reads the worker's peak resident memory during each (Linux: VmHWM, reset before every request through
/proc/<pid>/clear_refs). Then times the bare forward pass of the same model on a preprocessed input in this process,
with this process's peak memory. Prints one JSON object:
{"images": {NAME: {"ms": [...], "peakMb": [...]}}, "idleMb": worker RSS before the first image,
 "forward": {"ms": [...], "peakMb": peak RSS of the forward pass's process}}. Leaves nothing running.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Tuple

CONTAINER = Path(__file__).resolve().parents[2] / "training-container"
sys.path.insert(0, str(CONTAINER / "src"))
sys.path.insert(0, str(CONTAINER / "tests"))

from tinydata import make_ml_root  # noqa: E402  (test helper that generates a tiny dataset)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(root: Path) -> None:
    make_ml_root(root, train=4, validation=2, hyperparameters={
        "classes": '["logo"]', "epochs": "1", "batch_size": "2", "data_shape": "512",
        "pretrained": "none", "max_iterations_per_epoch": "1",
    })
    subprocess.run([sys.executable, str(CONTAINER / "bin" / "train")], env={**os.environ, "ML_ROOT": str(root)},
                   check=True, stdout=subprocess.DEVNULL)


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident since the last reset) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> None:
    """Resets VmHWM to the current RSS (Linux clear_refs 5), so the next reading is the peak of what follows."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def media_type(body: bytes) -> str:
    """The image's own type, as a client that knows it sends it."""
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith(b"\x89PNG"):
        return "image/png"
    return "image/webp" if body[8:12] == b"WEBP" else "application/octet-stream"


def post(url: str, body: bytes) -> float:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": media_type(body)})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def worker_pid(master: int) -> int:
    """gunicorn's one worker: the master's child process."""
    deadline = time.time() + 30
    while time.time() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker")


def serve_costs(root: Path, images: Dict[str, bytes], runs: int) -> Tuple[Dict[str, Dict[str, List[float]]], float]:
    port = free_port()
    env = {**os.environ, "ML_ROOT": str(root), "SAGEMAKER_BIND_TO_PORT": str(port), "MODEL_SERVER_HOST": "127.0.0.1",
           "MODEL_SERVER_WORKERS": "1"}
    server = subprocess.Popen([sys.executable, str(CONTAINER / "bin" / "serve")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("serve did not become ready") from None
                time.sleep(0.5)
        worker = worker_pid(server.pid)
        idle = memory_mb(worker, "VmRSS")
        url = f"http://127.0.0.1:{port}/invocations"
        costs: Dict[str, Dict[str, List[float]]] = {}
        for name, image in images.items():
            for _ in range(3):
                post(url, image)
            times, peaks = [], []
            for _ in range(runs):
                reset_peak(worker)
                times.append(post(url, image))
                peaks.append(memory_mb(worker, "VmHWM"))
            costs[name] = {"ms": times, "peakMb": peaks}
        return costs, idle
    finally:
        server.terminate()
        server.wait(timeout=30)


def forward_costs(root: Path, image: bytes, runs: int) -> Dict[str, object]:
    # The thread budget serve gives its single worker (all cores), set before MXNet loads.
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    os.environ.setdefault("MXNET_CPU_WORKER_NTHREADS", os.environ["OMP_NUM_THREADS"])
    from logo_detector.backends import get_backend
    from logo_detector.preprocessing import preprocess

    model_dir = root / "model"
    detector = get_backend(json.loads((model_dir / "model.json").read_text())["backend"]).load_detector(model_dir)
    tensor, _, _ = preprocess(image, 512)
    for _ in range(5):
        detector.detect(tensor)
    reset_peak(os.getpid())
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect(tensor)
        times.append((time.perf_counter() - start) * 1000)
    return {"ms": times, "peakMb": memory_mb(os.getpid(), "VmHWM")}


def main() -> None:
    runs, workdir = int(sys.argv[1]), Path(sys.argv[2])
    images = {name: Path(path).read_bytes() for name, path in (arg.split("=", 1) for arg in sys.argv[3:])}
    root = workdir / "serving-ml-root"
    train(root)
    costs, idle = serve_costs(root, images, runs)
    forward = forward_costs(root, next(iter(images.values())), runs)
    print(json.dumps({"images": costs, "idleMb": idle, "forward": forward}))


if __name__ == "__main__":
    main()
