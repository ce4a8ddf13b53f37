"""Hyperparameters arrive as strings: defaults, types and errors that name the key, all from the training job's
contract (contracts/training-job.json), which the CDK app sends them by."""
import json
from pathlib import Path

import pytest

from conftest import REPO
from logo_detector import hyperparameters
from logo_detector.hyperparameters import SPEC, HyperparameterError, parse_hyperparameters
from logo_detector.paths import MLPaths, training_job_contract

CONTRACT = json.loads((REPO / "contracts" / "training-job.json").read_text())


def test_the_container_reads_the_repositorys_contract_and_takes_every_name_and_help_from_it():
    assert training_job_contract() == CONTRACT
    assert list(SPEC) == list(CONTRACT["hyperparameters"])
    for key, (_, help_text) in SPEC.items():
        assert help_text.startswith(CONTRACT["hyperparameters"][key]["description"])


def test_a_contract_that_does_not_match_the_typed_fields_is_refused():
    entries = dict(CONTRACT["hyperparameters"])
    renamed = {("epoch" if k == "epochs" else k): v for k, v in entries.items()}
    with pytest.raises(ValueError, match=r"hyperparameters classes, epoch, .* has the fields classes, epochs"):
        hyperparameters._spec(renamed)
    with pytest.raises(ValueError, match=r"hyperparameter seed has type 'number', which does not parse into .*seed"):
        hyperparameters._spec({**entries, "seed": {**entries["seed"], "type": "number", "maximum": 1}})


def test_only_the_contracts_channels_have_a_folder(tmp_path: Path):
    paths = MLPaths(tmp_path)
    assert paths.channel("pretrained") == tmp_path / "input" / "data" / "pretrained"
    with pytest.raises(ValueError, match=r"'trian' is not a channel of .*training-job.json: train, validation, images"):
        paths.channel("trian")


def test_defaults_apply_to_everything_but_classes():
    params = parse_hyperparameters({"classes": '["logo"]'})
    assert params.classes == ("logo",)
    assert (params.epochs, params.batch_size, params.learning_rate, params.data_shape) == (40, 16, 0.001, 512)
    assert (params.momentum, params.wd, params.lr_decay_epochs, params.lr_decay) == (0.9, 0.0005, (30, 35), 0.1)
    assert (params.pretrained, params.val_interval, params.max_iterations_per_epoch) == ("voc", 1, 0)
    assert params.label_attribute is None and params.images_s3_prefix is None
    assert params.int8_tolerance == 0.01


def test_strings_are_typed():
    params = parse_hyperparameters({"classes": '["a", "b"]', "epochs": "3", "learning_rate": "0.01",
                                    "lr_decay_epochs": "20, 10", "data_shape": "256", "pretrained": "none",
                                    "sagemaker_region": "eu-west-1"})
    assert params.classes == ("a", "b")
    assert (params.epochs, params.learning_rate, params.lr_decay_epochs) == (3, 0.01, (10, 20))
    assert (params.data_shape, params.pretrained) == (256, "none")


@pytest.mark.parametrize("raw, message", [
    ({}, "classes is required"),
    ({"classes": "logo"}, "classes='logo' is not JSON"),
    ({"classes": "[]"}, "non-empty JSON list"),
    ({"classes": '["a", "a"]'}, "names a class twice"),
    ({"classes": '["a"]', "epochs": "ten"}, "epochs='ten' is not an integer"),
    ({"classes": '["a"]', "epochs": "0"}, "epochs='0' must be at least 1"),
    ({"classes": '["a"]', "learning_rate": "fast"}, "learning_rate='fast' is not a number"),
    ({"classes": '["a"]', "momentum": "1.5"}, "momentum='1.5' must be between 0.0 and 1.0"),
    ({"classes": '["a"]', "data_shape": "500"}, "data_shape='500' must be a multiple of 32"),
    ({"classes": '["a"]', "lr_decay_epochs": "30;35"}, "lr_decay_epochs='30;35' must be comma-separated"),
    ({"classes": '["a"]', "pretrained": "imagenet"}, "pretrained='imagenet' must be one of: voc, none"),
    ({"classes": '["a"]', "epoch": "5"}, "Unknown hyperparameter(s): epoch"),
    ({"classes": '["a"]', "int8_tolerance": "-0.01"}, "int8_tolerance='-0.01' must be between 0.0 and 1.0"),
])
def test_invalid_values_are_errors_naming_the_key(raw, message):
    with pytest.raises(HyperparameterError) as error:
        parse_hyperparameters(raw)
    assert message in str(error.value)
