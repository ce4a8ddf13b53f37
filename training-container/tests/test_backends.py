"""The backend registry: model.json's backend selects what serves a model, and an unknown one is a clear error."""
import json

import pytest

from logo_detector.backends import BACKENDS, TRAINING_BACKEND, Backend, UnknownBackendError, get_backend
from logo_detector.serving import create_app


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_registered_name_finds_a_backend_of_that_name(name):
    backend = get_backend(name)
    assert isinstance(backend, Backend)
    assert backend.name == name


def test_training_writes_the_name_of_a_registered_backend(trained):
    model = json.loads((trained.model_dir / "model.json").read_text())
    assert model["backend"] == TRAINING_BACKEND
    assert TRAINING_BACKEND in BACKENDS


@pytest.mark.parametrize("backend", ["onnx-ssd", None, 3])
def test_serving_a_model_of_an_unknown_backend_fails_naming_the_known_ones(tmp_path, backend):
    (tmp_path / "classes.json").write_text('["logo"]')
    (tmp_path / "model.json").write_text(json.dumps({"backend": backend, "data_shape": 256}))
    with pytest.raises(UnknownBackendError) as error:
        create_app(tmp_path)
    message = str(error.value)
    assert f"Unknown model backend {backend!r}" in message
    assert "'gluoncv-ssd'" in message and "model.json" in message
