"""The prose of BENCHMARKS.md's "Where the time goes", written from a run's numbers: the
per-call floor, then a paragraph per case (what tinynet's time is made of, and the
peers')."""
import cases as C
from formatting import fmt_bytes, fmt_ratio, fmt_time
from goals import GOAL_GATED_TORCH, LINEAR_KEYS, gpt_goal_text
from gptprofile import by_function
from results import gflops


def med(d, k):
    """The median of entry k of a measurement d, or None."""
    return d[k]["median"] if d and k in d else None


class Numbers:
    """What the paragraphs read: the cases by key, the results at the profile's thread
    count, the profile, the per-core peaks and the per-call floors."""

    def __init__(self, run):
        self.run = run
        prof = run.profile
        self.by = {c.key: c for c in run.cases}
        self.n0 = prof["threads"] if prof else run.env["threads"][0]
        self.R = run.results.get(self.n0, {})
        self.prof, self.peak, self.mem = prof or {}, run.peak, run.memory
        ov = self.prof.get("overhead", {})
        self.tiny = med(ov, "tinynet tanh_forward(np.zeros(1))")
        self.ref_tiny = med(ov, "NumPy engine tanh_forward(np.zeros(1))")

    def times(self, key):
        """The case's times at the profile's thread count, if tinynet was timed."""
        res = self.R.get(key)
        return res["times"] if res and C.TN in res["times"] else None


def where_time_goes(run):
    """The paragraphs, from this run's numbers."""
    x = Numbers(run)
    paras = [floor_paragraph(x), hello_paragraph(x)]
    paras += [makemore_paragraph(x, dt) for dt in ("float32", "float64")]
    paras.append(charrnn_paragraph(x))
    paras += [gated_paragraph(x, key, name) for key, name in (("lstm", "nn.LSTM"), ("gru", "nn.GRU"))]
    paras += [gpt_paragraph(x, n, e) for n, e in sorted(x.prof.get("gpt", {}).items(), key=lambda kv: int(kv[0]))]
    paras.append(attention_paragraph(x, run))
    paras += [linear_paragraph(x), memory_paragraph(x)]
    return [p for p in paras if p is not None]


def floor_paragraph(x):
    ov = x.prof.get("overhead", {})
    if x.tiny is None:
        return None
    th_tiny = med(ov, "torch.tanh(1-element tensor)")
    th_ag = med(ov, "torch tanh+sum+backward (1 element)")
    return (f"**Per-call floor** (threads = {x.n0}). A near-empty tinynet call "
            f"(`tn.tanh_forward(np.zeros(1))`) costs {fmt_time(x.tiny)}; the GEMM path on a 1×1 "
            f"`linear_forward` costs {fmt_time(med(ov, 'tinynet linear_forward (1x1, GEMM path)'))}. For comparison: "
            f"`np.tanh` on one element {fmt_time(med(ov, 'np.tanh(np.zeros(1))'))}, the NumPy engine's "
            f"`tanh_forward` (argument checks in Python) {fmt_time(x.ref_tiny)}"
            + (f", `torch.tanh` on a 1-element tensor {fmt_time(th_tiny)} and a 1-element "
               f"tanh+sum+backward in autograd {fmt_time(th_ag)}" if th_tiny else "") + ".")


