"""tinynet's benchmark suite (issue 5): one command, every case, every peer, one table.

    python bench/run.py                   # full run, threads 1 and 2 (~2 minutes)
    python bench/run.py --quick           # fewer repeats (~1 minute)
    python bench/run.py --write           # ... and regenerate BENCHMARKS.md
    python bench/run.py --threads 1 --only makemore,linear --repeats 15

For every case it prints tinynet's median time per step, each peer's median measured in
the same run, and the ratio peer / tinynet (> 1: tinynet is faster).  Method:

* warm-up first, then each engine gets a loop count so one timed loop lasts >= 20 ms;
* each repeat times one such loop per engine, the engines interleaved (their order
  rotates from repeat to repeat) so that the noise of this shared machine hits all alike;
  the report is the median over the repeats (>= 7, 3 with --quick) with the spread;
* tinynet (set_num_threads), NumPy's BLAS (threadpoolctl) and PyTorch (set_num_threads)
  run at the same thread count;
* before timing, each case's result from tinynet (and from every peer) is checked against
  the NumPy engine (float64: 1e-10, float32: 1e-4, relative to the array's scale); a
  wrong result is reported as such and never as a time.

bench/ is self-contained: it imports tinynet from this checkout (the in-place build),
and needs numpy, threadpoolctl and, optionally, torch (bench/requirements.txt).
"""
import argparse
import datetime
import gc
import itertools
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the checkout's tinynet (built in place), not an installed one
sys.path.insert(1, str(HERE))


def import_tinynet(attempts=30, wait=2.0):
    """Import tinynet, waiting while the extension is being rebuilt (another engineer's
    `setup.py build_ext --inplace` may be replacing the .so right now)."""
    for i in range(attempts):
        try:
            import tinynet  # noqa: F401
            import tinynet._core  # noqa: F401

            return tinynet
        except ImportError as exc:
            if i == attempts - 1:
                raise
            print(f"[bench] tinynet does not import yet ({exc}); retrying in {wait:.0f} s", file=sys.stderr)
            for name in [m for m in sys.modules if m == "tinynet" or m.startswith("tinynet.")]:
                del sys.modules[name]
            time.sleep(wait)


tinynet = import_tinynet()
import numpy as np  # noqa: E402

import cases as C  # noqa: E402
import seedstyle  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    sys.exit("bench/run.py needs threadpoolctl to run NumPy's BLAS at the same thread count as tinynet:\n"
             "    pip install -r bench/requirements.txt")

GOAL_HELLO_SEED, GOAL_HELLO_TORCH = 50.0, 100.0
GOAL_MM_NUMPY, GOAL_MM_TORCH = 3.0, 5.0
GOAL_RNN_TORCH, GOAL_RNN_PEAK = 1.5, 0.60
GOAL_GATED_TORCH = 1.5
GOAL_GEMM = 0.8
#: issue 13: the makemore step against the best NumPy (bench/vectorised.py) and PyTorch;
#: the other cases within this fraction of their time before the issue (the recorded
#: baseline) -- more than the repeats' usual spread on this shared machine
GOAL13_VEC32, GOAL13_TORCH32, GOAL13_VEC64 = 4.0, 8.0, 3.0
GOAL13_SLACK = 1.05
#: the "before" of issue 13: this suite run against a build of ccdb302 (bench/README.md)
BASELINE = HERE / "baseline-ccdb302.json"
#: Seconds to sleep before each timed loop when threads > 1: OpenBLAS's idle workers spin
#: for ~2^28 cycles (~0.1 s) after a call; without the pause they halve the speed of the
#: next engine timed on the same 2 cores.
SETTLE = 0.12
GROWTH_SLACK = 1024  # bytes: Python's own bookkeeping, far below one array per step

GROUPS = ("hello", "makemore", "char-rnn", "gated", "linear", "memory", "profile")


# ============================================================================ timing


def fmt_time(s):
    if s is None or not np.isfinite(s):
        return "—"
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= f:
            v = s / f
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{s * 1e9:.2g} ns"


def fmt_bytes(b):
    if b is None:
        return "—"
    sign = "-" if b < 0 else ""
    b = abs(b)
    for unit, f in (("MiB", 2**20), ("KiB", 2**10)):
        if b >= f:
            return f"{sign}{b / f:.1f} {unit}"
    return f"{sign}{b} B"


def fmt_ratio(r):
    if r is None or not np.isfinite(r):
        return "—"
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def time_loop(fn, n, cpu=None):
    """Seconds for n calls of fn, with the cyclic GC off (as timeit does).  If cpu is a
    list, the process CPU time of the loop (all threads) is appended to it."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in itertools.repeat(None, n):
            fn()
        t = time.perf_counter() - t0
        if cpu is not None:
            cpu.append(time.process_time() - c0)
        return t
    finally:
        if gc_was:
            gc.enable()


def calibrate(fn, target, warm=0.01):
    """Warm up (>= 3 calls and >= `warm` seconds), then the loop count n that makes one
    timed loop last >= target seconds."""
    k, t0 = 0, time.perf_counter()
    while k < 3 or time.perf_counter() - t0 < warm:
        fn()
        k += 1
    per = (time.perf_counter() - t0) / k
    n = max(1, int(np.ceil(target / per)))
    while True:  # the warm-up estimate may be off (first calls are slower): check
        t = time_loop(fn, n)
        if t >= target * 0.9:
            return n
        n = max(n + 1, int(np.ceil(n * target / max(t, 1e-9) * 1.1)))


def measure(fns, repeats, target, settle=0.0):
    """fns: {name: fn}.  Calibrates each, then `repeats` rounds, each timing one loop per
    engine in an order that rotates round by round.  With settle > 0, sleeps that long
    before each loop, so that the worker threads the previous engine left spinning
    (OpenBLAS spins ~0.1 s after a call) have gone to sleep and do not steal the cores of
    the engine being timed.  Returns {name: stats}."""
    names = list(fns)
    loops = {nm: calibrate(fns[nm], target) for nm in names}
    samples = {nm: [] for nm in names}
    cpu = {nm: [] for nm in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        if r % 2:
            order.reverse()
        for nm in order:
            if settle:
                time.sleep(settle)
                fns[nm]()  # wake this engine's own workers (first call after a sleep)
            samples[nm].append(time_loop(fns[nm], loops[nm], cpu[nm]) / loops[nm])
    out = {}
    for nm in names:
        s = np.array(samples[nm])
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        util = np.array(cpu[nm]) / (s * loops[nm])
        out[nm] = {"median": float(med), "q1": float(q1), "q3": float(q3), "min": float(s.min()),
                   "max": float(s.max()), "loop": loops[nm], "repeats": len(s), "samples": s.tolist(),
                   "cpu_util": float(np.median(util))}
    return out


# ====================================================================== environment


def cpu_info():
    model, flags = "unknown", set()
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        model = m.group(1).strip() if m else platform.processor() or "unknown"
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        flags = set(m.group(1).split()) if m else set()
    except OSError:
        model = platform.processor() or "unknown"
    isa = [f for f in ("avx512f", "avx512_fp16", "avx2", "fma") if f in flags]
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count()
    return {"model": model, "isa": isa, "cpus": ncpu, "cpu_count": os.cpu_count()}


def loadavg():
    try:
        return pathlib.Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return None


class ForeignLoad:
    """CPU time used by other processes while a block runs, in CPUs (0 = the machine was
    ours; 1 = another process kept one core busy): /proc/stat's busy time minus this
    process's own CPU time (all its threads), over the wall time."""

    @staticmethod
    def _busy():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:9]]
            return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            return None

    def __enter__(self):
        t = os.times()
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), t.user + t.system
        return self

    def __exit__(self, *exc):
        t = os.times()
        busy = self._busy()
        wall = time.perf_counter() - self.t0
        if busy is None or self.busy0 is None or wall <= 0:
            self.cpus = None
        else:
            self.cpus = max(0.0, ((busy - self.busy0) - (t.user + t.system - self.own0)) / wall)
        return False


def git_state():
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def numpy_blas():
    info = {"name": "unknown"}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info = {"name": blas.get("name"), "version": blas.get("version"),
                "config": blas.get("openblas configuration")}
    except Exception as exc:  # NumPy < 1.26 has no mode="dicts"
        info = {"name": f"unknown ({exc})"}
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            info.update(runtime=lib.get("internal_api"), architecture=lib.get("architecture"),
                        threading=lib.get("threading_layer"), filepath=lib.get("filepath"))
            break
    return info


def torch_info():
    if C.torch is None:
        return None
    torch = C.torch
    show = torch.__config__.show()
    par = torch.__config__.parallel_info()
    blas = re.search(r"BLAS_INFO=(\w+)", show)
    mkl = re.search(r"Intel\(R\) oneAPI Math Kernel Library Version ([\w.\-]+)", show)
    cap = re.search(r"CPU capability usage: (\w+)", show)
    backend = re.search(r"ATen parallel backend: (.+)", par)
    return {"version": torch.__version__, "blas": (blas.group(1) if blas else "unknown")
            + (f" {mkl.group(1)}" if mkl else ""), "cpu_capability": cap.group(1) if cap else "unknown",
            "parallel_backend": backend.group(1).strip() if backend else "unknown"}


