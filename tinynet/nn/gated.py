"""tinynet.nn.gated: The gated recurrent layers, LSTM and GRU, as torch.nn's."""
import numpy as np

from tinynet.nn._base import Module, _bias, _check_init, _generator, _size, _weight


# ------------------------------------------------------------------------ LSTM and GRU


class _Gated(Module):
    """What LSTM and GRU share: PyTorch's parameters and names, states in PyTorch's
    (num_layers = 1, B, H) shape or without the leading 1."""

    _gates = 0  # G: 4 (LSTM) or 3 (GRU)

    def __init__(self, input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(engine=engine, dtype=dtype)
        who = type(self).__name__
        self.input_size = D = _size(input_size, "input_size", who)
        self.hidden_size = H = _size(hidden_size, "hidden_size", who)
        self.bias = bool(bias)
        self.init = _check_init(init, who)
        if not self.bias:
            self._param_names = ("weight_ih_l0", "weight_hh_l0")
            self._grads = dict.fromkeys(self._param_names)
        g = _generator(rng, who)
        G = self._gates
        # torch.nn.LSTM / GRU draw every parameter from U(-1/sqrt(H), 1/sqrt(H)), in this order
        self.weight_ih_l0 = _weight(g, (G * H, D), init, self.dtype, pytorch_fan_in=H)
        self.weight_hh_l0 = _weight(g, (G * H, H), init, self.dtype, pytorch_fan_in=H)
        if self.bias:
            self.bias_ih_l0 = _bias(g, G * H, init, self.dtype, H)
            self.bias_hh_l0 = _bias(g, G * H, init, self.dtype, H)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    @property
    def _state_hint(self):
        name = type(self).__name__
        return (f" (tinynet.nn.{name} is torch.nn.{name}(input_size, hidden_size, bias) with one layer, "
                f"batch_first=False, unidirectional{', proj_size=0' if name == 'LSTM' else ''}: its keys are "
                f"weight_ih_l0, weight_hh_l0{', bias_ih_l0, bias_hh_l0' if self.bias else ''})")

    def _biases(self):
        return (self.bias_ih_l0, self.bias_hh_l0) if self.bias else (None, None)

    def _sequence(self, x):
        """x as token ids (integer dtype) or floats of the layer's dtype; and whether batched."""
        raw = np.asarray(x)
        x = raw if raw.dtype.kind in "iu" else self._input(x)
        return x, x.ndim == (2 if x.dtype.kind in "iu" else 3)

    def _state_in(self, h, name, batched):
        """A state given in PyTorch's shape (1, B, H) / (1, H), or as (B, H) / (H,): the
        latter, for the engine; None stays None."""
        if h is None:
            return None
        h = self._input(h)
        if h.ndim == (3 if batched else 2):
            if h.shape[0] != 1:
                raise ValueError(f"{self!r}.forward: {name} has shape {h.shape}; a one-layer "
                                 f"{type(self).__name__} takes {'(1, B, H) or (B, H)' if batched else '(1, H) or (H,)'}")
            h = h[0]
        return h

    @staticmethod
    def _state_out(h, like):
        """An engine state (B, H) / (H,) in the shape of `like` (the user's state), or in
        PyTorch's (1, B, H) / (1, H) when there was none."""
        return h.reshape(like.shape) if like is not None else h[None]

    def _dstate(self, d, name, hs):
        """An optional gradient of a final state, as the engine wants it (B, H) / (H,)."""
        if d is None:
            return None
        d = self._input(d)
        want = hs.shape[1:]
        if d.shape not in (want, (1,) + want):
            raise ValueError(f"{self!r}.backward: {name} has shape {d.shape}, expected {(1,) + want} or {want} "
                             "(the shape of the final state)")
        return d.reshape(want)

    def _dout(self, dout, dh_n, hs):
        """dL/dhs: dout plus the final state's gradient at the last step (dout itself is
        not modified)."""
        self._check_dout(dout, hs.shape)
        dout = self._input(dout)
        dh_n = self._dstate(dh_n, "dh_n", hs)
        if dh_n is None or hs.shape[0] == 0:
            return dout
        dhs = np.array(dout, dtype=hs.dtype, copy=True)
        dhs[-1] += dh_n
        return dhs


class LSTM(_Gated):
    """LSTM(input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    A one-layer LSTM, time-major, exactly torch.nn.LSTM(input_size, hidden_size, bias):
    for each step, with a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh in blocks i, f, g, o,
    c_t = sigmoid(a_f) c_{t-1} + sigmoid(a_i) tanh(a_g), h_t = sigmoid(a_o) tanh(c_t).

    Parameters with PyTorch's names and layouts: weight_ih_l0 (4H, input_size),
    weight_hh_l0 (4H, H), bias_ih_l0, bias_hh_l0 (4H,) (none with bias=False); init
    "pytorch": all ~ U(-1/sqrt(H), 1/sqrt(H)) as torch.nn.LSTM ("xavier_uniform" /
    "kaiming_normal" per matrix, biases 0).
    forward(x, hx=None) -> (output, (h_n, c_n)), called as torch's: x floats
    (T, B, input_size) or token ids (T, B) (one-hot implied); unbatched (T, input_size) /
    (T,).  hx = (h0, c0), each (1, B, H) as in PyTorch or (B, H) (unbatched (1, H) or
    (H,)), None for zeros.  output (T, B, H) is the hidden state after every step; h_n,
    c_n come back as (1, B, H) / (1, H), or in the shape h0, c0 were given.
    backward(dout, dh_n=None, dc_n=None): dout = dL/doutput, and optionally the
    gradients of the final states -> dx (None for token ids); the parameter gradients go
    to named_grads() under the state-dict names, and dL/dh0, dL/dc0 to self.dh0,
    self.dc0 (shaped like h_n, c_n).

    >>> import numpy as np
    >>> from tinynet.nn import LSTM
    >>> lstm = LSTM(4, 3, rng=0)
    >>> output, (h_n, c_n) = lstm(np.array([[0, 1], [2, 3]]))   # T=2 steps, B=2 token sequences
    >>> output.shape, h_n.shape, lstm.backward(np.ones_like(output)), lstm.dc0.shape
    ((2, 2, 3), (1, 2, 3), None, (1, 2, 3))
    >>> [name for name, _ in lstm.named_grads()]
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    """

    _param_names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    _gates = 4

    def __init__(self, input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(input_size, hidden_size, bias, engine=engine, dtype=dtype, init=init, rng=rng)
        self.dh0 = self.dc0 = None

    def forward(self, x, hx=None):
        """forward(x, hx=None) -> (output, (h_n, c_n))."""
        x, batched = self._sequence(x)
        if hx is None:
            hx = (None, None)
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{self!r}.forward: hx must be None or a pair (h0, c0), got {type(hx).__name__}")
        h0, c0 = self._state_in(hx[0], "h0", batched), self._state_in(hx[1], "c0", batched)
        hs, cs, gates = self.tn.lstm_forward(x, h0, c0, self.weight_ih_l0, self.weight_hh_l0, *self._biases())
        self._cache = (x, h0, c0, hs, cs, gates, hx)
        self.dh0 = self.dc0 = None
        h_n = hs[-1] if len(hs) else (h0 if h0 is not None else np.zeros(hs.shape[1:], hs.dtype))
        c_n = cs[-1] if len(cs) else (c0 if c0 is not None else np.zeros(cs.shape[1:], cs.dtype))
        return hs, (self._state_out(h_n, hx[0]), self._state_out(c_n, hx[1]))

    def backward(self, dout, dh_n=None, dc_n=None):
        """backward(dout, dh_n=None, dc_n=None) -> dx (None for token ids)."""
        x, h0, c0, hs, cs, gates, hx = self._cached()
        dhs = self._dout(dout, dh_n, hs)
        dc_n = self._dstate(dc_n, "dc_n", hs)
        dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = self.tn.lstm_backward(
            dhs, x, h0, c0, hs, cs, gates, self.weight_ih_l0, self.weight_hh_l0, dc_n)
        self._grads.update(weight_ih_l0=dW_ih, weight_hh_l0=dW_hh)
        if self.bias:
            self._grads.update(bias_ih_l0=db_ih, bias_hh_l0=db_hh)
        self.dh0, self.dc0 = self._state_out(dh0, hx[0]), self._state_out(dc0, hx[1])
        return dx


class GRU(_Gated):
    """GRU(input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    A one-layer GRU, time-major, exactly torch.nn.GRU(input_size, hidden_size, bias): for
    each step, with gi = W_ih x_t + b_ih and gh = W_hh h_{t-1} + b_hh in blocks r, z, n,
    r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n),
    h_t = (1 - z) n + z h_{t-1}.

    Parameters with PyTorch's names and layouts: weight_ih_l0 (3H, input_size),
    weight_hh_l0 (3H, H), bias_ih_l0, bias_hh_l0 (3H,) (none with bias=False); init as
    LSTM's.
    forward(x, h0=None) -> (output, h_n), called as torch's: x floats (T, B, input_size)
    or token ids (T, B); unbatched (T, input_size) / (T,).  h0 (1, B, H) as in PyTorch or
    (B, H) (unbatched (1, H) or (H,)), None for zeros.  output (T, B, H); h_n comes back
    as (1, B, H) / (1, H), or in the shape h0 was given.
    backward(dout, dh_n=None) -> dx (None for token ids); the parameter gradients go to
    named_grads() under the state-dict names, dL/dh0 to self.dh0.

    >>> import numpy as np
    >>> from tinynet.nn import GRU
    >>> gru = GRU(2, 3, rng=0)
    >>> output, h_n = gru(np.ones((5, 4, 2)))            # T=5, B=4, input_size=2
    >>> output.shape, h_n.shape, gru.backward(np.ones_like(output)).shape
    ((5, 4, 3), (1, 4, 3), (5, 4, 2))
    """

    _param_names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    _gates = 3

    def __init__(self, input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(input_size, hidden_size, bias, engine=engine, dtype=dtype, init=init, rng=rng)
        self.dh0 = None

    def forward(self, x, h0=None):
        """forward(x, h0=None) -> (output, h_n)."""
        x, batched = self._sequence(x)
        given = h0
        h0 = self._state_in(h0, "h0", batched)
        hs, gates, gh_n = self.tn.gru_forward(x, h0, self.weight_ih_l0, self.weight_hh_l0, *self._biases())
        self._cache = (x, h0, hs, gates, gh_n, given)
        self.dh0 = None
        h_n = hs[-1] if len(hs) else (h0 if h0 is not None else np.zeros(hs.shape[1:], hs.dtype))
        return hs, self._state_out(h_n, given)

    def backward(self, dout, dh_n=None):
        """backward(dout, dh_n=None) -> dx (None for token ids)."""
        x, h0, hs, gates, gh_n, given = self._cached()
        dhs = self._dout(dout, dh_n, hs)
        dx, dh0, dW_ih, dW_hh, db_ih, db_hh = self.tn.gru_backward(dhs, x, h0, hs, gates, gh_n,
                                                                   self.weight_ih_l0, self.weight_hh_l0)
        self._grads.update(weight_ih_l0=dW_ih, weight_hh_l0=dW_hh)
        if self.bias:
            self._grads.update(bias_ih_l0=db_ih, bias_hh_l0=db_hh)
        self.dh0 = self._state_out(dh0, given)
        return dx
