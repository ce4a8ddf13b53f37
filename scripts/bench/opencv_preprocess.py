"""Preprocessing throughput with OpenCV, the way the original project did it, for the benchmark.

Usage: opencv_preprocess.py MODE RUNS FILE...
  MODE original: imdecode + cvtColor(BGR2GRAY) + PNG encode at full size, one image at a time.
  MODE like:     imdecode + cvtColor(BGR2GRAY) + resize to a 1024 px longest side + JPEG encode (quality 90),
                 the same output our preprocessing writes.
Prints one JSON object: images per second for each run, and the output bytes of the last run.
"""
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def process(data: bytes, mode: str) -> bytes:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if mode == "original":
        ok, encoded = cv2.imencode(".png", gray)
    else:
        height, width = gray.shape
        scale = min(1.0, 1024 / max(height, width))
        if scale < 1.0:
            gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("OpenCV could not encode the image")
    return encoded.tobytes()


def main() -> None:
    mode, runs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if mode not in ("original", "like"):
        raise SystemExit(f"unknown mode {mode!r}: use original or like")
    images = [Path(f).read_bytes() for f in files]
    process(images[0], mode)  # warm-up: load codecs
    rates, out_bytes = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        out_bytes = sum(len(process(data, mode)) for data in images)
        rates.append(len(images) / (time.perf_counter() - start))
    print(json.dumps({"imagesPerSecond": rates, "outputBytes": out_bytes}))


if __name__ == "__main__":
    main()
