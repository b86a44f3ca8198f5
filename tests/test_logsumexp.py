"""logsumexp against scipy.special.logsumexp: values, shapes, dtypes, layouts
and SciPy's special values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import logitloss as ll
from reference import lse_ref

special = pytest.importorskip("scipy.special")

# Class-axis sizes that exercise vector tails for 16-, 32- and 64-byte vectors.
CLASS_SIZES = [0, 1, 3, 7, 8, 15, 16, 17, 1023, 4099]
RTOL = {np.float32: 2e-6, np.float64: 1e-12}
INF, NAN = np.inf, np.nan


def scipy_lse(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return special.logsumexp(*args, **kwargs)


def expected_lse(x, axis=None, keepdims=False):
    """What ll.logsumexp promises for x: the exact log-sum-exp (SciPy's in
    float64), and for a zero-size reduction the log of an empty sum, -inf,
    in every place of the result (README, "Guarantees at the edges"). SciPy
    is not asked about zero-size reductions: its answer depends on its
    version (1.13 raises, 1.17 returns -inf)."""
    x64 = np.asarray(x, np.float64)
    if x64.size == 0:
        return np.full(np.sum(x64, axis=axis, keepdims=keepdims).shape, -INF)
    return scipy_lse(x64, axis=axis, keepdims=keepdims)


def assert_close(got, want, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", CLASS_SIZES)
@pytest.mark.parametrize("layout", ["last", "first", "middle"])
def test_matches_scipy_on_the_grid(simd_level, rng, dtype, classes, layout):
    shape, axis = {
        "last": ((5, classes), 1),
        "first": ((classes, 19), 0),
        "middle": ((2, classes, 9), 1),
    }[layout]
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    got = ll.logsumexp(x, axis=axis)
    want = expected_lse(x, axis=axis)  # the exact answer, rounded
    assert got.dtype == dtype
    assert got.shape == want.shape
    assert_close(got, want, RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, (0, 1), (1, 2), (0, 2), (0, 1, 2), ()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_axes_and_keepdims(rng, dtype, axis, keepdims):
    x = (rng.standard_normal((4, 6, 5)) * 5).astype(dtype)
    got = ll.logsumexp(x, axis=axis, keepdims=keepdims)
    want = scipy_lse(x.astype(np.float64), axis=axis, keepdims=keepdims)
    assert np.shape(got) == np.shape(want)
    assert np.asarray(got).dtype == dtype
    assert_close(got, want, RTOL[dtype])


def test_scalar_results_are_numpy_scalars():
    got = ll.logsumexp(np.float32([1, 2]))
    assert isinstance(got, np.float32)
    assert isinstance(ll.logsumexp([1.0, 2.0]), np.float64)
    lse, sign = ll.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    assert isinstance(lse, np.float64)
    assert isinstance(sign, np.float64)


def test_zero_dimensional_input_is_one_element():
    # A 0-d input is reduced as the 1-element vector it holds, so keepdims
    # gives shape (1,) (SciPy >= 1.15 does the same; older SciPy gave ()).
    assert ll.logsumexp(np.array(3.0)) == scipy_lse(np.array(3.0)) == 3.0
    got = ll.logsumexp(np.array(3.0), keepdims=True)
    assert got.shape == (1,)
    assert got[0] == 3.0


@pytest.mark.parametrize("classes", [1, 8, 17, 1023])
def test_scale_b_and_sign(simd_level, rng, classes):
    x = rng.standard_normal((6, classes)) * 10
    b = rng.standard_normal((6, classes))
    got, sign = ll.logsumexp(x, axis=1, b=b, return_sign=True)
    want, want_sign = scipy_lse(x, axis=1, b=b, return_sign=True)
    np.testing.assert_array_equal(sign, want_sign)
    assert_close(got, want, 1e-11)
    # Without return_sign a negative sum is NaN, as in SciPy.
    np.testing.assert_array_equal(np.isnan(ll.logsumexp(x, axis=1, b=b)), want_sign < 0)


@pytest.mark.parametrize(
    "b_shape", [(), (1,), (7,), (3, 1), (3, 7), (2, 3, 7)], ids=lambda s: f"b{s}"
)
def test_b_broadcasts_like_scipy(rng, b_shape):
    a = rng.standard_normal((3, 7))
    b = rng.uniform(0.5, 2.0, b_shape)
    for axis in (None, -1):
        got = ll.logsumexp(a, axis=axis, b=b)
        want = scipy_lse(a, axis=axis, b=b)
        assert np.shape(got) == np.shape(want)
        assert_close(got, want, 1e-12)


def test_b_promotes_like_numpy():
    assert ll.logsumexp(np.float32([1, 2]), b=np.float64([1, 1])).dtype == np.float64
    assert ll.logsumexp(np.float32([1, 2]), b=np.float32([1, 1])).dtype == np.float32
    assert ll.logsumexp(np.int64([1, 2]), b=[1, 2]).dtype == np.float64


# (a, b) rows of SciPy's special values; expectations come from SciPy itself,
# and a few are spelled out below.
SPECIAL_ROWS = [
    ([-INF, -INF], None),
    ([INF, 1.0], None),
    ([INF, INF], None),
    ([INF, -INF], None),
    ([NAN, 1.0], None),
    ([NAN, NAN], None),
    ([NAN, INF], None),
    ([1e30, 1e30], None),
    ([1e308, 1e308], None),
    ([-1e308, 1e308], None),
    ([1.0, 2.0], [1.0, -1.0]),
    ([1.0, 1.0], [1.0, -1.0]),
    ([INF, 1.0], [0.0, 1.0]),
    ([NAN, 1.0], [0.0, 1.0]),
    ([INF, 1.0], [-1.0, 1.0]),
    ([INF, INF], [1.0, -1.0]),
    ([-INF, 5.0], [1.0, -1.0]),
    ([1.0, 2.0], [0.0, 0.0]),
    ([-INF, -INF], [1.0, 1.0]),
    ([1.0, 2.0], [1.0, NAN]),
]


@pytest.mark.parametrize(("a", "b"), SPECIAL_ROWS, ids=[str(r) for r in SPECIAL_ROWS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_match_scipy(simd_level, a, b, dtype):
    with np.errstate(over="ignore"):  # 1e308 becomes inf in float32, on purpose
        a = np.array(a, dtype)
    b = None if b is None else np.array(b, dtype)
    got, sign = ll.logsumexp(a, b=b, return_sign=True)
    # SciPy's special values, and its finite values computed in float64 and
    # rounded: logitloss's float32 results are correctly rounded, while
    # SciPy's own float32 arithmetic may be an ulp off (SciPy 1.13 is at
    # a=[1, 2], b=[1, -1]).
    a64 = a.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    want, want_sign = scipy_lse(a64, b=b64, return_sign=True)
    np.testing.assert_array_equal(got, want.astype(dtype))
    np.testing.assert_array_equal(sign, want_sign)
    no_sign = ll.logsumexp(a, b=b)
    np.testing.assert_array_equal(no_sign, scipy_lse(a64, b=b64).astype(dtype))


def test_special_values_spelled_out():
    assert ll.logsumexp([-INF, -INF]) == -INF
    assert ll.logsumexp([INF, 1.0]) == INF
    assert np.isnan(ll.logsumexp([NAN, 1.0]))
    assert ll.logsumexp(np.float32([1e30, 1e30])) == np.float32(1e30)
    assert ll.logsumexp(np.float32([3e38, 3e38])) == np.float32(3e38)
    assert ll.logsumexp([1.0, 1.0], b=[1.0, -1.0], return_sign=True) == (-INF, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cancelling_maxima_leave_the_rest(dtype):
    # The maxima's scales sum to 0, so the result is log(exp(0)) = 0; in
    # float32 the rest is one float32 exp, within an ulp of its exact value.
    a, b = np.array([3, 3, 0], dtype), np.array([1, -1, 1], dtype)
    got, sign = ll.logsumexp(a, b=b, return_sign=True)
    assert sign == 1
    assert abs(got) <= 4 * np.finfo(dtype).eps


def test_maxima_cancelling_at_overflowing_magnitude_give_minus_inf():
    # SciPy's naive fallback overflows to NaN here; the exact sum is 0.
    assert ll.logsumexp([1000.0, 1000.0], b=[1.0, -1.0], return_sign=True) == (-INF, 0.0)


def test_empty_everything_is_minus_inf():
    # SciPy raises an IndexError for this shape with axis=None.
    got = ll.logsumexp(np.zeros((0, 0)))
    assert isinstance(got, np.float64)
    assert got == -INF


@pytest.mark.parametrize(("shape", "axis"), [((0,), None), ((0, 3), 1), ((3, 0), 1), ((3, 0), 0)])
def test_empty(shape, axis):
    x = np.zeros(shape)
    got = ll.logsumexp(x, axis=axis)
    want = expected_lse(x, axis=axis)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)


def test_huge_values_do_not_overflow(simd_level):
    x = np.array([[1e30, 1e30 - 1e24, -1e30]], np.float32)
    assert_close(ll.logsumexp(x, axis=1), scipy_lse(x.astype(np.float64), axis=1), 1e-7)
    # max + log(5) rounds back to float32 max: no spurious overflow.
    x = np.full((2, 5), np.finfo(np.float32).max, np.float32)
    np.testing.assert_array_equal(
        ll.logsumexp(x, axis=1), np.float32(scipy_lse(x.astype(np.float64), axis=1))
    )


def test_dominant_term_keeps_its_digits():
    # lse(0, -40) = log1p(e^-40): a plain log(1 + tiny) would give exactly 0.
    x = np.float32([0.0, -40.0])
    assert ll.logsumexp(x) == np.float32(np.log1p(np.exp(-40.0)))
    assert ll.logsumexp([0.0, -40.0]) == np.log1p(np.exp(-40.0))


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),
        lambda a: a[::-1, ::-1],
        lambda a: a[:, ::2],
        lambda a: a[::3],
        lambda a: np.broadcast_to(a[:1], a.shape),
        lambda a: a.T,
    ],
    ids=["fortran", "reversed", "strided-classes", "strided-rows", "broadcast", "transposed"],
)
@pytest.mark.parametrize("axis", [0, 1, None])
def test_memory_layouts(simd_level, rng, make, axis):
    base = rng.standard_normal((37, 41))
    x = make(base)
    before = x.copy()
    got = ll.logsumexp(x, axis=axis)
    assert_close(got, lse_ref(np.ascontiguousarray(x), axis), 1e-13)
    np.testing.assert_array_equal(x, before)


def test_read_only_input(rng):
    x = rng.standard_normal((4, 9))
    x.setflags(write=False)
    assert_close(ll.logsumexp(x, axis=1), lse_ref(x, 1), 1e-13)


def test_big_endian_input(rng):
    x = rng.standard_normal((4, 9))
    assert_close(ll.logsumexp(x.astype(">f8"), axis=1), lse_ref(x, 1), 1e-13)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.bool_])
def test_integer_and_bool_promote_to_float64(dtype):
    x = np.array([[1, 0, 1], [0, 1, 1]], dtype)
    got = ll.logsumexp(x, axis=1)
    assert got.dtype == np.float64
    assert_close(got, scipy_lse(x.astype(np.float64), axis=1), 1e-15)
    assert ll.logsumexp([[1, 2], [3, 4]], axis=0).dtype == np.float64


def test_float16_is_computed_in_float32_and_returned_in_float16(rng):
    x = (rng.standard_normal((6, 300)) * 4).astype(np.float16)
    got = ll.logsumexp(x, axis=1)
    assert got.dtype == np.float16
    want = scipy_lse(x.astype(np.float64), axis=1)
    np.testing.assert_array_equal(got, want.astype(np.float16))  # correctly rounded


def test_bfloat16(rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = (rng.standard_normal((6, 300)) * 4).astype(ml_dtypes.bfloat16)
    got = ll.logsumexp(x, axis=1)
    assert got.dtype == ml_dtypes.bfloat16
    want = scipy_lse(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2**-8)
