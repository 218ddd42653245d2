"""The makemore training step as an experienced NumPy user writes it (the makemore goals' peer).

Not the seed's cell-by-cell chain (bench/seedstyle.py keeps that one): one vectorised
expression per layer, the batch-norm and cross-entropy gradients in their closed forms,
no Python loop, nothing computed twice, float32 (or float64) throughout, in place where
that is natural.  Where NumPy has several spellings of a line, the step uses the one that
timed fastest on this step (bench/README.md names the others):

* the embedding gather ``C.take(Xb.ravel(), axis=0)``;
* the batch mean ``hpre.sum(0) / n``, the variance from the centred values;
* cross-entropy through log-sum-exp, its gradient ``(softmax - onehot) / n`` in place;
* the batch-norm backward in one expression (Karpathy's makemore part 4 form);
* the embedding gradient as a one-hot product, ``eye[Xb.ravel()].T @ dx``;
* SGD as ``p -= lr * g`` on every parameter.

Parameters stay in tinynet's (out, in) layout: for ``x @ W.T`` OpenBLAS reads the
transpose in place, without a copy.
"""
import numpy as np

KEYS = ("C", "W1", "b1", "gamma", "beta", "W2", "b2")


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
        n = Xb.shape[0]
        rows = np.arange(n)
        ids = Xb.ravel()
        # forward
        x = C.take(ids, axis=0).reshape(n, -1)             # (n, B*E) embedding, flattened
        hpre = x @ W1.T
        hpre += b1
        mean = hpre.sum(0) / n
        diff = hpre - mean
        var = (diff * diff).sum(0) / (n - 1)                # Bessel's correction, as the seed
        invstd = 1 / np.sqrt(var + eps)
        xhat = diff * invstd
        h = xhat * gamma
        h += beta
        np.tanh(h, out=h)
        logits = h @ W2.T
        logits += b2
        logits -= logits.max(1, keepdims=True)             # log-sum-exp
        probs = np.exp(logits)
        s = probs.sum(1)
        loss = float(np.log(s).mean() - logits[rows, Yb].mean())
        # backward
        probs /= s[:, None]
        dlogits = probs
        dlogits[rows, Yb] -= 1
        dlogits /= n
        dW2 = dlogits.T @ h
        db2 = dlogits.sum(0)
        dh = dlogits @ W2
        dh *= 1 - h * h                                     # through tanh
        dbeta = dh.sum(0)
        dgamma = (dh * xhat).sum(0)
        dhpre = (gamma * invstd / n) * (n * dh - dbeta - (n / (n - 1)) * xhat * dgamma)
        dW1 = dhpre.T @ x
        db1 = dhpre.sum(0)
        dx = dhpre @ W1
        dC = eye[ids].T @ dx.reshape(-1, E)                 # scatter-add as a one-hot product
        grads = (dC, dW1, db1, dgamma, dbeta, dW2, db2)
        for p, g in zip(state, grads):
            p -= lr * g
        return loss, grads

    return step, state
