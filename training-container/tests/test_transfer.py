"""Transfer from VOC without downloads (the VOC network is built, the local weights loaded, the classes reset), and
the learning-rate schedules."""
import itertools
import math
import warnings

import mxnet as mx
import numpy as np
import pytest
from gluoncv import model_zoo

from logo_detector.backend_gluoncv import build_network, learning_rate
from logo_detector.hyperparameters import parse_hyperparameters
from logo_detector.pretrained import VOC_MODEL


def test_voc_weights_are_loaded_and_the_class_predictors_replaced(tmp_path):
    voc = model_zoo.get_model(VOC_MODEL, pretrained=False, pretrained_base=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        voc.initialize(mx.init.Uniform(1.0))
    voc(mx.nd.zeros((1, 3, 128, 128)))
    weights = tmp_path / "voc.params"
    voc.save_parameters(str(weights))
    person = voc.classes.index("person")

    net = build_network(["logo", "person"], weights)
    net(mx.nd.zeros((1, 3, 128, 128)))

    before, after = voc.features.collect_params().values(), net.features.collect_params().values()
    assert len(before) == len(after)
    for old_param, new_param in zip(before, after, strict=True):
        np.testing.assert_array_equal(new_param.data().asnumpy(), old_param.data().asnumpy())
    old = voc.class_predictors[0].predictor.weight.data().asnumpy()
    new = net.class_predictors[0].predictor.weight.data().asnumpy()
    assert new.shape[0] == net.anchor_generators[0].num_depth * 3  # background + 2 classes per anchor
    np.testing.assert_array_equal(new[2::3], old[person + 1::21])  # "person" keeps its VOC predictor
    assert not np.array_equal(new[1::3], old[1::21])


def test_the_learning_rate_steps_down_after_each_decay_epoch():
    params = parse_hyperparameters({"classes": '["logo"]', "learning_rate": "0.1", "lr_decay_epochs": "2,4",
                                    "lr_decay": "0.5"})
    assert [learning_rate(params, e) for e in range(1, 7)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]


def test_the_cosine_schedule_falls_from_the_rate_to_zero_batch_by_batch_over_the_run():
    params = parse_hyperparameters({"classes": '["logo"]', "learning_rate": "0.1", "epochs": "2",
                                    "lr_schedule": "cosine", "lr_decay_epochs": "1"})
    rates = [learning_rate(params, epoch, batch, 4) for epoch in (1, 2) for batch in range(4)]
    assert rates[0] == 0.1
    assert rates[4] == pytest.approx(0.05)  # half way through the run's 8 batches
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 7 / 8)))


def test_warmup_ramps_the_first_batches_up_to_the_schedule_and_counts_across_epochs():
    params = parse_hyperparameters({"classes": '["logo"]', "learning_rate": "0.1", "warmup_iterations": "4"})
    rates = [learning_rate(params, epoch, batch, 3) for epoch in (1, 2) for batch in range(3)]
    assert rates == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
