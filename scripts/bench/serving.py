"""Serving cost for the benchmark: the forward pass of both variants beside the FLOP floor, /invocations end to end
with its peak memory (a photo and the worst images under the pixel limit), and the requests per second one `serve`
sustains.

Usage:
  serving.py RUNS WORKDIR photo=IMAGE [NAME=IMAGE ...]   the benchmark; prints one JSON object (see ``main``)
  serving.py --sizing IMAGE WORKDIR       every workers x threads combination of both variants; prints a table
  serving.py --forward MODEL VARIANT RUNS (internal) one variant's forward pass in a process of its own

Trains a throwaway model on generated data (random initialisation: speed does not depend on the weights), then
makes one model folder per variant: fp32, int8 quantized by each recipe. The forward pass runs in a fresh process
per variant and thread count, because MXNet fixes its thread pools when it loads, in rounds that take turns so that
other load on the machine falls on all of them alike. For each image, /invocations is timed RUNS times after a
warm-up while reading the worker's peak resident memory during each request (Linux: VmHWM, reset before every
request through /proc/<pid>/clear_refs). `serve` runs on a free local port and is stopped before the next step;
nothing is left running.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

CONTAINER = Path(__file__).resolve().parents[2] / "training-container"
sys.path.insert(0, str(CONTAINER / "src"))
sys.path.insert(0, str(CONTAINER / "tests"))

from tinydata import make_ml_root  # noqa: E402  (test helper that generates a tiny dataset)

DATA_SHAPE = 512
# Requests in flight while measuring saturation: two per worker at most keeps every worker busy without queueing
# the client itself behind the server.
SATURATION_CLIENTS = 4
SATURATION_SECONDS = 10.0
# Forward-pass measurements are split into this many rounds, each variant and thread count taking its turn.
ROUNDS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(root: Path) -> None:
    make_ml_root(root, train=4, validation=2, hyperparameters={
        "classes": '["logo"]', "epochs": "1", "batch_size": "2", "data_shape": str(DATA_SHAPE),
        "pretrained": "none", "max_iterations_per_epoch": "1",
    })
    subprocess.run([sys.executable, str(CONTAINER / "bin" / "train")], env={**os.environ, "ML_ROOT": str(root)},
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def variant_roots(trained: Path, workdir: Path) -> Dict[str, Path]:
    """One ML_ROOT per variant: "fp32", and "int8" and "int8 float-ends" quantized by those recipes (calibrated on
    the throwaway model's validation images), each with model.json naming the variant."""
    from logo_detector.backend_gluoncv import INT8_RECIPES, quantize_model
    from logo_detector.manifest import read_manifest

    data = trained / "input" / "data"
    calibration, _ = read_manifest(data / "validation" / "validation.manifest", data / "images", ["logo"])
    roots = {}
    for name, recipe in (("fp32", None), *((f"int8 {r}", r) for r in INT8_RECIPES)):
        name = "int8" if recipe == "gluoncv" else name
        model = workdir / f"serving-{name.replace(' ', '-')}" / "model"
        shutil.rmtree(model.parent, ignore_errors=True)
        shutil.copytree(trained / "model", model)
        if recipe is not None:
            quantize_model(model, calibration, DATA_SHAPE, 42, lambda _: None, recipe)
        spec = json.loads((model / "model.json").read_text())
        (model / "model.json").write_text(json.dumps({**spec, "variant": "fp32" if recipe is None else "int8"}))
        roots[name] = model.parent
    return roots


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


class Server:
    """`serve` for one ML_ROOT on a free port, with extra environment; a context manager that stops it."""

    def __init__(self, root: Path, env: Dict[str, str]):
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if k not in ("MODEL_SERVER_WORKERS", "OMP_NUM_THREADS")}
        environment.update({"ML_ROOT": str(root), "SAGEMAKER_BIND_TO_PORT": str(self.port),
                            "MODEL_SERVER_HOST": "127.0.0.1", **env})
        self.process = subprocess.Popen([sys.executable, str(CONTAINER / "bin" / "serve")], env=environment,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}/invocations"

    def __enter__(self) -> "Server":
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2).read()
                return self
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("serve did not become ready") from None
                time.sleep(0.5)

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def sequential(self, image: bytes, runs: int) -> List[float]:
        """Milliseconds of ``runs`` requests one after another, after a warm-up that reaches every worker."""
        for _ in range(8):
            post(self.url, image)
        return [post(self.url, image) for _ in range(runs)]

    def worker_pid(self) -> int:
        """gunicorn's first worker: the master's child process."""
        master = self.process.pid
        deadline = time.time() + 30
        while time.time() < deadline:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.2)
        raise RuntimeError("gunicorn started no worker")

    def costs(self, images: Dict[str, bytes], runs: int) -> Tuple[Dict[str, Dict[str, List[float]]], float]:
        """Per image, milliseconds and the worker's peak MiB of ``runs`` requests after a warm-up; and the worker's
        resident MiB before the first image. Meant for a server with one worker."""
        worker = self.worker_pid()
        idle = memory_mb(worker, "VmRSS")
        costs: Dict[str, Dict[str, List[float]]] = {}
        for name, image in images.items():
            for _ in range(3):
                post(self.url, image)
            times, peaks = [], []
            for _ in range(runs):
                reset_peak(worker)
                times.append(post(self.url, image))
                peaks.append(memory_mb(worker, "VmHWM"))
            costs[name] = {"ms": times, "peakMb": peaks}
        return costs, idle

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the gunicorn master and its workers have used so far."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that ended while listing
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.process.pid in (pid, ppid):
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def saturation(self, image: bytes, clients: int = SATURATION_CLIENTS,
                   seconds: float = SATURATION_SECONDS) -> Tuple[float, float]:
        """(requests per second, server CPU milliseconds per request) with ``clients`` requests always in flight.

        On a machine others share, the first drops with their load; the second hardly moves, and the number of
        cores divided by it is what the server would sustain alone."""
        done = [0] * clients
        stop = time.perf_counter() + seconds

        def client(index: int) -> None:
            while time.perf_counter() < stop:
                post(self.url, image)
                done[index] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started, cpu = time.perf_counter(), self.cpu_seconds()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, used = time.perf_counter() - started, self.cpu_seconds() - cpu
        return sum(done) / elapsed, used * 1000 / max(sum(done), 1)


