"""Typed use of tinynet, type-checked by tests/test_stubs.py with ``mypy --strict`` (and
run by it, so it stays true).  Not collected by pytest (no test_ prefix)."""
import io
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

import tinynet
import tinynet.reference as ref
from tinynet import _core, nn

Floats = NDArray[np.floating[Any]]


def mlp_step(x: Floats, targets: NDArray[np.int64], W: Floats, b: Floats, lr: float) -> float:
    y: Floats = tinynet.linear_forward(x, W, b)
    h = tinynet.tanh_forward(y)
    loss, probs = tinynet.cross_entropy_forward(h, targets, reduction="mean")
    dh = tinynet.cross_entropy_backward(probs, targets)
    dx, dW, db = tinynet.linear_backward(tinynet.tanh_backward(dh, h), x, W)
    tinynet.sgd_step_(W, dW, lr)
    tinynet.sgd_step_(b, db, lr)
    return loss


def makemore_step(x: Floats, targets: NDArray[np.int64], W1: Floats, gamma: Floats, beta: Floats, W2: Floats,
                  lr: float) -> float:
    h, hpre, mean, invstd = tinynet.linear_batchnorm_tanh_forward(x, W1, None, gamma, beta, correction=1)
    loss, dh, dW2, db2 = tinynet.linear_cross_entropy(h, W2, None, targets, reduction="mean")
    dx, dW1, db1, dgamma, dbeta = ref.linear_batchnorm_tanh_backward(dh, h, x, W1, gamma, hpre, mean, invstd,
                                                                     correction=1)
    for p, g in ((W1, dW1), (gamma, dgamma), (beta, dbeta), (W2, dW2)):
        tinynet.sgd_step_(p, g, lr)
    return loss


def char_rnn(params: Mapping[str, Floats], inputs: list[int], targets: list[int]) -> Tuple[float, Floats]:
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    loss, grads, h_last = tinynet.rnn_lm_loss(inputs, targets, None, params["W_xh"], params["W_hh"],
                                              params["b_h"], params["W_hy"], params["b_y"], bptt_steps=None)
    for name, p in params.items():
        tinynet.clip_(grads[name], -5, 5)
        tinynet.adagrad_step_(p, grads[name], mem[name], lr=0.1)
    tokens: NDArray[np.int64] = ref.rnn_sample(h_last, inputs[-1], 3, params["W_xh"], params["W_hh"],
                                               params["b_h"], params["W_hy"], params["b_y"], greedy=True)
    assert tokens.shape == (3,)
    return loss, h_last


def rnn_grads(x: Floats, W_xh: Floats, W_hh: Floats, b_h: Floats) -> Optional[Floats]:
    hs = _core.rnn_forward(x, None, W_xh, W_hh, b_h)
    dx, dh0, dW_xh, dW_hh, db_h = _core.rnn_backward(np.ones_like(hs), x, None, hs, W_xh, W_hh, bptt_steps=2)
    return dx  # None for token ids: the stub says Optional


def layers() -> nn.Sequential:
    model = nn.Sequential([nn.Embedding(27, 10, rng=0), nn.Flatten(), nn.Linear(30, 64, bias=False, rng=1),
                           nn.BatchNorm1d(64, correction=1), nn.Tanh(), nn.Linear(64, 27, init="kaiming_normal", rng=2)])
    logits = model(np.array([[0, 1, 2], [3, 4, 5]]))
    loss, probs = tinynet.cross_entropy_forward(logits, [1, 2])
    dx = model.backward(tinynet.cross_entropy_backward(probs, [1, 2]))
    assert dx is None  # token ids have no gradient
    for p, g in zip(model.parameters(), model.grads()):
        if g is not None:
            tinynet.sgd_step_(p, g, 0.1)
    state: Dict[str, NDArray[Any]] = model.state_dict()
    model.load_state_dict(state)
    buffer = io.BytesIO()
    tinynet.save(buffer, model.eval())
    again: nn.Module = tinynet.load(io.BytesIO(buffer.getvalue()))
    assert isinstance(again, nn.Sequential)
    first: nn.Module = again[0]
    rnn = nn.RNN(27, 8, bptt_steps=5, dtype=np.float32, rng=np.random.default_rng(0))
    hs: Floats = rnn(np.array([[1], [2]]), h0=None)
    assert rnn.backward(np.ones_like(hs)) is None and rnn.dh0 is not None
    errors: List[float] = tinynet.gradcheck(lambda x: (float(np.sum(x ** 2)), [2 * x]), [np.ones(3)])
    named: Dict[str, float] = tinynet.gradcheck(lambda x: (float(np.sum(x ** 2)), {"x": 2 * x}), {"x": np.ones(3)})
    assert max(errors) < 1e-6 and named["x"] < 1e-6 and first is again.layers[0]
    return again


def main() -> None:
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), np.zeros(5)
    loss = mlp_step(x, np.array([0, 1, 2, 3]), W, b, 0.1)
    assert isinstance(loss, float)
    V, H = 4, 3
    params = {"W_xh": rng.standard_normal((H, V)) * 0.1, "W_hh": rng.standard_normal((H, H)) * 0.1,
              "b_h": np.zeros(H), "W_hy": rng.standard_normal((V, H)) * 0.1, "b_y": np.zeros(V)}
    loss, h = char_rnn(params, [1, 0, 2, 2], [0, 2, 2, 3])
    assert h.shape == (H,)
    dx = rnn_grads(rng.standard_normal((2, 1, V)), params["W_xh"], params["W_hh"], params["b_h"])
    assert dx is not None and dx.shape == (2, 1, V)
    threads: int = tinynet.get_num_threads()
    tinynet.set_num_threads(threads)
    simd: str = _core.simd
    assert simd
    m, v, p = np.zeros(3), np.zeros(3), np.ones(3)
    tinynet.adam_step_(p, [1.0, 2.0, 3.0], m, v, 1, lr=1e-3, weight_decay=0.01)
    mean, invstd = tinynet.batchnorm_forward(x, np.ones(3), np.zeros(3), eps=1e-5, correction=1)[1:]
    assert mean.shape == invstd.shape == (3,)
    assert len(layers()) == 6
    ones = np.ones(5)
    loss = makemore_step(rng.standard_normal((8, 3)), np.arange(8) % 4, rng.standard_normal((5, 3)), ones,
                         0 * ones, rng.standard_normal((4, 5)), 0.1)
    assert isinstance(loss, float)


if __name__ == "__main__":
    main()
