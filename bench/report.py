"""BENCHMARKS.md, written from a run: the environment (the CPU model and tinynet's SIMD
level among it), the goals, the results table, the memory run, where the time goes and
the correctness guard."""
import statistics

import cases as C
from analysis import where_time_goes
from breakdown import step_breakdown
from formatting import fmt_bytes, fmt_ratio, fmt_time, md_table
from goals import BASELINE, contended
from results import gflops, ratio

GOAL_HEADER = ["goal", "threads", "measured", "status", "note"]


def environment_rows(run):
    """The Environment table's rows."""
    env, peak = run.env, run.peak
    cpu, nb, tinfo = env["cpu"], env["numpy_blas"], env["torch"]
    return [
        ("command", f"`{env['command']}`" + (f" ({run.total_s / 60:.1f} min)" if run.total_s is not None else "")),
        ("date", env["date"]),
        ("checkout", env["git"]),
        ("CPU", f"{cpu['model']}, {cpu['cpus']} usable CPUs, {' '.join(cpu['isa'])}; load average at start "
                f"{' '.join(env['loadavg_start'] or ['?'])}, at end {' '.join(env.get('loadavg_end') or ['?'])}"),
        ("tinynet", f"{env['tinynet']}, `_core.simd` = `{env['simd']}`; extension `{env['build'].get('file')}` "
                    f"built {env['build'].get('mtime')}, sha256 {env['build'].get('sha256')}"
                    + (" — **rebuilt during the run: results may mix two builds**" if env.get("rebuilt") else "")),
        ("threads", ", ".join(
            f"{n}: tinynet {a['tinynet']}, NumPy BLAS {a['numpy_blas']}, PyTorch {a['torch']}"
            for n, a in env["threads_actual"].items())),
        ("per-core peak (FMA loop, best of 5, thread CPU time)",
         f"float32 {peak['float32']:.1f} GFLOP/s, float64 {peak['float64']:.1f} GFLOP/s"),
        ("Python", env["python"]),
        ("NumPy", f"{env['numpy']}, BLAS {nb.get('name')} {nb.get('version', '')} ({nb.get('config', '')}; "
                  f"running as {nb.get('architecture')}, {nb.get('threading')} threads)"),
        ("PyTorch", f"{tinfo['version']}, BLAS {tinfo['blas']}, CPU capability {tinfo['cpu_capability']}, "
                    f"parallel backend {tinfo['parallel_backend']}" if tinfo else "not installed"),
        ("makemore data", env.get("makemore_data", "—")),
    ] + ([("WaveNet data", env["wavenet_data"])] if "wavenet_data" in env else []) + (
        [("GPT data", env["gpt_data"])] if "gpt_data" in env else []) + [
        ("method", f"median of {env['repeats']} repeats, each one loop of ≥ {env['target_ms']:.0f} ms per engine "
                   "after a warm-up, engines interleaved (order rotating) within each repeat; GC off inside loops; "
                   "makemore batches drawn once (a pool of 64) outside the timing"),
    ]


def goal_table(rows):
    return md_table(GOAL_HEADER, [(g, n, m, "**met**" if met else "**not met**" if met is not None else "n/a", note)
                                  for g, n, m, met, note in rows]) + "\n"


def goal_sections(peer_rows, step_rows, base):
    L = []
    if step_rows:
        L.append("## Goals (the makemore step, no regressions)\n")
        L.append("The makemore step (block 3, n_embd 10, hidden 200, batch 32, BatchNorm, tanh; forward, full "
                 "backward, SGD) against the best NumPy an experienced user writes (bench/vectorised.py) and "
                 "PyTorch eager at the same thread count; the same step written with `tinynet.nn` layers and "
                 "`optim.SGD` against vectorised NumPy, and makemore part 5's WaveNet step (`tinynet.nn` + "
                 "`optim.SGD`) against PyTorch eager, both at one thread; the other cases against their time "
                 "before the fused calls "
                 + (f"(ccdb302, recorded {base['env']['date']}: bench/{BASELINE.name})" if base else
                    "(no baseline recorded)") + ".\n")
        L.append(goal_table(step_rows))
    L.append("## Goals (every case against its peers)\n")
    L.append(goal_table(peer_rows))
    return L