def build_id():
    """The C extension being measured: file name, modification time and a short hash
    (other engineers rebuild it in place; a rebuild during the run is reported)."""
    import hashlib

    path = pathlib.Path(tinynet._core.__file__)
    try:
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        mtime = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return {"file": path.name, "mtime": mtime, "sha256": digest}
    except OSError as exc:
        return {"file": path.name, "error": str(exc)}


def environment(args):
    return {
        "build": build_id(),
        "command": "python bench/run.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git": git_state(),
        "cpu": cpu_info(),
        "loadavg_start": loadavg(),
        "simd": tinynet._core.simd,
        "tinynet": getattr(tinynet, "__version__", "?"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "torch": torch_info(),
        "threads": args.threads,
        "repeats": args.repeats,
        "target_ms": args.target_ms,
    }


class Threads:
    """Run tinynet, NumPy's BLAS and PyTorch at n threads; records what each reports."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.limits = threadpool_limits(limits=self.n, user_api="blas")
        tinynet.set_num_threads(self.n)
        if C.torch is not None:
            C.torch.set_num_threads(self.n)
        blas = [lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"]
        self.actual = {"tinynet": tinynet.get_num_threads(), "numpy_blas": blas[0] if blas else None,
                       "torch": C.torch.get_num_threads() if C.torch is not None else None}
        return self

    def __exit__(self, *exc):
        self.limits.restore_original_limits()
        return False


# ======================================================================== the peak


def fma_peak(tries):
    """Per-core peak GFLOP/s for float32 and float64: the best of `tries` runs of
    tinynet's FMA loop (the GEMM's instruction set) with 5e7 iterations.  The loop runs
    in the calling thread, so its CPU time (not wall time) is used when smaller: a run
    during which another process took the core does not lower the peak."""
    out = {}
    for dtype, dbl in (("float32", False), ("float64", True)):
        best = 0.0
        for _ in range(tries):
            c0 = time.thread_time()
            flops, secs = tinynet._core._fma_peak(dbl, int(5e7))
            cpu = time.thread_time() - c0
            if 0 < cpu < secs:
                secs = cpu
            best = max(best, flops / secs / 1e9)
        out[dtype] = best
    return out


# ========================================================================== running


def select_cases(args, pool):
    have_torch = C.torch is not None
    cases = []
    if "hello" in args.only:
        cases += C.hello_cases(have_torch)
    if "makemore" in args.only:
        cases += C.makemore_cases(have_torch, pool)
    if "char-rnn" in args.only:
        cases += C.charrnn_cases(have_torch)
    if "gated" in args.only:
        cases += C.gated_cases(have_torch)
    if "linear" in args.only:
        cases += C.gemm_cases(have_torch)
    return cases


def wait_quiet(n, cpus, limit):
    """Wait (up to `limit` seconds) until other processes leave n cores free."""
    if limit <= 0:
        return None
    t0, said = time.perf_counter(), False
    while True:
        with ForeignLoad() as fl:
            time.sleep(1.0)
        if fl.cpus is None or fl.cpus <= max((cpus or 1) - n, 0) + 0.25:
            return fl.cpus
        if time.perf_counter() - t0 > limit:
            print(f"    [machine still busy after {limit:.0f} s (other processes: {fl.cpus:.2f} CPUs); timing anyway]",
                  flush=True)
            return fl.cpus
        if not said:
            print(f"    [waiting up to {limit:.0f} s for a quieter machine: other processes use {fl.cpus:.2f} CPUs]",
                  flush=True)
            said = True


def run_cases(cases, args, peak):
    """{threads: {case key: {"guard":..., "times":..., ...}}}"""
    cpus = cpu_info()["cpus"]
    results = {}
    for n in args.threads:
        results[n] = {}
        with Threads(n) as th:
            print(f"\n=== threads = {n}  (tinynet {th.actual['tinynet']}, NumPy BLAS {th.actual['numpy_blas']}, "
                  f"PyTorch {th.actual['torch']})", flush=True)
            for case in cases:
                wait_quiet(n, cpus, args.wait_quiet)
                t0 = time.perf_counter()
                guard = C.guard(case)
                ok_engines = [e for e in case.engines if guard[e.name][0]]
                fns = {e.name: e.build()[0] for e in ok_engines}
                with ForeignLoad() as fl:
                    times = measure(fns, args.repeats, args.target_ms / 1e3, settle=SETTLE if n > 1 else 0.0) if fns else {}
                res = {"guard": guard, "times": times, "threads_actual": th.actual, "foreign_load": fl.cpus}
                results[n][case.key] = res
                print_case(case, res, n, peak)
                busy = "" if fl.cpus is None else f", other processes used {fl.cpus:.2f} CPUs meanwhile"
                print(f"    ({time.perf_counter() - t0:.1f} s{busy})", flush=True)
    return results


def ratio(res, name):
    t = res["times"]
    if C.TN not in t or name not in t:
        return None
    return t[name]["median"] / t[C.TN]["median"]


def gflops(case, res, name=C.TN):
    t = res["times"].get(name)
    return case.flops / t["median"] / 1e9 if t else None


def print_case(case, res, n, peak):
    print(f"\n{case.label}  [{case.key}]  {case.flops / 1e6:.3g} MFLOP/step (GEMM); cpu = process CPU time / "
          f"wall time (below {n * 100}%: descheduled or waiting)")
    print(f"  {'engine':18s} {'median':>10s} {'spread':>7s} {'loop':>7s} {'peer/tinynet':>12s} "
          f"{'GFLOP/s':>8s} {'%peak':>6s} {'cpu':>5s}  guard (max rel err)")
    for e in case.engines:
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


# ========================================================================== memory


def run_memory(pool, steps, dtypes=("float32", "float64"), n_hidden=200):
    out = {}
    for dtype in dtypes:
        params = C.makemore_params(np.random.default_rng(n_hidden), n_hidden, np.dtype(dtype))
        builds = {
            C.TN: lambda: C.makemore_step(tinynet, params, pool, 0.1),
            C.REF: lambda: C.makemore_step(C.ref, params, pool, 0.1),
            C.SEED: lambda: seedstyle.make_makemore(params, C.cycle(pool), 0.1),
            C.VEC: lambda: C.makemore_vectorised(params, pool, 0.1),
        }
        out[dtype] = {name: C.memory_run(b, steps=steps) for name, b in builds.items()}
    return out


def print_memory(mem):
    print(f"\nmemory: makemore (hidden 200) training, tracemalloc; bytes relative to an empty start")
    print(f"  {'dtype':8s} {'engine':18s} {'state':>10s} {'after 10':>10s} {'after end':>10s} {'growth':>9s} "
          f"{'peak':>10s}")
    for dtype, d in mem.items():
        for name, m in d.items():
            print(f"  {dtype:8s} {name:18s} {fmt_bytes(m['state']):>10s} {fmt_bytes(m['after_mark']):>10s} "
                  f"{fmt_bytes(m['after_end']):>10s} {m['growth']:>8d}B {fmt_bytes(m['peak']):>10s}")


def _nbytes(r):
    if isinstance(r, np.ndarray):
        return r.nbytes
    if isinstance(r, (tuple, list)):
        return sum(_nbytes(x) for x in r)
    return 0


def call_peaks(calls):
    """{label: (tracemalloc peak of one call, bytes of the arrays it returns)}: the
    difference is the call's workspace and temporaries."""
    import tracemalloc

    out = {}
    for label, fn, _ in calls:
        fn()
        tracemalloc.start()
        tracemalloc.reset_peak()
        r = fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[label] = (peak, _nbytes(r))
        del r
    return out


# ========================================================================= profile


