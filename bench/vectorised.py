"""The training steps as an experienced NumPy user writes them (the makemore and WaveNet
goals' vectorised peer).

Not the seed's cell-by-cell chain (bench/seedstyle.py keeps that one): one vectorised
expression per layer, the batch-norm and cross-entropy gradients in their closed forms,
no Python loop over examples, nothing computed twice, float32 (or float64) throughout, in
place where that is natural.  Where NumPy has several spellings of a line, the steps use
the one that timed fastest (bench/README.md names the others):

* the embedding gather ``C.take(Xb.ravel(), axis=0)``;
* the batch mean ``hpre.sum(0) / n``, the variance from the centred values;
* cross-entropy through log-sum-exp, its gradient ``(softmax - onehot) / n`` in place;
* the batch-norm backward in one expression (Karpathy's makemore part 4 form);
* the embedding gradient as a one-hot product, ``eye[Xb.ravel()].T @ dx``;
* SGD as ``p -= lr * g`` on every parameter.

Parameters stay in tinynet's (out, in) layout: for ``x @ W.T`` OpenBLAS reads the
transpose in place, without a copy.  The WaveNet keeps its activations as rows, (B * T,
C) for a (B, T, C) tensor: FlattenConsecutive(2) is then a reshape of the rows, and the
lecture's batch statistics over axes (0, 1) are the statistics over the rows, one GEMM
per layer.
"""
import numpy as np

