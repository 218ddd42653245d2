"""Running the cases: which ones a run selects, the guard and the timing of each at every
thread count, and the memory run."""
import time

import numpy as np
import tinynet

import attention
import cases as C
import gpt
import seedstyle
import wavenet
from console import print_case
from environment import cpu_info
from timing import SETTLE, ForeignLoad, Threads, measure, wait_quiet

#: The groups of cases --only chooses from (memory and profile are runs of their own).
GROUPS = ("hello", "makemore", "wavenet", "gpt", "attention", "char-rnn", "gated", "linear", "memory", "profile")


def select_cases(only, pool, wavenet_pool=None, gpt_pool=None):
    """The cases of the groups in `only`, in the report's order (pool: makemore's
    batches, wavenet_pool: the WaveNet's, gpt_pool: the GPT's)."""
    have_torch = C.torch is not None
    builders = (("hello", lambda: C.hello_cases(have_torch)), ("makemore", lambda: C.makemore_cases(have_torch, pool)),
                ("wavenet", lambda: wavenet.wavenet_cases(have_torch, wavenet_pool)),
                ("gpt", lambda: gpt.gpt_cases(have_torch, gpt_pool)),
                ("attention", lambda: attention.attention_cases(have_torch)),
                ("char-rnn", lambda: C.charrnn_cases(have_torch)), ("gated", lambda: C.gated_cases(have_torch)),
                ("linear", lambda: C.gemm_cases(have_torch)))
    return [case for group, build in builders if group in only for case in build()]


def run_case(case, args, n):
    """The guard, then the timing of the engines that passed it: one case's result."""
    skipped = {}
    guard = C.guard(case, skipped)
    fns = {name: e.build()[0] for e in case.engines for name in [e.name] if name in guard and guard[name][0]}
    with ForeignLoad() as fl:
        times = measure(fns, args.repeats, args.target_ms / 1e3, settle=SETTLE if n > 1 else 0.0) if fns else {}
    return {"guard": guard, "times": times, "foreign_load": fl.cpus, "skipped": skipped}


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
                if case.threads and n not in case.threads:
                    continue
                wait_quiet(n, cpus, args.wait_quiet)
                t0 = time.perf_counter()
                res = run_case(case, args, n)
                res["threads_actual"] = th.actual
                results[n][case.key] = res
                print_case(case, res, n, peak)
                fl = res["foreign_load"]
                busy = "" if fl is None else f", other processes used {fl:.2f} CPUs meanwhile"
                print(f"    ({time.perf_counter() - t0:.1f} s{busy})", flush=True)
    return results


def run_memory(pool, steps, dtypes=("float32", "float64"), n_hidden=200):
    """The traced memory of a makemore training run of `steps` steps, per dtype and engine."""
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
