"""16-bit inputs through every kernel give the float32 kernel's result on the
same (exactly widened) values, rounded once to 16 bits: the kernels compute
16-bit rows in float32 (Note [16-bit storage]). Rows up to 65536 classes
keep their exps in a per-thread scratch between passes, longer ones compute
them again (Note [Kept exps]); both are covered, and so are strided rows."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll

ml_dtypes = pytest.importorskip("ml_dtypes")

DTYPES = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
# 40 and 1000 classes (kept exps), 70001 (beyond the scratch: recomputed).
SHAPES = [(5, 40), (3, 1000), (2, 70001)]


def logits(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    x[0, :3] = x[0].max()  # ties at the max
    return x


def same_as_float32(got: np.ndarray, want32: np.ndarray, dtype) -> None:
    assert got.dtype == dtype
    with np.errstate(over="ignore"):
        want = np.asarray(want32, np.float32).astype(dtype)
    np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_log_sum_exp_family(simd_level, rng, dtype, shape):
    x = logits(rng, shape, dtype)
    x32 = x.astype(np.float32)
    g = rng.standard_normal(shape).astype(dtype)
    g32 = g.astype(np.float32)
    same_as_float32(ll.softmax(x, axis=1), ll.softmax(x32, axis=1), dtype)
    same_as_float32(ll.log_softmax(x, axis=1), ll.log_softmax(x32, axis=1), dtype)
    same_as_float32(ll.softmax_grad(x, g, axis=1), ll.softmax_grad(x32, g32, axis=1), dtype)
    same_as_float32(ll.log_softmax_grad(x, g, axis=1), ll.log_softmax_grad(x32, g32, axis=1),
                    dtype)
    same_as_float32(ll.logsumexp_grad(x, axis=1), ll.logsumexp_grad(x32, axis=1), dtype)
    # logsumexp rounds its float64 result once to 16 bits (float32's result
    # is rounded once too, so compare with the float64 reference instead).
    lse = ll.logsumexp(x, axis=1)
    lse64 = ll.logsumexp(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(lse.astype(np.float64), lse64, rtol=2.0**-7)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cross_entropy(simd_level, rng, dtype, shape):
    x = logits(rng, shape, dtype)
    x32 = x.astype(np.float32)
    t = rng.integers(0, shape[1], shape[0])
    t[0] = 0  # at a tied max
    loss, grad = ll.cross_entropy_value_and_grad(x, t, reduction="none")
    loss32, grad32 = ll.cross_entropy_value_and_grad(x32, t, reduction="none")
    same_as_float32(grad, grad32, dtype)
    np.testing.assert_array_equal(loss, loss32.astype(dtype))
    same_as_float32(ll.cross_entropy_grad(x, t), ll.cross_entropy_grad(x32, t), dtype)
    w = rng.uniform(0.5, 2, shape[1]).astype(dtype).astype(np.float64)  # cast to x's dtype
    _, gw = ll.cross_entropy_value_and_grad(x, t, weight=w, label_smoothing=0.1)
    _, gw32 = ll.cross_entropy_value_and_grad(x32, t, weight=w, label_smoothing=0.1)
    same_as_float32(gw, gw32, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_strided_and_special_rows(simd_level, rng, dtype):
    x = logits(rng, (6, 300), dtype)
    x[1, 7] = np.nan
    x[2, :] = -np.inf
    x[3, 5] = np.inf
    x32 = x.astype(np.float32)
    for axis in (0, 1):
        xs, xs32 = (x.T, x32.T) if axis == 0 else (x, x32)
        with np.errstate(invalid="ignore"):
            same_as_float32(ll.softmax(xs, axis=axis), ll.softmax(xs32, axis=axis), dtype)
            same_as_float32(ll.logsumexp_grad(xs, axis=axis), ll.logsumexp_grad(xs32, axis=axis),
                            dtype)
