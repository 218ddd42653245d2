"""Shared test helpers: one tolerance table, comparisons that say where they fail; the
hypothesis profiles; the `slow` marker."""
import os
import pathlib

import numpy as np
import pytest

import tinynet
import tinynet.data
import tinynet.reference as ref

# One tolerance table.  Differences are measured against the scale of the expected
# tensor (its max |value|), as llm.c's comparisons do: an element near zero is judged
# by the size of the whole result, not by its own tiny magnitude.
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}

DTYPES = [np.float64, np.float32]


def assert_close(actual, expected, name="value", rtol=None, scalar_rtol=1e-10, min_scale=0.0):
    """actual ~= expected within the dtype's tolerance; on failure, report the
    tensor, the max difference and where it is.  Python floats (losses) are compared
    with scalar_rtol: pass the array dtype's tolerance when they come from float32 work.
    min_scale is a floor for the scale (for results that may cancel to about 0 while
    their terms do not: give the terms' size)."""
    if expected is None:
        assert actual is None, f"{name}: expected None, got {type(actual).__name__}"
        return
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), f"{name}: keys {sorted(actual)} != {sorted(expected)}"
        for k in expected:
            assert_close(actual[k], expected[k], f"{name}[{k!r}]", rtol, scalar_rtol, min_scale)
        return
    if isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected), f"{name}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{name}[{i}]", rtol, scalar_rtol, min_scale)
        return
    if isinstance(expected, float):
        tol = rtol if rtol is not None else scalar_rtol
        if np.isnan(expected) or np.isinf(expected):
            assert actual == expected or (np.isnan(actual) and np.isnan(expected)), f"{name}: {actual!r} != {expected!r}"
        else:
            limit = tol * max(abs(expected), min_scale)
            assert abs(actual - expected) <= limit, f"{name}: {actual!r} != {expected!r} (rtol {tol})"
        return
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, f"{name}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{name}: dtype {a.dtype} != {e.dtype}"
    if a.size == 0:
        return
    if a.dtype.kind in "iub":
        bad = np.flatnonzero(a != e)
        assert bad.size == 0, f"{name}: {bad.size} elements differ, first at {np.unravel_index(bad[0], a.shape)}"
        return
    tol = rtol if rtol is not None else RTOL[a.dtype]
    a, e = a.reshape(-1) if a.ndim == 0 else a, e.reshape(-1) if e.ndim == 0 else e
    # NaN and +-inf must sit in the same places; the rest is compared by value
    special_a, special_e = ~np.isfinite(a), ~np.isfinite(e)
    assert np.array_equal(special_a, special_e), f"{name}: NaN/inf positions differ"
    same = (np.isnan(a) & np.isnan(e)) | (a == e)
    assert np.all(same[special_e]), f"{name}: NaN/inf values differ"
    fin = ~special_e
    scale = max(np.max(np.abs(e[fin]), initial=0.0), min_scale)
    diff = np.zeros(a.shape)
    diff[fin] = np.abs(a[fin].astype(np.float64) - e[fin].astype(np.float64))
    limit = tol * scale
    worst = np.unravel_index(np.argmax(diff), a.shape)
    assert diff.max() <= limit, (
        f"{name}: max |diff| {diff.max():.3e} at {worst} (actual {a[worst]!r}, expected {e[worst]!r}); "
        f"tolerance {tol} x scale {scale:.3e}"
    )


def data_dir():
    """Where names.txt lives for the tests: the copy inside the package (tinynet/names.txt)."""
    return pathlib.Path(tinynet.data.__file__).resolve().parent


@pytest.fixture
def names_path():
    p = data_dir() / "names.txt"
    if not p.exists():
        pytest.skip(f"names.txt not found at {p}; set TINYNET_DATA")
    return p


ENGINES = {"c": tinynet, "numpy": ref}


# ------------------------------------------------------------------ hypothesis profiles
# HYPOTHESIS_PROFILE=ci (the default): a fixed seed and a few dozen examples per test, so
# the suite is fast and every run tries the same cases.  HYPOTHESIS_PROFILE=long: 20,000
# random examples per test (run by hand; see tests/test_properties.py).
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip themselves
    pass
else:
    _quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    settings.register_profile("ci", max_examples=40, derandomize=True, database=None, deadline=None,
                              suppress_health_check=_quiet, print_blob=True)
    settings.register_profile("long", max_examples=20_000, database=None, deadline=None,
                              suppress_health_check=_quiet, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ------------------------------------------------------------------------ slow tests


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run the tests marked slow (or TINYNET_SLOW=1)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long variants, skipped unless --runslow or TINYNET_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("TINYNET_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or TINYNET_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