KEYS = ("C", "W1", "b1", "gamma", "beta", "W2", "b2")
#: The WaveNet's parameters (in the order of its tinynet.nn model's parameters()) and its
#: BatchNorm layers' running statistics.
WAVENET_KEYS = ("C", "W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "gamma3", "beta3", "W4", "b4")
WAVENET_BUFFERS = ("running_mean1", "running_var1", "running_mean2", "running_var2", "running_mean3",
                   "running_var3")


def hidden_forward(x, W, b, gamma, beta, eps, running=(), momentum=0.1):
    """A hidden layer: linear (bias b, or None), batch norm over the rows with Bessel's
    variance, tanh.  x (m, D) -> (h (m, H), xhat, invstd); `running` (running_mean,
    running_var), when given, is updated in place with the batch's mean and (unbiased)
    variance."""
    m = x.shape[0]
    hpre = x @ W.T
    if b is not None:
        hpre += b
    mean = hpre.sum(0) / m
    diff = hpre - mean
    var = (diff * diff).sum(0) / (m - 1)                # Bessel's correction, as makemore
    invstd = 1 / np.sqrt(var + eps)
    xhat = diff * invstd
    h = xhat * gamma
    h += beta
    np.tanh(h, out=h)
    for r, batch in zip(running, (mean, var)):
        r *= 1 - momentum
        r += momentum * batch
    return h, xhat, invstd


def hidden_backward(dh, h, x, W, gamma, xhat, invstd, bias=True):
    """The backward of hidden_forward: dh (m, H), overwritten -> (dx, dW, db (None
    without bias), dgamma, dbeta)."""
    m = dh.shape[0]
    dh *= 1 - h * h                                     # through tanh
    dbeta = dh.sum(0)
    dgamma = (dh * xhat).sum(0)
    dhpre = (gamma * invstd / m) * (m * dh - dbeta - (m / (m - 1)) * xhat * dgamma)
    return dhpre @ W, dhpre.T @ x, dhpre.sum(0) if bias else None, dgamma, dbeta


def cross_entropy(logits, Yb):
    """Mean cross-entropy of logits (n, V) (overwritten) against the ids Yb: (loss,
    dlogits)."""
    n = logits.shape[0]
    rows = np.arange(n)
    logits -= logits.max(1, keepdims=True)             # log-sum-exp
    probs = np.exp(logits)
    s = probs.sum(1)
    loss = float(np.log(s).mean() - logits[rows, Yb].mean())
    probs /= s[:, None]
    dlogits = probs
    dlogits[rows, Yb] -= 1
    dlogits /= n
    return loss, dlogits


def sgd(state, grads, lr):
    for p, g in zip(state, grads):
        p -= lr * g


def make_makemore(params, batches, lr, eps=1e-5):
    """A training step of seed 003's model (embedding, linear, batch norm with Bessel's
    variance, tanh, linear, mean cross-entropy; SGD) in vectorised NumPy.

    params (tinynet layout): C (V, E), W1 (H, B*E), b1 (H,), gamma (H,), beta (H,),
    W2 (V, H), b2 (V,), all of one float dtype; batches: an iterator of (Xb (n, B),
    Yb (n,)) int arrays.  Returns (step, state): step() runs one step and returns (loss,
    grads), grads in the order of state, the live parameters (KEYS) the step updates.
    """
    state = C, W1, b1, gamma, beta, W2, b2 = tuple(params[k].copy() for k in KEYS)
    dtype = C.dtype
    V, E = C.shape
    eye = np.eye(V, dtype=dtype)  # one-hot rows for the embedding gradient
    lr, eps = dtype.type(lr), dtype.type(eps)

    def step():
        Xb, Yb = next(batches)
        ids = Xb.ravel()
        x = C.take(ids, axis=0).reshape(Xb.shape[0], -1)  # (n, B*E) embedding, flattened
        h, xhat, invstd = hidden_forward(x, W1, b1, gamma, beta, eps)
        logits = h @ W2.T
        logits += b2
        loss, dlogits = cross_entropy(logits, Yb)
        dW2 = dlogits.T @ h
        db2 = dlogits.sum(0)
        dx, dW1, db1, dgamma, dbeta = hidden_backward(dlogits @ W2, h, x, W1, gamma, xhat, invstd)
        dC = eye[ids].T @ dx.reshape(-1, E)                # scatter-add as a one-hot product
        grads = (dC, dW1, db1, dgamma, dbeta, dW2, db2)
        sgd(state, grads, lr)
        return loss, grads

    return step, state


def make_wavenet(params, batches, lr, eps=1e-5, momentum=0.1):
    """A training step of makemore part 5's WaveNet (embedding; three times
    FlattenConsecutive(2), linear without bias, batch norm over (B, T) with the unbiased
    variance and running statistics, tanh; linear; mean cross-entropy; SGD) in
    vectorised NumPy.

    params (tinynet layout, WAVENET_KEYS and WAVENET_BUFFERS): C (V, E), W1 (H, 2E),
    W2 and W3 (H, 2H), gammaN and betaN (H,), W4 (V, H), b4 (V,), running_meanN and
    running_varN (H,); batches: an iterator of (Xb (n, T), Yb (n,)) int arrays, T a
    power of two (8).  Returns (step, state, buffers): step() returns (loss, grads),
    grads in the order of state (WAVENET_KEYS), the live parameters; buffers the live
    running statistics (WAVENET_BUFFERS)."""
    state = tuple(params[k].copy() for k in WAVENET_KEYS)
    buffers = tuple(params[k].copy() for k in WAVENET_BUFFERS)
    C, W4, b4 = state[0], state[10], state[11]
    dtype = C.dtype
    eye = np.eye(C.shape[0], dtype=dtype)
    lr, eps, momentum = dtype.type(lr), dtype.type(eps), dtype.type(momentum)
    blocks = [(state[i], state[i + 1], state[i + 2], buffers[j:j + 2]) for i, j in ((1, 0), (4, 2), (7, 4))]

    def step():
        Xb, Yb = next(batches)
        ids = Xb.ravel()
        x = C.take(ids, axis=0)                         # (n * T, E): the rows of (n, T, E)
        saved = []
        for W, gamma, beta, running in blocks:
            x = x.reshape(-1, 2 * x.shape[1])          # FlattenConsecutive(2)
            h, xhat, invstd = hidden_forward(x, W, None, gamma, beta, eps, running, momentum)
            saved.append((h, x, xhat, invstd))
            x = h
        logits = x @ W4.T
        logits += b4
        loss, dlogits = cross_entropy(logits, Yb)
        grads = [dlogits.T @ x, dlogits.sum(0)]         # dW4, db4
        dx = dlogits @ W4
        for (W, gamma, _, _), (h, x, xhat, invstd) in zip(blocks[::-1], saved[::-1]):
            dx, dW, _, dgamma, dbeta = hidden_backward(dx.reshape(h.shape), h, x, W, gamma, xhat, invstd, False)
            grads[:0] = (dW, dgamma, dbeta)
        grads.insert(0, eye[ids].T @ dx.reshape(ids.size, -1))  # dC: scatter-add as a one-hot product
        sgd(state, grads, lr)
        return loss, tuple(grads)

    return step, state, buffers
