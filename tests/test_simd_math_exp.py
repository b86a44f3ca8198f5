"""csrc/simd/exp.h: the vector exp against mpmath on every SIMD level.

The bound asserted here is the one stated in Note [Vector exp]."""

from __future__ import annotations

import numpy as np
import pytest

from logitloss import _core

mpmath = pytest.importorskip("mpmath")

# Note [Vector exp]: max error 1 ULP for float and double.
MAX_ULP = 1
RANGES = {np.float32: (-103.97, 88.72), np.float64: (-745.13, 709.78)}


def exact_exp(x: np.ndarray) -> np.ndarray:
    with mpmath.workdps(60):
        return np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in x], np.float64)


def sample(dtype, rng: np.random.Generator) -> np.ndarray:
    lo, hi = RANGES[dtype]
    parts = [
        rng.uniform(lo, hi, 3000),
        rng.uniform(-1.0, 1.0, 1000),  # the reduced range itself
        rng.uniform(-1e-6, 1e-6, 200),
        rng.uniform(lo, lo + 12.0, 600),  # subnormal results
        rng.uniform(hi - 3.0, hi, 300),  # near overflow
        np.arange(-40, 40) * np.log(2.0),  # reduction boundaries
    ]
    return np.concatenate(parts).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_is_within_its_stated_ulp_bound(simd_level, rng, dtype):
    x = sample(dtype, rng)
    got = _core._vector_math("exp", x)
    want = exact_exp(x).astype(dtype)  # correctly rounded to dtype
    np.testing.assert_array_max_ulp(got, want, maxulp=MAX_ULP)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_special_values(simd_level, dtype):
    info = np.finfo(dtype)
    lo, hi = RANGES[dtype]
    x = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, hi + 1, lo - 1, 1e30, -1e30, info.max, -info.max],
        dtype,
    )
    got = _core._vector_math("exp", x)
    want = np.array([1, 1, np.inf, 0, np.nan, np.inf, 0, np.inf, 0, np.inf, 0], dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_nonpos_equals_exp_on_its_domain(simd_level, rng, dtype):
    # exp_nonpos (every kernel's exp: x - max, -|x|) reads 2^(n + 64) off the
    # rounding sum's bits; it must give exp's values bit for bit, subnormal
    # results included, and so share its mpmath bound.
    x = sample(dtype, rng)
    x = np.concatenate([-np.abs(x), np.array([-0.0, 0.0, -np.inf, np.nan], dtype)])
    got = _core._vector_math("exp_nonpos", x)
    np.testing.assert_array_equal(got, _core._vector_math("exp", x))
    finite = np.isfinite(x)
    want = exact_exp(x[finite]).astype(dtype)
    np.testing.assert_array_max_ulp(got[finite], want, maxulp=MAX_ULP)


def row_entries(dtype, m: float, rng: np.random.Generator) -> np.ndarray:
    """Entries a <= m of a row with max m: near m, across the range, around
    the floor m - zero_gap where ExpBelow clamps, far below, -inf and NaN."""
    lo = RANGES[dtype][0]
    gap = 104.5 if dtype == np.float32 else 745.5
    a = np.concatenate([
        m - rng.uniform(0, 1, 500),
        m - rng.uniform(0, -lo, 2000),
        m - gap + rng.uniform(-2, 2, 500),
        m - rng.uniform(-lo, 1e6, 200),
        [m, -np.inf, np.nan, -np.finfo(dtype).max, np.finfo(dtype).min],
    ]).astype(dtype)
    return np.where(a > dtype(m), dtype(m), a)  # rounding to dtype may pass m


# Row maxima ExpBelow covers (|m| < 2^24 for float, 2^52 for double); the
# kernels use exp_diff beyond (test_kernels_beyond_exp_below below).
ROW_MAXIMA = [0.0, -0.0, 3.7, -3.7, 1e-30, -20.25, 88.0, 1000.1, -1000.1, 2.0**23 + 1,
              -(2.0**24 - 2), 6e5]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_exp_equals_exp_diff(simd_level, rng, dtype):
    # ExpBelow (the row sweeps' exp(a - m)) gives exp_diff's values bit for
    # bit for every entry of a row it covers: kept and recomputed exps agree.
    for m in ROW_MAXIMA:
        a = row_entries(dtype, m, rng)
        pair = np.stack([a, np.full_like(a, m)])
        below = _core._vector_math("exp_below", pair)
        np.testing.assert_array_equal(below, _core._vector_math("exp_diff", pair), err_msg=f"m={m}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_diff_is_within_its_bound_of_the_exact_difference(simd_level, rng, dtype):
    # exp(a - m) with a - m rounded in dtype would be off by |a - m| * eps;
    # the compensated difference keeps exp_diff within the exp's own bound.
    for m in [3.7, -20.25, 1000.1]:
        a = row_entries(dtype, m, rng)
        a = a[np.isfinite(a)]
        pair = np.stack([a, np.full_like(a, m)])
        got = _core._vector_math("exp_below", pair)
        with mpmath.workdps(60):
            want = np.array([float(mpmath.exp(mpmath.mpf(float(v)) - mpmath.mpf(float(dtype(m)))))
                             for v in a], np.float64).astype(dtype)
        np.testing.assert_array_max_ulp(got, want, maxulp=MAX_ULP)


def test_kernels_beyond_exp_below(simd_level):
    # Rows whose max is 2^24 or more take exp_diff: the same special values.
    import logitloss as ll

    for m in [2.0**24, 3e9, -3e9, 1e30, -1e30, 3e38]:
        x = np.array([[m, -np.inf, m - abs(m) * 2**-20, -3e38, m]], np.float32)
        e = np.exp(np.float64(x[0, 2]) - np.float64(x[0, 0]))
        want = np.array([1.0, 0.0, e, 0.0, 1.0]) / (2 + e)
        np.testing.assert_allclose(ll.softmax(x, axis=1)[0], want, rtol=1e-6, atol=1e-45)
