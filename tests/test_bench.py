"""bench/'s transformer cases, smoke-tested: the GPT step and attention alone build, every
engine passes the correctness guard (makemore's PyTorch model and tinynet's compute the
same float64 loss and gradients first), and run.py documents the cases and their options."""
import importlib.util
import pathlib
import subprocess
import sys

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
