"""BENCHMARKS.md's before/after of the makemore step (hidden 200, the profile's thread
count): the step split into its C kernels, the wrapper's work around them and the Python
between the calls, now and in the recorded baseline; each kernel alone; the fused
step's public calls."""
import cases as C
from formatting import fmt_time, md_table


def step_parts(entry, step, calls):
    """(step, n calls, calls' sum, kernels' sum, wrapper, Python) of one side"""
    if entry is None or step is None:
        return None
    k = entry["kernels"]["sum"] if "kernels" in entry else None
    return (step, len(calls["calls"]), calls["sum"], k, calls["sum"] - k if k is not None else None,
            step - calls["sum"])


def cell(v, kind="t"):
    if v is None:
        return "—"
    return fmt_time(v) if kind == "t" else str(v)


def share(v, tot):
    return f"{cell(v)} ({v / tot:.0%})" if v is not None and tot else cell(v)


def summary_rows(a, b):
    """The split of the step, before (b, or None) and after (a)."""
    return [("the step (median)", cell(b[0]) if b else "—", cell(a[0])),
            ("public calls per step", cell(b[1], "n") if b else "—", cell(a[1], "n")),
            ("C kernels", share(b[3], b[0]) if b else "—", share(a[3], a[0])),
            ("wrapper: checks, conversions, result arrays", share(b[4], b[0]) if b else "—", share(a[4], a[0])),
            ("Python between the calls", share(b[5], b[0]) if b else "—", share(a[5], a[0]))]


def kernel_rows(now, then, peak):
    """Each kernel's time before and after, then the GEMM kernels' and all kernels' sums."""
    kb = dict((lbl, (t, fl)) for lbl, t, fl in then["kernels"]["calls"]) if then and "kernels" in then else {}
    rows = []
    for lbl, t, fl in now["kernels"]["calls"]:
        tb = kb.get(lbl, (None, 0))[0]

        def show(t_, fl=fl):
            gf = f" ({fl / t_ / 1e9:.1f} GFLOP/s)" if fl and t_ else ""
            return "≈ 0 (below the ctypes call's cost)" if t_ == 0 else fmt_time(t_) + gf

        rows.append((lbl, show(tb) if tb is not None else "—", show(t)))
    gemm_a = sum(t for lbl, t, fl in now["kernels"]["calls"] if fl)
    gemm_b = sum(t for lbl, t, fl in then["kernels"]["calls"] if fl) if kb else None
    fl_all = sum(fl for _, _, fl in now["kernels"]["calls"])
    rows.append((f"**GEMM kernels ({fl_all / 1e6:.2f} MFLOP; {fmt_time(fl_all / (peak * 1e9))} at one "
                 f"core's peak)**", f"**{fmt_time(gemm_b)}**" if gemm_b else "—", f"**{fmt_time(gemm_a)}**"))
    rows.append(("**all kernels**", f"**{fmt_time(then['kernels']['sum'])}**" if kb else "—",
                 f"**{fmt_time(now['kernels']['sum'])}**"))
    return rows


def step_breakdown(run, base, dt):
    """The before/after of the makemore step in dtype dt: markdown lines, or [] without
    the numbers."""
    prof = run.profile
    key = f"makemore-h200-{dt}"
    n0 = prof["threads"] if prof else 1
    now = prof.get("makemore", {}).get(dt) if prof else None
    res = run.results.get(n0, {}).get(key)
    if not now or not res or C.TN not in res["times"]:
        return []
    then = (base or {}).get("profile", {}).get("makemore", {}).get(dt) if base else None
    after_calls = now["fused"] if "fused" in now else now[C.TN]
    a = step_parts(now, now["step"], after_calls)
    b = step_parts(then, then.get("step"), then[C.TN]) if then else None
    L = [f"**Before and after the fused calls: makemore MLP, hidden 200, {dt}, threads = {n0}.** *Before* is this suite "
         f"run against a build of ccdb302 (the recorded baseline, {base['env']['date'] if base else 'not recorded'}"
         f"), *after* this run; each side's step, its calls and its C kernels timed in one interleaved "
         f"measurement (so a snapshot of this shared machine: its step time can differ from the results table's). "
         f"The step's time splits into the C kernels (each timed alone through ctypes, "
         f"no wrapper; the fused functions run exactly these kernels), the wrapper's work around them (argument "
         f"checks and conversions, result arrays, workspace: the calls timed one by one minus their kernels) "
         f"and the Python between the calls (the step minus its calls).\n"]
    L.append(md_table(["", "before (ccdb302)", "after"], summary_rows(a, b)) + "\n")
    L.append(f"Each C kernel of the step alone (ctypes, its call cost of {fmt_time(now['kernels']['ctypes'])} "
             "subtracted):\n")
    L.append(md_table(["kernel", "before (ccdb302)", "after"], kernel_rows(now, then, run.peak[dt])) + "\n")
    crows = [(lbl, fmt_time(t)) for lbl, t, _ in after_calls["calls"]]
    crows.append(("**sum**", f"**{fmt_time(after_calls['sum'])}**"))
    L.append("The fused step's public calls, each timed alone (after; the 19 single-layer calls are in the "
             "table below):\n")
    L.append(md_table(["call", f"tinynet {dt}"], crows) + "\n")
    return L
