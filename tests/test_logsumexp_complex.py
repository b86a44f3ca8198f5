"""logsumexp of complex64 / complex128 input with SciPy's semantics: SciPy's
own test suite run against logitloss, differential tests against SciPy,
accuracy against mpmath, special values, dtype promotion, and every other
function still refusing complex input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import logitloss as ll
from logitloss import _core

scipy = pytest.importorskip("scipy")
import scipy.special as sp  # noqa: E402

INF, NAN = np.inf, np.nan
# SciPy's complex semantics as the contract cites them (1.17): the imaginary
# part wrapped to (-pi, pi] (1.15), complex signs, infinities as C99's cexp.
# Older SciPy (CI's oldest-dependencies run has 1.10) computes other values:
# the comparisons with it skip there; everything else runs.
needs_scipy_semantics = pytest.mark.skipif(
    tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 17),
    reason="compares with SciPy >= 1.17's complex logsumexp")


def complex_data(rng, shape, dtype=np.complex128, re_scale=3.0, im_scale=3.0):
    z = rng.normal(size=shape) * re_scale + 1j * rng.uniform(-im_scale, im_scale, shape)
    return z.astype(dtype)


def assert_close(got, want, dtype):
    """Equal to SciPy within its own (complex64) or a few ULP of rounding."""
    rtol = 2e-5 if np.dtype(dtype) in (np.complex64, np.float32) else 1e-12
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@needs_scipy_semantics
def test_scipys_own_logsumexp_tests_pass(tmp_path):
    """scipy/special/tests/test_logsumexp.py's TestLogSumExp (real and complex
    cases: gh-21610, gh-21709, gh-22601's infinities, complex signs, dtype
    mixes) with logitloss.logsumexp in place of SciPy's."""
    # Found, not imported: under this project's --strict-markers, importing it
    # here would fail on the markers SciPy registers in its own conftest.
    if importlib.util.find_spec("scipy.special.tests.test_logsumexp") is None:
        pytest.skip("SciPy's tests are not installed")
    script = textwrap.dedent("""
        import sys, pytest
        import scipy.special.tests.test_logsumexp as t
        import logitloss
        t.logsumexp = logitloss.logsumexp
        sys.exit(pytest.main(["--pyargs", "scipy.special.tests.test_logsumexp", "-q",
                              "-p", "no:cacheprovider", "-k", "TestLogSumExp",
                              "-c", "pytest.ini", "--rootdir", ".",
                              "-W", "ignore::pytest.PytestUnknownMarkWarning"]))
    """)
    # SciPy's tests under an empty configuration of their own: this project's
    # --strict-markers would refuse the markers SciPy registers in its own
    # conftest (which --pyargs does not load), e.g. 1.18's uses_xp_capabilities.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert int(summary.split(" passed")[0].split()[-1]) > 300  # gh-22601 alone has 324


@needs_scipy_semantics
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("return_sign", [False, True])
def test_matches_scipy(dtype, axis, keepdims, return_sign):
    rng = np.random.default_rng(0)
    a = complex_data(rng, (4, 5, 6), dtype)
    got = ll.logsumexp(a, axis=axis, keepdims=keepdims, return_sign=return_sign)
    want = sp.logsumexp(a, axis=axis, keepdims=keepdims, return_sign=return_sign)
    if return_sign:
        assert_close(got[0], want[0], dtype)
        assert_close(got[1], want[1], dtype)
        assert isinstance(got[0], np.generic if axis is None and not keepdims else np.ndarray)
    else:
        assert_close(got, want, dtype)
        assert isinstance(got, np.generic if axis is None and not keepdims else np.ndarray)
        assert np.all(np.abs(np.imag(got)) <= np.pi)


