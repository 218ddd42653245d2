"""bench/'s transformer cases, smoke-tested: the GPT step and attention alone build, every
engine passes the correctness guard (makemore's PyTorch model and tinynet's compute the
same float64 loss and gradients first), run.py documents the cases and their options, and
the goals note what an unmet goal would ask of the products."""
import importlib.util
import pathlib
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench():
    """bench/'s modules, imported as run.py imports them (bench/ on sys.path)."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(BENCH))
    try:
        import attention
        import cases
        import gpt

        yield cases, gpt, attention
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def bench_goals():
    """bench/'s cases and goals modules, which need neither torch nor threadpoolctl."""
    sys.path.insert(0, str(BENCH))
    try:
        import cases
        import goals

        yield cases, goals
    finally:
        sys.path.remove(str(BENCH))


def test_gpt_step_passes_the_guard(bench):
    cases, gpt, _ = bench
    pool, _ = gpt.gpt_setup()
    gpt.NO_COMPILE[0] = True
    try:
        (case,) = gpt.gpt_cases(True, pool[:2])
        skipped = {}
        result = cases.guard(case, skipped)
    finally:
        gpt.NO_COMPILE[0] = False
    assert skipped == {cases.TORCH_COMPILE: "--no-compile"}
    for engine in (cases.TN, cases.REF, cases.TORCH):
        ok, err, where = result[engine]
        assert ok, f"{engine}: {err:.1e} in {where}"


def test_attention_passes_the_guard(bench):
    cases, _, attention = bench
    small = [c for c in attention.attention_cases(True) if c.key == "attention-T16"]
    result = cases.guard(small[0])
    assert set(result) == {cases.TN, cases.REF, cases.TORCH}
    assert all(ok for ok, _, _ in result.values()), result


def test_adam_updated_parameters_are_compared_where_the_gradient_is_not_noise(bench):
    cases, _, _ = bench
    want = {"p": np.array([1.0, 2.0, 3.0]), "dp": np.array([1.0, 1e-9, -1.0])}
    got = {"p": np.array([1.0, 2.5, 3.0]), "dp": np.array([1.0, -1e-9, -1.0])}
    assert cases.compare(got, want, np.float32, masked_by={"p": "dp"})[0]
    assert not cases.compare(got, want, np.float32)[0]


def test_run_help_documents_the_transformer_cases():
    if importlib.util.find_spec("threadpoolctl") is None:
        pytest.skip("bench/run.py needs threadpoolctl")
    out = subprocess.run([sys.executable, str(BENCH / "run.py"), "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "--no-compile" in out and "gpt" in out and "attention" in out and "--quick" in out


def test_an_unmet_ratio_goal_notes_the_time_its_products_take_at_the_peak(bench_goals):
    """A goal's row says how much of the time per step it allows the case's products alone
    take at the FMA peak (so a goal beyond the machine shows as one); a met goal and a
    case without flops get no such note."""
    cases, goals = bench_goals
    f32 = np.dtype(np.float32)
    run = SimpleNamespace(
        env={"cpu": {"cpus": 2}, "threads": [1, 2]}, peak={"float32": 100.0},
        cases=[SimpleNamespace(key="k", flops=1e11, dtype=f32), SimpleNamespace(key="nf", flops=0, dtype=f32)],
        results={n: {key: {"times": {cases.TN: {"median": 2.0}, cases.TORCH: {"median": 4.0}},
                           "guard": {cases.TN: (True, 0.0, "")}} for key in ("k", "nf")} for n in (1, 2)})
    rows = goals.GoalRows(run)
    rows.check("k ≥ 3×", 1, "k", 3.0, cases.TORCH)   # allows 4/3 s; 1e11 flops at 100 GFLOP/s: 1 s
    rows.check("k ≥ 3× on 2", 2, "k", 3.0, cases.TORCH)  # the same on two cores: 0.5 s
    rows.check("k ≥ 2×", 1, "k", 2.0, cases.TORCH)
    rows.check("nf ≥ 3×", 1, "nf", 3.0, cases.TORCH)
    (_, _, text, met, note), two, ok, no_flops = rows
    assert (text, met) == ("2.00×", False)
    assert note == "3× needs ≤ 1.33 s a step; its products alone take 1 s at the FMA peak (75% of that)"
    assert two[4].endswith("take 500 ms at the FMA peak (38% of that)")
    assert ok[3:] == (True, "") and no_flops[3:] == (False, "")


def test_the_gpt_paragraph_says_what_an_unmet_goal_leaves_the_products(bench_goals):
    """The time a GPT goal allows, less the other calls, left to the products as a rate
    against the peak; "less than those calls alone" when nothing is left; nothing for
    goals that are met."""
    cases, goals = bench_goals
    times = {cases.TN: {"median": 5e-3}, cases.TORCH: {"median": 12e-3}, cases.TORCH_COMPILE: {"median": 6e-3}}
    run, peak = SimpleNamespace(results={1: {"gpt-float32": {"times": times}}}), {"float32": 200.0}
    text = goals.gpt_goal_text(run, peak, 1, 600e6, 1e-3)
    # eager: 4 ms allowed, 3 ms left, 200 GFLOP/s = 100% of peak; compile: 2 ms allowed, 1 ms left
    assert "3× PyTorch allows 4 ms a step, which leaves the products 3 ms: 200 GFLOP/s, 100% of the FMA peak" in text
    assert "3× PyTorch compile allows 2 ms a step, which leaves the products 1 ms: 600 GFLOP/s, 300%" in text
    assert "less than those calls alone" in goals.gpt_goal_text(run, peak, 1, 600e6, 5e-3)
    times[cases.TORCH]["median"] = times[cases.TORCH_COMPILE]["median"] = 16e-3
    assert goals.gpt_goal_text(run, peak, 1, 600e6, 1e-3) == ""
