#!/usr/bin/env bash
# Creates (or refreshes) the project's Python environment in .venv from the pinned requirements.
# Idempotent: does nothing when .venv already matches requirements-dev.txt and the container's requirements.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "py-env: Python 3.11 is required (MXNet 1.9.1 and the pinned packages); found $("$PYTHON" --version 2>&1)." >&2
  echo "py-env: install python3.11 or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

stamp=$(cat requirements-dev.txt training-container/requirements.txt | sha256sum | cut -d' ' -f1)
if [ -f .venv/.requirements-sha256 ] && [ "$(cat .venv/.requirements-sha256)" = "$stamp" ]; then
  exit 0
fi

echo "py-env: creating .venv from requirements-dev.txt (first run takes a minute or two)" >&2
rm -rf .venv
"$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# Fail now, not in a test, if the pins do not hold together.
.venv/bin/pip check
.venv/bin/python -c 'import mxnet, gluoncv, numpy; assert numpy.__version__ == "1.23.5", numpy.__version__'
echo "$stamp" > .venv/.requirements-sha256
