"""Threads: the C engine releases the GIL while it computes, and gives the same bits from
any Python thread, with any number of them running at once, and for any thread count of
its own team (tinynet.set_num_threads).

* GIL: while one Python thread is inside a long C call (every function, sized to take
  >= 30 ms), another keeps running Python code -- it stamps the time in a loop, and
  some stamps fall in the middle of the call (if the GIL were held, none could: the
  other thread could run only before the call starts or after it ends).  And calls of
  every function from another thread start and finish in the middle of a long call:
  no lock in the engine makes callers wait for each other.
* Eight threads calling every function concurrently (each a few times, in its own
  order, some of them while another thread keeps changing set_num_threads) get results
  bit-identical to serial calls.
* Every function gives the same bits for 1, 2, 3, 4 and 8 threads.
"""
import math
import os
import pathlib
import random
import subprocess
import tempfile
import sys
import threading
import time

import numpy as np
import pytest

import tinynet as tn
from specs import INPLACE, LISTS, TABLE, arrays_of, copy_args, make



@pytest.fixture
def restore_threads():
    n = tn.get_num_threads()
    yield
    tn.set_num_threads(n)


def _scaled(spec, f):
    """spec's sizes times f (the token ranges grow too)."""
    return {k: max(1, int(v * f)) for k, v in spec.sizes.items()}


def _copy(kw):
    return copy_args(kw)  # (the arrays in lists too: the optimizers' *_foreach_)


def _outputs(spec, kw, result):
    """What a call produced: its result and the arrays it updated in place, flattened."""
    out = []

    def walk(x):
        if isinstance(x, np.ndarray):
            out.append(x)
        elif isinstance(x, dict):
            for k in sorted(x):
                walk(x[k])
        elif isinstance(x, (tuple, list)):
            for v in x:
                walk(v)
        elif isinstance(x, float):
            out.append(np.array(x))

    walk(result)
    for a in spec.args:
        if a.kind in INPLACE:
            walk(kw[a.name])
    return out


def _call(spec, kw):
    kw = _copy(kw)  # in-place functions update their own copies
    return _outputs(spec, kw, getattr(tn, spec.name)(**kw))


def _same_bits(got, want):
    return len(got) == len(want) and all(
        a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        for a, b in zip(got, want))


# -------------------------------------------------------------------- the GIL

def _big_call(spec):
    """Arguments for a call of spec's function taking >= 30 ms on one thread (sizes
    grown by whole factors until it does, each step kept below 48 million numbers),
    and its time."""
    f, rng = 4.0, np.random.default_rng(0)
    fn = getattr(tn, spec.name)
    # (a list's length stays: its tensors grow, the kernels' time, not the loop's over entries)
    lengths = {a.dims[0]: spec.sizes[a.dims[0]] for a in spec.args if a.kind in LISTS}

    def sizes(f):
        return dict(_scaled(spec, f), **lengths)

    def cells(s):
        return sum(math.prod(sh) for a in spec.args
                   for sh in (a.item_shapes(s) if a.kind in LISTS else [a.shape(s)]))

    kw = make(spec, np.float64, rng, sizes(f))
    while True:
        t0 = time.perf_counter()
        fn(**kw)
        took = time.perf_counter() - t0
        if took >= 0.03:
            return kw, took
        want = float(round(f * min(4.0, max(1.25, (0.04 / took) ** (1 / 3)))))  # (whole: n_head still divides C)
        while cells(sizes(want)) > 48e6:
            if want <= f + 1:
                return kw, took
            want = float(round((f + want) / 2))
        f, kw = want, make(spec, np.float64, rng, sizes(want))


def _calls_during(long_call, probes):
    """Run long_call() in a thread while this one calls each probe in turn, over and over;
    returns the long call's window (t0, t1) and, per probe, the (start, end) of each of
    its calls."""
    spans = {name: [] for name in probes}
    window = []
    started = threading.Event()

    def work():
        started.set()
        window.append(time.perf_counter())
        long_call()
        window.append(time.perf_counter())

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    now = time.perf_counter
    while t.is_alive():
        for name, probe in probes.items():
            a = now()
            probe()
            spans[name].append((a, now()))
    t.join()
    return window, spans