@needs_scipy_semantics
@pytest.mark.parametrize("b_kind", ["real", "negative", "complex", "broadcast", "zeros"])
@pytest.mark.parametrize("return_sign", [False, True])
def test_b_matches_scipy(b_kind, return_sign):
    rng = np.random.default_rng(1)
    a = complex_data(rng, (5, 7))
    b = {
        "real": rng.uniform(0.1, 2, (5, 7)),
        "negative": rng.uniform(-2, 2, (5, 7)),
        "complex": rng.normal(size=(5, 7)) + 1j * rng.normal(size=(5, 7)),
        "broadcast": rng.uniform(-1, 1, (7,)),
        "zeros": np.where(rng.uniform(size=(5, 7)) < 0.5, 0.0, 1.0),
    }[b_kind]
    got = ll.logsumexp(a, axis=1, b=b, return_sign=return_sign)
    want = sp.logsumexp(a, axis=1, b=b, return_sign=return_sign)
    for g, w in zip(got, want) if return_sign else [(got, want)]:
        assert_close(g, w, np.complex128)


@needs_scipy_semantics
def test_real_input_with_a_complex_b():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    b = (rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))).astype(np.complex64)
    got = ll.logsumexp(a, axis=1, b=b)
    assert got.dtype == np.complex64
    assert_close(got, sp.logsumexp(a, axis=1, b=b), np.complex64)


@pytest.mark.parametrize(
    ("a", "b", "dtype"),
    [
        (np.complex64, None, np.complex64),
        (np.complex128, None, np.complex128),
        (np.complex64, np.float64, np.complex128),
        (np.complex64, np.float32, np.complex64),
        (np.complex64, np.float16, np.complex64),
        (np.float16, np.complex64, np.complex64),
        (np.int64, np.complex64, np.complex128),
        (np.bool_, np.complex128, np.complex128),
    ],
)
def test_result_dtypes_follow_scipy(a, b, dtype):
    x = np.ones(3, a)
    bb = None if b is None else np.ones(3, b)
    got = ll.logsumexp(x, b=bb)
    assert got.dtype == dtype
    value, sign = ll.logsumexp(x, b=bb, return_sign=True)
    assert sign.dtype == dtype
    assert value.dtype == np.finfo(dtype).dtype  # the real part's dtype
    newer = tuple(int(p) for p in scipy.__version__.split(".")[:2]) >= (1, 17)
    if newer and np.float16 not in (a, b):  # SciPy keeps float16 as is
        assert sp.logsumexp(x, b=bb).dtype == dtype


def test_bfloat16_with_complex_b():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    got = ll.logsumexp(np.ones(3, ml_dtypes.bfloat16), b=np.ones(3, np.complex64))
    assert got.dtype == np.complex64
    np.testing.assert_allclose(got, 1 + np.log(3), rtol=1e-6)


def test_unsupported_complex_dtypes_are_type_errors():
    if np.dtype(np.clongdouble).itemsize > 16:
        with pytest.raises(TypeError, match=r"^logsumexp: a has unsupported dtype complex\d+; "
                                            "complex input must be complex64 or complex128"):
            ll.logsumexp(np.ones(3, np.clongdouble))
    with pytest.raises(TypeError, match=r"^logsumexp: b has unsupported dtype object"):
        ll.logsumexp(np.ones(3, complex), b=np.array([1, None, 2], dtype=object))
    with pytest.raises(ValueError, match=r"^logsumexp: b with shape \(2,\) does not broadcast"):
        ll.logsumexp(np.ones(3, complex), b=np.ones(2))
    with pytest.raises(ValueError, match=r"^logsumexp: axis 1 is out of bounds"):
        ll.logsumexp(np.ones(3, complex), axis=1)


# ------------------------------------------------------------- accuracy


def _mp_logsumexp(mpmath, row, b=None):
    """log S exactly, and S's condition number sum |b_k exp(a_k)| / |S|."""
    s, total = mpmath.mpc(0), mpmath.mpf(0)
    for k, z in enumerate(row):
        w = 1 if b is None else mpmath.mpc(complex(b[k]))
        term = w * mpmath.exp(mpmath.mpc(complex(z)))
        s += term
        total += abs(term)
    return complex(mpmath.log(s)), float(total / abs(s))


