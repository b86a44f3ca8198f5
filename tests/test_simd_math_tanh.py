"""csrc/simd/tanh.h: the vector tanh and sech^2 (the soft-capping of the
cross-entropy) against mpmath on every SIMD level, at the bounds stated in
Note [Vector tanh]."""

from __future__ import annotations

import numpy as np
import pytest

from logitloss import _core

mpmath = pytest.importorskip("mpmath")

TANH_MAX_ULP = 2
SECH2_MAX_ULP = 4


def sample(rng: np.random.Generator) -> np.ndarray:
    parts = [
        rng.uniform(-0.6, 0.6, 3000),  # the polynomial, and its edge at 1/2
        rng.uniform(0.499, 0.501, 500) * rng.choice([-1, 1], 500),
        rng.uniform(-20.0, 20.0, 3000),  # the exp branch, through saturation
        10.0 ** rng.uniform(-300, 1.5, 1000) * rng.choice([-1, 1], 1000),
        np.array([5e-324, -5e-324, 1e-310, 0.5, -0.5, 18.7, 19.06, 25.0, 400.0]),
    ]
    return np.concatenate(parts)


def exact(fn, x: np.ndarray) -> np.ndarray:
    with mpmath.workdps(50):
        return np.array([float(fn(mpmath.mpf(float(v)))) for v in x])


def ulps(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.spacing(np.abs(want))))


def test_tanh_is_within_its_stated_ulp_bound(simd_level, rng):
    x = sample(rng)
    assert ulps(_core._vector_math("tanh", x), exact(mpmath.tanh, x)) <= TANH_MAX_ULP


def test_sech2_is_within_its_stated_ulp_bound(simd_level, rng):
    x = sample(rng)
    want = exact(lambda v: mpmath.sech(v) ** 2, x)
    assert ulps(_core._vector_math("sech2", x), want) <= SECH2_MAX_ULP


def test_tanh_special_values(simd_level):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308])
    t = _core._vector_math("tanh", x)
    np.testing.assert_array_equal(t, [0.0, -0.0, 1.0, -1.0, np.nan, 1.0, -1.0])
    assert np.signbit(t[1])
    assert not np.signbit(t[0])
    np.testing.assert_array_equal(
        _core._vector_math("sech2", x), [1.0, 1.0, 0.0, 0.0, np.nan, 0.0, 0.0]
    )


def test_tanh_is_monotone_across_the_branch_point(simd_level):
    # The soft-capped kernels take max(c tanh(x / c)) as c tanh(max x / c).
    x = np.nextafter(0.5, 0.0) + np.arange(-2000, 2000) * 2.0**-53
    t = _core._vector_math("tanh", np.sort(x))
    assert np.all(np.diff(t) >= 0)


def test_tanh_takes_double_only():
    with pytest.raises(TypeError, match="tanh and sech2 take float64"):
        _core._vector_math("tanh", np.zeros(3, np.float32))