def hello_paragraph(x):
    t = x.times("hello")
    if "hello" not in x.by or t is None:
        return None
    hp, tiny = x.prof.get("hello", {}), x.tiny
    loss_t, sgd_t = med(hp, "tinynet rnn_lm_loss"), med(hp, "tinynet 5 x sgd_step_")
    txt = (f"**hello RNN.** tinynet's step takes {fmt_time(t[C.TN]['median'])}"
           + (f": `rnn_lm_loss` alone {fmt_time(loss_t)}, the five `sgd_step_` calls {fmt_time(sgd_t)} "
              f"(≈ {fmt_time(sgd_t / 5)} each, i.e. at the per-call floor)" if loss_t else "")
           + f". The whole step does {x.by['hello'].flops} flops, so it is call overhead: "
           f"{1 + 5} calls"
           + (f" ≈ {(1 + 5) * tiny / t[C.TN]['median']:.0%} of the step at the {fmt_time(tiny)} floor" if tiny else ""))
    t1, t16 = med(hp, "tinynet rnn_lm_loss T=1"), med(hp, "tinynet rnn_lm_loss T=16")
    fwd4 = med(hp, "tinynet rnn_forward (same tokens, T=4)")
    if t1 and t16:
        per = (t16 - t1) / 15
        txt += (f". `rnn_lm_loss` itself is mostly a fixed cost: {fmt_time(t1)} at T = 1, {fmt_time(t16)} at "
                f"T = 16, i.e. ≈ {fmt_time(t1 - per)} per call plus ≈ {fmt_time(per)} per time step"
                + (f" (for scale: `rnn_forward` on the same 4 tokens takes {fmt_time(fwd4)})" if fwd4 else ""))
    txt += ". The peers pay Python per operation: "
    parts = []
    if C.SEED in t:
        parts.append(f"seed 001's loops make about 150 NumPy calls on 4-element vectors per step "
                     f"({fmt_time(t[C.SEED]['median'])})")
    if C.REF in t:
        parts.append(f"the NumPy engine {fmt_time(t[C.REF]['median'])}"
                     + (f" (its `rnn_lm_loss` alone {fmt_time(med(hp, 'NumPy engine rnn_lm_loss'))})" if hp else ""))
    if C.TORCH in t:
        fw = med(hp, "PyTorch forward only (graph built)")
        parts.append(f"PyTorch {fmt_time(t[C.TORCH]['median'])}"
                     + (f", of which the forward that builds the graph is {fmt_time(fw)} and backward + "
                        f"update the rest" if fw else ""))
    return txt + "; ".join(parts) + "."


def glue_text(step, calls_sum, glue):
    """What the step's time beyond its calls' sum says."""
    if abs(glue) < 0.05 * step:
        return "(about the whole step: the Python glue between the calls is negligible)"
    if glue > 0:
        return (f"(the remaining {fmt_time(glue)} is the step's Python glue: reshapes, tuple unpacking, the "
                f"batch iterator)")
    return ("(more than the step: the profile runs at another moment of this shared machine, with fewer "
            "repeats; read it for proportions)")


def makemore_paragraph(x, dt):
    key = f"makemore-h200-{dt}"
    Rt = x.times(key)
    if Rt is None or dt not in x.prof.get("makemore", {}):
        return None
    e = x.prof["makemore"][dt]
    tn_e, ref_e = e[C.TN], e[C.REF]
    layers = C.TN_LAYERS if C.TN_LAYERS in Rt else C.TN  # the step whose 19 calls these are
    step = Rt[layers]["median"]
    top = sorted(tn_e["calls"], key=lambda c: -c[1])[:3]
    gemm_fl = sum(fl for _, _, fl in tn_e["calls"])
    gemm_t = tn_e["groups"]["linear (GEMM)"]
    big = max(tn_e["peaks"], key=lambda k: tn_e["peaks"][k][0])
    big_peak, big_out = tn_e["peaks"][big]
    txt = (f"**makemore MLP, hidden 200, {dt}, one call per layer.** "
           + ("The step written with one public call per layer (as before the fused calls) " if layers != C.TN else
              "tinynet's step ")
           + f"takes {fmt_time(step)}; its 19 calls "
           f"timed one by one add up to {fmt_time(tn_e['sum'])} " + glue_text(step, tn_e["sum"], step - tn_e["sum"])
           + ": "
           f"the four `linear_*` calls {fmt_time(gemm_t)} ({gemm_t / tn_e['sum']:.0%}), the other layers "
           f"{fmt_time(tn_e['groups']['other layers'])}, the 7 `sgd_step_` {fmt_time(tn_e['groups']['sgd_step_ x7'])}. "
           f"Largest calls: " + ", ".join(f"{lbl} {fmt_time(tt)}" for lbl, tt, _ in top) + ". "
           f"The step's {gemm_fl / 1e6:.2f} MFLOP of GEMM would take {fmt_time(gemm_fl / (x.peak[dt] * 1e9))} at "
           f"one core's peak, so the linear calls run at {gemm_fl / gemm_t / 1e9:.1f} GFLOP/s "
           f"({gemm_fl / gemm_t / 1e9 / x.peak[dt]:.0%} of peak) on these M = 32-row products. "
           f"The call with the largest traced memory peak is {big}: {fmt_bytes(big_peak)} for "
           f"{fmt_bytes(big_out)} of outputs. "
           f"The NumPy engine's 19 calls add up to {fmt_time(ref_e['sum'])}, of which its per-call floor "
           f"(argument checks in Python, {fmt_time(x.ref_tiny)}) accounts for 19 × that = "
           f"{fmt_time(19 * x.ref_tiny) if x.ref_tiny else '?'}")
    return txt + makemore_peers_text(e.get("peers", {}), Rt) + "."


