"""The two "hello" RNNs of notebooks 000 and 001 (each rerunning an original, "the seed"
below) and min-char-rnn's lossFun, reproduced on the C engine."""
import numpy as np
import pytest

import tinynet
from conftest import assert_close

# --------------------------------------------------- notebook 000: fixed weights

W_XH_000 = [[0.13309074, 0.17127598, -0.15813858, -0.04525709],
            [-0.09057376, -0.14782509, 0.06502781, 0.14093142],
            [0.04669049, 0.01720516, 0.03336642, 0.1781491],
            [-0.07548864, -0.02664684, 0.11772184, -0.07503803]]
W_HH_000 = [[0.07809908, -0.13063158, 0.05358797, 0.05681267],
            [0.01768576, 0.15217173, 0.23846673, 0.09969253],
            [0.09635959, 0.06631399, -0.17052794, 0.00988055],
            [0.01199125, -0.01561548, 0.10577997, 0.10847363]]
W_HY_000 = [[0.0247689, -0.11553708, 0.21316413, 0.08569605],
            [-0.05522459, -0.0882109, 0.00430406, -0.00389115],
            [0.17101969, -0.2330526, -0.04581541, 0.06289344],
            [0.07365608, 0.006953, 0.08645168, 0.14256647]]


@pytest.mark.parametrize("engine", ["c", "numpy"])
def test_fixed_weight_hello_rnn(engine):
    """h0 e1 l2 o3; inputs h,e,l,l; targets e,l,l,o; per-step gradients (no carry
    through time: bptt_steps=1) summed over the 4 steps, one SGD step per epoch."""
    tn = tinynet.engine(engine)
    params = {"W_xh": np.array(W_XH_000), "W_hh": np.array(W_HH_000), "b_h": np.zeros(4),
              "W_hy": np.array(W_HY_000), "b_y": np.zeros(4)}
    inputs, targets = np.array([0, 1, 2, 2]), np.array([1, 2, 2, 3])
    seed_losses, exact_losses, probs_per_epoch, logits_per_epoch = [], [], [], []
    for epoch in range(2):
        loss, grads, _ = tn.rnn_lm_loss(inputs, targets, None, **params, bptt_steps=1)
        # the seed's printed loss adds 1e-8 inside the log: recompute it from the probabilities
        hs = tn.rnn_forward(inputs, None, params["W_xh"], params["W_hh"], params["b_h"])
        logits = tn.linear_forward(hs, params["W_hy"], params["b_y"])
        _, probs = tn.cross_entropy_forward(logits, targets, "sum")
        seed_losses.append(float(np.sum(-np.log(probs[np.arange(4), targets] + 1e-8))))
        exact_losses.append(loss)
        probs_per_epoch.append(probs)
        logits_per_epoch.append(logits)
        for name, p in params.items():
            tn.sgd_step_(p, grads[name], 0.1)
    assert abs(seed_losses[0] - 5.527646895941318) < 1e-12
    assert abs(seed_losses[1] - 5.307358547512624) < 1e-12
    # tinynet's exact loss differs from the seed's only by the 1e-8 inside the log
    assert_close(exact_losses, [5.527646895941318, 5.307358547512624], rtol=1e-7)
    assert_close(probs_per_epoch[0][0], np.array([0.2506774, 0.24668689, 0.25563922, 0.24699648]), rtol=2e-8)
    assert_close(probs_per_epoch[1][3], np.array([0.22648704, 0.25030167, 0.26900662, 0.25420467]), rtol=2e-8)
    # the seed's final np.exp(y_logits): the last step of epoch 1 (printed to 8 decimals)
    assert_close(np.exp(logits_per_epoch[1][3]), np.array([0.90283151, 0.99776235, 1.07232474, 1.01332061]),
                 rtol=1e-8)


def test_fixed_weight_hello_rnn_intermediates():
    """Step (0, 0) of the seed: h and the logits it prints."""
    hs = tinynet.rnn_forward([0], None, W_XH_000, W_HH_000, np.zeros(4))
    assert_close(hs[0], np.array([0.13231045, -0.09032689, 0.04665659, -0.07534557]), rtol=1e-7)
    logits = tinynet.linear_forward(hs[0], W_HY_000, np.zeros(4))
    assert_close(logits, np.array([0.01720198, 0.00115502, 0.03680228, 0.00240921]), rtol=1e-6)


