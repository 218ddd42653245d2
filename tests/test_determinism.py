"""Results are bit-identical for any thread count, across repeated calls, and whichever
GEMM path (small, packed, prepacked with a fused epilogue) or instruction set computes
them: every output element is produced by the same sequence of roundings."""
import sys

import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import assert_close
from helpers import output_per_instruction_set


@pytest.fixture
def restore_threads():
    n = tn.get_num_threads()
    yield
    tn.set_num_threads(n)


def big_case(dtype):
    rng = np.random.default_rng(0)
    T, B, D, H = 12, 32, 40, 96  # large enough for the packed, threaded paths
    return dict(
        x=rng.standard_normal((T, B, D)).astype(dtype),
        h0=rng.standard_normal((B, H)).astype(dtype),
        W_xh=(rng.standard_normal((H, D)) / np.sqrt(D)).astype(dtype),
        W_hh=(rng.standard_normal((H, H)) * 0.7 / np.sqrt(H)).astype(dtype),
        b_h=rng.standard_normal(H).astype(dtype),
        R=rng.standard_normal((T, B, H)).astype(dtype),
        A=rng.standard_normal((300, 700)).astype(dtype),
        W=rng.standard_normal((500, 700)).astype(dtype),
        dY=rng.standard_normal((300, 500)).astype(dtype),
    )


