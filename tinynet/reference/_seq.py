"""What the recurrent layers share (csrc/tn_seq.c, csrc/wrap/seq.h): the sizes of a call,
checked, and the gated layers' input projection and weight gradients."""
from __future__ import annotations

import numpy as np


# --------------------------------------------------------------------------------- RNN
#
# Internally every sequence is batched, (T, B, ...); an unbatched call is a batch of
# one, squeezed again on the way out.


class _Rnn:
    """The sizes of one RNN call, checked the way the C engine checks them."""

    # where the messages say H and D come from
    h_from, d_from = "W_hh.shape[0]", "W_xh.shape[1]"

    def __init__(self, c, W_xh, W_hh, b_h=None):
        self.c = c
        c.expect("W_hh", W_hh, (None, None), "(H, H)")
        if W_hh.shape[0] != W_hh.shape[1]:
            raise c.shape_error("W_hh", W_hh, "(H, H)")
        self.H = H = W_hh.shape[0]
        where = f" with H = W_hh.shape[0] = {H}"
        c.expect("W_xh", W_xh, (H, None), "(H, D)", where)
        self.D = W_xh.shape[1]
        if b_h is not None:
            c.expect("b_h", b_h, (H,), "(H,)", where)

    def outputs(self, W_hy, b_y):
        c = self.c
        c.expect("W_hy", W_hy, (None, self.H), "(V, H)", f" with H = W_hh.shape[0] = {self.H}")
        self.V = W_hy.shape[0]
        c.expect("b_y", b_y, (self.V,), "(V,)", f" with V = W_hy.shape[0] = {self.V}")

    def _input(self, name, a, bdim=1):
        """The input argument that sets T and B (named in messages)."""
        self.in_name, self.in_shape, self.bdim = name, tuple(a.shape), bdim

    def tokens(self, name, tokens):
        """Token ids (T, B) or (T,) in [0, D); returns them batched."""
        self._input(name, tokens)
        if tokens.ndim not in (1, 2):
            raise self.c.shape_error(name, tokens, "(T, B) or (T,) token ids")
        self.batched = tokens.ndim == 2
        self.T = tokens.shape[0]
        self.B = tokens.shape[1] if self.batched else 1
        self.c.in_range(name, tokens, self.D, f"D = {self.d_from}")
        return tokens.reshape(self.T, self.B)

    def floats(self, name, x):
        """Float inputs (T, B, D) or (T, D); returns them batched."""
        self._input(name, x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.D:
            raise self.c.shape_error(name, x, "(T, B, D) or (T, D)", f" with D = {self.d_from} = {self.D}")
        self.batched = x.ndim == 3
        self.T = x.shape[0]
        self.B = x.shape[1] if self.batched else 1
        return x.reshape(self.T, self.B, self.D)

    def state(self, name, h):
        """An (H,) / (B, H) state (None: zeros); returns it batched."""
        if h is None:
            return np.zeros((self.B, self.H), dtype=self.c.dtype)
        i = self.in_name
        if self.batched:
            self.c.expect(name, h, (self.B, self.H), "(B, H)",
                          f" with B = {i}.shape[{self.bdim}] = {self.B}, H = {self.h_from} = {self.H}")
        else:
            self.c.expect(name, h, (self.H,), "(H,)",
                          f" for unbatched {i} of shape {self.in_shape}, with H = {self.h_from} = {self.H}")
        return h.reshape(self.B, self.H)

    def sequence(self, name, hs, gates=1):
        """A (T, B, H) / (T, H) sequence of states (gates=G: of G H gate values); returns
        it batched."""
        i, w = self.in_name, gates * self.H
        G = f"{gates}H" if gates > 1 else "H"
        if self.batched:
            self.c.expect(name, hs, (self.T, self.B, w), f"(T, B, {G})",
                          f" with T = {i}.shape[0] = {self.T}, B = {i}.shape[1] = {self.B}, "
                          f"H = {self.h_from} = {self.H}")
        else:
            self.c.expect(name, hs, (self.T, w), f"(T, {G})",
                          f" for unbatched {i} of shape {self.in_shape}, with T = {i}.shape[0] = {self.T}, "
                          f"H = {self.h_from} = {self.H}")
        return hs.reshape(self.T, self.B, w)

    def unbatch(self, a, axis):
        """Undo the batch of one for unbatched calls."""
        return a if self.batched else np.squeeze(a, axis=axis)


def _rnn_input(c, x):
    """x is token ids when its dtype is integer, float inputs otherwise."""
    raw = c.raw("x", x)
    return raw, raw.dtype.kind in "iu"



# ------------------------------------------------------------------ LSTM and GRU
#
# PyTorch's layouts, so weights move across unchanged: W_ih (G H, D) and W_hh (G H, H)
# stack the G gates' matrices (LSTM: i, f, g, o; GRU: r, z, n), b_ih and b_hh (G H,).
# As for the RNN, sequences are time-major and handled batched inside.


class _Gated(_Rnn):
    """The sizes of one LSTM (G = 4) or GRU (G = 3) call, checked as the C engine does."""

    h_from, d_from = "W_hh.shape[1]", "W_ih.shape[1]"

    def __init__(self, c, G, W_ih, W_hh, b_ih=None, b_hh=None):
        self.c, self.G = c, G
        c.expect("W_hh", W_hh, (None, None), f"({G}H, H)")
        self.H = H = W_hh.shape[1]
        where = f" with H = W_hh.shape[1] = {H}"
        if W_hh.shape[0] != G * H:
            raise c.shape_error("W_hh", W_hh, f"({G}H, H)", where)
        c.expect("W_ih", W_ih, (G * H, None), f"({G}H, D)", where)
        self.D = W_ih.shape[1]
        for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
            if b is not None:
                c.expect(name, b, (G * H,), f"({G}H,)", where)

    def inputs(self, name, x, raw, tokens, xf):
        """The input sequence, batched: ids (T, B) or floats (T, B, D)."""
        return self.tokens(name, self.c.ints(name, x, raw)) if tokens else self.floats(name, xf)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _project_inputs(x, W_ih, b_ih, tokens):
    """W_ih @ x_t (+ b_ih) for every step at once: (T, B, G H)."""
    xw = W_ih.T[x] if tokens else x @ W_ih.T  # a row of W_ih.T per token id: W_ih @ onehot(id)
    return xw if b_ih is None else xw + b_ih


def _weight_grads(da_ih, da_hh, x, h_prev, W_ih, tokens):
    """dW_ih, dW_hh, db_ih, db_hh from the gradients of the input-side (da_ih) and the
    hidden-side (da_hh) pre-activations of every step, (T, B, G H)."""
    GH, H = da_hh.shape[-1], h_prev.shape[-1]
    if da_ih.size == 0:  # no steps (T may be huge when B or H is 0)
        return np.zeros_like(W_ih), np.zeros((GH, H), da_ih.dtype), np.zeros(GH, da_ih.dtype), np.zeros(GH, da_ih.dtype)
    dW_ih = np.zeros_like(W_ih)
    if tokens:
        np.add.at(dW_ih.T, x.reshape(-1), da_ih.reshape(x.size, da_ih.shape[-1]))  # repeated ids accumulate
    else:
        dW_ih = np.einsum("tbg,tbd->gd", da_ih, x)
    dW_hh = np.einsum("tbg,tbh->gh", da_hh, h_prev)
    return dW_ih, dW_hh, da_ih.sum(axis=(0, 1)), da_hh.sum(axis=(0, 1))


def _input_grad(da_ih, W_ih, x):
    """dx (T, B, D) = da_ih @ W_ih, the gradient of float inputs."""
    return da_ih @ W_ih if da_ih.size else np.zeros_like(x)
