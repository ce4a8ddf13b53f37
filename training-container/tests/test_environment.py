"""The pinned environment holds together: MXNet 1.9.1 runs on numpy 1.23.5 and GluonCV builds the SSD."""
import mxnet as mx
import numpy as np
from gluoncv import model_zoo


def test_pinned_versions():
    assert mx.__version__ == "1.9.1"
    assert np.__version__ == "1.23.5"


def test_ssd_mobilenet_builds_and_runs_on_cpu_without_downloads():
    net = model_zoo.get_model("ssd_512_mobilenet1.0_custom", classes=["logo"], pretrained_base=False)
    net.initialize()
    ids, scores, boxes = net(mx.nd.zeros((1, 3, 256, 256)))
    assert ids.shape[0] == scores.shape[0] == boxes.shape[0] == 1
    assert boxes.shape[-1] == 4