def makemore_peers_text(peers, Rt):
    """Where the seed-style step and PyTorch spend their time, from the profile."""
    loop = med(peers, "seed-style dC double loop")
    fw = med(peers, "PyTorch forward only (graph built)")
    txt = ""
    if loop is not None and C.SEED in Rt:
        txt += (f"; the seed-style step spends {fmt_time(loop)} of its {fmt_time(Rt[C.SEED]['median'])} "
                f"in the notebook's Python double loop for dC")
    if fw is not None and C.TORCH in Rt:
        txt += (f"; PyTorch's forward alone (building the graph) takes {fmt_time(fw)} of its "
                f"{fmt_time(Rt[C.TORCH]['median'])} step")
    return txt


def charrnn_paragraph(x):
    t = x.times("char-rnn")
    if t is None:
        return None
    cp, peak, R = x.prof.get("char-rnn", {}), x.peak, x.R
    fl = x.by["char-rnn"].flops
    fwd, bwd = med(cp, "tinynet rnn_forward"), med(cp, "tinynet rnn_backward")
    txt = (f"**char-RNN.** tinynet's forward + BPTT takes {fmt_time(t[C.TN]['median'])} for "
           f"{fl / 1e9:.2f} GFLOP = {fl / t[C.TN]['median'] / 1e9:.1f} GFLOP/s "
           f"({fl / t[C.TN]['median'] / 1e9 / peak['float32']:.1%} of one core's float32 peak of "
           f"{peak['float32']:.0f} GFLOP/s)")
    if fwd:
        txt += (f"; forward alone {fmt_time(fwd)} ({fl / 3 / fwd / 1e9:.1f} GFLOP/s on its third of the flops), "
                f"backward alone {fmt_time(bwd)} ({2 * fl / 3 / bwd / 1e9:.1f} GFLOP/s). Each of the "
                f"{C.CHARRNN['T']} steps is a dependent ({C.CHARRNN['B']}×{C.CHARRNN['H']}) · "
                f"({C.CHARRNN['H']}×{C.CHARRNN['H']}) GEMM, M = {C.CHARRNN['B']} rows only")
    if C.TORCH in t:
        pf = med(cp, "PyTorch nn.RNN forward only (graph built)")
        txt += (f". PyTorch's nn.RNN takes {fmt_time(t[C.TORCH]['median'])}"
                + (f" (forward alone {fmt_time(pf)})" if pf else ""))
    lk = "linear-fwd-float32"
    if lk in R and C.RAW in R[lk]["times"]:
        ob = gflops(x.by[lk], R[lk], C.RAW)
        txt += (f". For scale, OpenBLAS's 1024×1024 float32 product runs at {ob:.0f} GFLOP/s "
                f"({ob / peak['float32']:.0%} of that peak) in the same run: a large GEMM on this machine "
                f"stays well below the FMA loop's rate, and the recurrence adds 64 small dependent products, "
                f"a tanh on every hidden value and the reads of earlier steps' rows")
    return txt + "."


