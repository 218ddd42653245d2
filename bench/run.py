"""tinynet's benchmark suite: one command, every case, every peer, one table.

    python bench/run.py                   # full run, threads 1 and 2
    python bench/run.py --quick           # fewer repeats
    python bench/run.py --write           # ... and regenerate BENCHMARKS.md
    python bench/run.py --threads 1 --only makemore,linear --repeats 15
    python bench/run.py --quick --only gpt,attention --no-compile   # smoke test of the transformer cases
    python bench/run.py --from-json results.json --output B.md   # render a recorded run

For every case it prints tinynet's median time per step, each peer's median measured in
the same run, and the ratio peer / tinynet (> 1: tinynet is faster).  Method:

* warm-up first, then each engine gets a loop count so one timed loop lasts >= 20 ms;
* each repeat times one such loop per engine, the engines interleaved (their order
  rotates from repeat to repeat) so that the noise of this shared machine hits all alike;
  the report is the median over the repeats (11 by default, 3 with --quick) with the spread;
* tinynet (set_num_threads), NumPy's BLAS (threadpoolctl) and PyTorch (set_num_threads)
  run at the same thread count;
* before timing, each case's result from tinynet (and from every peer) is checked against
  the NumPy engine (float64: 1e-10, float32: 1e-4, relative to the array's scale); a
  wrong result is reported as such and never as a time.

bench/ is self-contained: it imports tinynet from this checkout (the in-place build),
and needs numpy, threadpoolctl and, optionally, torch (bench/requirements.txt).  This
file is the command line; bench/README.md says which module does what.
"""
import argparse
import importlib.util
import pathlib
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


import_tinynet()
if importlib.util.find_spec("threadpoolctl") is None:
    sys.exit("bench/run.py needs threadpoolctl to run NumPy's BLAS at the same thread count as tinynet:\n"
             "    pip install -r bench/requirements.txt")

import cases as C  # noqa: E402
from console import print_goals, print_header, print_memory, print_profile  # noqa: E402
from environment import build_id, environment, loadavg  # noqa: E402
from goals import BASELINE, load_baseline, makemore_goals, peer_goals  # noqa: E402
from profiling import run_profile  # noqa: E402
from report import SECTION_GROUPS, write_markdown, write_section  # noqa: E402
from results import Run, read_json, write_json  # noqa: E402
from suite import GROUPS, run_cases, run_memory, select_cases  # noqa: E402
from timing import Threads, fma_peak  # noqa: E402
from wavenet import wavenet_setup  # noqa: E402
import gpt  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repeats and a smaller profile")
    ap.add_argument("--repeats", type=int, help="repeats per engine (default 11, 3 with --quick)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--target-ms", type=float, default=20.0, help="length of one timed loop (default 20 ms)")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated subset of {','.join(GROUPS)} (default: all)")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each case, wait up to SECONDS for other processes to leave the cores free "
                         "(default 0: do not wait; contended cases are flagged either way)")
    ap.add_argument("--no-compile", action="store_true",
                    help="skip the torch.compile peer of the GPT step (recorded as skipped): compiling the model "
                         "is slow, once per thread count")
    ap.add_argument("--steps", type=int, default=200, help="training steps of the memory case (default 200)")
    ap.add_argument("--write", action="store_true",
                    help="regenerate BENCHMARKS.md from this run (with --only a subset of gpt,attention,profile: "
                         "rewrite its transformer cases' section alone)")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="where --write and --from-json write")
    ap.add_argument("--json", metavar="PATH", help="also dump all raw numbers as JSON")
    ap.add_argument("--from-json", metavar="PATH",
                    help="measure nothing: write the markdown (to --output) from a run recorded with --json")
    ap.add_argument("--baseline", default=str(BASELINE), metavar="PATH",
                    help="the --json of a run before the fused calls, for the makemore goals and the "
                         f"before/after (default: bench/{BASELINE.name})")
    args = ap.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.repeats is None:
        args.repeats = 3 if args.quick else 11
    args.only = [g.strip() for g in args.only.split(",") if g.strip()]
    bad = [g for g in args.only if g not in GROUPS]
    if bad:
        ap.error(f"--only: unknown {bad}; choose from {GROUPS}")
    if args.write and set(args.only) != set(GROUPS) and not set(args.only) <= SECTION_GROUPS:
        ap.error("--write regenerates the whole BENCHMARKS.md: run all cases (no --only), or only "
                 f"{','.join(sorted(SECTION_GROUPS))} to rewrite the transformer cases' section alone")
    return args


def measure_all(args):
    """Every selected case at every thread count, then the memory run and the profile."""
    env = environment(args)
    cpu = env["cpu"]
    if max(args.threads) > (cpu["cpus"] or 1):
        print(f"[bench] warning: {max(args.threads)} threads on {cpu['cpus']} usable CPUs", file=sys.stderr)
    print_header(env, args)
    peak = fma_peak(3 if args.quick else 5)
    print(f"per-core FMA peak: float32 {peak['float32']:.1f} GFLOP/s, float64 {peak['float64']:.1f} GFLOP/s")
    pool = None
    if {"makemore", "memory", "profile"} & set(args.only):
        pool, source = C.makemore_setup()
        env["makemore_data"] = source
        print(f"makemore data: {source}")
    wavenet_pool = None
    if "wavenet" in args.only:
        wavenet_pool, source = wavenet_setup()
        env["wavenet_data"] = source
        print(f"WaveNet data: {source}")
    gpt_pool = None
    if "gpt" in args.only:
        gpt_pool, source = gpt.gpt_setup()
        env["gpt_data"] = source
        print(f"GPT data: {source}")
    gpt.NO_COMPILE[0] = args.no_compile
    cases = select_cases(args.only, pool, wavenet_pool, gpt_pool)
    run = Run(env=env, peak=peak, cases=cases, results=run_cases(cases, args, peak))
    env["threads_actual"] = {n: next(iter(r.values()))["threads_actual"] for n, r in run.results.items() if r}
    if "memory" in args.only:
        with Threads(args.threads[0]):
            run.memory = run_memory(pool, args.steps)
        print_memory(run.memory)
    if "profile" in args.only:
        run.profile = run_profile(args, pool, gpt_pool)
        print_profile(run.profile)
    return run


def judge(run, base):
    """Both sets of goals, printed: (peer goals, makemore goals)."""
    peer_rows = peer_goals(run)
    print_goals(peer_rows, "every case against its peers")
    step_rows = makemore_goals(run, base)
    print_goals(step_rows, "the makemore step, no regressions")
    return peer_rows, step_rows


def render_from_json(args):
    """--from-json: the markdown of a recorded run, its goals judged again."""
    run = read_json(args.from_json)
    base = load_baseline(args.baseline)
    peer_rows, step_rows = judge(run, base)
    if {c.group for c in run.cases} <= SECTION_GROUPS:
        write_section(pathlib.Path(args.output), run, peer_rows)
        print(f"wrote the transformer cases' section of {args.output}")
        return 0
    write_markdown(pathlib.Path(args.output), run, peer_rows, step_rows, base)
    print(f"wrote {args.output}")
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        return render_from_json(args)
    t_start = time.perf_counter()
    run = measure_all(args)
    base = load_baseline(args.baseline)
    peer_rows, step_rows = judge(run, base)
    run.env["loadavg_end"] = loadavg()
    if build_id() != run.env["build"]:
        run.env["rebuilt"] = True
        print("[bench] warning: tinynet's extension file changed during this run (rebuilt); rerun for numbers "
              "from a single build", file=sys.stderr)
    run.total_s = time.perf_counter() - t_start
    print(f"\ntotal {run.total_s:.0f} s")
    if args.write and set(args.only) != set(GROUPS):
        write_section(pathlib.Path(args.output), run, peer_rows)
        print(f"wrote the transformer cases' section of {args.output}")
    elif args.write:
        write_markdown(pathlib.Path(args.output), run, peer_rows, step_rows, base)
        print(f"wrote {args.output}")
    if args.json:
        write_json(args.json, run, peer_rows)
        print(f"wrote {args.json}")
    failed = [k for n in run.results for k, v in run.results[n].items()
              if not all(v["guard"][e][0] for e in C.TINYNET_ENGINES if e in v["guard"])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
