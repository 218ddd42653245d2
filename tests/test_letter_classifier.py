"""Notebook 002's letter classifier with tinynet.nn and tinynet.recipes, against the original
(NathanMaine/smallest-ai-tutorial, chapter 7; "the seed" below).

BackpropNetwork([26, 64, 26]): ReLU hidden layer, sigmoid output layer, then softmax and
cross-entropy over the sigmoid outputs.  The output gradient is softmax(a) - target,
taken through the sigmoid derivative a(1 - a) -- exactly cross_entropy_backward
(reduction "sum" = "mean" for one example) followed by Sigmoid.backward.

Xavier-uniform weights drawn with Python's random.uniform(-limit, limit) in row-major
(out, in) order after random.seed(42) (layer 0) and random.seed(43) (layer 1), zero
biases; per-example SGD with lr 0.05 for 500 epochs, examples in a..z order.  The epoch
loss is the seed's Trainer.train_epoch: the mean over the 26 examples of each example's
loss computed before its own update.  SEEDS.md's numbers, printed to 6 decimals, must
come out to within half a unit of that last decimal.
"""
import math
import random

import numpy as np
import pytest

import tinynet
from tinynet import recipes

from conftest import ENGINES, assert_close

EXPECTED_EPOCH_LOSSES = {1: 3.260734, 100: 2.714772, 200: 2.414738, 300: 2.362113, 400: 2.345619, 500: 2.338166}
PRINTED_PRECISION = 0.5e-6


def letter_classifier(engine="c", dtype=np.float64):
    """The shipped helper (the notebook and python -m tinynet use it), checked here."""
    model = recipes.letter_classifier(engine, dtype)
    assert np.all(model[0].bias == 0) and np.all(model[2].bias == 0)  # Xavier init: zero biases
    return model


def seed_global_random_weights(seed, fan_in, fan_out):
    """The seed's own procedure, independently of tinynet.recipes: random.seed(seed) on the
    global generator, then random.uniform(-limit, limit) in row-major (out, in) order
    (the global state is restored afterwards)."""
    state = random.getstate()
    try:
        random.seed(seed)
        limit = math.sqrt(6 / (fan_in + fan_out))
        return np.array([[random.uniform(-limit, limit) for _ in range(fan_in)] for _ in range(fan_out)])
    finally:
        random.setstate(state)


def train(model, epochs, engine="c", lr=0.05):
    """Per-example SGD in a..z order; returns {epoch: mean pre-update loss}."""
    tn = ENGINES[engine]
    eye = np.eye(26, dtype=model[0].weight.dtype)
    losses = {}
    params = model.parameters()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for i in range(26):
            target = np.array([i])
            a = model(eye[i:i + 1])                          # (1, 26) sigmoid outputs
            loss, probs = tn.cross_entropy_forward(a, target, reduction="sum")
            total += loss
            model.backward(tn.cross_entropy_backward(probs, target, reduction="sum"))  # softmax(a) - target
            for p, g in zip(params, model.grads()):
                tn.sgd_step_(p, g, lr)
        losses[epoch] = total / 26
    return losses


def test_initial_weights_follow_the_xavier_limits():
    model = letter_classifier()
    for layer, fan_in, fan_out in [(model[0], 26, 64), (model[2], 64, 26)]:
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.shape == (fan_out, fan_in)
        assert 0.95 * limit < np.max(np.abs(layer.weight)) <= limit
    # exactly the numbers the seed's random.seed(42) / random.seed(43) draws give
    assert np.array_equal(model[0].weight, seed_global_random_weights(42, 26, 64))
    assert np.array_equal(model[2].weight, seed_global_random_weights(43, 64, 26))


def test_letter_classifier_reproduces_the_original():
    model = letter_classifier("c")
    assert sum(p.size for p in model.parameters()) == 3418
    losses = train(model, 500)
    for epoch, expected in EXPECTED_EPOCH_LOSSES.items():
        assert abs(losses[epoch] - expected) <= PRINTED_PRECISION, (
            f"epoch {epoch}: loss {losses[epoch]:.9f}, the original prints {expected}")

    tn = tinynet
    probs = tn.softmax(model(np.eye(26)))
    predicted = probs.argmax(axis=1)
    assert predicted.tolist() == list(range(26)), "26/26 letters correct"
    # softmax over sigmoid outputs in (0, 1) cannot exceed e / (e + 25) ~ 9.8%:
    # each letter's confidence ends near 9.65% (SEEDS.md)
    confidence = probs[np.arange(26), predicted]
    assert np.all(np.abs(confidence - 0.0965) < 0.0005), confidence
    assert min(losses.values()) > -math.log(math.e / (math.e + 25))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_engines_agree_on_the_first_epochs(dtype):
    """The same training on both engines stays together (five epochs, 130 SGD steps)."""
    results = {}
    for engine in ENGINES:
        model = letter_classifier(engine, dtype)
        losses = train(model, 5, engine)
        results[engine] = (list(losses.values()), [p.copy() for p in model.parameters()])
    c, npy = results["c"], results["numpy"]
    loss_tol = 1e-10 if dtype == np.float64 else 1e-5
    assert_close(np.array(c[0]), np.array(npy[0]), "epoch losses", rtol=loss_tol)
    assert_close(c[1], npy[1], "weights after 5 epochs")
    if dtype == np.float64:
        assert abs(c[0][0] - EXPECTED_EPOCH_LOSSES[1]) <= PRINTED_PRECISION