def gated_paragraph(x, key, name):
    t = x.times(key)
    if t is None:
        return None
    fl, peak = x.by[key].flops, x.peak
    ours = fl / t[C.TN]["median"] / 1e9
    txt = (f"**{key.upper()}.** tinynet's forward + BPTT takes {fmt_time(t[C.TN]['median'])} for "
           f"{fl / 1e9:.2f} GFLOP = {ours:.1f} GFLOP/s ({ours / peak['float32']:.0%} of one core's float32 "
           f"peak): one GEMM for every step's input projection, then per step a "
           f"({C.GATED['B']}×{C.GATED['H']}) · ({C.GATED['H']}×{C.GATES[key] * C.GATED['H']}) product and the "
           f"gates; backward the same in reverse, then the weight gradients as GEMMs over all "
           f"{C.GATED['T'] * C.GATED['B']} rows")
    if C.TORCH in t:
        theirs = fl / t[C.TORCH]["median"] / 1e9
        txt += (f". PyTorch's {name} takes {fmt_time(t[C.TORCH]['median'])} ({theirs:.1f} GFLOP/s, "
                f"{theirs / peak['float32']:.0%} of peak"
                + ("; for float32 LSTMs it runs oneDNN's fused RNN primitive, forward and backward" if key == "lstm"
                   else "; its GRU runs cell by cell") + ")")
        need = GOAL_GATED_TORCH * theirs
        if ours < need:
            txt += (f": {GOAL_GATED_TORCH}× that would need {need:.1f} GFLOP/s, "
                    f"{need / peak['float32']:.0%} of the FMA loop's peak, for the same arithmetic")
    return txt + "."


def linear_paragraph(x):
    lin = [k for k in LINEAR_KEYS if k in x.R]
    if not lin:
        return None
    parts = []
    for k in lin:
        res = x.R[k]
        if C.TN not in res["times"]:
            continue
        g = gflops(x.by[k], res)
        gr = gflops(x.by[k], res, C.RAW) if C.RAW in res["times"] else None
        dt = x.by[k].dtype.name
        parts.append(f"{k.replace('linear-', '').replace('-', ' ')}: tinynet {g:.0f} GFLOP/s "
                     f"({g / (x.peak[dt] * x.n0):.0%} of peak) vs OpenBLAS {gr:.0f}" if gr else f"{k}: {g:.0f} GFLOP/s")
    return (f"**1024² linear** (threads = {x.n0}), pure GEMM: " + "; ".join(parts) + ". Per-core peaks "
            f"measured by the FMA loop: float32 {x.peak['float32']:.0f}, float64 {x.peak['float64']:.0f} GFLOP/s.")


def memory_paragraph(x):
    if not x.mem:
        return None
    parts = []
    for dt, d in x.mem.items():
        m, r = d[C.TN], d[C.REF]
        parts.append(f"{dt}: tinynet's transient peak above its state is {fmt_bytes(m['peak'] - m['state'])}, "
                     f"the NumPy engine's {fmt_bytes(r['peak'] - r['state'])}")
    txt = "**Memory.** " + "; ".join(parts) + "."
    mm = x.prof.get("makemore", {})
    if mm:
        dt = list(mm)[-1]
        ws = {k: v[0] - v[1] for k, v in mm[dt][C.TN]["peaks"].items()}
        top = sorted(ws, key=lambda k: -ws[k])[:2]
        txt += (f" Per call ({dt}), traced peak minus returned arrays: "
                + ", ".join(f"{k} {fmt_bytes(ws[k])}" for k in top)
                + " — each call's workspace and temporaries, allocated and freed per call.")
    return txt