def present_engines(cases):
    """The engines that ran in any case, in the report's column order."""
    return [c for c in C.ENGINES if any(any(e.name == c for e in cs.engines) for cs in cases)]


def result_row(case, res, n, present, run):
    """One case at one thread count: tinynet's time, each peer's with its ratio, the
    GEMM rate, the fraction of peak and the other processes' load."""
    row = [case.label, n]
    for c in present:
        if c not in res["guard"]:
            row.append("skipped" if c in res.get("skipped", {}) else "")
            continue
        ok, err, where = res["guard"][c]
        t = res["times"].get(c)
        if not ok:
            row.append(f"wrong result ({err:.1e} in {where})")
        elif c == C.TN:
            row.append(f"**{fmt_time(t['median'])}**")
        else:
            r = ratio(res, c)
            row.append(f"{fmt_time(t['median'])} ({fmt_ratio(r)})" if r else fmt_time(t["median"]))
    g = gflops(case, res) if C.TN in res["times"] else None
    row.append(f"{g:.3g}" if g else "—")
    row.append(f"{g / (run.peak[case.dtype.name] * n):.1%}" if g else "—")
    fl = res.get("foreign_load")
    row.append("—" if fl is None else f"{fl:.2f}" + (" ⚠" if contended(res, n, run.env["cpu"]["cpus"]) else ""))
    return row


def results_section(run, present):
    L = ["## Results\n"]
    L.append("Each cell: median time per step (ratio = that peer / tinynet). GFLOP/s counts the GEMM flops "
             "only (2·M·N·K per product, the hello RNN's one-hot input counted as a dense product); "
             "% peak = tinynet's GFLOP/s / (per-core FMA peak × threads). *Other load*: CPUs kept busy by "
             "other processes while the case ran (/proc/stat minus this process); ⚠ marks a case where "
             "fewer than `threads` cores were free, whose numbers measure the contention as much as the "
             "engines (PyTorch's OpenMP barriers suffer most).\n")
    hdr = ["case", "threads"] + present + ["tinynet GFLOP/s", "% peak", "other load"]
    trs = [result_row(case, run.results[n][case.key], n, present, run) for case in run.cases
           for n in run.env["threads"] if case.key in run.results.get(n, {})]
    L.append(md_table(hdr, trs) + "\n")
    L.extend(skipped_notes(run))
    spreads = [(case.key, n, e, (t["q3"] - t["q1"]) / t["median"]) for case in run.cases for n in run.env["threads"]
               for e, t in run.results.get(n, {}).get(case.key, {"times": {}})["times"].items()]
    if spreads:
        worst = max(spreads, key=lambda s: s[3])
        med_spread = statistics.median(s[3] for s in spreads)
        L.append(f"Noise: the interquartile range of the repeats is {med_spread:.1%} of the median for the "
                 f"typical entry, {worst[3]:.0%} at worst ({worst[2]}, {worst[0]}, threads {worst[1]}).\n")
    return L


def skipped_notes(run):
    """A line per engine a case skipped: the reason, and where."""
    where = {}
    for case in run.cases:
        for n in run.env["threads"]:
            for name, why in run.results.get(n, {}).get(case.key, {}).get("skipped", {}).items():
                where.setdefault((case.label, name, why), []).append(str(n))
    return [f"*{name}* skipped in {label} (threads {', '.join(ns)}): {why}.\n"
            for (label, name, why), ns in where.items()]


