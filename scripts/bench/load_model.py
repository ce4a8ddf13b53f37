"""The throwaway model the load benchmark serves: the serving benchmark's (random init, SSD-512, one iteration).

Usage: load_model.py ML_ROOT
Leaves ML_ROOT/model ready for the container's ``serve``. Latency does not depend on accuracy, so the model is not
trained to detect anything.
"""
import runpy
import sys
from pathlib import Path

SERVING = Path(__file__).resolve().parent / "serving.py"

if __name__ == "__main__":
    # serving.py's train(), loaded without running its benchmark (run_path does not run it as __main__).
    runpy.run_path(str(SERVING))["train"](Path(sys.argv[1]))
