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