def memory_section(mem):
    if not mem:
        return []
    L = ["## Memory (makemore, hidden 200, tracemalloc)\n"]
    L.append("Bytes traced by tracemalloc (NumPy's array buffers and tinynet's `PyMem_RawMalloc` workspace "
             "are both traced) relative to an empty start, for a training run of "
             f"{next(iter(next(iter(mem.values())).values()))['steps']} steps; *state* is measured after the "
             "first step (parameters and the model's arrays), *growth* from step 10 to the last step. "
             "PyTorch's allocator is not visible to tracemalloc, so PyTorch is not in this table.\n")
    mrows = []
    for dt, d in mem.items():
        for name, m in d.items():
            mrows.append((dt, name, fmt_bytes(m["state"]), fmt_bytes(m["after_mark"]), fmt_bytes(m["after_end"]),
                          f"{m['growth']:+d} B", fmt_bytes(m["peak"])))
    L.append(md_table(["dtype", "engine", "state", "after step 10", "after last step", "growth", "peak"],
                      mrows) + "\n")
    return L


def call_table(prof):
    """The makemore step's calls, each timed alone, tinynet's and the NumPy engine's per
    dtype, with tinynet's traced memory peak and output bytes."""
    mm = prof["makemore"]
    dts = list(mm)
    hdr = ["call"] + [h for dt in dts for h in (f"tinynet {dt}", f"NumPy engine {dt}")]
    hdr += [f"tinynet peak mem / outputs ({dts[-1]})"]
    crow = []
    for lbl in [c[0] for c in mm[dts[0]][C.TN]["calls"]]:
        row = [lbl]
        for dt in dts:
            row.append(fmt_time(dict((a, b) for a, b, _ in mm[dt][C.TN]["calls"])[lbl]))
            row.append(fmt_time(dict((a, b) for a, b, _ in mm[dt][C.REF]["calls"])[lbl]))
        pk, ob = mm[dts[-1]][C.TN]["peaks"][lbl]
        row.append(f"{fmt_bytes(pk)} / {fmt_bytes(ob)}")
        crow.append(row)
    row = ["**sum**"]
    for dt in dts:
        row += [f"**{fmt_time(mm[dt][C.TN]['sum'])}**", f"**{fmt_time(mm[dt][C.REF]['sum'])}**"]
    crow.append(row + [""])
    return md_table(hdr, crow) + "\n"


def time_section(run, base):
    L = ["## Where the time goes\n"]
    for dt in ("float32", "float64"):
        L.extend(step_breakdown(run, base, dt))
    L.extend(p + "\n" for p in where_time_goes(run))
    prof = run.profile
    if prof and prof.get("makemore"):
        L.append(f"Per-call times of the makemore step (hidden 200, threads = {prof['threads']}, each call "
                 "timed alone on fixed inputs), and each tinynet call's traced memory peak next to the size of "
                 "the arrays it returns:\n")
        L.append(call_table(prof))
    return L


def guard_section(run, present):
    L = ["## Correctness guard\n"]
    L.append("Before timing, one step of every engine from the same initial state is compared with the NumPy "
             "engine (`tinynet.reference`): max |difference| / max |reference| per array (loss, every gradient, "
             "every updated parameter), within 1e-10 (float64) / 1e-4 (float32). makemore's `db1` is exactly "
             "zero in exact arithmetic (BatchNorm cancels b1), so it is compared on the scale of `dW1`. "
             "After the GPT's AdamW step, a parameter is compared where its reference gradient is at least "
             f"{C.MASK_REL:g} of that gradient's largest magnitude (Adam's first step turns a gradient within "
             "rounding of zero into any change in (−lr, lr)); its gradient is compared everywhere. "
             "Worst relative error over the thread counts:\n")
    grows = []
    for case in run.cases:
        row = [case.label]
        for c in present:
            errs = [run.results[n][case.key]["guard"][c] for n in run.env["threads"]
                    if case.key in run.results.get(n, {}) and c in run.results[n][case.key]["guard"]]
            if not errs:
                row.append("")
                continue
            worst = max(e[1] for e in errs)
            row.append(f"{worst:.1e}" if all(e[0] for e in errs) else f"**WRONG** {worst:.1e}")
        grows.append(row)
    L.append(md_table(["case"] + present, grows) + "\n")
    return L