def forward(model_dir: Path, variant: str, runs: int) -> Dict[str, Any]:
    """Milliseconds of the bare forward pass of ``variant`` on a photo-sized input; MXNet's thread count comes from
    the environment this process was started with. Also the graph's FLOP and this core's sgemm rate."""
    import mxnet as mx

    from logo_detector.backend_gluoncv import Detector

    detector = Detector(model_dir, variant)  # type: ignore[arg-type]  # the command line's "fp32" or "int8"
    tensor = np.random.default_rng(0).normal(0, 1, (3, DATA_SHAPE, DATA_SHAPE)).astype(np.float32)
    for _ in range(5):
        detector.detect(tensor)
    reset_peak(os.getpid())
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect(tensor)
        times.append((time.perf_counter() - start) * 1000)
    peak = memory_mb(os.getpid(), "VmHWM")
    return {"ms": times, "peakMb": peak, "gflop": conv_gflop(mx, model_dir), "sgemm_gflops": sgemm_rate(mx)}


def conv_gflop(mx: Any, model_dir: Path) -> float:
    """GFLOP of one image through the fp32 graph's convolutions (2 per multiply-add; everything else is <1 %)."""
    graph = mx.sym.load(str(model_dir / "model-symbol.json"))
    internals = graph.get_internals()
    _, shapes, _ = internals.infer_shape(data=(1, 3, DATA_SHAPE, DATA_SHAPE))
    shape_of = dict(zip(internals.list_outputs(), shapes, strict=True))
    nodes = json.loads(graph.tojson())["nodes"]
    macs = 0
    for node in nodes:
        if node["op"] == "Convolution":
            out = shape_of[node["name"] + "_output"]
            weight = shape_of[nodes[node["inputs"][1][0]]["name"]]
            macs += int(np.prod(out[1:])) * int(np.prod(weight[1:]))
    return 2 * macs / 1e9


def sgemm_rate(mx: Any) -> float:
    """GFLOP/s of the best of five 2048 x 2048 float32 matrix products on this process's threads, by oneDNN (a
    fully connected layer), whose kernels the convolutions use too. (numpy's and MXNet's own OpenBLAS reach a
    fifth of it on a CPU newer than their kernels know.)"""
    a = mx.nd.array(np.random.default_rng(1).random((2048, 2048), dtype=np.float32))
    mx.nd.FullyConnected(a, a, no_bias=True, num_hidden=2048).wait_to_read()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        mx.nd.FullyConnected(a, a, no_bias=True, num_hidden=2048).wait_to_read()
        best = min(best, time.perf_counter() - start)
    return 2 * 2048 ** 3 / best / 1e9


