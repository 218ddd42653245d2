"""What a run prints on the terminal as it goes: the environment, each case's table, the
memory run, the profile and the goals."""
import cases as C
from formatting import fmt_bytes, fmt_ratio, fmt_time
from results import ratio


def print_header(env, args):
    cpu, blas, torch = env["cpu"], env["numpy_blas"], env["torch"]
    print(f"{env['command']}\n{env['date']}, {cpu['model']} ({cpu['cpus']} CPUs, {' '.join(cpu['isa'])}), "
          f"load {' '.join(env['loadavg_start'] or [])}\ntinynet {env['tinynet']} simd={env['simd']} ({env['git']}), "
          f"Python {env['python']}, NumPy {env['numpy']} ({blas.get('name')} "
          f"{blas.get('version')}, {blas.get('architecture')}), PyTorch "
          f"{torch['version'] + ' (' + torch['blas'] + ')' if torch else 'not installed'}")
    print(f"repeats {args.repeats}, loops >= {args.target_ms:.0f} ms, threads {args.threads}")


def print_case(case, res, n, peak):
    print(f"\n{case.label}  [{case.key}]  {case.flops / 1e6:.3g} MFLOP/step (GEMM); cpu = process CPU time / "
          f"wall time (below {n * 100}%: descheduled or waiting)")
    print(f"  {'engine':18s} {'median':>10s} {'spread':>7s} {'loop':>7s} {'peer/tinynet':>12s} "
          f"{'GFLOP/s':>8s} {'%peak':>6s} {'cpu':>5s}  guard (max rel err)")
    for e in case.engines:
        if e.name in res.get("skipped", {}):
            print(f"  {e.name:18s} skipped: {res['skipped'][e.name]}")
            continue
        ok, err, where = res["guard"][e.name]
        g = f"ok {err:.1e}" if ok else f"WRONG RESULT {err:.2e} in {where}"
        t = res["times"].get(e.name)
        if t is None:
            print(f"  {e.name:18s} {'—':>10s} {'':>7s} {'':>7s} {'':>12s} {'':>8s} {'':>6s}  {g}")
            continue
        spread = (t["q3"] - t["q1"]) / t["median"] * 100
        gf = case.flops / t["median"] / 1e9
        pk = gf / (peak[case.dtype.name] * n) * 100
        r = ratio(res, e.name)
        print(f"  {e.name:18s} {fmt_time(t['median']):>10s} {spread:6.1f}% {t['loop']:7d} {fmt_ratio(r):>12s} "
              f"{gf:8.3g} {pk:5.1f}% {t['cpu_util'] * 100:4.0f}%  {g}")


def print_memory(mem):
    print("\nmemory: makemore (hidden 200) training, tracemalloc; bytes relative to an empty start")
    print(f"  {'dtype':8s} {'engine':18s} {'state':>10s} {'after 10':>10s} {'after end':>10s} {'growth':>9s} "
          f"{'peak':>10s}")
    for dtype, d in mem.items():
        for name, m in d.items():
            print(f"  {dtype:8s} {name:18s} {fmt_bytes(m['state']):>10s} {fmt_bytes(m['after_mark']):>10s} "
                  f"{fmt_bytes(m['after_end']):>10s} {m['growth']:>8d}B {fmt_bytes(m['peak']):>10s}")


def print_profile(prof):
    print(f"\nprofile (threads = {prof['threads']})")
    for k, t in prof["overhead"].items():
        print(f"  {k:44s} {fmt_time(t['median']):>10s}")
    for k in ("hello", "char-rnn"):
        if k in prof:
            for lbl, t in prof[k].items():
                print(f"  {lbl:44s} {fmt_time(t['median']):>10s}")
    for dtype, entry in prof.get("makemore", {}).items():
        print(f"  makemore hidden 200 {dtype}, each call alone:")
        ref_calls = dict((lbl, t) for lbl, t, _ in entry[C.REF]["calls"])
        for lbl, t, fl in entry[C.TN]["calls"]:
            gf = f"{fl / t / 1e9:6.2f} GFLOP/s" if fl else ""
            pk, ob = entry[C.TN]["peaks"][lbl]
            print(f"    {lbl:40s} tinynet {fmt_time(t):>9s}  NumPy engine {fmt_time(ref_calls[lbl]):>9s}  "
                  f"peak mem {fmt_bytes(pk):>9s} (outputs {fmt_bytes(ob):>9s})  {gf}")
        print(f"    sum of calls: tinynet {fmt_time(entry[C.TN]['sum'])}, NumPy engine {fmt_time(entry[C.REF]['sum'])}")
        for lbl, t in entry["peers"].items():
            print(f"    {lbl:40s} {fmt_time(t['median']):>9s}")
    print_gpt_profile(prof)


def print_gpt_profile(prof):
    for n, entry in prof.get("gpt", {}).items():
        print(f"  GPT step at {n} threads: {fmt_time(entry['step'])}; its engine calls, each alone, "
              f"sum to {fmt_time(entry['sum'])}:")
        for label, count, t, flops in entry["calls"]:
            rate = f"  {flops / t / 1e9:6.1f} GFLOP/s" if flops else ""
            print(f"    {count:3d} x {label:60s} {fmt_time(t):>9s}  = {fmt_time(count * t):>9s}{rate}")
        for label, t in entry["peers"].items():
            print(f"    {label:66s} {fmt_time(t['median']):>9s}")


def print_goals(rows, title):
    print(f"\ngoals ({title})")
    for g, n, meas, met, note in rows:
        st = "met" if met else "NOT MET" if met is not None else "n/a"
        print(f"  {g:52s} threads {n}  {meas:38s} {st:8s} {note}")
