"""How the suite times: loops calibrated to a target length, engines interleaved over
repeats, every library at the same thread count, the load other processes put on the
machine meanwhile, and the per-core peak of the FMA loop."""
import gc
import itertools
import os
import time

import numpy as np
import tinynet
from threadpoolctl import threadpool_info, threadpool_limits

import cases as C

#: Seconds to sleep before each timed loop when threads > 1, so that the BLAS worker
#: threads the previous engine left spinning have gone idle before the next engine is
#: timed on the same cores (bench/README.md, "Settling at n > 1").
SETTLE = 0.12


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


def summarise(samples, cpu, loop):
    """The statistics of one engine's per-call samples (seconds) and its loops' CPU times."""
    s = np.array(samples)
    q1, med, q3 = np.percentile(s, [25, 50, 75])
    util = np.array(cpu) / (s * loop)
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "min": float(s.min()),
            "max": float(s.max()), "loop": loop, "repeats": len(s), "samples": s.tolist(),
            "cpu_util": float(np.median(util))}


def measure(fns, repeats, target, settle=0.0):
    """fns: {name: fn}.  Calibrates each, then `repeats` rounds, each timing one loop per
    engine in an order that rotates round by round.  With settle > 0, sleeps that long
    before each loop, so that the worker threads the previous engine left spinning have
    gone to sleep and do not steal the cores of the engine being timed.  Returns
    {name: stats}."""
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
    return {nm: summarise(samples[nm], cpu[nm], loops[nm]) for nm in names}


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