ACCURACY_CASES = {
    # name: (a maker, b maker or None)
    "random": (lambda r: r.normal(size=(60, 20)) * 30 + 1j * r.uniform(-50, 50, (60, 20)), None),
    "moderate": (lambda r: r.normal(size=(60, 20)) + 1j * r.uniform(-3, 3, (60, 20)), None),
    "dominated": (lambda r: np.concatenate([np.zeros((60, 1)), r.uniform(-60, -35, (60, 5))], 1)
                  + 1j * r.uniform(-1e-3, 1e-3, (60, 6)), None),
    "complex_b": (lambda r: r.normal(size=(60, 8)) + 1j * r.uniform(-3, 3, (60, 8)),
                  lambda r: r.normal(size=(60, 8)) + 1j * r.normal(size=(60, 8))),
    "huge_imag": (lambda r: r.normal(size=(60, 6)) + 1j * r.uniform(-1e6, 1e6, (60, 6)), None),
}


@pytest.mark.parametrize("case", list(ACCURACY_CASES))
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_accuracy_against_mpmath(case, dtype):
    """complex128: |error| <= 2 eps (|log S| + cond) (measured <= 0.51), with
    cond = sum |b e^a| / |S|
    the sum's condition number (rows whose terms cancel lose what the data
    lose); complex64, computed in double: within 1 ULP per part (measured
    0.5). Rows dominated by one entry keep every digit of a result near 0
    (SciPy's gh-18295), and imaginary parts of 1e6 reduce exactly (SciPy
    loses ~7 digits there)."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(7)
    make_a, make_b = ACCURACY_CASES[case]
    a = make_a(rng).astype(dtype)
    b = None if make_b is None else make_b(rng).astype(dtype)
    with mpmath.workdps(60):
        exact = [_mp_logsumexp(mpmath, a[i], None if b is None else b[i])
                 for i in range(a.shape[0])]
    want = np.array([e[0] for e in exact])
    cond = np.array([e[1] for e in exact])
    got = ll.logsumexp(a, axis=1, b=b).astype(np.complex128)
    if dtype == np.complex128:
        bound = np.finfo(np.float64).eps * (np.abs(want) + cond)
        ratio = np.abs(got - want) / bound
        assert ratio.max() <= 2, float(ratio.max())
        if case in ("dominated", "random"):  # no cancellation: each part to an ULP or two
            for part in (np.real, np.imag):
                err = np.abs(part(got) - part(want)) / np.spacing(np.abs(part(want)))
                assert err.max() <= 2, (case, float(err.max()))
    else:
        for part in (np.real, np.imag):
            w = part(want).astype(np.float32)
            err = np.abs(part(got) - part(want)) / np.spacing(np.abs(w)).astype(np.float64)
            assert err.max() <= 1, (case, float(err.max()))


def test_small_imaginary_parts_keep_their_digits():
    # SciPy's gh-21709, and one entry dominating by far.
    got = ll.logsumexp(np.array([0, 2.2204460492503132e-17j]))
    assert got.real == 0.6931471805599453
    np.testing.assert_allclose(got.imag, 1.1102230246251566e-17, rtol=1e-15)
    got = ll.logsumexp(np.array([0.0, -40.0 + 1e-3j]))
    # mpmath: log(1 + exp(-40 + 0.001j))
    np.testing.assert_allclose(got.real, 4.248352131114638e-18, rtol=2e-16)
    np.testing.assert_allclose(got.imag, 4.248353547232582e-21, rtol=2e-16)


def test_results_are_on_the_principal_branch():
    # imaginary parts wrapped to (-pi, pi]: -pi itself becomes pi
    cases = [([1 + 4j], 1 - (2 * np.pi - 4) * 1j), ([1 - 4j], 1 + (2 * np.pi - 4) * 1j),
             ([1 + np.pi * 1j], 1 + np.pi * 1j), ([1 - np.pi * 1j], 1 + np.pi * 1j),
             ([0j], 0j)]
    for a, want in cases:
        got = ll.logsumexp(np.array(a))
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)
        assert -np.pi < got.imag <= np.pi
    # log of a negative sum: +pi, also through b < 0
    got = ll.logsumexp(np.array([1 + 0j, 2 + 0j]), b=[1, -1])
    assert got.imag == np.pi
    assert got.real == 1.5413248546129181  # log(e^2 - e), as SciPy's docs give it


def test_return_sign_gives_a_complex_unit():
    rng = np.random.default_rng(3)
    a = complex_data(rng, (8, 9))
    value, sign = ll.logsumexp(a, axis=1, return_sign=True)
    assert value.dtype == np.float64
    np.testing.assert_allclose(np.abs(sign), 1, rtol=1e-15)
    np.testing.assert_allclose(sign * np.exp(value), np.exp(a).sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(np.log(sign).imag, ll.logsumexp(a, axis=1).imag, rtol=1e-14)


# ------------------------------------------------------------- specials

SPECIAL = [0j, 1 + 2j, -INF + 0j, -INF + 1j, -INF + 3j, INF + 0j, INF + 2j, INF - 3j,
           complex(1, INF), complex(1, NAN), complex(NAN, 0), complex(-INF, NAN),
           complex(-INF, INF), 700 + 0j, 710 + 1j, -800 + 0j]


@needs_scipy_semantics
@pytest.mark.parametrize("return_sign", [False, True])
def test_special_values_match_scipy(return_sign):
    rows = [[x, y] for x in SPECIAL for y in SPECIAL]
    a = np.array(rows)
    with np.errstate(all="ignore"):
        want = sp.logsumexp(a, axis=1, return_sign=return_sign)
    got = ll.logsumexp(a, axis=1, return_sign=return_sign)
    for g, w in zip(got, want) if return_sign else [(got, want)]:
        # NaN where SciPy has NaN, inf where SciPy has inf, values to rounding
        np.testing.assert_allclose(g, w, rtol=1e-14, atol=0)


def test_zero_weights_leave_entries_out():
    """Entries with b == 0 add nothing, even where a is infinite or NaN (as
    for real input; SciPy's direct fallback gives NaN where every entry has
    b == 0 and some a is infinite)."""
    a = np.array([[INF + 1j, 1 + 0j], [NAN + 0j, 2 + 1j], [INF + 0j, 5 + 0j]])
    b = np.array([[0, 1], [0, 1], [0, 0]])
    got = ll.logsumexp(a, axis=1, b=b)
    np.testing.assert_array_equal(got, [1 + 0j, 2 + 1j, -INF + 0j])
    value, sign = ll.logsumexp(a, axis=1, b=b, return_sign=True)
    np.testing.assert_array_equal(value, [1, 2, -INF])
    np.testing.assert_allclose(sign, [1, np.exp(1j), 0], rtol=1e-15)


def test_empty_sums():
    # A zero sum: -inf and sign 0 (SciPy returns a complex -inf value and a
    # NaN sign for an empty array with return_sign; logitloss's real rule).
    assert ll.logsumexp(np.empty(0, complex)) == -INF
    value, sign = ll.logsumexp(np.empty((2, 0), np.complex64), axis=1, return_sign=True)
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, [-INF, -INF])
    np.testing.assert_array_equal(sign, [0, 0])
    assert ll.logsumexp(np.empty((0, 3), complex), axis=1).shape == (0,)
    np.testing.assert_array_equal(ll.logsumexp(np.array([1 + 1j, 1 + 1j]), b=[1, -1],
                                               return_sign=True), (-INF, 0))


# ------------------------------------------------------ layouts, threads


def test_layouts_scalars_and_threads(threads):
    rng = np.random.default_rng(4)
    a = complex_data(rng, (6, 7, 8))
    ref = ll.logsumexp(a, axis=1)
    np.testing.assert_array_equal(ll.logsumexp(np.asfortranarray(a), axis=1), ref)
    np.testing.assert_array_equal(ll.logsumexp(a[::-1, :, ::2], axis=1), ref[::-1, ::2])
    np.testing.assert_array_equal(ll.logsumexp(a.transpose(2, 1, 0), axis=1), ref.T)
    b = rng.uniform(0.5, 2, (7, 1))
    np.testing.assert_allclose(ll.logsumexp(a, axis=1, b=b),
                               np.log((b * np.exp(a)).sum(axis=1)), rtol=1e-13)
    assert ll.logsumexp(np.complex128(1 + 2j)) == 1 + 2j
    assert isinstance(ll.logsumexp(np.complex64(1 + 2j)), np.complex64)
    big = complex_data(rng, (300, 200), np.complex64)
    results = []
    for n in (1, 2, 3):
        ll.set_num_threads(n)
        results.append(ll.logsumexp(big, axis=1))
    assert all(r.tobytes() == results[0].tobytes() for r in results)
    # Scalar code compiled once: every SIMD level gives the same bits.
    before = _core.simd_level()
    try:
        for level in _core.simd_levels_supported():
            _core.set_simd_level(level)
            assert ll.logsumexp(big, axis=1).tobytes() == results[0].tobytes()
    finally:
        _core.set_simd_level(before)


def test_inputs_are_not_modified():
    a = np.array([[1 + 1j, INF + 0j], [2j, -INF + 0j]])
    b = np.array([1.0, -2.0])
    a0, b0 = a.copy(), b.copy()
    ll.logsumexp(a, axis=1, b=b, return_sign=True)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


# -------------------------------------- everything else refuses complex


def _refusals():
    x = np.ones((2, 3), np.complex128)
    r = np.ones((2, 3))
    t = np.array([0, 1])
    p = np.full((2, 3), 0.5)
    calls = [
        ("logsumexp_grad", "a", lambda: ll.logsumexp_grad(x)),
        ("logsumexp_grad", "b", lambda: ll.logsumexp_grad(r, b=x)),
        ("softmax", "x", lambda: ll.softmax(x)),
        ("log_softmax", "x", lambda: ll.log_softmax(x)),
        ("softmax_grad", "x", lambda: ll.softmax_grad(x, r)),
        ("log_softmax_grad", "grad_output", lambda: ll.log_softmax_grad(r, x)),
        ("cross_entropy", "input", lambda: ll.cross_entropy(x, t)),
        ("cross_entropy_grad", "input", lambda: ll.cross_entropy_grad(x, t)),
        ("nll_loss_value_and_grad", "input", lambda: ll.nll_loss_value_and_grad(x, t)),
        ("binary_cross_entropy_with_logits", "input",
         lambda: ll.binary_cross_entropy_with_logits(x, r)),
        ("sigmoid_focal_loss_grad", "target", lambda: ll.sigmoid_focal_loss_grad(r, x)),
        ("binary_cross_entropy", "input", lambda: ll.binary_cross_entropy(x, p)),
        ("binary_cross_entropy_grad", "weight", lambda: ll.binary_cross_entropy_grad(p, p, x)),
        ("kl_div", "input", lambda: ll.kl_div(x, p)),
        ("kl_div_value_and_grad", "target", lambda: ll.kl_div_value_and_grad(r, x)),
        ("kl_div", "input", lambda: ll.KLDivLoss()(x, p)),
        ("binary_cross_entropy_value_and_grad", "input",
         lambda: ll.BCELoss().value_and_grad(x, p)),
    ]
    return calls


@pytest.mark.parametrize(("func", "arg", "call"), _refusals(), ids=lambda v: v if isinstance(
    v, str) else "")
def test_gradients_and_losses_refuse_complex(func, arg, call):
    with pytest.raises(TypeError, match=rf"^{func}: {arg} has unsupported dtype complex128"):
        call()