# one spec per function (the batched variant)
FIRST = list({s.name: s for s in reversed(TABLE)}.values())[::-1]


@pytest.mark.parametrize("spec", FIRST, ids=lambda s: s.name)
def test_gil_is_released_during_computation(spec, restore_threads):
    tn.set_num_threads(1)
    kw, took = _big_call(spec)
    assert took > 0.005, f"{spec.name}: could not make a call long enough to tell ({took * 1e3:.1f} ms)"
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # holding the GIL would let the other thread in for 0.1 ms at most
    try:
        # A held GIL gives no stamp in the middle on any attempt; a free one can still
        # give none when other processes take both cores for the whole window, hence
        # several attempts.
        for attempt in range(10):
            fn, args = getattr(tn, spec.name), _copy(kw)
            (t0, t1), spans = _calls_during(lambda: fn(**args), {"stamp": lambda: None})
            lo, hi = t0 + 0.3 * (t1 - t0), t1 - 0.3 * (t1 - t0)
            middle = sum(lo < a < hi for a, _ in spans["stamp"])
            if middle > 0:
                break
    finally:
        sys.setswitchinterval(interval)
    assert middle > 0, (
        f"{spec.name}: no Python code ran in the middle of a {1e3 * (t1 - t0):.0f} ms call: the GIL was held")


@pytest.mark.parametrize("team", [1, 2], ids=["one-thread", "two-threads"])
def test_calls_never_wait_for_each_other(team, restore_threads):
    """While one thread is inside a long C call, another thread's calls -- of every
    function -- start and finish in the middle of it: nothing in the engine (a lock, its
    thread team, a shared buffer) makes one caller wait for another.  With a team of
    two, the long call holds the team and the other caller's calls run on their own
    thread.  (Whether the two calls then go twice as fast as one is a question of free
    cores, for the benchmarks: BENCHMARKS.md's two-thread rows.)"""
    tn.set_num_threads(team)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((512, 512))
    t0 = time.perf_counter()
    tn.linear_forward(rng.standard_normal((1024, 512)), W)
    rows = 1024 * max(1, min(64, int(0.3 / (time.perf_counter() - t0))))
    x = rng.standard_normal((rows, 512))  # one call of ~0.3 s
    # the probes: every function, at the error matrix's small sizes, on copies
    probes = {}
    for spec in FIRST:
        kw = make(spec, np.float64, np.random.default_rng(1))
        probes[spec.name] = (lambda fn, kw: lambda: fn(**_copy(kw)))(getattr(tn, spec.name), kw)
    for attempt in range(3):
        (t0, t1), spans = _calls_during(lambda: tn.linear_forward(x, W), probes)
        lo, hi = t0 + 0.2 * (t1 - t0), t1 - 0.2 * (t1 - t0)
        missing = [name for name, sp in spans.items() if not any(lo < a and b < hi for a, b in sp)]
        if not missing:
            break
    assert not missing, (
        f"no call of {missing} ran in the middle of a {1e3 * (t1 - t0):.0f} ms call in another thread:"
        " they waited for it")


# --------------------------------------------------------- concurrent callers


def _medium(spec, dtype=np.float64):
    """Arguments big enough for the parallel paths: single products of more than twice
    TN_GEMM_FLOPS_PER_THREAD (5 MFLOP: the (N, D) functions' 120 x 160 -> 200 is 7.7),
    recurrences' states of 32 x 80 (and for the GIL to be released)."""
    rnn = "T" in spec.sizes or "n" in spec.sizes
    rows = {"N", "D"} <= spec.sizes.keys()  # (linear and the fused linear layers)
    return make(spec, dtype, np.random.default_rng(7), _scaled(spec, 16 if rnn else 40 if rows else 24))