def makemore_calls(E, params, Xb, Yb):
    """The 19 calls of one makemore step as separately timeable closures on fixed
    inputs: [(label, fn, gemm flops)]."""
    p = {k: v.copy() for k, v in params.items()}
    n, V = Xb.shape[0], p["C"].shape[0]
    H = p["W1"].shape[0]
    emb = E.embedding_forward(p["C"], Xb)
    x = emb.reshape(n, -1)
    hpre = E.linear_forward(x, p["W1"], p["b1"])
    hbn, mean, invstd = E.batchnorm_forward(hpre, p["gamma"], p["beta"], correction=1)
    h = E.tanh_forward(hbn)
    logits = E.linear_forward(h, p["W2"], p["b2"])
    loss, probs = E.cross_entropy_forward(logits, Yb)
    dlogits = E.cross_entropy_backward(probs, Yb)
    dh, dW2, db2 = E.linear_backward(dlogits, h, p["W2"])
    dhbn = E.tanh_backward(dh, h)
    dhpre, dgamma, dbeta = E.batchnorm_backward(dhbn, hpre, p["gamma"], mean, invstd, correction=1)
    dx, dW1, db1 = E.linear_backward(dhpre, x, p["W1"])
    demb = dx.reshape(emb.shape)
    dC = E.embedding_backward(demb, Xb, V)
    grads = dict(C=dC, W1=dW1, b1=db1, gamma=dgamma, beta=dbeta, W2=dW2, b2=db2)
    D = x.shape[1]
    calls = [
        ("embedding_forward", lambda: E.embedding_forward(p["C"], Xb), 0),
        (f"linear_forward ({n}x{D} -> {H})", lambda: E.linear_forward(x, p["W1"], p["b1"]), 2 * n * D * H),
        ("batchnorm_forward", lambda: E.batchnorm_forward(hpre, p["gamma"], p["beta"], correction=1), 0),
        ("tanh_forward", lambda: E.tanh_forward(hbn), 0),
        (f"linear_forward ({n}x{H} -> {V})", lambda: E.linear_forward(h, p["W2"], p["b2"]), 2 * n * H * V),
        ("cross_entropy_forward", lambda: E.cross_entropy_forward(logits, Yb), 0),
        ("cross_entropy_backward", lambda: E.cross_entropy_backward(probs, Yb), 0),
        (f"linear_backward ({n}x{H} -> {V})", lambda: E.linear_backward(dlogits, h, p["W2"]), 4 * n * H * V),
        ("tanh_backward", lambda: E.tanh_backward(dh, h), 0),
        ("batchnorm_backward", lambda: E.batchnorm_backward(dhbn, hpre, p["gamma"], mean, invstd, correction=1), 0),
        (f"linear_backward ({n}x{D} -> {H})", lambda: E.linear_backward(dhpre, x, p["W1"]), 4 * n * D * H),
        ("embedding_backward", lambda: E.embedding_backward(demb, Xb, V), 0),
    ]
    pc = {k: v.copy() for k, v in p.items()}  # sgd_step_ works on its own copies
    for k in C.MM_KEYS:
        calls.append((f"sgd_step_ {k} {pc[k].shape}", lambda k=k: E.sgd_step_(pc[k], grads[k], 1e-3), 0))
    return calls, {"Xb": Xb, "demb": demb, "C": p["C"]}


def fused_calls(E, params, Xb, Yb):
    """The calls of issue 13's fused makemore step (bench/cases.py makemore_fused) as
    separately timeable closures: [(label, fn, gemm flops)]."""
    p = {k: v.copy() for k, v in params.items()}
    n, V, H = Xb.shape[0], p["C"].shape[0], p["W1"].shape[0]
    emb = E.embedding_forward(p["C"], Xb)
    x = emb.reshape(n, -1)
    D = x.shape[1]
    h, hpre, mean, invstd = E.linear_batchnorm_tanh_forward(x, p["W1"], p["b1"], p["gamma"], p["beta"], correction=1)
    loss, dh, dW2, db2 = E.linear_cross_entropy(h, p["W2"], p["b2"], Yb)
    dx, dW1, db1, dgamma, dbeta = E.linear_batchnorm_tanh_backward(dh, h, x, p["W1"], p["gamma"], hpre, mean, invstd,
                                                                   correction=1)
    demb = dx.reshape(emb.shape)
    dC = E.embedding_backward(demb, Xb, V)
    grads = dict(C=dC, W1=dW1, b1=db1, gamma=dgamma, beta=dbeta, W2=dW2, b2=db2)
    calls = [
        ("embedding_forward", lambda: E.embedding_forward(p["C"], Xb), 0),
        (f"linear_batchnorm_tanh_forward ({n}x{D} -> {H})",
         lambda: E.linear_batchnorm_tanh_forward(x, p["W1"], p["b1"], p["gamma"], p["beta"], correction=1),
         2 * n * D * H),
        (f"linear_cross_entropy ({n}x{H} -> {V})", lambda: E.linear_cross_entropy(h, p["W2"], p["b2"], Yb),
         6 * n * H * V),
        (f"linear_batchnorm_tanh_backward ({n}x{D} -> {H})",
         lambda: E.linear_batchnorm_tanh_backward(dh, h, x, p["W1"], p["gamma"], hpre, mean, invstd, correction=1),
         4 * n * D * H),
        ("embedding_backward", lambda: E.embedding_backward(demb, Xb, V), 0),
    ]
    pc = {k: v.copy() for k, v in p.items()}
    for k in C.MM_KEYS:
        calls.append((f"sgd_step_ {k} {pc[k].shape}", lambda k=k: E.sgd_step_(pc[k], grads[k], 1e-3), 0))
    return calls


def kernel_calls(params, Xb, Yb):
    """The C kernels under one makemore step (the same in the 19-call and the fused
    step: the fused functions are their composition), called through ctypes on fixed
    inputs, no wrapper in between: [(label, fn, gemm flops)], and the ctypes call's own
    cost (an empty sgd kernel), to subtract."""
    import ctypes

    lib = ctypes.CDLL(tinynet._core.__file__)
    dt = params["C"].dtype
    sfx = "_f32" if dt == np.float32 else "_f64"
    T = ctypes.c_float if dt == np.float32 else ctypes.c_double
    sz, vp = ctypes.c_size_t, ctypes.c_void_p
    p = {k: v.copy() for k, v in params.items()}
    n, V, E_ = Xb.shape[0], p["C"].shape[0], p["C"].shape[1]
    H, D = p["W1"].shape
    keep = []

    def buf(*shape):
        a = np.zeros(shape, dt)
        keep.append(a)
        return a.ctypes.data

    def fn(name, restype=None):
        f = getattr(lib, "tn_" + name + sfx)
        f.restype = restype
        return f

    def work(name, *sizes):
        f = getattr(lib, "tn_" + name)
        f.restype, f.argtypes = sz, [sz] * len(sizes)
        return buf(max(int(f(*sizes)), 1))

    ids = np.ascontiguousarray(Xb, np.int64)
    tgt = np.ascontiguousarray(Yb, np.int64)
    keep += [ids, tgt, *p.values()]  # (the kernels hold raw pointers: these must outlive them)
    P = {k: v.ctypes.data for k, v in p.items()}
    x, hpre, hbn, h = buf(n, D), buf(n, H), buf(n, H), buf(n, H)
    mean, invstd, logits, probs = buf(H), buf(H), buf(n, V), buf(n, V)
    dh, dhbn, dhpre, dx = buf(n, H), buf(n, H), buf(n, H), buf(n, D)
    g = {k: buf(*v.shape) for k, v in p.items()}
    w1f, w2f = work("linear_forward_work", n, D, H), work("linear_forward_work", n, H, V)
    w1b, w2b = work("linear_work", n, D, H), work("linear_work", n, H, V)
    kernels = [
        ("embedding_forward", fn("embedding_forward"), (x, P["C"], ids.ctypes.data, sz(n * Xb.shape[1]), sz(E_)), 0),
        (f"linear_forward ({n}x{D} -> {H})", fn("linear_forward"),
         (hpre, x, P["W1"], P["b1"], sz(n), sz(D), sz(H), w1f), 2 * n * D * H),
        ("batchnorm_forward", fn("batchnorm_forward"),
         (hbn, mean, invstd, hpre, P["gamma"], P["beta"], sz(n), sz(H), T(1e-5), sz(1)), 0),
        ("tanh_forward", fn("tanh_forward"), (h, hbn, sz(n * H)), 0),
        (f"linear_forward ({n}x{H} -> {V})", fn("linear_forward"),
         (logits, h, P["W2"], P["b2"], sz(n), sz(H), sz(V), w2f), 2 * n * H * V),
        ("cross_entropy_forward", fn("cross_entropy_forward", ctypes.c_double),
         (probs, logits, tgt.ctypes.data, sz(n), sz(V), ctypes.c_int(1)), 0),
        ("cross_entropy_backward", fn("cross_entropy_backward"),
         (logits, probs, tgt.ctypes.data, sz(n), sz(V), ctypes.c_int(1)), 0),
        (f"linear_backward ({n}x{H} -> {V})", fn("linear_backward"),
         (dh, g["W2"], g["b2"], logits, h, P["W2"], sz(n), sz(H), sz(V), w2b), 4 * n * H * V),
        ("tanh_backward", fn("tanh_backward"), (dhbn, dh, h, sz(n * H)), 0),
        ("batchnorm_backward", fn("batchnorm_backward"),
         (dhpre, g["gamma"], g["beta"], dhbn, hpre, P["gamma"], mean, invstd, sz(n), sz(H), sz(1)), 0),
        (f"linear_backward ({n}x{D} -> {H})", fn("linear_backward"),
         (dx, g["W1"], g["b1"], dhpre, x, P["W1"], sz(n), sz(D), sz(H), w1b), 4 * n * D * H),
        ("embedding_backward", fn("embedding_backward"),
         (g["C"], dx, ids.ctypes.data, sz(n * Xb.shape[1]), sz(V), sz(E_)), 0),
    ]
    for k in C.MM_KEYS:
        kernels.append((f"sgd_step_ {k} {p[k].shape}", fn("sgd_step"), (P[k], g[k], sz(p[k].size), T(0.0)), 0))
    # run them once in order, so that every input holds what the step would give it
    for _, f, a, _ in kernels:
        f(*[vp(v) if isinstance(v, int) else v for v in a])
    calls = []
    for label, f, a, fl in kernels:
        a = tuple(vp(v) if isinstance(v, int) else v for v in a)
        calls.append((label, lambda f=f, a=a: f(*a), fl))
    sgd = fn("sgd_step")
    empty = (vp(P["b2"]), vp(g["b2"]), sz(0), T(0.0))
    return calls, (lambda: sgd(*empty)), keep