def write_markdown(path, run, peer_rows, step_rows=None, base=None):
    """Write BENCHMARKS.md for `run` to path: its goal rows (goals.peer_goals and
    goals.makemore_goals) and the baseline those were judged against."""
    L = ["# tinynet benchmarks\n"]
    L.append("Generated by `python bench/run.py --write` (bench/README.md); do not edit by hand — rerun "
             "to update. Times are medians per training step; **ratio = peer time / tinynet time** "
             "(> 1 means tinynet is faster).\n")
    L.append("## Environment\n")
    L.append(md_table(["", ""], environment_rows(run)) + "\n")
    L.extend(goal_sections(peer_rows, step_rows, base))
    present = present_engines(run.cases)
    L.extend(results_section(run, present))
    L.extend(memory_section(run.memory))
    L.extend(time_section(run, base))
    L.extend(guard_section(run, present))
    path.write_text("\n".join(L))


#: The groups whose cases `write_section` can report on their own.
SECTION_GROUPS = {"gpt", "attention", "profile"}
SECTION_START, SECTION_END = "<!-- transformer cases: start -->", "<!-- transformer cases: end -->"


def section_markdown(run, peer_rows):
    """The transformer cases' own section: the run that measured them, their goals, their
    results, where their time goes, their guard."""
    env, cpu = run.env, run.env["cpu"]
    present = present_engines(run.cases)
    L = [SECTION_START, "## The transformer cases (GPT step, attention alone)\n"]
    L.append(f"Measured by `{env['command']}` on {env['date']} (checkout {env['git']}): {cpu['model']}, "
             f"{cpu['cpus']} usable CPUs, {' '.join(cpu['isa'])}, tinynet `_core.simd` = `{env['simd']}`; "
             f"per-core FMA peak float32 {run.peak['float32']:.1f} GFLOP/s; load average at start "
             f"{' '.join(env['loadavg_start'] or ['?'])}, at end {' '.join(env.get('loadavg_end') or ['?'])}; "
             f"median of {env['repeats']} interleaved repeats; GPT data: {env.get('gpt_data', '—')}. "
             "Ratios are peer time / tinynet time within this run."
             + contention_note(run) + "\n")
    rows = [r for r in peer_rows if r[0].startswith(("GPT", "attention"))]
    L.append(goal_table(rows))
    hdr = ["case", "threads"] + present + ["tinynet GFLOP/s", "% peak", "other load"]
    trs = [result_row(case, run.results[n][case.key], n, present, run) for case in run.cases
           for n in run.env["threads"] if case.key in run.results.get(n, {})]
    L.append(md_table(hdr, trs) + "\n")
    L.extend(skipped_notes(run))
    L.extend(p + "\n" for p in where_time_goes(run) if p.startswith(("**GPT", "**Attention")))
    L.extend(guard_section(run, present)[1:])
    return "\n".join(L) + "\n" + SECTION_END + "\n"


def contention_note(run):
    """A sentence on the other processes' load, when some case ran contended."""
    loads = [res["foreign_load"] for n, r in run.results.items() for res in r.values()
             if contended(res, n, run.env["cpu"]["cpus"])]
    if not loads:
        return ""
    return (f" Other processes kept {min(loads):.2f} to {max(loads):.2f} CPUs busy during the rows marked ⚠, "
            "so those times (the profile's too) measure the contention as much as the engines: PyTorch's "
            "OpenMP barriers at two threads suffer most; the ratios at one thread, of engines interleaved "
            "within each repeat, hold up best (bench/README.md, \"The GPT step and attention alone\").")


def write_section(path, run, peer_rows):
    """Put the transformer cases' section into the markdown at path: in place of the one
    there, or at its end."""
    text = path.read_text() if path.exists() else "# tinynet benchmarks\n"
    new = section_markdown(run, peer_rows)
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + new + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + new
    path.write_text(text)