def gpt_suite_text(run, n):
    """The GPT case's times at n threads, as the suite measured them."""
    res = run.results.get(n, {}).get("gpt-float32")
    if not res or C.TN not in res["times"]:
        return ""
    t = res["times"]
    txt = f"; in the suite's interleaved repeats tinynet's step took {fmt_time(t[C.TN]['median'])}"
    for peer in (C.TORCH, C.TORCH_COMPILE):
        if peer in t:
            txt += f", {peer} {fmt_time(t[peer]['median'])} ({fmt_ratio(t[peer]['median'] / t[C.TN]['median'])})"
    return txt


def gpt_paragraph(x, n, e):
    """The GPT step at n threads: its engine calls by function, their GEMM rates, the
    Python between them, PyTorch's forward."""
    n = int(n)
    funcs = by_function(e)
    gemm_t = sum(t for name, (t, fl) in funcs.items() if fl)
    gemm_fl = sum(fl for t, fl in funcs.values())
    step, calls = e["step"], e["sum"]
    parts = [f"`{name}` {fmt_time(t)} ({t / calls:.0%}" + (f", {fl / t / 1e9:.1f} GFLOP/s" if fl else "") + ")"
             for name, (t, fl) in list(funcs.items())[:6]]
    slow = sorted((r for r in e["calls"] if r[3] and r[0].startswith("linear")), key=lambda r: r[3] / r[2])[:2]
    glue = step - calls
    if glue > 0.05 * step:
        rest = (f"the other {fmt_time(glue)} ({glue / step:.0%}) is Python: the layers' bookkeeping, the residual "
                "additions and wpe's batch sum in NumPy")
    else:
        rest = ("about the whole step (the profile runs at another moment of this shared machine than the step's "
                "own loop: read it for proportions)")
    txt = (f"**GPT step, threads = {n}.** In the profile tinynet's step takes {fmt_time(step)}"
           + gpt_suite_text(x.run, n) + f". Its engine calls, each timed alone, add up to {fmt_time(calls)}; "
           + rest + ". By function: "
           + ", ".join(parts) + f". The products (linear and attention) do {gemm_fl / 1e6:.0f} MFLOP in "
           f"{fmt_time(gemm_t)}: {gemm_fl / gemm_t / 1e9:.1f} GFLOP/s, "
           f"{gemm_fl / gemm_t / 1e9 / (x.peak['float32'] * n):.0%} of "
           + ("one core's" if n == 1 else f"{n} cores'") + " FMA peak; "
           "the slowest shapes: " + ", ".join(f"{r[0]} {r[3] / r[2] / 1e9:.1f} GFLOP/s" for r in slow))
    fw = med(e.get("peers", {}), "PyTorch forward only (graph built)")
    ts = med(e.get("peers", {}), "PyTorch step")
    if fw and ts:
        txt += f". PyTorch eager's forward alone (its graph built) takes {fmt_time(fw)} of its {fmt_time(ts)} step"
    return txt + "." + gpt_goal_text(x.run, x.peak, n, gemm_fl, calls - gemm_t)


def attention_paragraph(x, run):
    """Attention alone: tinynet's two calls against SDPA, with their GEMM rates."""
    rows = []
    for key, case in x.by.items():
        res = run.results.get(1, {}).get(key)
        if case.group != "attention" or not res or C.TN not in res["times"]:
            continue
        t = res["times"]
        size = case.label[case.label.index("(") + 1:case.label.index(", float32")]
        txt = f"at {size} tinynet {fmt_time(t[C.TN]['median'])} ({gflops(case, res):.1f} GFLOP/s)"
        if C.TORCH in t:
            txt += (f", SDPA {fmt_time(t[C.TORCH]['median'])} ({gflops(case, res, C.TORCH):.1f} GFLOP/s, "
                    f"{fmt_ratio(t[C.TORCH]['median'] / t[C.TN]['median'])})")
        rows.append(txt)
    if not rows:
        return None
    return ("**Attention alone** (one thread; the flops of the causal triangle's products, forward and "
            "backward): " + "; ".join(rows) + f". One core's float32 FMA peak is {x.peak['float32']:.0f} GFLOP/s.")
