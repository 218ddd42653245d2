"""The optimizers and gradient clipping, in place: sgd_step_, adagrad_step_, adam_step_
(AdamW) and clip_.

* the C engine against the NumPy engine (each updating its own copy of the state): the
  shapes of a scalar, a vector, a matrix and an empty array, both dtypes, default and
  other hyperparameters; the gradient is never modified, and the functions return None;
* clip_ keeps NaN; sgd_step_ reads a gradient that overlaps its parameter before writing.

No finite differences: the functions update parameters in place and have no gradient
of their own.  The matrices every function goes through (bad inputs, properties,
threads, leaks, recorded bits) are generated from its spec in tests/specs.py.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, assert_close
from helpers import randn


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (5, 3), (0,)])
def test_optimizers(shape, dtype):
    rng = np.random.default_rng(len(shape))
    p0, g = randn(rng, shape, dtype), randn(rng, shape, dtype, 3.0)
    m0, v0 = randn(rng, shape, dtype), np.abs(randn(rng, shape, dtype))

    def run(name, *state, **kwargs):
        results = []
        for engine in (tn, ref):
            st = [np.array(s, copy=True) for s in state]
            g_before = g.copy()
            out = getattr(engine, name)(st[0], g, *st[1:], **kwargs)
            assert out is None
            assert np.array_equal(g, g_before)
            results.append(st)
        assert_close(results[0], results[1], name)
        return results[0]

    p1 = run("sgd_step_", p0, lr=0.1)[0]
    assert_close(p1, (p0 - dtype(0.1) * g).astype(dtype))
    run("adagrad_step_", p0, np.abs(v0), lr=0.1)
    run("adagrad_step_", p0, np.abs(v0), lr=0.1, eps=1e-3)
    run("adam_step_", p0, m0, v0, t=1)
    run("adam_step_", p0, m0, v0, t=7, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)
    for engine in (tn, ref):
        c = np.array(g, copy=True)
        engine.clip_(c, -1, 1.5)
        assert_close(c, np.clip(g, -1, 1.5).astype(dtype))


def test_clip_keeps_nan():
    for engine in (tn, ref):
        g = np.array([np.nan, -np.inf, 7.0])
        engine.clip_(g, -5, 5)
        assert np.isnan(g[0]) and g[1] == -5 and g[2] == 5


def test_sgd_grad_overlapping_param_is_read_before_writing():
    for engine in (tn, ref):
        buf = np.arange(6.0)
        engine.sgd_step_(buf[1:], buf[:-1], 1.0)  # grad overlaps param, shifted by one
        assert_close(buf, np.array([0.0, 1 - 0, 2 - 1, 3 - 2, 4 - 3, 5 - 4]))