@pytest.mark.parametrize("toggle", [False, True], ids=["fixed-threads", "changing-threads"])
def test_eight_threads_get_serial_bits(toggle, restore_threads):
    cases = [(spec, _medium(spec, dt)) for spec in TABLE for dt in (np.float64, np.float32)]
    want = [_call(spec, kw) for spec, kw in cases]
    errors, stop = [], threading.Event()

    def caller(seed):
        order = list(range(len(cases))) * 2
        random.Random(seed).shuffle(order)
        try:
            for i in order:
                spec, kw = cases[i]
                if not _same_bits(_call(spec, kw), want[i]):
                    errors.append(f"{spec.id}: different bits in a concurrent call")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def toggler():
        k = 0
        while not stop.is_set():
            tn.set_num_threads(1 + k % 4)
            k += 1
            time.sleep(0.0005)

    threads = [threading.Thread(target=caller, args=(s,)) for s in range(8)]
    extra = threading.Thread(target=toggler) if toggle else None
    for t in threads + ([extra] if extra else []):
        t.start()
    for t in threads:
        t.join()
    stop.set()
    if extra:
        extra.join()
    assert not errors, errors[:5]


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.id)
def test_same_bits_for_any_thread_count(spec, restore_threads):
    for dtype in (np.float64, np.float32):
        kw = _medium(spec, dtype)
        tn.set_num_threads(1)
        want = _call(spec, kw)
        for n in (2, 3, 4, 8, 1):
            tn.set_num_threads(n)
            for _ in range(2):
                assert _same_bits(_call(spec, kw), want), f"{n} threads changed the bits ({np.dtype(dtype).name})"


#: Values from which GELU, layer norm and the optimizers' *_foreach_ (SGD's: 8 times as many)
#: split their work between threads (TN_EW_PER_THREAD, csrc/tn_internal.h): the sizes
#: above are below it.
EW_PER_THREAD = 32768


