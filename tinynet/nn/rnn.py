"""tinynet.nn.rnn: The vanilla RNN."""
import numpy as np

from tinynet.nn._base import Module, _bias, _check_init, _generator, _size, _weight


# --------------------------------------------------------------------------------- RNN


class RNN(Module):
    """RNN(input_size, hidden_size, bptt_steps=None, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    A vanilla tanh RNN, one layer, time-major, one bias:
    h_t = tanh(W_xh @ x_t + W_hh @ h_{t-1} + b_h).

    W_xh: (hidden_size, input_size); W_hh: (hidden_size, hidden_size); b_h: (hidden_size,).
    init "pytorch": all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as torch.nn.RNN
    ("xavier_uniform" / "kaiming_normal" per matrix, b_h 0).
    forward(x, h0=None): x floats (T, B, input_size) or token ids (T, B) (one-hot
    implied, so input_size is the vocabulary size); unbatched (T, input_size) / (T,)
    with h0 (hidden_size,).  h0 None means zeros.  Returns hs (T, B, H) or (T, H), the
    state after every step (the last state is hs[-1]).
    backward(dhs): dhs = dL/dhs -> dx (None for token input); stores dW_xh, dW_hh, db_h
    and sets ``self.dh0`` (dL/dh0).  bptt_steps=None is full backpropagation through
    time; bptt_steps=k truncates it (see tinynet.rnn_backward).

    >>> import numpy as np
    >>> from tinynet.nn import RNN
    >>> rnn = RNN(4, 3, rng=0)
    >>> hs = rnn(np.array([[0, 1], [2, 3]]))          # T=2 steps, B=2 token sequences
    >>> hs.shape, rnn.backward(np.ones_like(hs)), rnn.dh0.shape
    ((2, 2, 3), None, (2, 3))
    >>> [name for name, _ in rnn.named_parameters()]
    ['W_xh', 'W_hh', 'b_h']
    """

    _param_names = ("W_xh", "W_hh", "b_h")

    def __init__(self, input_size, hidden_size, bptt_steps=None, *, engine="c", dtype=np.float64,
                 init="pytorch", rng=None):
        super().__init__(engine=engine, dtype=dtype)
        self.input_size = D = _size(input_size, "input_size", "RNN")
        self.hidden_size = H = _size(hidden_size, "hidden_size", "RNN")
        self.bptt_steps = None if bptt_steps is None else _size(bptt_steps, "bptt_steps", "RNN", 1)
        self.init = _check_init(init, "RNN")
        g = _generator(rng, "RNN")
        self.W_xh = _weight(g, (H, D), init, self.dtype, pytorch_fan_in=H)
        self.W_hh = _weight(g, (H, H), init, self.dtype, pytorch_fan_in=H)
        self.b_h = _bias(g, H, init, self.dtype, H)
        self.dh0 = None

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bptt_steps is None else s + f", bptt_steps={self.bptt_steps}"

    def forward(self, x, h0=None):
        """forward(x, h0=None) -> hs (T, B, hidden_size) or (T, hidden_size)."""
        raw = np.asarray(x)
        x = raw if raw.dtype.kind in "iu" else self._input(x)  # token ids, or floats
        if h0 is not None:
            h0 = self._input(h0)
        hs = self.tn.rnn_forward(x, h0, self.W_xh, self.W_hh, self.b_h)
        self._cache = (x, h0, hs)
        self.dh0 = None
        return hs

    _state_hint = (" (RNN.state_dict uses torch.nn.RNN's keys: weight_ih_l0 is W_xh, weight_hh_l0 is W_hh, "
                   "and b_h = bias_ih_l0 + bias_hh_l0; tinynet.nn.RNN is torch.nn.RNN(input_size, hidden_size) "
                   "with one layer, tanh, biases and batch_first=False)")

    def _state(self):
        # torch.nn.RNN's names; its two biases are exported as b_h and zeros
        return {"weight_ih_l0": self.W_xh, "weight_hh_l0": self.W_hh, "bias_ih_l0": self.b_h,
                "bias_hh_l0": np.zeros_like(self.b_h)}

    def _load_state(self, arrays):
        self.W_xh[...] = arrays["weight_ih_l0"]
        self.W_hh[...] = arrays["weight_hh_l0"]
        b_ih, b_hh = arrays["bias_ih_l0"], arrays["bias_hh_l0"]
        # added at the wider of the two precisions, then rounded once to the layer's dtype
        self.b_h[...] = np.add(b_ih, b_hh, dtype=np.result_type(b_ih.dtype, b_hh.dtype, self.dtype))

    def backward(self, dhs):
        """backward(dhs) -> dx (None for token ids); stores the weight gradients and self.dh0."""
        x, h0, hs = self._cached()
        self._check_dout(dhs, hs.shape, "dhs")
        dx, dh0, dW_xh, dW_hh, db_h = self.tn.rnn_backward(dhs, x, h0, hs, self.W_xh, self.W_hh,
                                                           self.bptt_steps)
        self._grads.update(W_xh=dW_xh, W_hh=dW_hh, b_h=db_h)
        self.dh0 = dh0
        return dx