def forward_in_process(model_dir: Path, variant: str, threads: int, runs: int) -> Dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MXNET_CPU_WORKER_NTHREADS": str(threads)}
    out = subprocess.run([sys.executable, __file__, "--forward", str(model_dir), variant, str(runs)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def sizing(image: bytes, roots: Dict[str, Path]) -> List[Tuple[str, int, int, List[float], float, float]]:
    """(variant, workers, threads, sequential ms, saturation requests/s, CPU ms per request) for every combination
    on 2 cores."""
    rows = []
    for variant in ("fp32", "int8"):
        root = roots[variant]
        for workers, threads in ((1, 1), (1, 2), (2, 1), (2, 2)):
            env = {"MODEL_SERVER_WORKERS": str(workers), "OMP_NUM_THREADS": str(threads)}
            with Server(root, env) as server:
                times = server.sequential(image, 40)
                rps, cpu_ms = server.saturation(image)
            rows.append((variant, workers, threads, times, rps, cpu_ms))
            print(f"{variant} {workers}x{threads}: min {min(times):.1f} p50 {statistics.median(times):.1f} ms, "
                  f"{rps:.1f} req/s, {cpu_ms:.1f} CPU ms/request", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    """The benchmark: prints {"forward": {"fp32" | "int8" | "int8 float-ends": {threads: ms[]}}, "gflop",
    "sgemm_gflops", "forwardPeakMb", "images": {NAME: {"ms": [...], "peakMb": [...]}}, "idleMb", "today": {...},
    "now": {...}}. Forward threads are 1, 2 and every core; forwardPeakMb is the peak MiB of fp32's forward-pass
    process on every core. images are /invocations milliseconds and the worker's peak MiB per request under today's
    serving (fp32, one worker with every core), idleMb that worker's resident MiB before the first image. today/now
    hold the photo's /invocations milliseconds ("ms"), saturation requests/s ("rps") and server CPU milliseconds
    per request ("cpu_ms") for today's serving and the new default (int8, sized by serve)."""
    if sys.argv[1] == "--forward":
        print(json.dumps(forward(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
        return
    if sys.argv[1] == "--sizing":
        image_path, workdir = Path(sys.argv[2]), Path(sys.argv[3])
        trained = workdir / "serving-ml-root"
        train(trained)
        roots = variant_roots(trained, workdir)
        cores = os.cpu_count() or 1
        print("| variant | workers x threads | one at a time: fastest / p50 | requests/s, 4 in flight | "
              f"server CPU per request | {cores} cores / CPU per request |")
        print("| --- | --- | --- | --- | --- | --- |")
        for variant, workers, threads, times, rps, cpu_ms in sizing(image_path.read_bytes(), roots):
            print(f"| {variant} | {workers} x {threads} | {min(times):.0f} / {statistics.median(times):.0f} ms | "
                  f"{rps:.1f} | {cpu_ms:.0f} ms | {cores * 1000 / cpu_ms:.1f} |")
        return
    runs, workdir = int(sys.argv[1]), Path(sys.argv[2])
    images = {name: Path(path).read_bytes() for name, path in (arg.split("=", 1) for arg in sys.argv[3:])}
    image = images["photo"]
    trained = workdir / "serving-ml-root"
    train(trained)
    roots = variant_roots(trained, workdir)
    every_core = os.cpu_count() or 1
    thread_counts = sorted({1, 2, every_core})
    result: Dict[str, Any] = {"forward": {name: {str(t): [] for t in thread_counts} for name in roots}}
    for _ in range(ROUNDS):
        for name, root in roots.items():
            for threads in thread_counts:
                variant = "fp32" if name == "fp32" else "int8"
                measured = forward_in_process(root / "model", variant, threads, max(1, runs // ROUNDS))
                result["forward"][name][str(threads)] += measured["ms"]
                if threads == 1 and name == "fp32":
                    result["gflop"] = measured["gflop"]
                    result["sgemm_gflops"] = max(result.get("sgemm_gflops", 0.0), measured["sgemm_gflops"])
                if threads == every_core and name == "fp32":
                    result["forwardPeakMb"] = max(result.get("forwardPeakMb", 0.0), measured["peakMb"])
    settings: Dict[str, Tuple[Path, Optional[Dict[str, str]]]] = {
        "today": (roots["fp32"], {"MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": str(every_core)}),
        "now": (roots["int8"], {}),
    }
    for name, (root, env) in settings.items():
        with Server(root, env or {}) as server:
            if name == "today":
                result["images"], result["idleMb"] = server.costs(images, runs)
            times = server.sequential(image, runs)
            rps, cpu_ms = server.saturation(image)
            result[name] = {"ms": times, "rps": rps, "cpu_ms": cpu_ms}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
