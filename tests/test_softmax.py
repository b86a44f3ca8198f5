"""softmax and log_softmax against scipy.special and float64 references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import logitloss as ll
from reference import log_softmax_ref, softmax_ref

special = pytest.importorskip("scipy.special")

CLASS_SIZES = [1, 3, 7, 8, 15, 16, 17, 1023, 4099]
INF, NAN = np.inf, np.nan
FUNCS = {"softmax": (ll.softmax, softmax_ref), "log_softmax": (ll.log_softmax, log_softmax_ref)}


def scipy_call(name, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return getattr(special, name)(*args, **kwargs)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", CLASS_SIZES)
@pytest.mark.parametrize("layout", ["last", "first", "middle"])
def test_matches_scipy_on_the_grid(simd_level, rng, name, dtype, classes, layout):
    shape, axis = {
        "last": ((5, classes), 1),
        "first": ((classes, 19), 0),
        "middle": ((2, classes, 9), 1),
    }[layout]
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    got = FUNCS[name][0](x, axis=axis)
    # SciPy's log_softmax computes x - log(sum), which loses the digits of
    # the dominant entry (-log1p(tiny)); the reference keeps them.
    want = FUNCS[name][1](x.astype(np.float64), axis)
    np.testing.assert_allclose(
        scipy_call(name, x.astype(np.float64), axis=axis), want, rtol=1e-3, atol=1e-15
    )
    assert got.dtype == dtype
    assert got.shape == x.shape
    if dtype == np.float32:
        # Within a few float32 ulps of the exact value (relative for
        # softmax, absolute at the scale of |log_softmax| otherwise).
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-37 if name == "softmax" else 0)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (0, 2), ()])
def test_axes(rng, name, axis):
    x = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(
        FUNCS[name][0](x, axis=axis), scipy_call(name, x, axis=axis), rtol=1e-12
    )
    np.testing.assert_allclose(FUNCS[name][0](x, axis=axis), FUNCS[name][1](x, axis), rtol=1e-12)


def test_log_softmax_keeps_the_digits_scipy_loses():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.array([0.0, -29.02, -31.44, -40.0])
    total = mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in x)
    exact = np.array([float(mpmath.mpf(v) - mpmath.log(total)) for v in x])
    np.testing.assert_allclose(ll.log_softmax(x), exact, rtol=4e-16)
    assert abs(scipy_call("log_softmax", x)[0] / exact[0] - 1) > 1e-6  # SciPy's digits go


SPECIAL_ROWS = [
    [-INF, -INF],
    [INF, 1.0],
    [INF, INF],
    [INF, -INF],
    [NAN, 1.0],
    [NAN, INF],
    [1.0, -INF],
    [1e30, 1e30],
    [1e308, -1e308],
    [1000.0, 1.0],
]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("row", SPECIAL_ROWS, ids=str)
def test_special_values_match_scipy(simd_level, name, row):
    x = np.array([row, row[::-1]])
    got = FUNCS[name][0](x, axis=1)
    want = scipy_call(name, x, axis=1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", FUNCS)
def test_special_values_in_the_row_block_path(simd_level, name):
    # Class axis first: rows sit in SIMD lanes, special rows among ordinary ones.
    x = np.zeros((2, 20))
    x[0, 3], x[0, 7], x[1, 7], x[:, 9] = INF, NAN, NAN, -INF
    x[:, 11] = [1e30, -1e30]
    got = FUNCS[name][0](x, axis=0)
    np.testing.assert_array_equal(got, scipy_call(name, x, axis=0))


def test_softmax_of_a_dominant_entry_is_exact():
    np.testing.assert_array_equal(ll.softmax([0.0, -1000.0]), [1.0, 0.0])
    assert ll.log_softmax(np.float32([0.0, -40.0]))[0] == np.float32(-np.log1p(np.exp(-40.0)))


def test_subnormal_probabilities_are_right(simd_level):
    # exp(-740) is subnormal in float64, exp(-100) in float32.
    got = ll.softmax(np.array([0.0, -740.0]))
    assert got[1] == np.exp(-740.0) / (1 + np.exp(-740.0))
    got32 = ll.softmax(np.float32([0.0, -100.0]))
    assert got32[1] == np.float32(np.exp(-100.0))


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("shape", [(0,), (0, 4), (4, 0)])
def test_empty_gives_empty(name, shape):
    got = FUNCS[name][0](np.zeros(shape), axis=-1)
    assert got.shape == shape
    assert got.dtype == np.float64


@pytest.mark.parametrize("name", FUNCS)
def test_zero_dimensional(name):
    assert FUNCS[name][0](np.array(3.0)) == scipy_call(name, np.array(3.0))


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize(
    "make",
    [
        np.asfortranarray,
        lambda a: a[::-1, ::-2],
        lambda a: a.T,
        lambda a: np.broadcast_to(a[:1], a.shape),
    ],
    ids=["fortran", "reversed", "transposed", "broadcast"],
)
@pytest.mark.parametrize("axis", [0, 1])
def test_memory_layouts(simd_level, rng, name, make, axis):
    x = make(rng.standard_normal((23, 34)))
    before = x.copy()
    got = FUNCS[name][0](x, axis=axis)
    np.testing.assert_allclose(
        got, FUNCS[name][1](np.ascontiguousarray(x), axis), rtol=1e-13, atol=1e-300
    )
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", FUNCS)
def test_half_precision_types(rng, name):
    x16 = (rng.standard_normal((4, 50)) * 3).astype(np.float16)
    got = FUNCS[name][0](x16, axis=1)
    assert got.dtype == np.float16
    want = FUNCS[name][1](x16.astype(np.float64), 1)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-3, atol=1e-7)
    ml_dtypes = pytest.importorskip("ml_dtypes")
    xb = x16.astype(ml_dtypes.bfloat16)
    gotb = FUNCS[name][0](xb, axis=1)
    assert gotb.dtype == ml_dtypes.bfloat16
    wantb = FUNCS[name][1](xb.astype(np.float64), 1)
    np.testing.assert_allclose(gotb.astype(np.float64), wantb, rtol=2**-8, atol=1e-7)


def test_integers_promote_to_float64():
    got = ll.softmax([[1, 2, 3]], axis=1)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, special.softmax([[1.0, 2.0, 3.0]], axis=1), rtol=1e-15)
