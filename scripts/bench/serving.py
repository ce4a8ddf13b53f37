"""Serving latency for the benchmark: /invocations under gunicorn beside the bare forward pass.

Usage: serving.py IMAGE RUNS WORKDIR
Trains a throwaway model on generated data (random init: latency does not depend on accuracy), starts the
container's `serve` on a free local port, times RUNS requests of IMAGE after a warm-up, then times the bare
forward pass of the same model on the same preprocessed input in this process. Prints one JSON object with both
lists of milliseconds. Leaves nothing running.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


def post(url: str, body: bytes) -> float:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "image/jpeg"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def serve_latencies(root: Path, image: bytes, runs: int) -> list:
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
        url = f"http://127.0.0.1:{port}/invocations"
        for _ in range(5):
            post(url, image)
        return [post(url, image) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=30)


def forward_latencies(root: Path, image: bytes, runs: int) -> list:
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
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect(tensor)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    image_path, runs, workdir = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    root = workdir / "serving-ml-root"
    train(root)
    image = image_path.read_bytes()
    print(json.dumps({"serve": serve_latencies(root, image, runs), "forward": forward_latencies(root, image, runs)}))


if __name__ == "__main__":
    main()