def group_calls(times, calls):
    """Sum per-call medians into: GEMM calls, sgd_step_, the rest."""
    g = {"linear (GEMM)": 0.0, "sgd_step_ x7": 0.0, "other layers": 0.0}
    for label, _, fl in calls:
        t = times[label]["median"]
        if label.startswith("linear"):
            g["linear (GEMM)"] += t
        elif label.startswith("sgd_step_"):
            g["sgd_step_ x7"] += t
        else:
            g["other layers"] += t
    return g


def run_profile(args, pool, peak, results):
    n0 = args.threads[0]
    reps = max(3, args.repeats // 2)
    tgt = args.target_ms / 2e3
    prof = {"threads": n0}
    with Threads(n0):
        # per-call overhead: tiny calls
        z1, p1, g1 = np.zeros(1), np.zeros(1), np.ones(1)
        x11, W11 = np.ones((1, 1)), np.ones((1, 1))
        fns = {
            "tinynet tanh_forward(np.zeros(1))": lambda: tinynet.tanh_forward(z1),
            "tinynet sgd_step_ (1 element)": lambda: tinynet.sgd_step_(p1, g1, 0.0),
            "tinynet linear_forward (1x1, GEMM path)": lambda: tinynet.linear_forward(x11, W11),
            "NumPy engine tanh_forward(np.zeros(1))": lambda: C.ref.tanh_forward(z1),
            "np.tanh(np.zeros(1))": lambda: np.tanh(z1),
        }
        if C.torch is not None:
            torch = C.torch
            t1 = torch.zeros(1)
            w1 = torch.zeros(1, requires_grad=True)

            def torch_tiny_autograd():
                w1.grad = None
                torch.tanh(w1).sum().backward()

            fns["torch.tanh(1-element tensor)"] = lambda: torch.tanh(t1)
            fns["torch tanh+sum+backward (1 element)"] = torch_tiny_autograd
        prof["overhead"] = measure(fns, reps, tgt)

        # hello: the fused loss vs the 5 updates
        if "hello" in args.only:
            rng = np.random.default_rng(1)
            hp = C.hello_params(rng)
            inputs, targets = np.array([1, 0, 2, 2]), np.array([0, 2, 2, 3])
            h0 = np.zeros(4)
            args5 = [hp[k] for k in ("W_xh", "W_hh", "b_h", "W_hy", "b_y")]
            _, g, _ = tinynet.rnn_lm_loss(inputs, targets, h0, *args5)
            pc = {k: v.copy() for k, v in hp.items()}

            def five_sgd():
                for k in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"):
                    tinynet.sgd_step_(pc[k], g[k], 0.0)

            rng16 = np.random.default_rng(16)
            in16, tg16 = rng16.integers(0, 4, 16), rng16.integers(0, 4, 16)
            fns = {"tinynet rnn_lm_loss": lambda: tinynet.rnn_lm_loss(inputs, targets, h0, *args5),
                   "tinynet rnn_lm_loss T=1": lambda: tinynet.rnn_lm_loss(inputs[:1], targets[:1], h0, *args5),
                   "tinynet rnn_lm_loss T=16": lambda: tinynet.rnn_lm_loss(in16, tg16, h0, *args5),
                   "tinynet rnn_forward (same tokens, T=4)": lambda: tinynet.rnn_forward(inputs, h0, *args5[:3]),
                   "tinynet 5 x sgd_step_": five_sgd,
                   "NumPy engine rnn_lm_loss": lambda: C.ref.rnn_lm_loss(inputs, targets, h0, *args5)}
            if C.torch is not None:
                step, _ = C.hello_torch(hp, inputs, targets, 0.0)
                torch = C.torch
                W_xh, W_hh, b_h, W_hy, b_y = (C._t(hp[k], grad=True) for k in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"))
                xs = [C._t(np.eye(4)[i]) for i in inputs]
                tgt_t = torch.from_numpy(targets)

                def torch_fwd():
                    h = torch.zeros(4, dtype=torch.float64)
                    logits = []
                    for x in xs:
                        h = torch.tanh(W_xh @ x + W_hh @ h + b_h)
                        logits.append(W_hy @ h + b_y)
                    return C.F.cross_entropy(torch.stack(logits), tgt_t, reduction="sum")

                fns["PyTorch forward only (graph built)"] = torch_fwd
            prof["hello"] = measure(fns, reps, tgt)

        # makemore hidden 200: every call of the step alone
        if "makemore" in args.only:
            Xb, Yb = pool[0]
            prof["makemore"] = {}
            for dtype in ("float32", "float64"):
                params = C.makemore_params(np.random.default_rng(200), 200, np.dtype(dtype))
                entry = {}
                # tinynet: the steps, their calls and their kernels, all in one interleaved
                # measurement, so that the breakdown is one snapshot of this shared machine
                calls, aux = makemore_calls(tinynet, params, Xb, Yb)
                fcalls = fused_calls(tinynet, params, Xb, Yb) if C.FUSED else []
                kcalls, empty, keep = kernel_calls(params, Xb, Yb)
                steps = {"step": C.makemore_step(tinynet, params, pool, 1e-3)[0],
                         "step, a call per layer": C.makemore_engine(tinynet, params, pool, 1e-3)[0]}
                fns = {**steps, "(ctypes call)": empty}
                fns.update({"call " + lbl: fn for lbl, fn, _ in calls})
                fns.update({"fused " + lbl: fn for lbl, fn, _ in fcalls})
                fns.update({"kernel " + lbl: fn for lbl, fn, _ in kcalls})
                times = measure(fns, reps, tgt)
                med = lambda k: times[k]["median"]
                entry["step"], entry["step_layers"] = med("step"), med("step, a call per layer")
                entry[C.TN] = {"calls": [(lbl, med("call " + lbl), fl) for lbl, _, fl in calls],
                               "groups": group_calls({lbl: times["call " + lbl] for lbl, _, _ in calls}, calls),
                               "sum": sum(med("call " + lbl) for lbl, _, _ in calls), "peaks": call_peaks(calls)}
                if fcalls:
                    entry["fused"] = {"calls": [(lbl, med("fused " + lbl), fl) for lbl, _, fl in fcalls],
                                      "sum": sum(med("fused " + lbl) for lbl, _, _ in fcalls),
                                      "peaks": call_peaks(fcalls)}
                # the C kernels alone (through ctypes, its own cost subtracted)
                floor = med("(ctypes call)")
                entry["kernels"] = {"calls": [(lbl, max(med("kernel " + lbl) - floor, 0.0), fl) for lbl, _, fl in kcalls],
                                    "ctypes": floor}
                entry["kernels"]["sum"] = sum(t for _, t, _ in entry["kernels"]["calls"])
                del keep
                # the NumPy engine's calls
                rcalls, _ = makemore_calls(C.ref, params, Xb, Yb)
                times = measure({lbl: fn for lbl, fn, _ in rcalls}, reps, tgt)
                entry[C.REF] = {"calls": [(lbl, times[lbl]["median"], fl) for lbl, _, fl in rcalls],
                                "groups": group_calls(times, rcalls),
                                "sum": sum(times[lbl]["median"] for lbl, _, _ in rcalls), "peaks": call_peaks(rcalls)}
                fns = {"seed-style dC double loop": lambda: seedstyle.makemore_dC_loop(aux["C"], Xb, aux["demb"])}
                if C.torch is not None:
                    step, _ = C.makemore_torch(params, pool, 0.0)
                    torch = C.torch
                    ps = [C._t(params[k], grad=True) for k in C.MM_KEYS]
                    Xt, Yt = torch.from_numpy(Xb), torch.from_numpy(Yb)

                    def torch_fwd(ps=ps):
                        Cm, W1, b1, gamma, beta, W2, b2 = ps
                        emb = C.F.embedding(Xt, Cm)
                        hprebn = C.F.linear(emb.view(emb.shape[0], -1), W1, b1)
                        bnvar_inv = (hprebn.var(0, keepdim=True, unbiased=True) + 1e-5) ** -0.5
                        h = torch.tanh(gamma * (hprebn - hprebn.mean(0, keepdim=True)) * bnvar_inv + beta)
                        return C.F.cross_entropy(C.F.linear(h, W2, b2), Yt)

                    fns["PyTorch forward only (graph built)"] = torch_fwd
                entry["peers"] = measure(fns, reps, tgt)
                prof["makemore"][dtype] = entry

        # char-RNN: forward and backward apart
        if "char-rnn" in args.only:
            s = C.charrnn_state(np.float32)
            hs = tinynet.rnn_forward(s["x"], s["h0"], s["W_xh"], s["W_hh"], s["b_h"])
            fns = {
                "tinynet rnn_forward": lambda: tinynet.rnn_forward(s["x"], s["h0"], s["W_xh"], s["W_hh"], s["b_h"]),
                "tinynet rnn_backward": lambda: tinynet.rnn_backward(s["R"], s["x"], s["h0"], hs, s["W_xh"], s["W_hh"]),
            }
            if C.torch is not None:
                torch = C.torch
                rnn = torch.nn.RNN(C.CHARRNN["D"], C.CHARRNN["H"])
                xt = C._t(s["x"], grad=True)
                h0t = C._t(s["h0"][None], grad=True)
                fns["PyTorch nn.RNN forward only (graph built)"] = lambda: rnn(xt, h0t)
            prof["char-rnn"] = measure(fns, reps, tgt)
    return prof


def print_profile(prof, peak):
    print(f"\nprofile (threads = {prof['threads']})")
    for k, t in prof["overhead"].items():
        print(f"  {k:44s} {fmt_time(t['median']):>10s}")
    for k in ("hello", "char-rnn"):
        if k in prof:
            for lbl, t in prof[k].items():
                print(f"  {lbl:44s} {fmt_time(t['median']):>10s}")
    for dtype, entry in prof.get("makemore", {}).items():
        print(f"  makemore hidden 200 {dtype}, each call alone:")
        tn_calls = entry[C.TN]["calls"]
        ref_calls = dict((lbl, t) for lbl, t, _ in entry[C.REF]["calls"])
        for lbl, t, fl in tn_calls:
            gf = f"{fl / t / 1e9:6.2f} GFLOP/s" if fl else ""
            pk, ob = entry[C.TN]["peaks"][lbl]
            print(f"    {lbl:40s} tinynet {fmt_time(t):>9s}  NumPy engine {fmt_time(ref_calls[lbl]):>9s}  "
                  f"peak mem {fmt_bytes(pk):>9s} (outputs {fmt_bytes(ob):>9s})  {gf}")
        print(f"    sum of calls: tinynet {fmt_time(entry[C.TN]['sum'])}, NumPy engine {fmt_time(entry[C.REF]['sum'])}")
        for lbl, t in entry["peers"].items():
            print(f"    {lbl:40s} {fmt_time(t['median']):>9s}")


# ============================================================================ goals


def contended(res, n, cpus):
    """True when other processes used more CPU during the case than the cores left free
    by our n threads (+ 0.25 CPU of slack)."""
    fl = res.get("foreign_load") if res else None
    return fl is not None and fl > max((cpus or 1) - n, 0) + 0.25


def goals(cases, results, mem, peak, threads, cpus):
    """[(goal, threads, measured text, met: bool | None, note)]"""
    by = {c.key: c for c in cases}
    rows = []

    def add(goal, n, key, peer, target, measured=None, value=None):
        res = results.get(n, {}).get(key)
        note = ""
        if res is None:
            rows.append((goal, n, "not run", None, ""))
            return
        if contended(res, n, cpus):
            note = f"contended: other processes used {res['foreign_load']:.2f} CPUs"
        if not res["guard"][C.TN][0]:
            rows.append((goal, n, "tinynet result WRONG", False, note))
            return
        if value is None:
            value = ratio(res, peer)
            measured = fmt_ratio(value)
        if value is None:
            rows.append((goal, n, "peer not measured", None, note))
            return
        rows.append((goal, n, measured, value >= target, note))

    for n in threads:
        if "hello" in by:
            add(f"hello step ≥ {GOAL_HELLO_SEED:.0f}× seed-style NumPy", n, "hello", C.SEED, GOAL_HELLO_SEED)
            add(f"hello step ≥ {GOAL_HELLO_TORCH:.0f}× PyTorch", n, "hello", C.TORCH, GOAL_HELLO_TORCH)
        for dt in ("float32", "float64"):
            key = f"makemore-h200-{dt}"
            if key in by:
                add(f"makemore h200 {dt} ≥ {GOAL_MM_NUMPY:.0f}× seed-style NumPy", n, key, C.SEED, GOAL_MM_NUMPY)
                add(f"makemore h200 {dt} ≥ {GOAL_MM_NUMPY:.0f}× NumPy engine", n, key, C.REF, GOAL_MM_NUMPY)
                add(f"makemore h200 {dt} ≥ {GOAL_MM_TORCH:.0f}× PyTorch", n, key, C.TORCH, GOAL_MM_TORCH)
        if "char-rnn" in by:
            add(f"char-RNN ≥ {GOAL_RNN_TORCH}× PyTorch nn.RNN", n, "char-rnn", C.TORCH, GOAL_RNN_TORCH)
            res = results.get(n, {}).get("char-rnn")
            if res and C.TN in res["times"]:
                gf = gflops(by["char-rnn"], res)
                frac = gf / peak["float32"]
                add(f"char-RNN ≥ {GOAL_RNN_PEAK:.0%} of one core's float32 peak", n, "char-rnn", None, GOAL_RNN_PEAK,
                    measured=f"{gf:.1f} GFLOP/s = {frac:.1%} of one core" + (f" ({frac / n:.0%} of {n})" if n > 1 else ""),
                    value=frac)
            else:
                add(f"char-RNN ≥ {GOAL_RNN_PEAK:.0%} of one core's float32 peak", n, "char-rnn", C.TN, GOAL_RNN_PEAK)
        for key, name in (("lstm", "nn.LSTM"), ("gru", "nn.GRU")):
            if key in by:
                add(f"{key.upper()} ≥ {GOAL_GATED_TORCH}× PyTorch {name} (issue 12)", n, key, C.TORCH, GOAL_GATED_TORCH)
        for key in ("linear-fwd-float32", "linear-bwd-float32", "linear-fwd-float64", "linear-bwd-float64"):
            if key in by:
                add(f"{key.replace('-', ' ')} ≥ {GOAL_GEMM}× NumPy (OpenBLAS)", n, key, C.RAW, GOAL_GEMM)
    if mem:
        for dt, d in mem.items():
            m, ref = d[C.TN], d[C.REF]
            rows.append((f"no allocation growth, makemore {dt}", threads[0],
                         f"{m['growth']:+d} B from step {m['mark']} to {m['steps']}", m["growth"] <= GROWTH_SLACK, ""))
            rows.append((f"peak memory ≤ NumPy engine's, makemore {dt}", threads[0],
                         f"{fmt_bytes(m['peak'])} vs {fmt_bytes(ref['peak'])}", m["peak"] <= ref["peak"], ""))
    return rows


def load_baseline(path):
    """The recorded "before" of issue 13 (a --json dump of this suite run against a build of
    ccdb302 on this machine), or None."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def base_time(base, n, key, engine=C.TN):
    try:
        return base["results"][str(n)][key]["times"][engine]["median"]
    except (KeyError, TypeError):
        return None


def goals13(cases, results, base, threads, cpus):
    """Issue 13's goals: [(goal, threads, measured text, met: bool | None, note)]."""
    by = {c.key: c for c in cases}
    rows = []

    def note_for(res, n):
        return f"contended: other processes used {res['foreign_load']:.2f} CPUs" if contended(res, n, cpus) else ""

    def against(goal, n, key, peer, target):
        res = results.get(n, {}).get(key)
        if key not in by or res is None:
            rows.append((goal, n, "not run", None, ""))
        elif not res["guard"][C.TN][0]:
            rows.append((goal, n, "tinynet result WRONG", False, note_for(res, n)))
        elif ratio(res, peer) is None:
            rows.append((goal, n, "peer not measured", None, note_for(res, n)))
        else:
            r = ratio(res, peer)
            rows.append((goal, n, fmt_ratio(r), r >= target, note_for(res, n)))

    def no_regression(goal, n, key, peer):
        """tinynet's time now and before, as it is and relative to a peer timed in the same
        run (PyTorch, OpenBLAS: unchanged code), which takes out the machine's drift.  A
        regression of tinynet's code shows in both; met unless both show one, because either
        alone can mislead: the time as it is when the machine drifts, the relative one when
        one run's peer was contended (the baseline's 2-thread char-RNN: PyTorch 70 ms, 36 ms
        in a quiet run)."""
        res = results.get(n, {}).get(key)
        b_tn, b_peer = base_time(base, n, key), base_time(base, n, key, peer)
        if key not in by or res is None or C.TN not in res["times"] or peer not in res["times"]:
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
                     t <= GOAL13_SLACK * b_tn or now <= GOAL13_SLACK * before, note_for(res, n)))

    for n in threads:
        against(f"makemore h200 float32 ≥ {GOAL13_VEC32:.0f}× vectorised NumPy", n, "makemore-h200-float32", C.VEC,
                GOAL13_VEC32)
        against(f"makemore h200 float32 ≥ {GOAL13_TORCH32:.0f}× PyTorch", n, "makemore-h200-float32", C.TORCH,
                GOAL13_TORCH32)
        against(f"makemore h200 float64 ≥ {GOAL13_VEC64:.0f}× vectorised NumPy", n, "makemore-h200-float64", C.VEC,
                GOAL13_VEC64)
        against(f"hello step ≥ {GOAL_HELLO_SEED:.0f}× seed-style NumPy", n, "hello", C.SEED, GOAL_HELLO_SEED)
        no_regression(f"char-RNN no slower than before (within {GOAL13_SLACK - 1:.0%})", n, "char-rnn", C.TORCH)
        for key in ("linear-fwd-float32", "linear-bwd-float32"):
            no_regression(f"{key.replace('-', ' ').replace('fwd', '1024² fwd').replace('bwd', '1024² bwd')} "
                          f"no slower than before (within {GOAL13_SLACK - 1:.0%})", n, key, C.RAW)
    return rows


