"""The train executable, run for real on generated images: model files, metrics, log lines, resume and failures."""
import json
import re
import shutil

from conftest import TINY_HYPERPARAMETERS, metric_regexes, run_train
from tinydata import make_ml_root


def test_writes_the_exported_model_classes_and_metrics(trained):
    files = {p.name for p in trained.model_dir.iterdir()}
    assert {"model-symbol.json", "model-0000.params", "classes.json", "metrics.json", "model.json"} <= files
    assert json.loads((trained.model_dir / "classes.json").read_text()) == ["logo"]
    assert json.loads((trained.model_dir / "model.json").read_text())["data_shape"] == 256
    graph = (trained.model_dir / "model-symbol.json").read_text()
    assert "box_nms" in graph, "NMS must be inside the exported graph"


def test_writes_an_evaluation_report_of_the_exported_model_beside_it(trained):
    evaluation = json.loads((trained.model_dir / "evaluation.json").read_text())
    page = (trained.model_dir / "report.html").read_text()
    metrics = trained.metrics()
    assert evaluation["class_names"] == ["logo"] and len(evaluation["images"]) == 3
    assert metrics["coco_mAP"] == evaluation["coco_map"]
    assert metrics["ap"]["logo"] == {"voc07": evaluation["classes"][0]["voc07_ap"],
                                     "coco": evaluation["classes"][0]["coco_ap"]}
    threshold = evaluation["threshold"]
    assert metrics["threshold"] == (None if threshold is None else {
        "score": threshold["threshold"], "precision": threshold["precision"], "recall": threshold["recall"],
        "f1": threshold["f1"], "per_class": {"logo": metrics["threshold"]["per_class"]["logo"]}})
    assert "<title>Evaluation of a local run</title>" in page and page.count('<figure class="card">') == 3
    assert "evaluation of the exported model on 3 validation images" in trained.resumed.stdout


def test_metrics_json_records_the_best_epoch_and_dataset_counts(trained):
    metrics = trained.metrics()
    assert metrics["epochs_run"] == 2
    assert metrics["best_epoch"] in (1, 2)
    assert 0.0 <= metrics["map"] <= 1.0
    assert set(metrics["ap_per_class"]) == {"logo"}
    assert metrics["counts"]["train"] == {"images": 6, "boxes": 6, "skipped_lines": 0, "clipped": 0, "rejected": 0}
    assert metrics["counts"]["validation"]["images"] == 3


def test_log_lines_match_the_pipelines_metric_definitions(trained):
    regexes = metric_regexes()
    assert set(regexes) == {"train_loss", "val_mAP", "best_val_mAP", "int8_val_mAP", "serving_int8"}
    log = trained.first.stdout + trained.resumed.stdout
    losses = re.findall(regexes["train_loss"], log)
    maps = re.findall(regexes["val_mAP"], log)
    best = re.findall(regexes["best_val_mAP"], trained.resumed.stdout)
    assert len(losses) == 2 and all(float(v) > 0 for v in losses)
    assert len(maps) == 2
    assert len(best) == 1 and float(best[0]) == trained.metrics()["map"] == max(float(m) for m in maps)


def test_a_restarted_job_resumes_from_its_last_checkpoint(trained):
    first_epochs = re.findall(r"^epoch=(\d+) train_loss=", trained.first.stdout, re.M)
    resumed_epochs = re.findall(r"^epoch=(\d+) train_loss=", trained.resumed.stdout, re.M)
    assert first_epochs == ["1"]
    assert "resuming from checkpoint: epoch 1 done, starting at epoch 2" in trained.resumed.stdout
    assert resumed_epochs == ["2"]
    state = json.loads((trained.root / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2
    assert sorted(p.name for p in (trained.root / "checkpoints").iterdir()) == sorted(
        ["state.json", state["params_file"], state["states_file"], state["best_params_file"]])


def test_missing_voc_weights_fail_with_how_to_supply_them(tmp_path):
    root = make_ml_root(tmp_path, train=2, validation=1, hyperparameters={**TINY_HYPERPARAMETERS, "pretrained": "voc"})
    result = run_train(root)
    assert result.returncode != 0
    failure = (root / "output" / "failure").read_text()
    assert "ssd_512_mobilenet1.0_voc-37c18076.params" in failure
    assert "pretrained/" in failure and "pretrained channel" in failure
    assert not (root / "model" / "metrics.json").exists()


def test_a_pretrained_channel_file_with_the_wrong_sha1_is_refused(tmp_path):
    root = make_ml_root(tmp_path, train=2, validation=1, hyperparameters={**TINY_HYPERPARAMETERS, "pretrained": "voc"})
    channel = root / "input" / "data" / "pretrained"
    channel.mkdir(parents=True)
    (channel / "ssd_512_mobilenet1.0_voc-37c18076.params").write_bytes(b"not the weights")
    result = run_train(root)
    assert result.returncode != 0
    assert "none has the SHA-1" in (root / "output" / "failure").read_text()


def test_a_bad_hyperparameter_fails_the_job_naming_the_key(tmp_path):
    root = make_ml_root(tmp_path, train=2, validation=1, hyperparameters={**TINY_HYPERPARAMETERS, "data_shape": "300"})
    result = run_train(root)
    assert result.returncode != 0
    assert "data_shape" in (root / "output" / "failure").read_text()


def test_a_malformed_manifest_fails_the_job_naming_the_line(tmp_path):
    root = make_ml_root(tmp_path, train=2, validation=1, hyperparameters=TINY_HYPERPARAMETERS)
    manifest = root / "input" / "data" / "train" / "train.manifest"
    manifest.write_text(manifest.read_text() + "{not json\n")
    result = run_train(root)
    assert result.returncode != 0
    assert "train.manifest, line 3" in (root / "output" / "failure").read_text()


def test_a_checkpoint_of_other_classes_is_not_resumed(tmp_path, trained):
    root = make_ml_root(tmp_path, train=2, validation=1,
                        hyperparameters={**TINY_HYPERPARAMETERS, "classes": '["logo", "other"]'})
    shutil.copytree(trained.root / "checkpoints", root / "checkpoints")
    result = run_train(root)
    assert result.returncode != 0
    assert "give this run its own checkpoint location" in (root / "output" / "failure").read_text()
