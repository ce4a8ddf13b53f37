#!/usr/bin/env bash
# Lints the training container: ruff and mypy over its Python (and the benchmark scripts and the Python client
# example), hadolint over its Dockerfile. Their settings are in training-container/ruff.toml, mypy.ini and
# .hadolint.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/py-env.sh

python=(training-container/src training-container/tests training-container/bin/train training-container/bin/serve
        scripts/bench/*.py examples/detect.py)
echo "ruff: ${python[*]}"
.venv/bin/ruff check --config training-container/ruff.toml "${python[@]}"
echo "mypy: ${python[*]}"
# --scripts-are-modules: bin/train and bin/serve have no .py suffix and would both be __main__.
.venv/bin/mypy --config-file training-container/mypy.ini --scripts-are-modules "${python[@]}"
echo "hadolint: training-container/Dockerfile"
.venv/bin/hadolint --config training-container/.hadolint.yaml training-container/Dockerfile
echo "python-lint: no findings"
