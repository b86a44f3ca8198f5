"""csrc/simd/storage.h: the 16-bit load/store layer (Note [16-bit storage]).

Every path of the layer (whole and partial vectors, gathers and scatters,
strided runs, the scalar forms) on every SIMD level, against NumPy's
float16 cast and ml_dtypes' bfloat16 cast: loads of all 2^16 bit patterns,
stores of every 16-bit value's neighbourhood and of the float32 values on,
next to and between every rounding boundary."""

from __future__ import annotations

import numpy as np
import pytest

from logitloss import _core

ml_dtypes = pytest.importorskip("ml_dtypes")

ACCESS = ["", ":gather", ":runs", ":scalar"]
KINDS = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
ALL_BITS = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)


def f32_bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


def is_nan16(bits: np.ndarray, kind: str) -> np.ndarray:
    mant = 0x3FF if kind == "float16" else 0x7F
    inf = 0x7C00 if kind == "float16" else 0x7F80
    return ((bits & 0x7FFF & (0x7FFF ^ mant)) == inf) & ((bits & mant) != 0)


def widen(bits: np.ndarray, kind: str, access: str) -> np.ndarray:
    return _core._vector_math("widen16" + access, bits.view(KINDS[kind]))


def narrow(x: np.ndarray, kind: str, access: str) -> np.ndarray:
    return _core._vector_math(f"to_{kind}" + access, np.ascontiguousarray(x, np.float32))


def boundary_values(kind: str) -> np.ndarray:
    """float32 values at, next to and between all consecutive 16-bit values
    (midpoints are the rounding boundaries), both signs, with the overflow
    threshold, infinities and float32 subnormals."""
    finite = ALL_BITS[~is_nan16(ALL_BITS, kind)].view(KINDS[kind]).astype(np.float32)
    finite = np.unique(finite[np.isfinite(finite)])  # sorted, -0 and +0 merged
    mids = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)  # exact
    centres = np.concatenate([finite, mids])
    steps = np.arange(-3, 4, dtype=np.int64)
    near = (f32_bits(np.abs(centres)).astype(np.int64)[:, None] + steps).ravel()
    near = near[(near >= 0) & (near <= 0x7F800000)].astype(np.uint32).view(np.float32)
    big = np.float32(np.finfo(np.float32).max)
    extra = np.array([np.inf, big, 65504.0, 65519.99, 65520.0, 3.39e38, 1e-45, 2**-126], np.float32)
    pos = np.concatenate([near, extra])
    return np.concatenate([pos, -pos])


