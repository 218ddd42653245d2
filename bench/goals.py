"""The goals a run is judged by, each a row (goal, threads, measured text, met: True,
False or None when it could not be judged, note).

Two sets: every case against its peers (the hello and makemore steps against seed-style
NumPy, the NumPy engine and PyTorch; the recurrences against PyTorch; the 1024² products
against OpenBLAS; the makemore step's memory), and the makemore step against the
best vectorised NumPy and PyTorch with the other cases no slower than in the recorded
baseline (bench/README.md)."""
import json
import pathlib

import cases as C
from formatting import fmt_bytes, fmt_ratio, fmt_time
from results import gflops, ratio

GOAL_HELLO_SEED, GOAL_HELLO_TORCH = 50.0, 100.0
GOAL_MM_NUMPY, GOAL_MM_TORCH = 3.0, 5.0
GOAL_RNN_TORCH, GOAL_RNN_PEAK = 1.5, 0.60
GOAL_GATED_TORCH = 1.5
GOAL_GEMM = 0.8
#: the makemore step against the best NumPy (bench/vectorised.py) and PyTorch
GOAL_STEP_VEC32, GOAL_STEP_TORCH32, GOAL_STEP_VEC64 = 4.0, 8.0, 3.0
#: the makemore step written with nn layers and optim.SGD against vectorised NumPy, and
#: the WaveNet step against PyTorch eager (float32, one thread)
GOAL_NN_VEC32, GOAL_WAVENET_TORCH = 4.0, 8.0
#: the GPT step (notebook 006's model, float32) against PyTorch eager and torch.compile:
#: at one thread, and at two
GOAL_GPT_1, GOAL_GPT_2 = 3.0, 2.0
#: the other cases: within this fraction of their time in the recorded baseline
REGRESSION_SLACK = 1.05
#: bytes a training run may grow by from step 10 to its end: Python's own bookkeeping,
#: far below one array per step
GROWTH_SLACK = 1024
#: the recorded "before" of the fused makemore steps: this suite run against a build of
#: ccdb302 (bench/README.md)
BASELINE = pathlib.Path(__file__).resolve().parent / "baseline-ccdb302.json"
LINEAR_KEYS = ("linear-fwd-float32", "linear-bwd-float32", "linear-fwd-float64", "linear-bwd-float64")


def contended(res, n, cpus):
    """True when other processes used more CPU during the case than the cores left free
    by our n threads (+ 0.25 CPU of slack)."""
    fl = res.get("foreign_load") if res else None
    return fl is not None and fl > max((cpus or 1) - n, 0) + 0.25


class GoalRows(list):
    """The rows of one set of goals, judged on one run's results."""

    def __init__(self, run):
        super().__init__()
        self.results, self.cpus = run.results, run.env["cpu"]["cpus"]
        self.by, self.peak = {c.key: c for c in run.cases}, run.peak

    def note(self, res, n):
        return f"contended: other processes used {res['foreign_load']:.2f} CPUs" if contended(res, n, self.cpus) else ""

    def floor(self, res, n, key, target, peer):
        """For a ratio goal not met: the time per step it allows, beside the time the
        case's products alone take at the FMA loop's peak on n cores -- how much of
        that allowance is arithmetic no code can skip."""
        case, t_peer = self.by.get(key), res["times"].get(peer)
        if case is None or not case.flops or t_peer is None or not self.peak:
            return ""
        allowed = t_peer["median"] / target
        at_peak = case.flops / (self.peak[case.dtype.name] * 1e9 * n)
        return (f"{target:g}× needs ≤ {fmt_time(allowed)} a step; its products alone take {fmt_time(at_peak)} at "
                f"the FMA peak ({at_peak / allowed:.0%} of that)")

    def check(self, goal, n, key, target, peer=None, measure=None, engine=C.TN):
        """The tinynet `engine`'s ratio to `peer` (or measure(result) -> (value, text))
        against target."""
        res = self.results.get(n, {}).get(key)
        if res is None or engine not in res["guard"]:
            self.append((goal, n, "not run", None, ""))
        elif not res["guard"][engine][0]:
            self.append((goal, n, f"{engine} result WRONG", False, self.note(res, n)))
        else:
            r = ratio(res, peer, engine) if peer else None
            value, text = measure(res) if measure else (r, fmt_ratio(r))
            if value is None:
                self.append((goal, n, "peer not measured", None, self.note(res, n)))
            else:
                met = value >= target
                floor = "" if met or peer is None else self.floor(res, n, key, target, peer)
                note = "; ".join(x for x in (floor, self.note(res, n)) if x)
                self.append((goal, n, text, met, note))


