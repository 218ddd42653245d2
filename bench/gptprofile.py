"""Where the GPT step's time goes: every engine call of one tinynet step, recorded as the
step makes it, then each timed alone on its own inputs (the calls of the same function on
arrays of the same shapes timed once and counted as many times as the step makes them);
the step's own time beside their sum, the rest being Python (the layers' bookkeeping,
the residual additions in NumPy).  And PyTorch's costs: its forward alone, and its step
eager and compiled, timed in the same measurement."""
import numpy as np
import tinynet

import cases as C
import gpt
from timing import Threads, measure

#: The engine functions a tinynet.nn GPT step calls.
CALLS = ("embedding_forward", "embedding_backward", "layernorm_forward", "layernorm_backward", "linear_forward",
         "linear_backward", "attention_forward", "attention_backward", "gelu_forward", "gelu_backward",
         "cross_entropy_forward", "cross_entropy_backward", "adam_foreach_")


def _shape(a):
    if isinstance(a, np.ndarray):
        return "x".join(map(str, a.shape))
    if isinstance(a, (list, tuple)) and a and isinstance(a[0], np.ndarray):
        return f"{len(a)} arrays"
    return None


def record_step(params, pool):
    """[(name, shapes, fn, args, kwargs)]: the engine calls of one tinynet step, in order."""
    calls, saved = [], {name: getattr(tinynet, name) for name in CALLS}

    def recorder(name, fn):
        def call(*args, **kwargs):
            shapes = ", ".join(s for s in map(_shape, args) if s)
            calls.append((name, shapes, fn, args, kwargs))
            return fn(*args, **kwargs)
        return call

    try:
        for name, fn in saved.items():
            setattr(tinynet, name, recorder(name, fn))
        step, _ = gpt.gpt_nn(tinynet, params, pool, "c")
        step()
    finally:
        for name, fn in saved.items():
            setattr(tinynet, name, fn)
    return calls


def gemm_flops(name, args):
    """The GEMM flops of one call (2 per multiply-add): a linear layer's product (3
    products backward: dx, dW), the attention's two over the causal triangle (four
    backward)."""
    if name in ("linear_forward", "linear_backward"):
        x, W = (args[0], args[1]) if name == "linear_forward" else (args[1], args[2])
        return (2 if name == "linear_forward" else 4) * (x.size // x.shape[-1]) * W.shape[0] * W.shape[1]
    if name in ("attention_forward", "attention_backward"):
        qkv = args[0] if name == "attention_forward" else args[1]
        B, T, C3 = qkv.shape
        return (4 if name == "attention_forward" else 8) * B * C3 // 3 * T * (T + 1) // 2
    return 0


def call_groups(calls):
    """{label: [count, fn, flops per call]}: one timeable closure per distinct
    (function, shapes)."""
    groups = {}
    for name, shapes, fn, args, kwargs in calls:
        label = f"{name} ({shapes})"
        if label in groups:
            groups[label][0] += 1
        else:
            groups[label] = [1, lambda fn=fn, a=args, k=kwargs: fn(*a, **k), gemm_flops(name, args)]
    return groups


def torch_forward(params, pool):
    """makemore's forward with its loss, alone (the autograd graph built)."""
    model = gpt.makemore_model(params)
    Xb, Yb = (C.torch.from_numpy(a) for a in pool[0])
    return lambda: model(Xb, Yb)


def gpt_profile(pool, n, reps, tgt):
    """The profile's "gpt" entry at n threads: {"threads", "step", "calls": [(label,
    count, seconds per call, GEMM flops per call)], "sum", "peers": {label: stats}}."""
    params = gpt.gpt_params(np.float32)
    with Threads(n):
        groups = call_groups(record_step(params, pool))
        fns = {"step": gpt.gpt_nn(tinynet, params, pool, "c")[0]}
        fns.update({"call " + label: fn for label, (_, fn, _) in groups.items()})
        if C.torch is not None:
            fns["PyTorch forward only (graph built)"] = torch_forward(params, pool)
            fns["PyTorch step"] = gpt.torch_gpt(params, pool)[0]
        times = measure(fns, reps, tgt)
    med = {k: v["median"] for k, v in times.items()}
    rows = sorted(((label, count, med["call " + label], flops) for label, (count, _, flops) in groups.items()),
                  key=lambda r: -r[1] * r[2])
    return {"threads": n, "step": med["step"], "calls": rows, "sum": sum(r[1] * r[2] for r in rows),
            "peers": {k: times[k] for k in times if not k.startswith("call ") and k != "step"}}


def by_function(entry):
    """{function: (seconds per step, GEMM flops per step)}: the calls summed per engine
    function, the slowest first."""
    out = {}
    for label, count, t, flops in entry["calls"]:
        name = label.split(" ", 1)[0]
        s, f = out.get(name, (0.0, 0))
        out[name] = (s + count * t, f + count * flops)
    return dict(sorted(out.items(), key=lambda kv: -kv[1][0]))