@pytest.mark.parametrize("access", ACCESS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_loads_of_all_16_bit_patterns(simd_level, kind, access):
    got = f32_bits(widen(ALL_BITS, kind, access))
    want = f32_bits(ALL_BITS.view(KINDS[kind]).astype(np.float32))
    nan = is_nan16(ALL_BITS, kind)
    np.testing.assert_array_equal(got[~nan], want[~nan])
    if kind == "float16":
        # NaNs keep sign and payload; signaling ones are quieted (NumPy keeps
        # them signaling), as vcvtph2ps does.
        np.testing.assert_array_equal(got[nan], want[nan] | 0x00400000)
    else:
        np.testing.assert_array_equal(got[nan], want[nan])


@pytest.mark.parametrize("access", ACCESS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_stores_round_to_nearest_even_at_every_boundary(simd_level, kind, access):
    x = boundary_values(kind)
    got = narrow(x, kind, access)
    with np.errstate(over="ignore"):
        want = x.astype(KINDS[kind]).view(np.uint16)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("access", ACCESS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_store_of_every_widened_value_is_the_identity(simd_level, kind, access):
    nan = is_nan16(ALL_BITS, kind)
    values = ALL_BITS[~nan].view(KINDS[kind]).astype(np.float32)
    np.testing.assert_array_equal(narrow(values, kind, access), ALL_BITS[~nan])


@pytest.mark.parametrize("access", ACCESS)
def test_nan_stores(simd_level, access):
    # Quiet float32 NaNs (every payload bit pattern that survives) with
    # both signs, and signaling ones.
    payloads = np.array([0x400000, 0x400001, 0x401000, 0x7FFFFF, 0x600000, 0x402000, 0x1,
                         0x2000, 0x3FFFFF], np.uint32)
    bits = np.concatenate([0x7F800000 | payloads, 0xFF800000 | payloads])
    x = bits.view(np.float32)
    quiet = (bits & 0x400000) != 0
    # float16: sign, quiet bit, payload bits 21..13 (NumPy's result for quiet NaNs).
    half = narrow(x, "float16", access)
    want = ((bits >> 16) & 0x8000) | 0x7E00 | ((bits >> 13) & 0x3FF)
    np.testing.assert_array_equal(half, want.astype(np.uint16))
    np.testing.assert_array_equal(half[quiet], x[quiet].astype(np.float16).view(np.uint16))
    # bfloat16: 0x7fc0 with the sign, as ml_dtypes.
    bf = narrow(x, "bfloat16", access)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(bf, x.astype(ml_dtypes.bfloat16).view(np.uint16))
    np.testing.assert_array_equal(bf, (((bits >> 16) & 0x8000) | 0x7FC0).astype(np.uint16))


@pytest.mark.parametrize("kind", list(KINDS))
def test_random_float32_stores(simd_level, rng, kind):
    bits = rng.integers(0, 1 << 32, 1 << 18, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[~np.isnan(x)]
    with np.errstate(over="ignore"):
        want = x.astype(KINDS[kind]).view(np.uint16)
    for access in ACCESS:
        np.testing.assert_array_equal(narrow(x, kind, access), want)


@pytest.mark.parametrize("n", [0, 1, 3, 7, 8, 15, 16, 17, 31, 33])
def test_partial_vectors_touch_only_their_elements(simd_level, n):
    # Loads of n elements read no further and stores write no further.
    x = np.linspace(-3, 3, n).astype(np.float32)
    for kind in KINDS:
        for access in ACCESS:
            out = narrow(x, kind, access)
            assert out.shape == (n,)
            np.testing.assert_array_equal(out, x.astype(KINDS[kind]).view(np.uint16))
            back = widen(out, kind, access)
            np.testing.assert_array_equal(back, out.view(KINDS[kind]).astype(np.float32))


def exact_round_to_16_bits(d: np.ndarray, kind: str) -> np.ndarray:
    """float64 -> 16-bit, rounded once (nearest, ties to even), by comparing
    with the neighbouring 16-bit values; finite inputs in the 16-bit range."""
    table = ALL_BITS[~is_nan16(ALL_BITS, kind)]
    vals = table.view(KINDS[kind]).astype(np.float64)
    order = np.argsort(vals, kind="stable")
    vals, table = vals[order], table[order]
    keep = np.concatenate([[True], vals[1:] != vals[:-1]])  # one of -0 / +0
    vals, table = vals[keep], table[keep]
    hi = np.clip(np.searchsorted(vals, d), 1, len(vals) - 1)
    lo = hi - 1
    dl, dh = d - vals[lo], vals[hi] - d  # exact: neighbours are close
    pick_hi = (dh < dl) | ((dh == dl) & ((table[hi] & 1) == 0))
    return np.where(pick_hi, table[hi], table[lo]).astype(np.uint16)


@pytest.mark.parametrize("kind", list(KINDS))
def test_doubles_round_once(simd_level, rng, kind):
    # A float64 result (a log-sum-exp, a gradient at the target) rounds once
    # to 16 bits: through float32 it could round twice.
    finite = ALL_BITS[~is_nan16(ALL_BITS, kind)].view(KINDS[kind]).astype(np.float64)
    finite = np.unique(finite[np.isfinite(finite) & (finite > 0)])
    mids = (finite[:-1] + finite[1:]) / 2
    # Just above and below each midpoint by less than float32 resolves:
    # rounding to float32 first would land on the midpoint (a tie).
    d = np.concatenate([mids * (1 + 2.0**-40), mids * (1 - 2.0**-40), mids,
                        rng.uniform(-60000, 60000, 20000)])
    d = np.concatenate([d, -d])
    got = _core._vector_math(f"to_{kind}:double", d)
    want = exact_round_to_16_bits(d, kind)
    np.testing.assert_array_equal(got, want)
    if kind == "float16":  # NumPy's float64 -> float16 cast rounds once too
        np.testing.assert_array_equal(got, d.astype(np.float16).view(np.uint16))


def test_storage_op_errors():
    with pytest.raises(TypeError, match="widen16"):
        _core._vector_math("widen16", np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="float32"):
        _core._vector_math("to_float16", np.zeros(3, np.float64))
    with pytest.raises(ValueError, match="access"):
        _core._vector_math("to_float16:sideways", np.zeros(3, np.float32))
