"""csrc/simd/log.h: vector log and log1p against mpmath on every SIMD level.

The bounds asserted here are the ones stated in Note [Vector log].
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from logitloss import _core

mpmath = pytest.importorskip("mpmath")

LEVELS = list(_core.simd_levels_supported())
BOUNDS = {
    ("log", "float32"): 1,
    ("log", "float64"): 1,
    ("log1p", "float32"): 2,
    ("log1p", "float64"): 2,
}


@pytest.fixture(params=LEVELS)
def level(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    before = _core.simd_level()
    _core.set_simd_level(request.param)
    yield request.param
    _core.set_simd_level(before)


def _wide_positive(dtype: np.dtype, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random bit patterns of positive finite values: every exponent,
    subnormals included, plus the extremes and values near 1."""
    if dtype == np.float32:
        bits = rng.integers(1, 0x7F800000, n, dtype=np.uint32)
    else:
        bits = rng.integers(1, 0x7FF0000000000000, n, dtype=np.uint64)
    x = bits.view(dtype)
    info = np.finfo(dtype)
    near_one = 1 + rng.uniform(-0.3, 0.42, 300).astype(dtype)
    edges = np.array(
        [
            info.smallest_subnormal,
            info.smallest_normal,
            info.max,
            1,
            0.5,
            2,
            np.sqrt(2),
            np.sqrt(0.5),
        ],
        dtype,
    )
    return np.concatenate([x, near_one, edges]).astype(dtype)


def _log1p_args(dtype: np.dtype, n: int, rng: np.random.Generator) -> np.ndarray:
    pos = _wide_positive(dtype, n, rng)
    tiny = pos[pos < 1]
    neg = -tiny  # (-1, 0): every magnitude down to the subnormals
    info = np.finfo(dtype)
    near_m1 = (-1 + rng.uniform(0, 1e-3, 200)).astype(dtype)
    edges = np.array(
        [
            -1 + info.epsneg,
            -0.5,
            -0.2928932,
            0.4142135,
            info.eps,
            -info.epsneg,
            info.eps / 2,
            -info.epsneg / 2,
        ],
        dtype,
    )
    return np.concatenate([pos, neg, near_m1, edges]).astype(dtype)


@functools.cache
def _case(name: str, dtype_name: str) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(20261123)
    x = _wide_positive(dtype, 3000, rng) if name == "log" else _log1p_args(dtype, 3000, rng)
    fn = mpmath.log if name == "log" else mpmath.log1p
    with mpmath.workdps(50):
        ref = np.array([float(fn(mpmath.mpf(float(v)))) for v in x]).astype(dtype)
    return x, ref


def _max_ulp(a: np.ndarray, b: np.ndarray) -> int:
    """Max distance in units of the last place between finite a and b."""
    itype = np.int32 if a.dtype == np.float32 else np.int64
    ia, ib = a.view(itype).astype(np.int64), b.view(itype).astype(np.int64)
    # Map sign-magnitude to a monotone integer line.
    lim = np.int64(np.iinfo(itype).min)
    ia = np.where(ia < 0, lim - ia, ia)
    ib = np.where(ib < 0, lim - ib, ib)
    return int(np.max(np.abs(ia - ib)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["log", "log1p"])
def test_ulp_against_mpmath(level: str, name: str, dtype: str) -> None:
    x, ref = _case(name, dtype)
    got = _core._vector_math(name, x)
    assert got.dtype == x.dtype
    bound = BOUNDS[(name, dtype)]
    np.testing.assert_array_max_ulp(got, ref, maxulp=bound)
    print(f"{level} {name} {dtype}: max {_max_ulp(got, ref)} ULP over {x.size} points")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_special_values(level: str, dtype: str) -> None:
    t = np.dtype(dtype).type
    info = np.finfo(dtype)
    x = np.array([0.0, -0.0, -1.0, -info.smallest_subnormal, np.inf, -np.inf, np.nan, 1.0], dtype)
    got = _core._vector_math("log", x)
    want = np.array([-np.inf, -np.inf, np.nan, np.nan, np.inf, np.nan, np.nan, 0.0], dtype)
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[-1])  # log(1) = +0
    assert got.dtype == t(0).dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log1p_special_values(level: str, dtype: str) -> None:
    info = np.finfo(dtype)
    sub = info.smallest_subnormal
    x = np.array([-1.0, -1.5, -np.inf, np.inf, np.nan, -0.0, 0.0, sub, -sub, info.max], dtype)
    got = _core._vector_math("log1p", x)
    want = np.array(
        [-np.inf, np.nan, np.nan, np.inf, np.nan, -0.0, 0.0, sub, -sub, np.log(info.max)], dtype
    )
    np.testing.assert_array_equal(got[:-1], want[:-1])
    np.testing.assert_array_max_ulp(got[-1:], want[-1:], maxulp=1)
    assert np.signbit(got[5])
    assert not np.signbit(got[6])


@pytest.mark.parametrize("n", [0, 1, 3, 7, 8, 15, 16, 17, 33])
def test_vector_tails(level: str, n: int) -> None:
    x = np.linspace(0.1, 5, n).astype(np.float32)
    np.testing.assert_array_max_ulp(_core._vector_math("log", x), np.log(x), maxulp=1)
    np.testing.assert_array_max_ulp(_core._vector_math("log1p", x), np.log1p(x), maxulp=2)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown vector math"):
        _core._vector_math("exp2", np.ones(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        _core._vector_math("log", np.ones(3, np.float16))


def _log1p_unit_args(dtype: str, rng: np.random.Generator) -> np.ndarray:
    """log1p_unit: the binary losses' log1p(exp(-|x|)) on [0, 1]."""
    info = np.finfo(dtype)
    return np.concatenate([
        rng.uniform(0, 1, 2000),
        np.exp(-rng.uniform(0, 100, 1000)),  # exp(-|x|) of confident logits
        [0.0, 1.0, info.eps, info.eps / 2, info.smallest_subnormal, np.sqrt(2) - 1],
    ])


def _log1p_nonpos_half_args(dtype: str, rng: np.random.Generator) -> np.ndarray:
    """log1p_nonpos_half: BCE on probabilities' log1p(-min(p, 1 - p)) on [-1/2, 0]."""
    info = np.finfo(dtype)
    return -np.concatenate([
        rng.uniform(0, 0.5, 2000),
        np.exp(-rng.uniform(np.log(2), 700 if dtype == "float64" else 100, 1000)),
        [0.0, 0.5, info.eps, info.eps / 2, info.smallest_subnormal,
         1 - np.sqrt(0.5), np.nextafter(1 - np.sqrt(0.5), 1)],
    ])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("name", "args", "bound"),
    [
        # shares 1 / (1 + e) with the sigmoid: log1p's bound holds
        ("log1p_unit", _log1p_unit_args, "log1p"),
        # from the argument itself (1 + z never rounded): log's bound
        ("log1p_nonpos_half", _log1p_nonpos_half_args, "log"),
    ],
)
def test_log1p_variants_within_their_bounds(level: str, dtype: str, name, args, bound) -> None:
    x = args(dtype, np.random.default_rng(20261202)).astype(dtype)
    got = _core._vector_math(name, x)
    with mpmath.workdps(50):
        ref = np.array([float(mpmath.log1p(mpmath.mpf(float(v)))) for v in x]).astype(dtype)
    np.testing.assert_array_max_ulp(got, ref, maxulp=BOUNDS[(bound, dtype)])
    assert np.isnan(_core._vector_math(name, np.array([np.nan], dtype))[0])
