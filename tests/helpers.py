"""Helpers of the layers' tests (tests/test_<layer>.py): the engine comparison and the
finite-difference check every layer's functions go through.

* The engine comparison: `check(name, *args)` calls the C engine and the NumPy engine
  (tinynet.reference) on the same arguments, checks that neither modified an input, and
  compares the results within conftest's tolerance table; `both` returns the two
  results for a comparison of one's own.  `layouts` / `relayout` give the same values
  in other memory layouts (Fortran, strided, byte-swapped, negative-stride).
* `output_per_instruction_set(code)`: what a program writes under each TINYNET_SIMD, for
  the tests that the bits are the same on every instruction set.
* The finite-difference check of the NumPy engine's backward passes (float64): each
  case builds a scalar loss L = sum(R * output) with a fixed random R, so that the
  backward functions' input dL/doutput is R, and compares every analytic gradient with
  (L(p + eps) - L(p - eps)) / (2 eps), element by element (`numgrad`, `check_grad`).
  With eps = 1e-6 the truncation error is O(eps^2) and the rounding error
  O(1e-16 / eps), so agreement to 1e-7 of the gradient's scale means the backward pass
  is right.  By convention a layer's finite-difference tests are its test file's
  `TestGradients` class.
"""
import os
import subprocess
import sys

import numpy as np

import tinynet as tn
import tinynet.reference as ref
from tinynet._gradcheck import _numerical
from conftest import RTOL, assert_close

# ------------------------------------------------------------------ input layouts


def layouts(a):
    """The same values in other memory layouts."""
    yield "contiguous", a
    if a.ndim >= 2:
        yield "fortran", np.asfortranarray(a)
    wide = np.repeat(a, 2, axis=-1) if a.ndim else a
    yield "strided", wide[..., ::2] if a.ndim else a
    yield "byteswapped", a.astype(a.dtype.newbyteorder())
    if a.ndim:
        yield "negative-stride", np.ascontiguousarray(a[::-1])[::-1]


def relayout(args, kind):
    """args with every float ndarray replaced by its `kind` layout."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            a = dict(layouts(a)).get(kind, a)
        out.append(a)
    return out


LAYOUTS = ["contiguous", "fortran", "strided", "byteswapped", "negative-stride"]

# ------------------------------------------------------------- the engine comparison


def both(name, *args, **kwargs):
    """Call both engines on copies; check the inputs were not modified."""
    before = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    got = getattr(tn, name)(*args, **kwargs)
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=True), f"{name} modified an input"
    want = getattr(ref, name)(*args, **kwargs)
    return got, want


def check(name, *args, **kwargs):
    got, want = both(name, *args, **kwargs)
    floats = [a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    assert_close(got, want, name, scalar_rtol=RTOL[np.dtype(floats[0].type)] if floats else 1e-10)
    return got


def output_per_instruction_set(code):
    """{simd: the bytes the Python program `code` writes to stdout} in fresh interpreters
    under TINYNET_SIMD=avx512, avx2 and generic (each the best this CPU has up to it)."""
    outs = {}
    for simd in ["avx512", "avx2", "generic"]:
        env = dict(os.environ, TINYNET_SIMD=simd)
        outs[simd] = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True).stdout
    return outs


def randn(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------- finite differences

EPS = 1e-6
TOL = 1e-7


def numgrad(loss, p):
    """Central differences of loss() with respect to every element of p (a C-contiguous
    array, perturbed in place and restored): tinynet.gradcheck's own, in p's dtype."""
    return _numerical(loss, p, EPS).astype(p.dtype, copy=False)


def check_grad(name, analytic, numeric):
    scale = max(np.max(np.abs(numeric), initial=0), np.max(np.abs(analytic), initial=0), 1e-300)
    err = np.max(np.abs(analytic - numeric), initial=0) / scale
    assert err < TOL, f"{name}: relative error {err:.2e} (max |grad| {scale:.2e})"


def rand(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale
