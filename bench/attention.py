"""The attention case: causal multi-head self-attention alone, forward and backward, from
the packed qkv (B, T, 3C) that a GPT's c_attn projection returns.

* tinynet: attention_forward(qkv, n_head) then attention_backward(dout, qkv, att, n_head);
* the NumPy engine: the same two calls (timed at T <= REF_MAX_T only);
* PyTorch: what a user writes around F.scaled_dot_product_attention(is_causal=True):
  q, k, v = qkv.split(C, dim=2), each .view(B, T, n_head, hs).transpose(1, 2), SDPA,
  the heads back with .transpose(1, 2).contiguous().view(B, T, C), then
  out.backward(dout) into qkv.grad (torch's float32 SDPA on CPU runs its flash-attention
  kernel, which skips the blocks above the diagonal).

At one thread (the case's `threads`); the guard compares out and dqkv.
"""
import numpy as np

import cases as C
import tinynet
from cases import Case, Engine

#: The NumPy engine is timed up to this T (its Python loops over the tokens are too slow
#: at T = 256 to time: bench/README.md); at every size it is the guard's reference.
REF_MAX_T = 64
#: (B, T, C, n_head): makemore's GPT's attention, and a GPT-2-small-like head count at T = 256.
SIZES = ((32, 16, 64, 4), (8, 256, 384, 6))


def attention_state(B, T, Cn, seed=11):
    """qkv ~ N(0, 1) and dout ~ N(0, 1), float32."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, T, 3 * Cn)).astype(np.float32),
            rng.standard_normal((B, T, Cn)).astype(np.float32))


def attention_engine(E, qkv, dout, n_head):
    """tinynet or the NumPy engine: the forward, then the backward from its weights."""
    forward, backward = E.attention_forward, E.attention_backward

    def step():
        out, att = forward(qkv, n_head)
        return out, backward(dout, qkv, att, n_head)

    return step, lambda res: {"out": res[0], "dqkv": res[1]}


def attention_torch(qkv, dout, n_head):
    """F.scaled_dot_product_attention(is_causal=True) with the split and reshapes around
    it, forward and backward into qkv.grad."""
    torch, F = C.torch, C.F
    B, T, C3 = qkv.shape
    Cn, hs = C3 // 3, C3 // 3 // n_head
    x, d = C._t(qkv, grad=True), C._t(dout)

    def step():
        x.grad = None
        q, k, v = x.split(Cn, dim=2)
        q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = y.transpose(1, 2).contiguous().view(B, T, Cn)
        out.backward(d)
        return out

    return step, lambda out: {"out": C._np(out), "dqkv": C._np(x.grad)}


def attention_flops(B, T, Cn):
    """The products over the causal triangle (T (T + 1) / 2 pairs per sequence and head):
    q k^T and att v forward; datt, dq, dk and dv backward; 2 flops per multiply-add."""
    return 12 * B * Cn * T * (T + 1) // 2


def attention_cases(have_torch):
    """One case per size of SIZES, float32, one thread."""
    cases = []
    for B, T, Cn, H in SIZES:
        qkv, dout = attention_state(B, T, Cn)
        engines = [Engine(C.TN, lambda q=qkv, d=dout, h=H: attention_engine(tinynet, q, d, h))]
        if T <= REF_MAX_T:
            engines.append(Engine(C.REF, lambda q=qkv, d=dout, h=H: attention_engine(C.ref, q, d, h)))
        if have_torch:
            engines.append(Engine(C.TORCH, lambda q=qkv, d=dout, h=H: attention_torch(q, d, h)))

        def oracle(q=qkv, d=dout, h=H):
            step, canon = attention_engine(C.ref, q, d, h)
            return canon(step())

        label = f"causal attention forward + backward (B={B}, T={T}, C={Cn}, n_head={H}, float32)"
        cases.append(Case(f"attention-T{T}", "attention", label, np.float32, attention_flops(B, T, Cn), engines,
                          oracle, threads=(1,)))
    return cases