def print_goals(rows, issue="issues 5 and 12"):
    print(f"\ngoals ({issue})")
    for g, n, meas, met, note in rows:
        st = "met" if met else "NOT MET" if met is not None else "n/a"
        print(f"  {g:52s} threads {n}  {meas:38s} {st:8s} {note}")


# ========================================================================= markdown


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def analysis(cases, results, mem, prof, peak, threads):
    """The 'where the time goes' paragraphs, from this run's numbers."""
    by = {c.key: c for c in cases}
    n0 = prof["threads"] if prof else threads[0]
    R = results.get(n0, {})
    ov = prof.get("overhead", {}) if prof else {}
    paras = []

    def med(d, k):
        return d[k]["median"] if d and k in d else None

    tiny = med(ov, "tinynet tanh_forward(np.zeros(1))")
    tiny_lin = med(ov, "tinynet linear_forward (1x1, GEMM path)")
    ref_tiny = med(ov, "NumPy engine tanh_forward(np.zeros(1))")
    np_tiny = med(ov, "np.tanh(np.zeros(1))")
    th_tiny = med(ov, "torch.tanh(1-element tensor)")
    th_ag = med(ov, "torch tanh+sum+backward (1 element)")
    if tiny is not None:
        paras.append(
            f"**Per-call floor** (threads = {n0}). A near-empty tinynet call "
            f"(`tn.tanh_forward(np.zeros(1))`) costs {fmt_time(tiny)}; the GEMM path on a 1×1 "
            f"`linear_forward` costs {fmt_time(tiny_lin)}. For comparison: `np.tanh` on one element "
            f"{fmt_time(np_tiny)}, the NumPy engine's `tanh_forward` (argument checks in Python) "
            f"{fmt_time(ref_tiny)}"
            + (f", `torch.tanh` on a 1-element tensor {fmt_time(th_tiny)} and a 1-element "
               f"tanh+sum+backward in autograd {fmt_time(th_ag)}" if th_tiny else "") + ".")

    if "hello" in by and "hello" in R and C.TN in R["hello"]["times"]:
        t = R["hello"]["times"]
        hp = prof.get("hello", {}) if prof else {}
        loss_t, sgd_t = med(hp, "tinynet rnn_lm_loss"), med(hp, "tinynet 5 x sgd_step_")
        txt = (f"**hello RNN.** tinynet's step takes {fmt_time(t[C.TN]['median'])}"
               + (f": `rnn_lm_loss` alone {fmt_time(loss_t)}, the five `sgd_step_` calls {fmt_time(sgd_t)} "
                  f"(≈ {fmt_time(sgd_t / 5)} each, i.e. at the per-call floor)" if loss_t else "")
               + f". The whole step does {by['hello'].flops} flops, so it is call overhead: "
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
        paras.append(txt + "; ".join(parts) + ".")

    for dt in ("float32", "float64"):
        key = f"makemore-h200-{dt}"
        if key not in R or C.TN not in R[key]["times"] or not prof or dt not in prof.get("makemore", {}):
            continue
        e = prof["makemore"][dt]
        tn_e, ref_e = e[C.TN], e[C.REF]
        layers = C.TN_LAYERS if C.TN_LAYERS in R[key]["times"] else C.TN  # the step whose 19 calls these are
        step = R[key]["times"][layers]["median"]
        top = sorted(tn_e["calls"], key=lambda c: -c[1])[:3]
        gemm_fl = sum(fl for _, _, fl in tn_e["calls"])
        gemm_t = tn_e["groups"]["linear (GEMM)"]
        at_peak = gemm_fl / (peak[dt] * 1e9)
        big = max(tn_e["peaks"], key=lambda k: tn_e["peaks"][k][0])
        big_peak, big_out = tn_e["peaks"][big]
        glue = step - tn_e["sum"]
        txt = (f"**makemore MLP, hidden 200, {dt}, one call per layer.** "
               + ("The step written with one public call per layer (as before issue 13) " if layers != C.TN else
                  "tinynet's step ")
               + f"takes {fmt_time(step)}; its 19 calls "
               f"timed one by one add up to {fmt_time(tn_e['sum'])} "
               + ("(about the whole step: the Python glue between the calls is negligible)"
                  if abs(glue) < 0.05 * step else
                  f"(the remaining {fmt_time(glue)} is the step's Python glue: reshapes, tuple unpacking, the "
                  f"batch iterator)" if glue > 0 else
                  "(more than the step: the profile runs at another moment of this shared machine, with fewer "
                  "repeats; read it for proportions)")
               + ": "
               f"the four `linear_*` calls {fmt_time(gemm_t)} ({gemm_t / tn_e['sum']:.0%}), the other layers "
               f"{fmt_time(tn_e['groups']['other layers'])}, the 7 `sgd_step_` {fmt_time(tn_e['groups']['sgd_step_ x7'])}. "
               f"Largest calls: " + ", ".join(f"{lbl} {fmt_time(tt)}" for lbl, tt, _ in top) + ". "
               f"The step's {gemm_fl / 1e6:.2f} MFLOP of GEMM would take {fmt_time(at_peak)} at one core's peak, "
               f"so the linear calls run at {gemm_fl / gemm_t / 1e9:.1f} GFLOP/s "
               f"({gemm_fl / gemm_t / 1e9 / peak[dt]:.0%} of peak) on these M = 32-row products. "
               f"The call with the largest traced memory peak is {big}: {fmt_bytes(big_peak)} for "
               f"{fmt_bytes(big_out)} of outputs. "
               f"The NumPy engine's 19 calls add up to {fmt_time(ref_e['sum'])}, of which its per-call floor "
               f"(argument checks in Python, {fmt_time(ref_tiny)}) accounts for 19 × that = "
               f"{fmt_time(19 * ref_tiny) if ref_tiny else '?'}")
        peers = e.get("peers", {})
        loop = med(peers, "seed-style dC double loop")
        fw = med(peers, "PyTorch forward only (graph built)")
        Rt = R[key]["times"]
        if loop is not None and C.SEED in Rt:
            txt += (f"; the seed-style step spends {fmt_time(loop)} of its {fmt_time(Rt[C.SEED]['median'])} "
                    f"in the notebook's Python double loop for dC")
        if fw is not None and C.TORCH in Rt:
            txt += (f"; PyTorch's forward alone (building the graph) takes {fmt_time(fw)} of its "
                    f"{fmt_time(Rt[C.TORCH]['median'])} step")
        paras.append(txt + ".")

    if "char-rnn" in R and C.TN in R["char-rnn"]["times"]:
        t = R["char-rnn"]["times"]
        cp = prof.get("char-rnn", {}) if prof else {}
        fl = by["char-rnn"].flops
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
            ob = gflops(by[lk], R[lk], C.RAW)
            txt += (f". For scale, OpenBLAS's 1024×1024 float32 product runs at {ob:.0f} GFLOP/s "
                    f"({ob / peak['float32']:.0%} of that peak) in the same run: a large GEMM on this machine "
                    f"stays well below the FMA loop's rate, and the recurrence adds 64 small dependent products, "
                    f"a tanh on every hidden value and the reads of earlier steps' rows")
        paras.append(txt + ".")

    for key, name in (("lstm", "nn.LSTM"), ("gru", "nn.GRU")):
        if key not in R or C.TN not in R[key]["times"]:
            continue
        t = R[key]["times"]
        fl = by[key].flops
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
        paras.append(txt + ".")

    lin = [k for k in ("linear-fwd-float32", "linear-bwd-float32", "linear-fwd-float64", "linear-bwd-float64") if k in R]
    if lin:
        parts = []
        for k in lin:
            res = R[k]
            if C.TN not in res["times"]:
                continue
            g = gflops(by[k], res)
            gr = gflops(by[k], res, C.RAW) if C.RAW in res["times"] else None
            dt = by[k].dtype.name
            parts.append(f"{k.replace('linear-', '').replace('-', ' ')}: tinynet {g:.0f} GFLOP/s "
                         f"({g / (peak[dt] * n0):.0%} of peak) vs OpenBLAS {gr:.0f}" if gr else f"{k}: {g:.0f} GFLOP/s")
        paras.append(f"**1024² linear** (threads = {n0}), pure GEMM: " + "; ".join(parts) + ". Per-core peaks "
                     f"measured by the FMA loop: float32 {peak['float32']:.0f}, float64 {peak['float64']:.0f} GFLOP/s.")

    if mem:
        parts = []
        for dt, d in mem.items():
            m, r = d[C.TN], d[C.REF]
            parts.append(f"{dt}: tinynet's transient peak above its state is {fmt_bytes(m['peak'] - m['state'])}, "
                         f"the NumPy engine's {fmt_bytes(r['peak'] - r['state'])}")
        txt = "**Memory.** " + "; ".join(parts) + "."
        mm = prof.get("makemore", {}) if prof else {}
        if mm:
            dt = list(mm)[-1]
            ws = {k: v[0] - v[1] for k, v in mm[dt][C.TN]["peaks"].items()}
            top = sorted(ws, key=lambda k: -ws[k])[:2]
            txt += (f" Per call ({dt}), traced peak minus returned arrays: "
                    + ", ".join(f"{k} {fmt_bytes(ws[k])}" for k in top)
                    + " — each call's workspace and temporaries, allocated and freed per call.")
        paras.append(txt)
    return paras


def breakdown13(results, prof, base, peak, dt):
    """Issue 13's before/after of the makemore step (hidden 200, threads = the profile's):
    markdown lines, or [] without the numbers."""
    key = f"makemore-h200-{dt}"
    n0 = prof["threads"] if prof else 1
    now = prof.get("makemore", {}).get(dt) if prof else None
    res = results.get(n0, {}).get(key)
    if not now or not res or C.TN not in res["times"]:
        return []
    then = (base or {}).get("profile", {}).get("makemore", {}).get(dt) if base else None
    t_after = now["step"]
    t_before = then.get("step") if then else None
    after_calls = now["fused"] if "fused" in now else now[C.TN]
    before_calls = then[C.TN] if then else None

    def part(entry, step, calls):
        """(step, n calls, calls' sum, kernels' sum, wrapper, Python) of one side"""
        if entry is None or step is None:
            return None
        k = entry["kernels"]["sum"] if "kernels" in entry else None
        return (step, len(calls["calls"]), calls["sum"], k, calls["sum"] - k if k is not None else None,
                step - calls["sum"])

    a = part(now, t_after, after_calls)
    b = part(then, t_before, before_calls) if then else None

    def cell(v, kind="t"):
        if v is None:
            return "—"
        return fmt_time(v) if kind == "t" else str(v)

    def share(v, tot):
        return f"{cell(v)} ({v / tot:.0%})" if v is not None and tot else cell(v)

    L = [f"**Before and after issue 13: makemore MLP, hidden 200, {dt}, threads = {n0}.** *Before* is this suite "
         f"run against a build of ccdb302 (the recorded baseline, {base['env']['date'] if base else 'not recorded'}"
         f"), *after* this run; each side's step, its calls and its C kernels timed in one interleaved "
         f"measurement (so a snapshot of this shared machine: its step time can differ from the results table's). "
         f"The step's time splits into the C kernels (each timed alone through ctypes, "
         f"no wrapper; the fused functions run exactly these kernels), the wrapper's work around them (argument "
         f"checks and conversions, result arrays, workspace: the calls timed one by one minus their kernels) "
         f"and the Python between the calls (the step minus its calls).\n"]
    rows = [("the step (median)", cell(b[0]) if b else "—", cell(a[0])),
            ("public calls per step", cell(b[1], "n") if b else "—", cell(a[1], "n")),
            ("C kernels", share(b[3], b[0]) if b else "—", share(a[3], a[0])),
            ("wrapper: checks, conversions, result arrays", share(b[4], b[0]) if b else "—", share(a[4], a[0])),
            ("Python between the calls", share(b[5], b[0]) if b else "—", share(a[5], a[0]))]
    L.append(md_table(["", "before (ccdb302)", "after"], rows) + "\n")
    # per kernel
    kb = dict((lbl, (t, fl)) for lbl, t, fl in then["kernels"]["calls"]) if then and "kernels" in then else {}
    krows = []
    for lbl, t, fl in now["kernels"]["calls"]:
        tb = kb.get(lbl, (None, 0))[0]
        gf = lambda t_: f" ({fl / t_ / 1e9:.1f} GFLOP/s)" if fl and t_ else ""
        show = lambda t_: "≈ 0 (below the ctypes call's cost)" if t_ == 0 else fmt_time(t_) + gf(t_)
        krows.append((lbl, show(tb) if tb is not None else "—", show(t)))
    gemm_a = sum(t for lbl, t, fl in now["kernels"]["calls"] if fl)
    gemm_b = sum(t for lbl, t, fl in then["kernels"]["calls"] if fl) if kb else None
    fl_all = sum(fl for _, _, fl in now["kernels"]["calls"])
    krows.append((f"**GEMM kernels ({fl_all / 1e6:.2f} MFLOP; {fmt_time(fl_all / (peak[dt] * 1e9))} at one "
                  f"core's peak)**", f"**{fmt_time(gemm_b)}**" if gemm_b else "—", f"**{fmt_time(gemm_a)}**"))
    krows.append(("**all kernels**", f"**{fmt_time(then['kernels']['sum'])}**" if kb else "—",
                  f"**{fmt_time(now['kernels']['sum'])}**"))
    L.append(f"Each C kernel of the step alone (ctypes, its call cost of {fmt_time(now['kernels']['ctypes'])} "
             "subtracted):\n")
    L.append(md_table(["kernel", "before (ccdb302)", "after"], krows) + "\n")
    # per public call, after
    crows = [(lbl, fmt_time(t)) for lbl, t, _ in after_calls["calls"]]
    crows.append(("**sum**", f"**{fmt_time(after_calls['sum'])}**"))
    L.append(f"The fused step's public calls, each timed alone (after; the 19 single-layer calls are in the "
             f"table below):\n")
    L.append(md_table(["call", f"tinynet {dt}"], crows) + "\n")
    return L


def write_markdown(path, env, cases, results, mem, prof, peak, rows, total_s, rows13=None, base=None):
    L = []
    L.append("# tinynet benchmarks\n")
    L.append("Generated by `python bench/run.py --write` (bench/README.md); do not edit by hand — rerun "
             "to update. Times are medians per training step; **ratio = peer time / tinynet time** "
             "(> 1 means tinynet is faster).\n")
    cpu = env["cpu"]
    nb = env["numpy_blas"]
    tinfo = env["torch"]
    env_rows = [
        ("command", f"`{env['command']}` ({total_s / 60:.1f} min)"),
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
        ("per-core peak (FMA loop, best of 5, thread CPU time)", f"float32 {peak['float32']:.1f} GFLOP/s, float64 {peak['float64']:.1f} GFLOP/s"),
        ("Python", env["python"]),
        ("NumPy", f"{env['numpy']}, BLAS {nb.get('name')} {nb.get('version', '')} ({nb.get('config', '')}; "
                  f"running as {nb.get('architecture')}, {nb.get('threading')} threads)"),
        ("PyTorch", f"{tinfo['version']}, BLAS {tinfo['blas']}, CPU capability {tinfo['cpu_capability']}, "
                    f"parallel backend {tinfo['parallel_backend']}" if tinfo else "not installed"),
        ("makemore data", env.get("makemore_data", "—")),
        ("method", f"median of {env['repeats']} repeats, each one loop of ≥ {env['target_ms']:.0f} ms per engine "
                   "after a warm-up, engines interleaved (order rotating) within each repeat; GC off inside loops; "
                   "makemore batches drawn once (a pool of 64) outside the timing"),
    ]
    L.append("## Environment\n")
    L.append(md_table(["", ""], env_rows) + "\n")

    if rows13:
        L.append("## Goals (issue 13)\n")
        L.append("The makemore step (block 3, n_embd 10, hidden 200, batch 32, BatchNorm, tanh; forward, full "
                 "backward, SGD) against the best NumPy an experienced user writes (bench/vectorised.py) and "
                 "PyTorch eager at the same thread count; the other cases against their time before the issue "
                 + (f"(ccdb302, recorded {base['env']['date']}: bench/{BASELINE.name})" if base else
                    "(no baseline recorded)") + ".\n")
        L.append(md_table(["goal", "threads", "measured", "status", "note"],
                          [(g, n, m, "**met**" if met else "**not met**" if met is not None else "n/a", note)
                           for g, n, m, met, note in rows13]) + "\n")

    L.append("## Goals (issues 5 and 12)\n")
    L.append(md_table(["goal", "threads", "measured", "status", "note"],
                      [(g, n, m, "**met**" if met else "**not met**" if met is not None else "n/a", note)
                       for g, n, m, met, note in rows]) + "\n")

    L.append("## Results\n")
    L.append("Each cell: median time per step (ratio = that peer / tinynet). GFLOP/s counts the GEMM flops "
             "only (2·M·N·K per product, the hello RNN's one-hot input counted as a dense product); "
             "% peak = tinynet's GFLOP/s / (per-core FMA peak × threads). *Other load*: CPUs kept busy by "
             "other processes while the case ran (/proc/stat minus this process); ⚠ marks a case where "
             "fewer than `threads` cores were free, whose numbers measure the contention as much as the "
             "engines (PyTorch's OpenMP barriers suffer most).\n")
    present = [c for c in C.ENGINES if any(any(e.name == c for e in cs.engines) for cs in cases)]
    hdr = ["case", "threads"] + present + ["tinynet GFLOP/s", "% peak", "other load"]
    trs = []
    for case in cases:
        for n in env["threads"]:
            res = results.get(n, {}).get(case.key)
            if res is None:
                continue
            row = [case.label, n]
            for c in present:
                if c not in res["guard"]:
                    row.append("")
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
            row.append(f"{g / (peak[case.dtype.name] * n):.1%}" if g else "—")
            fl = res.get("foreign_load")
            row.append("—" if fl is None else f"{fl:.2f}" + (" ⚠" if contended(res, n, env["cpu"]["cpus"]) else ""))
            trs.append(row)
    L.append(md_table(hdr, trs) + "\n")

    spreads = [(case.key, n, e, (t["q3"] - t["q1"]) / t["median"]) for case in cases for n in env["threads"]
               for e, t in results.get(n, {}).get(case.key, {"times": {}})["times"].items()]
    if spreads:
        worst = max(spreads, key=lambda s: s[3])
        med_spread = statistics.median(s[3] for s in spreads)
        L.append(f"Noise: the interquartile range of the repeats is {med_spread:.1%} of the median for the "
                 f"typical entry, {worst[3]:.0%} at worst ({worst[2]}, {worst[0]}, threads {worst[1]}).\n")

    if mem:
        L.append("## Memory (makemore, hidden 200, tracemalloc)\n")
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

    L.append("## Where the time goes\n")
    for dt in ("float32", "float64"):
        L.extend(breakdown13(results, prof, base, peak, dt))
    for p in analysis(cases, results, mem, prof, peak, env["threads"]):
        L.append(p + "\n")
    if prof and prof.get("makemore"):
        L.append(f"Per-call times of the makemore step (hidden 200, threads = {prof['threads']}, each call "
                 "timed alone on fixed inputs), and each tinynet call's traced memory peak next to the size of "
                 "the arrays it returns:\n")
        hdr = ["call"]
        for dt in prof["makemore"]:
            hdr += [f"tinynet {dt}", f"NumPy engine {dt}"]
        hdr += [f"tinynet peak mem / outputs ({list(prof['makemore'])[-1]})"]
        dts = list(prof["makemore"])
        labels = [c[0] for c in prof["makemore"][dts[0]][C.TN]["calls"]]
        crow = []
        for lbl in labels:
            row = [lbl]
            for dt in dts:
                e = prof["makemore"][dt]
                row.append(fmt_time(dict((a, b) for a, b, _ in e[C.TN]["calls"])[lbl]))
                row.append(fmt_time(dict((a, b) for a, b, _ in e[C.REF]["calls"])[lbl]))
            pk, ob = prof["makemore"][dts[-1]][C.TN]["peaks"][lbl]
            row.append(f"{fmt_bytes(pk)} / {fmt_bytes(ob)}")
            crow.append(row)
        row = ["**sum**"]
        for dt in dts:
            row += [f"**{fmt_time(prof['makemore'][dt][C.TN]['sum'])}**",
                    f"**{fmt_time(prof['makemore'][dt][C.REF]['sum'])}**"]
        crow.append(row + [""])
        L.append(md_table(hdr, crow) + "\n")

    L.append("## Correctness guard\n")
    L.append("Before timing, one step of every engine from the same initial state is compared with the NumPy "
             "engine (`tinynet.reference`): max |difference| / max |reference| per array (loss, every gradient, "
             "every updated parameter), within 1e-10 (float64) / 1e-4 (float32). makemore's `db1` is exactly "
             "zero in exact arithmetic (BatchNorm cancels b1), so it is compared on the scale of `dW1`. "
             "Worst relative error over the thread counts:\n")
    grows = []
    for case in cases:
        row = [case.label]
        for c in present:
            errs = [results[n][case.key]["guard"][c] for n in env["threads"]
                    if case.key in results.get(n, {}) and c in results[n][case.key]["guard"]]
            if not errs:
                row.append("")
                continue
            ok = all(e[0] for e in errs)
            worst = max(e[1] for e in errs)
            row.append(f"{worst:.1e}" if ok else f"**WRONG** {worst:.1e}")
        grows.append(row)
    L.append(md_table(["case"] + present, grows) + "\n")
    path.write_text("\n".join(L))


# ============================================================================= main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repeats and a smaller profile (~1 minute)")
    ap.add_argument("--repeats", type=int, help="repeats per engine (default 11, 3 with --quick)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--target-ms", type=float, default=20.0, help="length of one timed loop (default 20 ms)")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated subset of {','.join(GROUPS)} (default: all)")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each case, wait up to SECONDS for other processes to leave the cores free "
                         "(default 0: do not wait; contended cases are flagged either way)")
    ap.add_argument("--steps", type=int, default=200, help="training steps of the memory case (default 200)")
    ap.add_argument("--write", action="store_true", help="regenerate BENCHMARKS.md from this run")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="where --write writes")
    ap.add_argument("--json", metavar="PATH", help="also dump all raw numbers as JSON")
    ap.add_argument("--baseline", default=str(BASELINE), metavar="PATH",
                    help="the --json of a run before issue 13, for its goals and before/after (default: "
                         f"bench/{BASELINE.name})")
    args = ap.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.repeats is None:
        args.repeats = 3 if args.quick else 11
    args.only = [g.strip() for g in args.only.split(",") if g.strip()]
    bad = [g for g in args.only if g not in GROUPS]
    if bad:
        ap.error(f"--only: unknown {bad}; choose from {GROUPS}")
    if args.write and set(args.only) != set(GROUPS):
        ap.error("--write regenerates the whole BENCHMARKS.md: run all cases (no --only)")
    return args


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    env = environment(args)
    cpu = env["cpu"]
    if max(args.threads) > (cpu["cpus"] or 1):
        print(f"[bench] warning: {max(args.threads)} threads on {cpu['cpus']} usable CPUs", file=sys.stderr)
    print(f"{env['command']}\n{env['date']}, {cpu['model']} ({cpu['cpus']} CPUs, {' '.join(cpu['isa'])}), "
          f"load {' '.join(env['loadavg_start'] or [])}\ntinynet {env['tinynet']} simd={env['simd']} ({env['git']}), "
          f"Python {env['python']}, NumPy {env['numpy']} ({env['numpy_blas'].get('name')} "
          f"{env['numpy_blas'].get('version')}, {env['numpy_blas'].get('architecture')}), PyTorch "
          f"{env['torch']['version'] + ' (' + env['torch']['blas'] + ')' if env['torch'] else 'not installed'}")
    print(f"repeats {args.repeats}, loops >= {args.target_ms:.0f} ms, threads {args.threads}")

    peak = fma_peak(3 if args.quick else 5)
    print(f"per-core FMA peak: float32 {peak['float32']:.1f} GFLOP/s, float64 {peak['float64']:.1f} GFLOP/s")

    pool = None
    if {"makemore", "memory", "profile"} & set(args.only):
        pool, source = C.makemore_setup()
        env["makemore_data"] = source
        print(f"makemore data: {source}")

    cases = select_cases(args, pool)
    results = run_cases(cases, args, peak)
    env["threads_actual"] = {n: next(iter(r.values()))["threads_actual"] for n, r in results.items() if r}

    mem = None
    if "memory" in args.only:
        with Threads(args.threads[0]):
            mem = run_memory(pool, args.steps)
        print_memory(mem)

    prof = None
    if "profile" in args.only:
        prof = run_profile(args, pool, peak, results)
        print_profile(prof, peak)

    rows = goals(cases, results, mem, peak, args.threads, cpu["cpus"])
    print_goals(rows)
    base = load_baseline(args.baseline)
    rows13 = goals13(cases, results, base, args.threads, cpu["cpus"])
    print_goals(rows13, "issue 13")
    env["loadavg_end"] = loadavg()
    if build_id() != env["build"]:
        env["rebuilt"] = True
        print("[bench] warning: tinynet's extension file changed during this run (rebuilt); rerun for numbers "
              "from a single build", file=sys.stderr)
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s")

    if args.write:
        write_markdown(pathlib.Path(args.output), env, cases, results, mem, prof, peak, rows, total, rows13, base)
        print(f"wrote {args.output}")
    if args.json:
        blob = {"env": env, "peak": peak, "memory": mem, "profile": prof,
                "goals": [{"goal": g, "threads": n, "measured": m, "met": met, "note": note}
                          for g, n, m, met, note in rows],
                "results": {str(n): {k: {"guard": v["guard"], "times": v["times"]} for k, v in r.items()}
                            for n, r in results.items()}}
        pathlib.Path(args.json).write_text(json.dumps(blob, indent=1, default=str))
        print(f"wrote {args.json}")
    failed = [k for n in results for k, v in results[n].items() if not v["guard"][C.TN][0]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