# ------------------------------------------------------ notebook 001: BPTT "hello"


def train_hello(engine, seed=0, epochs=1000, lr=0.01, hidden=3):
    """Notebook 001: chars sorted e0 h1 l2 o3, inputs 'hell', targets 'ello', weights
    randn * 0.1 (np.random.seed(seed)), zero biases; gradients of the summed loss,
    printed loss the mean; full BPTT; plain SGD."""
    tn = tinynet.engine(engine)
    V = 4
    np.random.seed(seed)
    params = {"W_xh": np.random.randn(hidden, V) * 0.1, "W_hh": np.random.randn(hidden, hidden) * 0.1,
              "b_h": np.zeros(hidden), "W_hy": np.random.randn(V, hidden) * 0.1, "b_y": np.zeros(V)}
    inputs, targets = [1, 0, 2, 2], [0, 2, 2, 3]
    losses = []
    for _ in range(epochs):
        loss, grads, _ = tn.rnn_lm_loss(inputs, targets, None, **params)
        losses.append(loss / len(inputs))
        for name, p in params.items():
            tn.sgd_step_(p, grads[name], lr)
    return params, losses


def test_bptt_hello_rnn_learns_hello():
    params, losses = train_hello("c", seed=0)
    assert abs(losses[0] - np.log(4)) < 0.02  # ~ln 4 at random init
    assert losses[990] < 0.06  # SEEDS.md: median ~0.037 at epoch 990
    out = tinynet.rnn_sample(None, 1, 4, params["W_xh"], params["W_hh"], params["b_h"], params["W_hy"],
                             params["b_y"], greedy=True)
    assert "h" + "".join("ehlo"[i] for i in out) == "hello"


def test_bptt_hello_rnn_engines_agree():
    pc, lc = train_hello("c", seed=3, epochs=200)
    pn, ln = train_hello("numpy", seed=3, epochs=200)
    assert_close(np.array(lc), np.array(ln))
    assert_close(pc, pn)


# -------------------------------------------------- min-char-rnn's lossFun, verbatim


def min_char_rnn_lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by, vocab_size):
    """karpathy/min-char-rnn.py's lossFun (column vectors, summed loss, clipping)."""
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


@pytest.mark.parametrize("engine", ["c", "numpy"])
@pytest.mark.parametrize("weight_scale", [0.01, 0.5])  # 0.5: large enough that clipping acts
def test_rnn_lm_loss_equals_min_char_rnn(engine, weight_scale):
    tn = tinynet.engine(engine)
    rng = np.random.default_rng(42)
    vocab_size, hidden, seq_length = 13, 20, 25
    Wxh = rng.standard_normal((hidden, vocab_size)) * weight_scale
    Whh = rng.standard_normal((hidden, hidden)) * weight_scale
    Why = rng.standard_normal((vocab_size, hidden)) * weight_scale
    bh, by = rng.standard_normal((hidden, 1)) * 0.1, rng.standard_normal((vocab_size, 1)) * 0.1
    hprev = np.tanh(rng.standard_normal((hidden, 1)))
    data = rng.integers(0, vocab_size, seq_length + 1)
    inputs, targets = list(data[:-1]), list(data[1:])
    want = min_char_rnn_lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by, vocab_size)

    loss, grads, h_last = tn.rnn_lm_loss(inputs, targets, hprev[:, 0], Wxh, Whh, bh[:, 0], Why, by[:, 0])
    for g in grads.values():
        tn.clip_(g, -5, 5)
    assert_close(loss, float(want[0]))
    assert_close(grads["W_xh"], want[1], "dWxh")
    assert_close(grads["W_hh"], want[2], "dWhh")
    assert_close(grads["W_hy"], want[3], "dWhy")
    assert_close(grads["b_h"], want[4][:, 0], "dbh")
    assert_close(grads["b_y"], want[5][:, 0], "dby")
    assert_close(h_last, want[6][:, 0], "hprev")
    if weight_scale == 0.5:
        assert np.any(np.abs(want[2]) == 5), "this case is meant to exercise clipping"