def peer_goals(run):
    """Every case against its peers, and the makemore step's memory."""
    rows = GoalRows(run)
    by = rows.by
    for n in run.env["threads"]:
        if "hello" in by:
            rows.check(f"hello step ≥ {GOAL_HELLO_SEED:.0f}× seed-style NumPy", n, "hello", GOAL_HELLO_SEED, C.SEED)
            rows.check(f"hello step ≥ {GOAL_HELLO_TORCH:.0f}× PyTorch", n, "hello", GOAL_HELLO_TORCH, C.TORCH)
        for dt in ("float32", "float64"):
            key = f"makemore-h200-{dt}"
            if key in by:
                rows.check(f"makemore h200 {dt} ≥ {GOAL_MM_NUMPY:.0f}× seed-style NumPy", n, key, GOAL_MM_NUMPY,
                           C.SEED)
                rows.check(f"makemore h200 {dt} ≥ {GOAL_MM_NUMPY:.0f}× NumPy engine", n, key, GOAL_MM_NUMPY, C.REF)
                rows.check(f"makemore h200 {dt} ≥ {GOAL_MM_TORCH:.0f}× PyTorch", n, key, GOAL_MM_TORCH, C.TORCH)
        if "char-rnn" in by:
            rows.check(f"char-RNN ≥ {GOAL_RNN_TORCH}× PyTorch nn.RNN", n, "char-rnn", GOAL_RNN_TORCH, C.TORCH)
            rows.check(f"char-RNN ≥ {GOAL_RNN_PEAK:.0%} of one core's float32 peak", n, "char-rnn", GOAL_RNN_PEAK,
                       measure=lambda res, n=n: peak_fraction(by["char-rnn"], res, run.peak, n))
        for key, name in (("lstm", "nn.LSTM"), ("gru", "nn.GRU")):
            if key in by:
                rows.check(f"{key.upper()} ≥ {GOAL_GATED_TORCH}× PyTorch {name}", n, key, GOAL_GATED_TORCH, C.TORCH)
        for key in LINEAR_KEYS:
            if key in by:
                rows.check(f"{key.replace('-', ' ')} ≥ {GOAL_GEMM}× NumPy (OpenBLAS)", n, key, GOAL_GEMM, C.RAW)
        transformer_comparisons(rows, n, by)
    rows.extend(memory_goals(run.memory, run.env["threads"][0]))
    return list(rows)


def comparison(rows, goal, n, key, peer, others=()):
    """A goal stated as a comparison only (no target): tinynet's ratio to `peer`, the
    other peers' beside it; its status n/a unless tinynet's result is wrong."""
    res = rows.results.get(n, {}).get(key)
    if res is None or C.TN not in res["guard"]:
        rows.append((goal, n, "not run", None, ""))
        return
    note = "; ".join(x for x in ("a comparison: no target set", rows.note(res, n)) if x)
    if not res["guard"][C.TN][0]:
        rows.append((goal, n, f"{C.TN} result WRONG", False, note))
        return
    r = ratio(res, peer)
    t = res["times"][C.TN]["median"]
    beside = times_text(res, C.TN, others)
    skipped = "; ".join(f"{p} skipped" for p in others if p in res.get("skipped", {}))
    text = f"{fmt_ratio(r)} ({fmt_time(t)} per step" + "".join(f"; {x}" for x in (beside, skipped) if x) + ")"
    rows.append((goal, n, text, None, note))