def _elementwise_calls(dtype):
    """(name, call) of the functions that split their values (or rows, or the values of a
    list of tensors) between threads, on inputs of a few threads' worth whose ranges end
    inside GELU's blocks of 512 values, layer norm's rows and blocks of 128 rows, and the
    optimizers' tensors; each call works on its own copies and returns what it made."""
    rng = np.random.default_rng(11)
    n = 3 * EW_PER_THREAD + 77
    x, dy = (rng.standard_normal(n).astype(dtype) * 3 for _ in range(2))
    N, C = 3 * EW_PER_THREAD // 2 // 50 + 3, 50  # rows of 50 values: 3 threads' worth and some
    xs, dys = (rng.standard_normal((N, C)).astype(dtype) for _ in range(2))
    w, b = (rng.standard_normal(C).astype(dtype) for _ in range(2))
    y, mean, rstd = tn.layernorm_forward(xs, w, b)
    calls = []
    for form in ("none", "tanh"):
        calls += [(f"gelu_forward {form}", lambda form=form: [tn.gelu_forward(x, approximate=form)]),
                  (f"gelu_backward {form}", lambda form=form: [tn.gelu_backward(dy, x, approximate=form)])]
    for wb in ((w, b), (None, None)):
        calls += [(f"layernorm_forward weight={wb[0] is not None}", lambda wb=wb: list(tn.layernorm_forward(xs, *wb))),
                  (f"layernorm_backward weight={wb[0] is not None}",
                   lambda wb=wb: [a for a in tn.layernorm_backward(dys, xs, wb[0], mean, rstd) if a is not None])]
    # 9 tensors of 57600 .. 95488 values (689k in all: two threads for SGD too), one
    # skipped (a None gradient)
    shapes = [(128, 450 + 37 * k) for k in range(9)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads[4] = None
    states = [np.abs(rng.standard_normal(s)).astype(dtype) for s in shapes]
    steps = np.array([0, 3] * 4 + [1], dtype=np.int64)

    def optimizer(name, nstate, **kw):
        def call():
            ps, ss, st = [p.copy() for p in params], [[s.copy() for s in states] for _ in range(nstate)], steps.copy()
            getattr(tn, name)(ps, grads, *(ss or [None]), st if nstate else None, **kw)
            return ps + [s for group in ss for s in group] + [st]
        return call

    calls += [("sgd_foreach_", optimizer("sgd_foreach_", 0, lr=0.1)),
              ("sgd_foreach_ momentum", optimizer("sgd_foreach_", 1, lr=0.1, momentum=0.9, weight_decay=0.01)),
              ("adam_foreach_", optimizer("adam_foreach_", 2, lr=1e-2, weight_decay=0.1)),
              ("adam_foreach_ l2", optimizer("adam_foreach_", 2, lr=1e-2, weight_decay=0.1, decoupled=False)),
              ("adagrad_foreach_", optimizer("adagrad_foreach_", 1, lr=0.1, lr_decay=0.01))]
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_split_between_threads_give_the_bits_of_one(dtype, restore_threads):
    """GELU, layer norm and the *_foreach_ optimizers on inputs big enough to split give
    one thread's bits on 2, 3 and 4 threads."""
    calls = _elementwise_calls(dtype)
    tn.set_num_threads(1)
    want = [call() for _, call in calls]
    for n in (2, 3, 4):
        tn.set_num_threads(n)
        for (name, call), w in zip(calls, want):
            assert _same_bits(call(), w), f"{name}: {n} threads changed the bits"


# ---------------------------------------------------------------- the default count

def _default_threads(env=None, cpus=None, cgroup_procs=None):
    """get_num_threads() in a fresh interpreter with TINYNET_NUM_THREADS as given (None:
    unset), pinned to the CPUs `cpus` (None: as this process) and moved into a cgroup
    first (the path of its cgroup.procs; None: this process's)."""
    code = ["import os"]
    if cgroup_procs:
        code.append(f"open({str(cgroup_procs)!r}, 'w').write(str(os.getpid()))")
    if cpus is not None:
        code.append(f"os.sched_setaffinity(0, {set(cpus)!r})")
    code.append("import tinynet; print(tinynet.get_num_threads())")
    environ = {k: v for k, v in os.environ.items() if k != "TINYNET_NUM_THREADS"}
    if env is not None:
        environ["TINYNET_NUM_THREADS"] = env
    out = subprocess.run([sys.executable, "-c", "\n".join(code)], env=environ, capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no sched_setaffinity here")


@needs_affinity
def test_default_is_one_thread_per_cpu_this_process_may_use():
    """One per online CPU, fewer when the affinity mask allows fewer (taskset, a
    container's cpuset: where sysconf still counts every CPU of the host)."""
    mine = sorted(os.sched_getaffinity(0))
    ambient = _default_threads(cpus=mine)  # all of them (a cgroup quota may allow fewer)
    assert 1 <= ambient <= len(mine)
    assert _default_threads(cpus=mine[:1]) == 1
    if len(mine) >= 2:
        assert _default_threads(cpus=mine[:2]) == min(2, ambient)
    assert _default_threads(env="3", cpus=mine[:1]) == 3  # the variable decides when set
    assert _default_threads(env="0", cpus=mine[:1]) == 1  # 0: the default


def _v1_cpu_cgroup():
    """A fresh cgroup (v1 cpu controller) to put a child process in, or a skip."""
    root = pathlib.Path("/sys/fs/cgroup/cpu")
    if not (root / "cpu.cfs_quota_us").is_file() or not os.access(root, os.W_OK):
        pytest.skip("no writable cgroup v1 cpu controller here")
    own = next((line.split(":", 2)[2] for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines()
                if "cpu" in line.split(":")[1].split(",")), None)
    if own is None:
        pytest.skip("this process has no cgroup v1 cpu controller")
    try:
        d = pathlib.Path(tempfile.mkdtemp(prefix="tinynet-", dir=root / own.lstrip("/")))
    except OSError as e:
        pytest.skip(f"cannot make a cgroup here: {e}")
    return d


@needs_affinity
def test_default_counts_a_cgroup_cpu_quota():
    """A CPU quota (docker --cpus) caps the default at the quota rounded up, the smallest
    over the process's cgroup and those above it."""
    outer = _v1_cpu_cgroup()
    inner = outer / "inner"
    try:
        inner.mkdir()
        ambient = _default_threads()  # this process's CPUs, and any quota above the new groups
        (outer / "cpu.cfs_period_us").write_text("100000")
        (inner / "cpu.cfs_period_us").write_text("100000")
        for quota, want in [(100000, 1), (50000, 1), (150000, 2), (-1, ambient)]:
            (outer / "cpu.cfs_quota_us").write_text(str(quota))
            assert _default_threads(cgroup_procs=inner / "cgroup.procs") == min(want, ambient), quota
        (outer / "cpu.cfs_quota_us").write_text("100000")
        assert _default_threads(env="2", cgroup_procs=inner / "cgroup.procs") == 2  # the variable decides
    finally:
        for d in (inner, outer):
            for _ in range(50):  # the children have exited; the kernel may take a moment to empty the group
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
