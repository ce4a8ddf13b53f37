#!/usr/bin/env bash
# Runs the Python test suite (training-container/) in the project's venv, creating it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/py-env.sh
exec .venv/bin/python -m pytest training-container/tests "$@"