def transformer_comparisons(rows, n, by):
    """The GPT step against PyTorch eager and torch.compile (goals: GOAL_GPT_1 at one
    thread, GOAL_GPT_2 at more), and attention alone against PyTorch's SDPA (a
    comparison)."""
    if "gpt-float32" in by:
        target = GOAL_GPT_1 if n == 1 else GOAL_GPT_2

        def gpt_measure(res, peer):
            r = ratio(res, peer)
            if r is None:
                skipped = res.get("skipped", {}).get(peer)
                return None, f"{peer} skipped: {skipped}" if skipped else "not measured"
            return r, f"{fmt_ratio(r)} ({fmt_time(res['times'][C.TN]['median'])} per step)"

        for peer in (C.TORCH, C.TORCH_COMPILE):
            rows.check(f"GPT step ≥ {target:.0f}× {peer}", n, "gpt-float32", target, peer,
                       measure=lambda res, peer=peer: gpt_measure(res, peer))
    for key, case in by.items():
        if case.group == "attention" and key in rows.results.get(n, {}):
            size = case.label[case.label.index("(") + 1:case.label.index(", float32")]
            comparison(rows, f"attention ({size}) vs PyTorch SDPA", n, key, C.TORCH)


def gpt_goal_text(run, peak, n, gemm_fl, other_calls):
    """What the GPT goals not met at n threads would ask of the products: the time a step
    may take, less the engine calls other than the products (each timed alone; no Python
    counted between the calls), left to the products, as a rate against the FMA peak
    (`peak`, per core): a sentence of the GPT paragraph of "Where the time goes"."""
    res = run.results.get(n, {}).get("gpt-float32")
    if not res or C.TN not in res["times"]:
        return ""
    target, t = GOAL_GPT_1 if n == 1 else GOAL_GPT_2, res["times"]
    parts = []
    for peer in (C.TORCH, C.TORCH_COMPILE):
        if peer not in t or t[peer]["median"] / t[C.TN]["median"] >= target:
            continue
        allowed = t[peer]["median"] / target
        left = allowed - other_calls
        if left <= 0:
            parts.append(f"{target:g}× {peer} allows {fmt_time(allowed)} a step, less than those calls alone")
            continue
        need = gemm_fl / left / 1e9
        parts.append(f"{target:g}× {peer} allows {fmt_time(allowed)} a step, which leaves the products "
                     f"{fmt_time(left)}: {need:.0f} GFLOP/s, {need / (peak['float32'] * n):.0%} of the FMA peak")
    if not parts:
        return ""
    return (f" The calls other than the products take {fmt_time(other_calls)} (each timed alone); even with no "
            "Python between the calls, " + "; ".join(parts) + ".")


def peak_fraction(case, res, peak, n):
    """(fraction of one core's float32 peak, its text) of tinynet's GFLOP/s in a case."""
    if C.TN not in res["times"]:
        return None, ""
    gf = gflops(case, res)
    frac = gf / peak["float32"]
    return frac, f"{gf:.1f} GFLOP/s = {frac:.1%} of one core" + (f" ({frac / n:.0%} of {n})" if n > 1 else "")


def memory_goals(mem, n):
    """No allocation growth over a training run, and a peak no higher than the NumPy
    engine's, for each dtype of the memory case."""
    rows = []
    for dt, d in (mem or {}).items():
        m, ref = d[C.TN], d[C.REF]
        rows.append((f"no allocation growth, makemore {dt}", n,
                     f"{m['growth']:+d} B from step {m['mark']} to {m['steps']}", m["growth"] <= GROWTH_SLACK, ""))
        rows.append((f"peak memory ≤ NumPy engine's, makemore {dt}", n,
                     f"{fmt_bytes(m['peak'])} vs {fmt_bytes(ref['peak'])}", m["peak"] <= ref["peak"], ""))
    return rows