def run_all(c):
    hs = tn.rnn_forward(c["x"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"])
    out = [hs, tn.linear_forward(c["A"], c["W"]), *tn.linear_backward(c["dY"], c["A"], c["W"])]
    out += [g for g in tn.rnn_backward(c["R"], c["x"], c["h0"], hs, c["W_xh"], c["W_hh"]) if g is not None]
    out += [tn.tanh_forward(c["A"])]
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bit_identical_for_any_thread_count(dtype, restore_threads):
    c = big_case(dtype)
    tn.set_num_threads(1)
    want = run_all(c)
    for n in [2, 3, 4, 1]:
        tn.set_num_threads(n)
        for a, b in zip(run_all(c), want):
            assert np.array_equal(a, b), f"{n} threads changed the bits"


def test_bit_identical_across_repeated_calls():
    c = big_case(np.float64)
    first = run_all(c)
    for _ in range(3):
        for a, b in zip(run_all(c), first):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_computed_alone_match_the_batch(dtype):
    """A row through the small (unpacked) GEMM path equals the same row computed in a
    big packed product (K within one cache block)."""
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((64, 200)).astype(dtype), rng.standard_normal((96, 200)).astype(dtype), \
        rng.standard_normal(96).astype(dtype)
    full = tn.linear_forward(x, W, b)
    small_W = W[:8]  # 1 x 8 x 200 products go through the small path
    for i in [0, 5, 63]:
        assert np.array_equal(tn.linear_forward(x[i], small_W, b[:8]), full[i, :8])
        # 1 x 96 x 200: the packed path's one-row kernel
        assert np.array_equal(tn.linear_forward(x[i], W, b), full[i])
        assert np.array_equal(tn.linear_forward(x[i : i + 1], W, b)[0], full[i])


# (N, D, H): products between the small path and the size that gets a second thread (the
# direct path: operands read in place, K <= KC), with edges in every dimension, last
# column panels of half width (H = 200, 72: exactly; 53, 20: overlapping the one before),
# and strides of 4 KiB (H = 1024 float32 / 512 float64: dW's A^T and dx's B are copied
# panel by panel)
#: A single product's flops from which it gets a second thread (2 x TN_GEMM_FLOPS_PER_THREAD,
#: csrc/tn_internal.h).
SECOND_THREAD_FLOPS = 5_000_000
DIRECT_SHAPES = [(32, 30, 200), (27, 200, 32), (7, 17, 53), (2, 40, 61), (16, 64, 72), (8, 100, 20),
                 (48, 4, 1024), (4, 1024, 40), (24, 4, 512), (4, 512, 24)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", DIRECT_SHAPES, ids=str)
def test_direct_path_matches_the_packed_path(dtype, shape, restore_threads):
    """linear_forward / linear_backward on direct-path sizes give the bits of the same
    rows inside products big enough for two threads (the batch padded with zero rows past
    SECOND_THREAD_FLOPS and more than KC rows, which add exact zeros to dW's and db's
    sums): y and dx from the direct path's team, dW (K > KC) from the packed path -- and
    agree with the NumPy engine."""
    N, D, H = shape
    rng = np.random.default_rng(N * D + H)
    x, W, b = (rng.standard_normal(s).astype(dtype) for s in ((N, D), (H, D), (H,)))
    dy = rng.standard_normal((N, H)).astype(dtype)
    tn.set_num_threads(2)
    pad = max(512, SECOND_THREAD_FLOPS // (2 * D * H) + 1) - N
    xb, dyb = np.concatenate([x, np.zeros((pad, D), dtype)]), np.concatenate([dy, np.zeros((pad, H), dtype)])
    y = tn.linear_forward(x, W, b)
    assert np.array_equal(y, tn.linear_forward(xb, W, b)[:N])
    dx, dW, db = tn.linear_backward(dy, x, W)
    dxb, dWb, dbb = tn.linear_backward(dyb, xb, W)
    assert np.array_equal(dx, dxb[:N]) and np.array_equal(dW, dWb) and np.array_equal(db, dbb)
    assert_close(y, ref.linear_forward(x, W, b), "y")
    for got, want, name in zip((dx, dW, db), ref.linear_backward(dy, x, W), ("dx", "dW", "db")):
        assert_close(got, want, name)


# (N, D, H): products with K <= KC above SECOND_THREAD_FLOPS, which the direct path runs
# on two threads: by rows in whole tiles of 6 (y and dx at N = 512; dW = dy^T x where H >=
# D), or by column panels where C has fewer rows than columns (y at N = 40, 100, 7; dx at
# N = 100), with last panels of every kind (H = 500: a whole one overlapping the one
# before; 232 and D = 200: a half one, overlapping) and rows that end on a partial tile.
TEAM_SHAPES = [(512, 64, 192), (40, 250, 500), (100, 200, 232), (7, 256, 2000), (400, 60, 130)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", TEAM_SHAPES, ids=str)
def test_direct_path_team_gives_the_bits_of_one_thread(dtype, shape, restore_threads):
    """linear_forward / linear_backward where the direct path splits a product between
    two threads give one thread's bits, and agree with the NumPy engine."""
    N, D, H = shape
    rng = np.random.default_rng(N + D * H)
    x, W, b = (rng.standard_normal(s).astype(dtype) for s in ((N, D), (H, D), (H,)))
    dy = rng.standard_normal((N, H)).astype(dtype)
    assert 2 * N * D * H > SECOND_THREAD_FLOPS
    runs = []
    for threads in (1, 2):
        tn.set_num_threads(threads)
        runs.append((tn.linear_forward(x, W, b),) + tn.linear_backward(dy, x, W))
    for one, two, name in zip(*runs, ("y", "dx", "dW", "db")):
        assert np.array_equal(one, two), name
    assert_close(runs[0][0], ref.linear_forward(x, W, b), "y")
    for got, want, name in zip(runs[0][1:], ref.linear_backward(dy, x, W), ("dx", "dW", "db")):
        assert_close(got, want, name)


# (N, D, H): linear_backward's dW = dy^T x with K = N rows in 2 to 4 blocks of KC = 256,
# which two or more threads split between them (tn_gemm_split_k) -- whole blocks (512,
# 1024), a short last block (600: members of 256 and 344 rows), odd D and H -- and shapes
# it leaves to the packed path: 768 rows on two threads (members of 256 and 512 rows,
# too uneven), 2000 (8 blocks).
SPLIT_K_SHAPES = [(512, 64, 192), (600, 48, 130), (1024, 37, 70), (768, 100, 33), (2000, 40, 50)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SPLIT_K_SHAPES, ids=str)
def test_weight_gradient_split_by_rows_gives_the_bits_of_one_thread(dtype, shape, restore_threads):
    """linear_backward where threads split the weight gradient's rows gives one thread's
    bits on 2, 3 and 4 threads, and agrees with the NumPy engine."""
    N, D, H = shape
    rng = np.random.default_rng(N + D + H)
    x, W, dy = (rng.standard_normal(s).astype(dtype) for s in ((N, D), (H, D), (N, H)))
    tn.set_num_threads(1)
    one = tn.linear_backward(dy, x, W)
    for n in (2, 3, 4):
        tn.set_num_threads(n)
        for a, b, name in zip(one, tn.linear_backward(dy, x, W), ("dx", "dW", "db")):
            assert np.array_equal(a, b), f"{name} on {n} threads"
    for got, want, name in zip(one, ref.linear_backward(dy, x, W), ("dx", "dW", "db")):
        assert_close(got, want, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnn_lm_loss_with_a_split_output_gradient(dtype, restore_threads):
    """rnn_lm_loss whose dW_hy (V x H over T B = 512 rows) splits between threads: its
    workspace holds the split (the sanitizer run checks every byte); one thread's bits."""
    T, B, H, V = 64, 8, 128, 65
    rng = np.random.default_rng(5)
    W_xh, W_hh, W_hy = (rng.standard_normal(s).astype(dtype) * 0.1 for s in ((H, V), (H, H), (V, H)))
    b_h, b_y = np.zeros(H, dtype), np.zeros(V, dtype)
    inputs, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    h0 = np.zeros((B, H), dtype)
    runs = []
    for n in (1, 2):
        tn.set_num_threads(n)
        loss, grads, h = tn.rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y)
        runs.append([np.array(loss), h] + [grads[k] for k in sorted(grads)])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


# (N, D, H, dtype) at one thread, where every product with K <= KC takes the direct path:
# dx = dy W reads W's rows (D values: a row stride of 1 KiB or 512 bytes) as B's, H of
# them, r = H / 4 or H / 8 to each L1 set they start on -- copied panel by panel when
# r > 4 and N r >= 1024 (tn_rows_crowd_l1: the first three shapes), read in place below
# that (the last three).
CROWDED_SHAPES = [(64, 256, 128, np.float32), (32, 128, 256, np.float32), (64, 128, 128, np.float64),
                  (24, 256, 128, np.float32), (32, 128, 128, np.float32), (8, 128, 40, np.float64)]


@pytest.mark.parametrize("N,D,H,dtype", CROWDED_SHAPES, ids=str)
def test_copied_and_in_place_panels_give_the_same_bits(N, D, H, dtype, restore_threads):
    """linear_backward at one thread (the direct path, B's panels read in place or copied
    when their rows crowd L1) gives the bits of two threads (the packed path, every panel
    copied), and agrees with the NumPy engine."""
    rng = np.random.default_rng(N + D + H)
    x, W, dy = (rng.standard_normal(s).astype(dtype) for s in ((N, D), (H, D), (N, H)))
    tn.set_num_threads(1)
    one = tn.linear_backward(dy, x, W)
    tn.set_num_threads(2)
    two = tn.linear_backward(dy, x, W)
    for a, b, name in zip(one, two, ("dx", "dW", "db")):
        assert np.array_equal(a, b), name
    for got, want, name in zip(one, ref.linear_backward(dy, x, W), ("dx", "dW", "db")):
        assert_close(got, want, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B,H,V", [(8, 32, 10), (40, 30, 10), (64, 20, 20)])
def test_rnn_sample_with_direct_path_sizes(dtype, B, H, V):
    """rnn_sample's steps on states too big for the small path but below the threads'
    threshold: its prepacked products run as jobs (the packed path) although a GEMM of
    their size would take the direct path -- the workspace must hold them (the sanitizer
    run checks every byte).  Greedy tokens as the NumPy engine's."""
    rng = np.random.default_rng(B * H + V)
    W_xh, W_hh = rng.standard_normal((H, V)).astype(dtype), (rng.standard_normal((H, H)) / H).astype(dtype)
    b_h, W_hy, b_y = rng.standard_normal(H).astype(dtype), rng.standard_normal((V, H)).astype(dtype), \
        rng.standard_normal(V).astype(dtype)
    start, h0 = rng.integers(0, V, B), rng.standard_normal((B, H)).astype(dtype)
    got = tn.rnn_sample(h0, start, 5, W_xh, W_hh, b_h, W_hy, b_y, greedy=True)
    want = ref.rnn_sample(h0, start, 5, W_xh, W_hh, b_h, W_hy, b_y, greedy=True)
    assert got.shape == (5, B) and np.array_equal(got, want)


def test_rnn_fused_recurrence_matches_the_step_by_step_path():
    """The prepacked, fused-tanh recurrence (big states) gives the same bits as running
    the steps one at a time through the public functions."""
    rng = np.random.default_rng(2)
    T, B, D, H = 5, 16, 12, 48
    x = rng.standard_normal((T, B, D))
    W_xh, W_hh, b_h = rng.standard_normal((H, D)) / 4, rng.standard_normal((H, H)) / 8, rng.standard_normal(H)
    hs = tn.rnn_forward(x, None, W_xh, W_hh, b_h)
    h = None
    for t in range(T):
        h = tn.rnn_forward(x[t : t + 1], h, W_xh, W_hh, b_h)[0]
        assert np.array_equal(h, hs[t]), t


# (T, B, D, H): dW_xh and dW_hh as one product sharing dpre^T's packing (D + H fits one
# column block of the GEMM), and as two products (it does not)
SHARED_DW_SHAPES = [(5, 8, 40, 96), (3, 4, 1000, 64)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHARED_DW_SHAPES, ids=str)
@pytest.mark.parametrize("h0_kind", ["none", "given"])
def test_rnn_dW_hh_bits_do_not_depend_on_the_input_kind(dtype, shape, h0_kind):
    """dW_hh is one product over [h0; hs[:-1]] (zeros for no h0) in row order, whether
    it shares its product with dW_xh (float input) or not (token ids, or a D + H too wide
    to share): one-hot rows and their token ids give the same bits.  And it is right."""
    T, B, D, H = shape
    rng = np.random.default_rng(T * 100 + D)
    tokens = rng.integers(0, D, (T, B))
    x = np.eye(D, dtype=dtype)[tokens]
    h0 = rng.standard_normal((B, H)).astype(dtype) if h0_kind == "given" else None
    W_xh = (rng.standard_normal((H, D)) * 0.5).astype(dtype)
    W_hh = (rng.standard_normal((H, H)) * 0.5 / np.sqrt(H)).astype(dtype)
    b_h, R = rng.standard_normal(H).astype(dtype), rng.standard_normal((T, B, H)).astype(dtype)
    hs = tn.rnn_forward(tokens, h0, W_xh, W_hh, b_h)
    assert np.array_equal(tn.rnn_forward(x, h0, W_xh, W_hh, b_h), hs)
    by_tokens = tn.rnn_backward(R, tokens, h0, hs, W_xh, W_hh)
    by_x = tn.rnn_backward(R, x, h0, hs, W_xh, W_hh)
    assert np.array_equal(by_x[3], by_tokens[3]) and np.array_equal(by_x[4], by_tokens[4])
    want = ref.rnn_backward(R, x, h0, hs, W_xh, W_hh)
    for name, got, exp in zip(["dx", "dh0", "dW_xh", "dW_hh", "db_h"], by_x, want):
        assert_close(got, exp, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
def test_rnn_db_h_is_the_column_sum_of_linear_backward(dtype, threads, restore_threads):
    """The recurrence sums db_h's blocks of rows while they are in cache (blocks of 128
    rows that start mid-step here: B = 50); the result has the bits of the column sums
    everywhere else (linear_backward's db).  With W_hh = 0, dpre = R (1 - hs^2) exactly."""
    tn.set_num_threads(threads)
    rng = np.random.default_rng(3)
    T, B, D, H = 9, 50, 3, 64  # 2 B H^2 > 400k flops: the recurrence runs on 2 threads when asked
    x, R = rng.standard_normal((T, B, D)).astype(dtype), rng.standard_normal((T, B, H)).astype(dtype)
    W_xh, W_hh = rng.standard_normal((H, D)).astype(dtype), np.zeros((H, H), dtype)
    hs = tn.rnn_forward(x, None, W_xh, W_hh, rng.standard_normal(H).astype(dtype))
    db_h = tn.rnn_backward(R, x, None, hs, W_xh, W_hh)[4]
    dpre = (R * (1 - hs * hs)).reshape(T * B, H)
    assert np.array_equal(db_h, tn.linear_backward(dpre, x.reshape(T * B, D), W_xh)[2])


def lm_loss_composed(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, reduction):
    """rnn_lm_loss through the public layer functions, one call per piece."""
    hs = tn.rnn_forward(inputs, h0, W_xh, W_hh, b_h)
    H = W_hh.shape[0]
    flat = hs.reshape(-1, H)
    loss, probs = tn.cross_entropy_forward(tn.linear_forward(flat, W_hy, b_y), targets.reshape(-1), reduction)
    dl = tn.cross_entropy_backward(probs, targets.reshape(-1), reduction)
    dhs, dW_hy, db_y = tn.linear_backward(dl, flat, W_hy)
    _, _, dW_xh, dW_hh, db_h = tn.rnn_backward(dhs.reshape(hs.shape), inputs, h0, hs, W_xh, W_hh)
    return loss, dict(W_xh=dW_xh, W_hh=dW_hh, b_h=db_h, W_hy=dW_hy, b_y=db_y), hs[-1]


# (T, B, D, H, V): all tiny -- rnn_lm_loss runs them in one fused function
# (csrc/tn_rnn_small_impl.h) -- except the last two (a product above the small-GEMM
# limit: the general kernel); V = 20 takes the vectorised exp.
LM_SHAPES = [(4, None, 4, 4, 4), (1, None, 3, 2, 5), (5, 3, 6, 4, 20), (7, 2, 27, 8, 27), (3, 1, 2, 1, 1),
             (30, 4, 10, 16, 10), (2, 2, 5, 70, 5)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", LM_SHAPES, ids=str)
@pytest.mark.parametrize("h0_kind", ["none", "given"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_rnn_lm_loss_is_the_public_functions_composed(dtype, shape, h0_kind, reduction):
    """rnn_lm_loss (the fused small path or the general kernel, whichever the shape
    takes) gives the same bits as the layer functions composed."""
    T, B, D, H, V = shape
    rng = np.random.default_rng(T * 1000 + H * 10 + V)
    tok = (T,) if B is None else (T, B)
    inputs, targets = rng.integers(0, D, tok), rng.integers(0, V, tok)
    h0 = rng.standard_normal(tok[1:] + (H,)).astype(dtype) if h0_kind == "given" else None
    W_xh, W_hh, W_hy = (rng.standard_normal(s).astype(dtype) * 0.5 for s in [(H, D), (H, H), (V, H)])
    b_h, b_y = rng.standard_normal(H).astype(dtype), rng.standard_normal(V).astype(dtype)
    loss, grads, h_last = tn.rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, reduction=reduction)
    want_loss, want, want_h = lm_loss_composed(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, reduction)
    assert loss == want_loss
    assert np.array_equal(h_last, want_h)
    for k in want:
        assert grads[k].dtype == dtype and np.array_equal(grads[k], want[k]), k


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="instruction-set override is for x86 Linux")
def test_same_bits_on_every_instruction_set():
    """TINYNET_SIMD=generic / avx2 force the portable and AVX2 kernels: the results are
    the same bits as the best kernel's (FMA everywhere, lane-wise math) -- the fused small
    rnn_lm_loss ("hello") included."""
    code = (
        "import numpy as np, tinynet as tn, sys;"
        "rng = np.random.default_rng(3);"
        "x = rng.standard_normal((70, 300)); W = rng.standard_normal((50, 300));"
        "h = tn.rnn_forward(rng.standard_normal((6, 9, 20)), None, rng.standard_normal((40, 20)) / 4,"
        " rng.standard_normal((40, 40)) / 6, rng.standard_normal(40));"
        "l, g, hl = tn.rnn_lm_loss([1, 0, 2, 2], [0, 2, 2, 3], None, *(rng.standard_normal(s) for s in"
        " [(4, 4), (4, 4), 4, (4, 4), 4]));"
        "sys.stdout.buffer.write(tn.linear_forward(x, W).tobytes() + h.tobytes() + tn.tanh_forward(x).tobytes()"
        " + tn.tanh_forward(x.astype(np.float32)).tobytes() + np.float64(l).tobytes()"
        " + b''.join(v.tobytes() for v in g.values()))"
    )
    outs = output_per_instruction_set(code)
    assert outs["avx2"] == outs["avx512"]
    assert outs["generic"] == outs["avx512"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn", ["tanh_forward", "sigmoid_forward"])
def test_elementwise_values_do_not_depend_on_length_or_position(fn, dtype):
    """The vectorised tanh / exp treat the tail of an array like its body (and a vector
    computed alone like one in a group of two or four): an element's result is the same
    whatever slice of the array it is computed in."""
    x = (np.random.default_rng(4).standard_normal(300) * 6).astype(dtype)
    f = getattr(tn, fn)
    whole = f(x)
    for start in range(0, 40, 3):
        for length in (1, 2, 5, 15, 16, 17, 33, 64, 65, 100, 250):
            assert np.array_equal(f(x[start : start + length]), whole[start : start + length]), (start, length)
