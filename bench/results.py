"""The results of a run: what they hold, the ratios and rates read from them, and the
JSON file that `--json` writes and `--from-json` reads back."""
import dataclasses
import json
import pathlib

import attention
import cases as C
import gpt
import wavenet


@dataclasses.dataclass
class Run:
    """One run of the suite.  results: {threads: {case key: {"guard": {engine: (ok, rel
    err, where)}, "times": {engine: stats}, "foreign_load": CPUs or None}}}; memory and
    profile are None when not run; total_s is the run's length in seconds."""

    env: dict
    peak: dict
    cases: list
    results: dict
    memory: dict = None
    profile: dict = None
    total_s: float = None


def ratio(res, name, of=C.TN):
    """The peer `name`'s median over the engine `of`'s (tinynet's) in one case's result
    (> 1: `of` is faster)."""
    t = res["times"]
    if of not in t or name not in t:
        return None
    return t[name]["median"] / t[of]["median"]


def gflops(case, res, name=C.TN):
    """GEMM GFLOP/s of engine `name` in one case's result."""
    t = res["times"].get(name)
    return case.flops / t["median"] / 1e9 if t else None


def to_json(run, goal_rows):
    """The run as the JSON that --json writes (goal_rows: the goals of goals.peer_goals)."""
    cases = [{"key": c.key, "group": c.group, "label": c.label, "dtype": c.dtype.name, "flops": c.flops,
              "engines": [e.name for e in c.engines]} for c in run.cases]
    return {"env": {**run.env, "total_s": run.total_s}, "peak": run.peak, "memory": run.memory,
            "profile": run.profile, "cases": cases,
            "goals": [{"goal": g, "threads": n, "measured": m, "met": met, "note": note}
                      for g, n, m, met, note in goal_rows],
            "results": {str(n): {k: {"guard": v["guard"], "times": v["times"], "foreign_load": v.get("foreign_load"),
                                     "skipped": v.get("skipped", {})}
                                 for k, v in r.items()} for n, r in run.results.items()}}


def write_json(path, run, goal_rows):
    pathlib.Path(path).write_text(json.dumps(to_json(run, goal_rows), indent=1, default=str))


def all_cases(have_torch):
    """Every case the suite knows, in the report's order (no data: built to be described,
    not run)."""
    return (C.hello_cases(have_torch) + C.makemore_cases(have_torch, None) + wavenet.wavenet_cases(have_torch, None)
            + gpt.gpt_cases(have_torch, None) + attention.attention_cases(have_torch) + C.charrnn_cases(have_torch)
            + C.gated_cases(have_torch) + C.gemm_cases(have_torch))


def recorded_cases(blob, results):
    """The cases of a results file: as it records them, or (a file written before it
    recorded them) the suite's cases that have results, with the engines that ran."""
    if "cases" in blob:
        return [C.Case(c["key"], c["group"], c["label"], c["dtype"], c["flops"],
                       [C.Engine(name, None) for name in c["engines"]], None) for c in blob["cases"]]
    ran = {}
    for r in results.values():
        for key, res in r.items():
            ran.setdefault(key, set()).update(res["guard"])
    cases = [c for c in all_cases(blob["env"]["torch"] is not None) if c.key in ran]
    for c in cases:
        c.engines = [e for e in c.engines if e.name in ran[c.key]]
    return cases


def read_json(path):
    """A Run from a file written by --json (the JSON's string keys and lists made back
    into the thread counts and tuples the report reads)."""
    blob = json.loads(pathlib.Path(path).read_text())
    results = {int(n): {k: {"guard": {e: tuple(g) for e, g in v["guard"].items()}, "times": v["times"],
                            "foreign_load": v.get("foreign_load"), "skipped": v.get("skipped", {})}
                        for k, v in r.items()}
               for n, r in blob["results"].items()}
    env = dict(blob["env"])
    total_s = env.pop("total_s", None)
    prof = blob.get("profile")
    if prof:
        prof["threads"] = int(prof["threads"])
    return Run(env=env, peak=blob["peak"], cases=recorded_cases(blob, results), results=results,
               memory=blob.get("memory"), profile=prof, total_s=total_s)