def load_baseline(path):
    """The recorded baseline (a --json dump of this suite run against a build of
    ccdb302), or None."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def base_time(base, n, key, engine=C.TN):
    try:
        return base["results"][str(n)][key]["times"][engine]["median"]
    except (KeyError, TypeError):
        return None


def no_regression(rows, run, base, goal, n, key, peer):
    """tinynet's time now and before, as it is and relative to a peer timed in the same
    run (PyTorch, OpenBLAS: code that did not change), which takes out the machine's
    drift.  A regression of tinynet's code shows in both; met unless both show one,
    because either alone can mislead: the time as it is when the machine drifts, the
    relative one when one run's peer was contended (bench/README.md)."""
    res = run.results.get(n, {}).get(key)
    b_tn, b_peer = base_time(base, n, key), base_time(base, n, key, peer)
    if res is None or C.TN not in res["times"] or peer not in res["times"]:
        rows.append((goal, n, "not run", None, ""))
        return
    if b_tn is None or b_peer is None:
        rows.append((goal, n, f"{fmt_time(res['times'][C.TN]['median'])} (no baseline recorded)", None, ""))
        return
    t = res["times"][C.TN]["median"]
    now = t / res["times"][peer]["median"]
    before = b_tn / b_peer
    rows.append((goal, n, f"{fmt_time(t)} = {now:.3f}× {peer}; before {fmt_time(b_tn)} = {before:.3f}× "
                          f"({t / b_tn - 1:+.1%} as timed, {now / before - 1:+.1%} relative)",
                 t <= REGRESSION_SLACK * b_tn or now <= REGRESSION_SLACK * before, rows.note(res, n)))


def times_text(res, engine, peers):
    """The peers' times over the engine's, as "2.50× vectorised NumPy, 14.0× numpy engine"."""
    return ", ".join(f"{fmt_ratio(ratio(res, p, engine))} {p}" for p in peers if ratio(res, p, engine))


def nn_goals(rows, n):
    """The makemore step written with nn layers and optim.SGD against vectorised NumPy
    (its time next to the hand-fused step's), and the WaveNet step against PyTorch (the
    other peers' ratios beside it): float32, one thread."""
    if n != 1:
        return

    def nn_measure(res):
        r = ratio(res, C.VEC, C.TN_NN)
        t_nn = res["times"][C.TN_NN]["median"]
        fused = res["times"].get(C.TN)
        vs = f"; {fmt_time(t_nn)} = {t_nn / fused['median']:.2f}× the fused step's time" if fused else ""
        return r, f"{fmt_ratio(r)}{vs}"

    def wavenet_measure(res):
        r = ratio(res, C.TORCH)
        others = times_text(res, C.TN, (C.VEC, C.REF))
        return r, fmt_ratio(r) + (f" ({others})" if others else "")

    rows.check(f"makemore h200 float32, nn + optim ≥ {GOAL_NN_VEC32:.0f}× vectorised NumPy", n,
               "makemore-h200-float32", GOAL_NN_VEC32, C.VEC, measure=nn_measure, engine=C.TN_NN)
    rows.check(f"WaveNet float32 ≥ {GOAL_WAVENET_TORCH:.0f}× PyTorch", n, "wavenet-float32", GOAL_WAVENET_TORCH,
               C.TORCH, measure=wavenet_measure)


def makemore_goals(run, base):
    """The makemore step against vectorised NumPy and PyTorch (and written with nn layers
    and an optimizer), the WaveNet step against PyTorch, the hello step against
    seed-style NumPy, and char-RNN and the 1024² float32 products no slower than in the
    recorded baseline `base`."""
    rows = GoalRows(run)
    within = f"no slower than before (within {REGRESSION_SLACK - 1:.0%})"
    for n in run.env["threads"]:
        rows.check(f"makemore h200 float32 ≥ {GOAL_STEP_VEC32:.0f}× vectorised NumPy", n, "makemore-h200-float32",
                   GOAL_STEP_VEC32, C.VEC)
        rows.check(f"makemore h200 float32 ≥ {GOAL_STEP_TORCH32:.0f}× PyTorch", n, "makemore-h200-float32",
                   GOAL_STEP_TORCH32, C.TORCH)
        rows.check(f"makemore h200 float64 ≥ {GOAL_STEP_VEC64:.0f}× vectorised NumPy", n, "makemore-h200-float64",
                   GOAL_STEP_VEC64, C.VEC)
        nn_goals(rows, n)
        rows.check(f"hello step ≥ {GOAL_HELLO_SEED:.0f}× seed-style NumPy", n, "hello", GOAL_HELLO_SEED, C.SEED)
        no_regression(rows, run, base, f"char-RNN {within}", n, "char-rnn", C.TORCH)
        for key in LINEAR_KEYS[:2]:
            label = key.replace("-", " ").replace("fwd", "1024² fwd").replace("bwd", "1024² bwd")
            no_regression(rows, run, base, f"{label} {within}", n, key, C.RAW)
    return list(rows)
