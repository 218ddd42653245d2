"""The seed notebooks' own NumPy training steps, written the way the notebooks write them.

These are the "seed-style NumPy" peers of bench/run.py: what a learner's notebook does
before it switches to tinynet.  They are kept deliberately close to the originals, seed
001 (a blog's "simple RNN" trained by BPTT in NumPy; this repository's
notebooks/001_hello_rnn_bptt.ipynb) and seed 003 (samitha278/multilayer-perceptron-char-lm,
mlp_backprop.ipynb, after karpathy/nn-zero-to-hero's makemore_part4_backprop.ipynb; here
notebooks/003_makemore_manual_backprop.ipynb): per-step Python loops, one-hot vectors,
np.outer, Karpathy's long manual-backprop chain with its Python loop for dC.  Only the
notebooks' globals became arguments and closure variables, so that several independent
copies can run side by side.

Each make_* function takes the initial parameters in tinynet's layout and returns
(step, canon): step() runs one training step and returns what the notebook's step
computes; canon(result) maps that result plus the updated parameters onto the names and
layouts the correctness guard compares against the NumPy engine.
"""
import numpy as np


# --------------------------------------------------------------------------- seed 001


def forward_pass(input_vectors, target_vectors, W_xh, W_hh, b_h, W_hy, b_y):
    """Seed 001's forward_pass: the mean loss and what backward_pass needs."""
    h = np.zeros(W_hh.shape[0])
    total_loss = 0  # store total loss for the sequence (1 epoch only)
    h_prevs, h_list, p_list = [], [], []  # store for backward pass
    for x, t_idx in zip(input_vectors, target_vectors):
        # --- Forward pass ---
        h_prevs.append(h.copy())  # h_{t-1}
        h = np.tanh(W_xh @ x + W_hh @ h + b_h)
        y = W_hy @ h + b_y
        # softmax and cross-entropy loss
        exp_y = np.exp(y - np.max(y))  # stable softmax
        p = exp_y / exp_y.sum()
        total_loss += -np.log(p[t_idx])  # cross-entropy
        h_list.append(h.copy())  # h_t
        p_list.append(p)  # softmax probs
    total_loss /= len(input_vectors)  # average loss per time step
    return total_loss, h_prevs, h_list, p_list


def backward_pass(input_vectors, target_vectors, h_prevs, h_list, p_list, W_xh, W_hh, b_h, W_hy, b_y):
    """Seed 001's backward_pass: full BPTT, the gradients of the summed loss."""
    dW_xh = np.zeros_like(W_xh)
    dW_hh = np.zeros_like(W_hh)
    dW_hy = np.zeros_like(W_hy)
    db_h = np.zeros_like(b_h)
    db_y = np.zeros_like(b_y)
    dh_next = np.zeros(W_hh.shape[0])
    for t in reversed(range(len(input_vectors))):
        dy = p_list[t].copy()
        dy[target_vectors[t]] -= 1
        dW_hy += np.outer(dy, h_list[t])
        db_y += dy
        dh = W_hy.T @ dy + dh_next
        dtanh = dh * (1 - h_list[t] ** 2)
        dW_xh += np.outer(dtanh, input_vectors[t])
        dW_hh += np.outer(dtanh, h_prevs[t])
        db_h += dtanh
        dh_next = W_hh.T @ dtanh
    return dW_xh, dW_hh, db_h, dW_hy, db_y


