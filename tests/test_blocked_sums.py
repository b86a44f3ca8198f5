"""Cross-entropy and logsumexp on long contiguous rows, whose sums are taken
block by block in one read (Note [Blocked row sums] in csrc/kernels/blocked_sums.h):
losses and gradients against mpmath on rows whose max rises from block to
block, sits in the last block, ties across blocks or leaves blocks far below
it; special rows (a block of -inf, NaN, +inf) as the strided kernel path gives
them; the options as the strided path gives them; bit for bit the same for
every thread count, in place, and between value and value-and-gradient;
16-bit storage. Every SIMD level."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import logitloss as ll
from reference import bitwise_equal

mpmath = pytest.importorskip("mpmath")
ml_dtypes = pytest.importorskip("ml_dtypes")

# Rows of at least 256 KiB in their compute type (float32 for 16-bit
# storage) take the blocked sums (kBlockedSumsBytes); blocks hold 32 KiB of
# it (kSumBlockBytes). These rows span 9-10 blocks.
BLOCKED_BYTES = 1 << 18
LENGTHS = {np.float32: 72_000, np.float64: 36_000}
LOSS_ULP = 4  # as tests/test_cross_entropy_accuracy.py
GRAD_ULP = 4  # every entry of the gradient: exp, block factor, product
TARGET_GRAD_ULP = 8


def _row(kind: str, C: int, dtype) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(sum(map(ord, kind)) + C)
    x = rng.standard_normal(C) * 3
    t = int(rng.integers(0, C))
    block = (1 << 15) // np.dtype(dtype).itemsize
    if kind == "rising":  # every block's max above the last: each rescaled
        x = np.sort(x)
        t = C // 3
    elif kind == "late_max":  # a confident max in the last block
        t = C - 5
        x[t] = x.max() + 30
    elif kind == "ties_across_blocks":  # the max in three blocks
        top = x.max() + 2
        t = block + 7
        x[[3, t, 4 * block + 1]] = top
    elif kind == "wide":  # blocks 60-200 below the max: factors near underflow
        x = -np.repeat(np.linspace(0, 200, C // block + 1), block)[:C] + rng.uniform(0, 1, C)
        t = 2 * block + 3
    return x.astype(dtype), t


@functools.cache
def _exact(kind: str, dtype) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """The row, its target, and at 40 digits its loss and gradient, each as
    the float64 pair hi + lo."""
    x, t = _row(kind, LENGTHS[dtype], dtype)
    mpmath.mp.dps = 40
    v = [mpmath.mpf(float(a)) for a in x]
    m = max(v)
    e = [mpmath.exp(a - m) for a in v]
    total = mpmath.fsum(e)
    grad = [a / total for a in e]
    grad[t] -= 1
    exact = [(m - v[t]) + mpmath.log(total), *grad, m + mpmath.log(total)]
    hi = np.array([float(a) for a in exact])
    lo = np.array([float(a - mpmath.mpf(h)) for a, h in zip(exact, hi)])
    return x, t, hi, lo


def _unit(values: np.ndarray, dtype) -> np.ndarray:
    """The spacing of `dtype` at each value (subnormal spacing at 0)."""
    info = ml_dtypes.finfo(dtype)
    exponent = np.floor(np.log2(np.maximum(np.abs(values), float(info.smallest_normal))))
    return 2.0 ** (exponent - info.nmant)


def _ulps(got: np.ndarray, hi: np.ndarray, lo: np.ndarray, dtype) -> np.ndarray:
    return np.abs((got.astype(np.float64) - hi) - lo) / _unit(hi, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["random", "rising", "late_max", "ties_across_blocks", "wide"])
def test_long_rows_against_mpmath(simd_level, kind, dtype):
    x, t, hi, lo = _exact(kind, dtype)
    assert x.nbytes >= BLOCKED_BYTES
    loss, grad = ll.cross_entropy_value_and_grad(x[None], np.array([t]), reduction="sum")
    lse = ll.logsumexp(x)
    errors = _ulps(np.concatenate([[loss], grad[0], [lse]]), hi, lo, dtype)
    assert errors[-1] <= LOSS_ULP, "logsumexp"
    errors[-1] = 0
    assert errors[0] <= LOSS_ULP
    assert errors[1 + t] <= TARGET_GRAD_ULP
    errors[[0, 1 + t]] = 0
    assert errors.max() <= GRAD_ULP, (int(errors.argmax()) - 1, errors.max())


def _strided(fn, x, *args, **kwargs):
    """fn on a copy of x whose classes are strided: the row-block kernels."""
    xt = np.array(x.T, order="C").T  # the same values, class stride != 1
    assert xt.strides[1] != xt.itemsize
    return fn(xt, *args, **kwargs)


def _long_rows(dtype, rows=4):
    C = LENGTHS.get(dtype, 140_000)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((rows, C)) * 3).astype(dtype)
    return x, rng.integers(0, C, rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_rows_as_the_strided_path_gives_them(simd_level, dtype):
    x, t = _long_rows(dtype, rows=5)
    block = (1 << 15) // x.itemsize
    x[0, :block] = -np.inf  # a block of -inf: dropped
    x[1, 2 * block: 3 * block] = -np.inf
    x[1, 2 * block + 5] = np.nan  # a block of -inf and NaN: NaN row
    x[2, -1] = np.inf  # +inf in the last block: NaN row
    x[3] = -np.inf  # no finite entry: NaN row
    t[0] = block + 1
    loss, grad = ll.cross_entropy_value_and_grad(x, t, reduction="none")
    loss_s, grad_s = _strided(ll.cross_entropy_value_and_grad, x, t, reduction="none")
    assert np.isfinite(loss[[0, 4]]).all()
    assert np.isnan(loss[1:4]).all()
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(grad_s))
    np.testing.assert_allclose(loss, loss_s, rtol=8 * np.finfo(dtype).eps)
    np.testing.assert_allclose(grad, grad_s, rtol=8 * np.finfo(dtype).eps, atol=1e-30)
    assert (grad[0, :block] == 0).all()


OPTIONS = {
    "plain": {},
    "weights_ignore": {"weight": "w", "ignore_index": "t0"},
    "z_loss": {"z_loss": 1e-3},
    "mean": {"reduction": "mean"},
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_options_as_the_strided_path_gives_them(simd_level, dtype, option):
    x, t = _long_rows(dtype)
    kwargs = dict(OPTIONS[option])
    if "weight" in kwargs:
        kwargs["weight"] = np.random.default_rng(1).uniform(0.5, 2, x.shape[1])
        kwargs["ignore_index"] = int(t[0])
    kwargs.setdefault("reduction", "none")
    tol = 8 * np.finfo(dtype).eps
    for fn in (ll.cross_entropy_value_and_grad, ll.poly1_cross_entropy_value_and_grad,
               ll.softmax_focal_loss_value_and_grad):
        if fn is not ll.cross_entropy_value_and_grad and option != "plain":
            continue
        loss, grad = fn(x, t, **kwargs)
        loss_s, grad_s = _strided(fn, x, t, **kwargs)
        np.testing.assert_allclose(loss, loss_s, rtol=tol, err_msg=fn.__name__)
        scale = np.abs(grad_s).max()
        np.testing.assert_allclose(grad, grad_s, rtol=tol, atol=tol * scale * 1e-3,
                                   err_msg=fn.__name__)


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_long_rows_bitwise_for_every_thread_count(dtype):
    x, t = _long_rows(dtype, rows=7)
    ll.set_num_threads(1)
    want = ll.cross_entropy_value_and_grad(x, t, reduction="none", z_loss=1e-4)
    for n in (2, 3, 8):
        ll.set_num_threads(n)
        got = ll.cross_entropy_value_and_grad(x, t, reduction="none", z_loss=1e-4)
        bitwise_equal(got[0], want[0], f"loss, {n} threads")
        bitwise_equal(got[1], want[1], f"gradient, {n} threads")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, ml_dtypes.bfloat16])
def test_long_rows_in_place_and_value_alone_bit_for_bit(simd_level, dtype):
    x, t = _long_rows(dtype)
    loss = ll.cross_entropy_value_and_grad(x, t, reduction="none")[0]
    bitwise_equal(ll.cross_entropy(x, t, reduction="none"), loss, "value alone")
    grad = ll.cross_entropy_value_and_grad(x, t)[1]
    got = ll.cross_entropy_grad(x, t, out=x)
    assert got is x
    bitwise_equal(x, grad, "in place")


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("C", [65_536, 140_000])  # exps kept in the scratch, or recomputed
def test_16_bit_long_rows_are_the_float32_rows_rounded(simd_level, dtype, C):
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((3, C)) * 3).astype(dtype)
    x[1, : C // 2] = -np.inf  # the max in a late block
    t = rng.integers(0, C, 3)
    assert x[0].astype(np.float32).nbytes >= BLOCKED_BYTES
    loss, grad = ll.cross_entropy_value_and_grad(x, t, reduction="none")
    loss32, grad32 = ll.cross_entropy_value_and_grad(x.astype(np.float32), t, reduction="none")
    bitwise_equal(loss, loss32.astype(dtype), "loss")
    bitwise_equal(grad, grad32.astype(dtype), "gradient")


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_16_bit_long_rows_against_float64(simd_level, dtype):
    x, t = _long_rows(dtype, rows=2)
    assert x[0].astype(np.float32).nbytes >= BLOCKED_BYTES
    loss, grad = ll.cross_entropy_value_and_grad(x, t, reduction="none")
    x64 = x.astype(np.float64)
    m = x64.max(axis=1, keepdims=True)
    e = np.exp(x64 - m)
    total = np.array([np.sum(np.sort(row)) for row in e])[:, None]
    rows = np.arange(len(t))
    want_loss = (m[:, 0] - x64[rows, t]) + np.log(total[:, 0])
    # Loss and gradient are formed in double and float32, rounded once to 16 bits.
    assert (np.abs(loss.astype(np.float64) - want_loss) <= _unit(want_loss, dtype)).all()
    want = e / total
    want[rows, t] -= 1
    assert (np.abs(grad.astype(np.float64) - want) <= _unit(want, dtype)).all()
