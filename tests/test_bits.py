"""The C engine's exact bits, recorded: every public function (each variant of the
function table, tests/specs.py), both dtypes, at small sizes (the unpacked paths) and
at sizes that take the packed, blocked and threaded GEMM paths (inner dimensions above
one KC block, the RNN's fused recurrence, the shared weight-gradient products), on 1 and
2 threads.  Each call's outputs (results and in-place updates) are hashed, and the
digests must equal those in tests/bits.json.

This is what shows that a change meant to move code -- the core's reorganisation by
layer, say -- changed no result at all.  A change that is meant to change results (a
different summation order) must regenerate the file on purpose, and say so in its
commit:

    python tests/test_bits.py --write

The digests hold on every instruction set the core dispatches to (the kernels compute
every element with the same operations on all of them: tests/test_determinism.py) and
for any thread count; they assume IEEE libm functions (exp, log, sqrt, pow) that round
as glibc's do on this project's machines (Debian 12).
"""
import hashlib
import json
import pathlib
import sys

import numpy as np
import pytest

import tinynet as tn
from specs import TABLE, make
from test_threads import _outputs, _scaled

BITS = pathlib.Path(__file__).with_name("bits.json")


def _sizes(spec):
    """(label, sizes): the table's small sizes and larger ones for the packed paths."""
    yield "small", spec.sizes
    rnn = "T" in spec.sizes or "n" in spec.sizes
    yield "medium", _scaled(spec, 16 if rnn else 24)
    if spec.name.startswith("linear"):  # (and the fused blocks: linear_batchnorm_tanh_*, linear_cross_entropy)
        pick = lambda sizes: {k: v for k, v in sizes.items() if k in spec.sizes}
        yield "large", pick(dict(N=70, D=300, H=270, V=270, B=7, T=10))  # K above one KC block in every product
        yield "direct", pick(dict(N=32, D=30, H=200, V=27, B=4, T=8))  # makemore's: the direct GEMM path
    if spec.name in ("rnn_forward", "rnn_backward"):
        yield "large", dict(T=5, B=40, D=300, H=270)
    if spec.name.startswith(("lstm", "gru")):
        yield "large", dict(T=5, B=40, D=300, H=70)  # D and 4H (3H) above one KC block
    if spec.name.startswith("attention"):
        yield "gpt", dict(B=32, T=16, C=64, n=4)  # the GPT training step's: heads of 16
        yield "large", dict(B=2, T=300, C=128, n=2)  # rows of 300, heads of 64


def _digest(outputs):
    h = hashlib.sha256()
    for a in outputs:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def cases():
    for spec in TABLE:
        for label, sizes in _sizes(spec):
            for dtype in (np.float64, np.float32):
                yield f"{spec.id}-{label}-{np.dtype(dtype).name}", spec, sizes, dtype


def run(spec, sizes, dtype):
    kw = make(spec, dtype, np.random.default_rng(1234), sizes)
    return _digest(_outputs(spec, kw, getattr(tn, spec.name)(**kw)))


def compute(threads):
    before = tn.get_num_threads()
    tn.set_num_threads(threads)
    try:
        return {cid: run(spec, sizes, dtype) for cid, spec, sizes, dtype in cases()}
    finally:
        tn.set_num_threads(before)


@pytest.fixture(scope="module")
def recorded():
    return json.loads(BITS.read_text())


@pytest.mark.parametrize("threads", [1, 2])
def test_outputs_have_the_recorded_bits(recorded, threads):
    got = compute(threads)
    assert sorted(got) == sorted(recorded), (
        "the cases changed (a new function or variant?): regenerate tests/bits.json with "
        "`python tests/test_bits.py --write` and say why in the commit")
    changed = [cid for cid in got if got[cid] != recorded[cid]]
    assert not changed, f"{len(changed)} of {len(got)} calls give other bits than recorded: {changed[:10]}"


def test_the_recording_covers_every_function(recorded):
    names = {cid.split("-")[0].split("[")[0] for cid in recorded}
    assert names == set(tn.FUNCTIONS)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_bits.py --write   (records the current build's digests)")
    one, two = compute(1), compute(2)
    assert one == two, [k for k in one if one[k] != two[k]]
    BITS.write_text(json.dumps(one, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(one)} digests to {BITS}")