def make_hello_rnn(params, inputs, targets, vocab_size, lr):
    """Seed 001's forward_pass / backward_pass (full BPTT) and its update loop.

    params: dict W_xh (H, V), W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,), float64.
    inputs, targets: token ids (T,).  The seed prints the mean loss and uses the
    gradients of the sum; canon() reports the sum (mean * T), as tinynet's "sum".
    """
    W_xh = params["W_xh"].copy()
    W_hh = params["W_hh"].copy()
    b_h = params["b_h"].copy()
    W_hy = params["W_hy"].copy()
    b_y = params["b_y"].copy()
    weights = (W_xh, W_hh, b_h, W_hy, b_y)

    def one_hot_encode(ix):
        one_hot = np.zeros(vocab_size)
        one_hot[ix] = 1
        return one_hot

    input_vectors = [one_hot_encode(int(i)) for i in inputs]
    target_vectors = [int(t) for t in targets]

    def step():
        total_loss, h_prevs, h_list, p_list = forward_pass(input_vectors, target_vectors, *weights)
        dW_xh, dW_hh, db_h, dW_hy, db_y = backward_pass(input_vectors, target_vectors, h_prevs, h_list, p_list,
                                                        *weights)
        # --- Update weights ---
        for W, dW in [(W_xh, dW_xh), (W_hh, dW_hh), (W_hy, dW_hy)]:
            W -= lr * dW
        b_h[...] -= lr * db_h  # the seed's `b_h -= ...` on a global; in place here too
        b_y[...] -= lr * db_y
        return total_loss, (dW_xh, dW_hh, db_h, dW_hy, db_y)

    def canon(res):
        total_loss, (dW_xh, dW_hh, db_h, dW_hy, db_y) = res
        return {"loss": np.array(total_loss * len(input_vectors)),
                "dW_xh": dW_xh, "dW_hh": dW_hh, "db_h": db_h, "dW_hy": dW_hy, "db_y": db_y,
                "W_xh": W_xh, "W_hh": W_hh, "b_h": b_h, "W_hy": W_hy, "b_y": b_y}

    return step, canon


# --------------------------------------------------------------------------- seed 003


def makemore_forward(C, W1, b1, W2, b2, bngain, bnbias, Xb, Yb):
    """Seed 003's forward cell: the loss and every intermediate the backward chain reads."""
    n = Xb.shape[0]
    # forward pass, "chunkated" into smaller steps that are possible to backward one at a time
    emb = C[Xb]  # embed the characters into vectors
    embcat = emb.reshape(emb.shape[0], -1)  # concatenate the vectors
    # Linear layer 1
    hprebn = embcat @ W1 + b1  # hidden layer pre-activation
    # BatchNorm layer
    bnmeani = 1 / n * hprebn.sum(0, keepdims=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdims=True)  # Bessel's correction
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    # Non-linearity
    h = np.tanh(hpreact)
    # Linear layer 2
    logits = h @ W2 + b2  # output layer
    # cross entropy loss (same as F.cross_entropy(logits, Yb))
    logit_maxes = logits.max(1, keepdims=True)
    norm_logits = logits - logit_maxes  # subtract max for numerical stability
    counts = np.exp(norm_logits)
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = np.log(probs)
    loss = -logprobs[range(n), Yb].mean()
    return loss, dict(emb=emb, embcat=embcat, hprebn=hprebn, bndiff=bndiff, bndiff2=bndiff2, bnvar=bnvar,
                      bnvar_inv=bnvar_inv, bnraw=bnraw, h=h, logits=logits, counts=counts, counts_sum=counts_sum,
                      counts_sum_inv=counts_sum_inv, probs=probs, logprobs=logprobs)


def makemore_backward(C, W1, W2, bngain, Xb, Yb, f):
    """Seed 003's manual backward chain, cell by cell, from the forward's intermediates
    f: the gradients in the notebook's parameter order."""
    n = Xb.shape[0]
    emb, embcat, hprebn, bndiff, bndiff2 = f["emb"], f["embcat"], f["hprebn"], f["bndiff"], f["bndiff2"]
    bnvar, bnvar_inv, bnraw, h, logits = f["bnvar"], f["bnvar_inv"], f["bnraw"], f["h"], f["logits"]
    counts, counts_sum, counts_sum_inv, probs = f["counts"], f["counts_sum"], f["counts_sum_inv"], f["probs"]
    # backprop through the whole thing manually
    dlogprobs = np.zeros_like(f["logprobs"])
    dlogprobs[range(n), Yb] = -1.0 / n
    dprobs = (1.0 / probs) * dlogprobs
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdims=True)
    dcounts = counts_sum_inv * dprobs
    dcounts_sum = (-(counts_sum**-2)) * dcounts_sum_inv
    dcounts += np.ones_like(counts) * dcounts_sum
    dnorm_logits = counts * dcounts
    dlogits = dnorm_logits.copy()
    dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)
    dlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes  # F.one_hot
    dh = dlogits @ W2.T
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(0)
    dhpreact = (1.0 - h**2) * dh
    dbngain = (bnraw * dhpreact).sum(0, keepdims=True)
    dbnraw = bngain * dhpreact
    dbnbias = dhpreact.sum(0, keepdims=True)
    dbndiff = bnvar_inv * dbnraw
    dbnvar_inv = (bndiff * dbnraw).sum(0, keepdims=True)
    dbnvar = (-0.5 * (bnvar + 1e-5) ** -1.5) * dbnvar_inv
    dbndiff2 = (1.0 / (n - 1)) * np.ones_like(bndiff2) * dbnvar
    dbndiff += (2 * bndiff) * dbndiff2
    dhprebn = dbndiff.copy()
    dbnmeani = (-dbndiff).sum(0)
    dhprebn += 1.0 / n * (np.ones_like(hprebn) * dbnmeani)
    dembcat = dhprebn @ W1.T
    dW1 = embcat.T @ dhprebn
    db1 = dhprebn.sum(0)
    demb = dembcat.reshape(emb.shape)
    dC = makemore_dC_loop(C, Xb, demb)
    return [dC, dW1, db1, dW2, db2, dbngain, dbnbias]


def makemore_dC_loop(C, Xb, demb):
    """The notebook's Python double loop for dC (also timed alone by the profile)."""
    dC = np.zeros_like(C)
    for k in range(Xb.shape[0]):
        for j in range(Xb.shape[1]):
            ix = Xb[k, j]
            dC[ix] += demb[k, j]
    return dC


def make_makemore(params, batches, lr):
    """Seed 003's makemore MLP with Karpathy's manual backprop (makemore part 4,
    exercise 1: the full chain, cell by cell), in NumPy, and the update loop.

    params (tinynet layout): C (27, 10), W1 (H, 30), b1 (H,), gamma (H,), beta (H,),
    W2 (27, H), b2 (27,).  The notebook stores W1 (in, out) = (30, H), W2 (H, 27) and
    bngain / bnbias (1, H); they are converted once here, as the notebook would have
    them.  batches: an iterator of (Xb (n, 3), Yb (n,)) int arrays.
    """
    C = params["C"].copy()
    W1 = np.ascontiguousarray(params["W1"].T)
    b1 = params["b1"].copy()
    bngain = params["gamma"].reshape(1, -1).copy()
    bnbias = params["beta"].reshape(1, -1).copy()
    W2 = np.ascontiguousarray(params["W2"].T)
    b2 = params["b2"].copy()
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]

    def step():
        Xb, Yb = next(batches)
        loss, intermediates = makemore_forward(C, W1, b1, W2, b2, bngain, bnbias, Xb, Yb)
        grads = makemore_backward(C, W1, W2, bngain, Xb, Yb, intermediates)
        # update
        for p, grad in zip(parameters, grads):
            p += -lr * grad
        return loss, grads

    def canon(res):
        loss, (dC, dW1, db1, dW2, db2, dbngain, dbnbias) = res
        return {"loss": np.array(loss), "dC": dC, "dW1": dW1.T, "db1": db1, "dgamma": dbngain.ravel(),
                "dbeta": dbnbias.ravel(), "dW2": dW2.T, "db2": db2,
                "C": C, "W1": W1.T, "b1": b1, "gamma": bngain.ravel(), "beta": bnbias.ravel(), "W2": W2.T, "b2": b2}

    return step, canon
