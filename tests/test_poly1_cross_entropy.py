"""poly1_cross_entropy (Note [Poly-1 cross-entropy]): optax's formula written
out in torch float64 autograd over dtypes, class axes, target kinds and every
option; epsilon = 0 is cross_entropy bit for bit; the fused value and
gradient equal the separate ones bit for bit; confident rows against mpmath
(1 - p_t ~ 1e-30 keeps its digits); central differences; Dask; errors."""

from __future__ import annotations

import functools
import itertools
import zlib

import numpy as np
import pytest

import logitloss as ll
from reference import (
    CLASS_AXIS_LAYOUTS,
    LOSS_REDUCTIONS,
    assert_close_scaled,
    bitwise_equal,
    central_difference,
    check_loss_functions,
    mp_row,
    ulp_error,
    without_axis,
)

ml_dtypes = pytest.importorskip("ml_dtypes")

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
RTOL = {np.float64: 1e-10, np.float32: 2e-5, np.float16: 4e-3, ml_dtypes.bfloat16: 3e-2}
LAYOUTS = CLASS_AXIS_LAYOUTS
REDUCTIONS = LOSS_REDUCTIONS
FUNCS = (ll.poly1_cross_entropy, ll.poly1_cross_entropy_grad,
         ll.poly1_cross_entropy_value_and_grad)


def class_last(a, axis):
    return np.moveaxis(a, axis, -1)


def torch_poly1(x, target, weight, *, epsilon, ignore_index, reduction, label_smoothing, axis,
                grad_output):
    """optax.poly_loss_cross_entropy, CE + epsilon * w * (1 - sum_c q_c p_c),
    with torch's cross_entropy for the CE term and its denominators, in
    float64 autograd: (loss, gradient)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    ax = axis % x.ndim
    C = x.shape[ax]
    xl = class_last(np.asarray(x, np.float64), ax)
    xt = torch.tensor(xl.reshape(-1, C), requires_grad=True)
    wt = None if weight is None else torch.tensor(
        np.asarray(weight).astype(x.dtype).astype(np.float64))
    s = label_smoothing
    if target.dtype.kind in "iu":
        tt = torch.tensor(target.reshape(-1).astype(np.int64))
        valid = tt != ignore_index
        safe = torch.where(valid, tt, 0)
        q = F.one_hot(safe, C).double() * (1 - s) + s / C
        w = (torch.ones(len(tt), dtype=torch.float64) if wt is None else wt[safe]) * valid
        den = w.sum()
        ce_target = tt
    else:
        qt = torch.tensor(class_last(target.astype(x.dtype).astype(np.float64), ax).reshape(-1, C))
        q = qt * (1 - s) + s / C
        w = torch.ones(len(qt), dtype=torch.float64)
        den = len(qt)
        ce_target = qt
    ce = F.cross_entropy(xt, ce_target, wt, ignore_index=ignore_index, reduction=reduction,
                         label_smoothing=s)
    poly = epsilon * w * (1 - (q * torch.softmax(xt, -1)).sum(-1))
    if reduction == "none":
        loss = ce + poly
        go = torch.tensor(np.broadcast_to(grad_output, xl.shape[:-1]).reshape(-1))
    else:
        # With every target ignored the 'mean' is NaN (from the CE term) and
        # the gradient 0, as cross_entropy's; poly.sum() / 0 would make it NaN.
        loss = ce + (poly.sum() if reduction == "sum" or den == 0 else poly.sum() / den)
        go = torch.tensor(float(grad_output), dtype=torch.float64)
    loss.backward(go)
    value = loss.detach().numpy()
    if reduction == "none":
        value = value.reshape(xl.shape[:-1])
    grad = np.moveaxis(xt.grad.numpy().reshape(xl.shape), -1, ax)
    return value, grad


def assert_close(ours, theirs, what, dtype):
    # 16-bit results in the subnormal range (float16 below 6e-5) have that spacing.
    subnormal = 2 * float(ml_dtypes.finfo(dtype).smallest_subnormal)
    assert_close_scaled(ours, theirs, RTOL[dtype], scaled=1.0, absolute=subnormal, what=what)


def make_case(rng, shape, axis, dtype, kind, weighted, smoothing):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    ax = axis % len(shape)
    C = shape[ax]
    reduced = shape[:ax] + shape[ax + 1:]
    if kind == "index":
        target = rng.integers(0, C, reduced)
        target.reshape(-1)[1::3] = -100
    else:
        target = np.moveaxis(rng.dirichlet(np.ones(C), size=reduced), -1, ax).astype(dtype)
    weight = rng.uniform(0.3, 2.0, C) if weighted else None
    return x, target, weight


# (target kind, weighted, label smoothing): each option with each other once
# (the full product of options runs on three layouts in the SIMD-level test).
OPTIONS = [("index", False, 0.0), ("index", True, 0.1), ("prob", False, 0.1), ("prob", True, 0.0)]
CASES = [(layout, dtype, *options)
         for layout, dtype, options in itertools.product(LAYOUTS, DTYPES, OPTIONS)]


@pytest.mark.parametrize(("layout", "dtype", "kind", "weighted", "smoothing"), CASES)
def test_against_optax_formula_in_torch(layout, dtype, kind, weighted, smoothing):
    shape, axis = layout
    rng = np.random.default_rng(zlib.crc32(repr((layout, kind, weighted, smoothing)).encode()))
    x, target, weight = make_case(rng, shape, axis, dtype, kind, weighted, smoothing)
    epsilon = 2.0 if weighted else -0.7  # optax's default, and a negative one
    kw = {"epsilon": epsilon, "label_smoothing": smoothing, "axis": axis}
    check_loss_functions(
        FUNCS, (x, target, weight), kw,
        lambda reduction, go: torch_poly1(x, target, weight, ignore_index=-100,
                                          reduction=reduction, grad_output=go, **kw),
        without_axis(shape, axis), dtype, functools.partial(assert_close, dtype=dtype), rng)


@pytest.mark.parametrize(("layout", "dtype"), list(itertools.product(
    [((6, 5), 1), ((4, 40), 1), ((5, 33, 3), 1)], [np.float32, np.float64])))
def test_every_simd_level_against_torch(simd_level, layout, dtype):
    shape, axis = layout
    rng = np.random.default_rng(len(shape) + shape[-1])
    for kind, weighted, smoothing in itertools.product(("index", "prob"), (False, True),
                                                       (0.0, 0.2)):
        x, target, weight = make_case(rng, shape, axis, dtype, kind, weighted, smoothing)
        kw = {"epsilon": 1.5, "label_smoothing": smoothing, "axis": axis}
        want, want_grad = torch_poly1(x, target, weight, ignore_index=-100, reduction="sum",
                                      grad_output=1.0, **kw)
        value, grad = ll.poly1_cross_entropy_value_and_grad(x, target, weight, reduction="sum",
                                                            **kw)
        assert_close(value, want, kind, dtype)
        assert_close(grad, want_grad, kind, dtype)


# ------------------------------------------------- bit-for-bit identities


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", [((6, 5), 1), ((4, 40), 1), ((3, 40, 2), 1)])
def test_epsilon_zero_is_cross_entropy_bit_for_bit(simd_level, dtype, layout):
    shape, axis = layout
    rng = np.random.default_rng(shape[1])
    for kind, weighted, smoothing in itertools.product(("index", "prob"), (False, True),
                                                       (0.0, 0.1)):
        x, target, weight = make_case(rng, shape, axis, dtype, kind, weighted, smoothing)
        kw = {"label_smoothing": smoothing, "axis": axis}
        for reduction in REDUCTIONS:
            what = f"{kind} {weighted} {smoothing} {reduction}"
            got = ll.poly1_cross_entropy_value_and_grad(x, target, weight, epsilon=0.0,
                                                        reduction=reduction, **kw)
            want = ll.cross_entropy_value_and_grad(x, target, weight, reduction=reduction, **kw)
            bitwise_equal(got[0], want[0], what)
            bitwise_equal(got[1], want[1], what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fused_equals_separate_bit_for_bit(simd_level, dtype, layout):
    shape, axis = layout
    rng = np.random.default_rng(7)
    for kind, smoothing in (("index", 0.0), ("index", 0.3), ("prob", 0.1)):
        x, target, weight = make_case(rng, shape, axis, dtype, kind, True, smoothing)
        kw = {"label_smoothing": smoothing, "axis": axis, "reduction": "none"}
        value, grad = ll.poly1_cross_entropy_value_and_grad(x, target, weight, **kw)
        bitwise_equal(value, ll.poly1_cross_entropy(x, target, weight, **kw), kind)
        bitwise_equal(grad, ll.poly1_cross_entropy_grad(x, target, weight, **kw), kind)


def test_gradient_against_central_differences(rng):
    x = rng.standard_normal((5, 4, 3))
    t = rng.integers(0, 4, (5, 3))
    t[0, 0] = -100
    q = ll.softmax(rng.standard_normal(x.shape), axis=1)
    w = rng.uniform(0.5, 2, 4)
    g = rng.standard_normal((5, 3))
    for target, kw in ((t, {"label_smoothing": 0.2}), (q, {"label_smoothing": 0.1}), (t, {})):
        def f(a, target=target, kw=kw):
            return ll.poly1_cross_entropy(a, target, w, epsilon=3.0, reduction="none", **kw)

        want = central_difference(f, x, g)
        got = ll.poly1_cross_entropy_grad(x, target, w, epsilon=3.0, reduction="none",
                                          grad_output=g, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)


def test_a_single_class_has_zero_gradient():
    x = np.array([[3.0], [-1.0]])
    for target in (np.array([0, 0]), np.ones((2, 1))):
        loss, grad = ll.poly1_cross_entropy_value_and_grad(x, target, reduction="none")
        np.testing.assert_array_equal(loss, [0.0, 0.0])
        np.testing.assert_allclose(grad, 0.0, atol=1e-15)


def test_ignored_samples_and_special_rows():
    x = np.array([[0.0, 1.0, 2.0], [np.inf, 0.0, 0.0], [np.nan, 0.0, 0.0], [1.0, 2.0, 3.0]])
    t = np.array([1, 0, 2, -100])
    with np.errstate(invalid="ignore"):
        loss, grad = ll.poly1_cross_entropy_value_and_grad(x, t, reduction="none")
    assert np.isfinite(loss[0])
    assert np.isnan(loss[1:3]).all()
    assert loss[3] == 0
    assert np.isnan(grad[1:3]).all()
    np.testing.assert_array_equal(grad[3], 0.0)
    with np.errstate(invalid="ignore"):
        assert np.isnan(ll.poly1_cross_entropy(x[:1], [-100]))  # 'mean' of nothing


# ------------------------------------------------------- mpmath accuracy


def mp_poly1(row, target, weight, epsilon, smoothing):
    """Exact loss and gradient of one row: the loss from the definition, the
    gradient by mpmath's differentiation of it."""
    mpmath = pytest.importorskip("mpmath")
    C = len(row)
    w = [mpmath.mpf(1)] * C if weight is None else [mpmath.mpf(float(a)) for a in weight]
    if np.ndim(target) == 0:
        q = [mpmath.mpf(smoothing) / C + (1 - mpmath.mpf(smoothing)) * (c == target)
             for c in range(C)]
        k = [(1 - mpmath.mpf(smoothing)) * w[c] * (c == target) + mpmath.mpf(smoothing) / C * w[c]
             for c in range(C)]
        w_poly = w[target]
    else:
        q = [(1 - mpmath.mpf(smoothing)) * mpmath.mpf(float(a)) + mpmath.mpf(smoothing) / C
             for a in target]
        k = [w[c] * q[c] for c in range(C)]
        w_poly = mpmath.mpf(1)

    def loss(*v):
        p, nlp = mp_row(v)
        return (mpmath.fsum(kc * n for kc, n in zip(k, nlp))
                + epsilon * w_poly * (1 - mpmath.fsum(qc * pc for qc, pc in zip(q, p))))

    v = [mpmath.mpf(float(a)) for a in row]
    grad = [mpmath.diff(loss, v, tuple(int(i == c) for i in range(C))) for c in range(C)]
    # The size of the terms that cancel in p_c (S + eps P) - q_c (k_c + eps p_c).
    p, _ = mp_row(v)
    size = [p[c] * (mpmath.fsum(k) + abs(epsilon) * w_poly) + k[c] + abs(epsilon) * w_poly * q[c]
            for c in range(C)]
    return loss(*v), grad, size


@functools.cache
def confident_case(dtype, C, kind):
    """Rows whose target leads by 20-75 (1 - p_t from 1e-9 down to 1e-32,
    normal float32 numbers), with their exact losses and gradients (computed
    once for every SIMD level)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 80
    rng = np.random.default_rng(C + len(kind))
    n = 6
    x = (rng.standard_normal((n, C)) * 2).astype(dtype)
    t = rng.integers(0, C, n)
    x[np.arange(n), t] = x.max(axis=1) + rng.uniform(20, 75, n).astype(dtype)
    w = rng.uniform(0.5, 2, C)
    smoothing = 0.1 if kind in ("index_smooth", "prob") else 0.0
    if kind.startswith("prob"):
        target = np.eye(C, dtype=dtype)[t]
        if kind == "prob":
            target = (0.9 * target + 0.1 * rng.dirichlet(np.ones(C), n)).astype(dtype)
    else:
        target = t
    exact = [mp_poly1(x[i], target[i], w.astype(dtype), 2.0, smoothing) for i in range(n)]
    return x, target, w, smoothing, exact


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [4, 40])
@pytest.mark.parametrize("kind", ["index", "index_smooth", "prob_one_hot", "prob"])
def test_confident_rows_keep_their_digits(simd_level, dtype, C, kind):
    x, target, w, smoothing, exact = confident_case(dtype, C, kind)
    # Index targets without smoothing: no entry cancels. Otherwise p_c - q_c
    # does (at the target for one-hot probabilities), as for cross_entropy.
    cancels = kind != "index"
    for layout in ("contiguous", "strided"):
        xs = x if layout == "contiguous" else np.asfortranarray(x)
        loss, grad = ll.poly1_cross_entropy_value_and_grad(
            xs, target, w, epsilon=2.0, label_smoothing=smoothing, reduction="none")
        for i, (want_loss, want_grad, size) in enumerate(exact):
            assert ulp_error(loss[i], want_loss, dtype) <= 4, (layout, i)
            assert_grad_row(grad[i], want_grad, size if cancels else None, dtype, (layout, i))


def assert_grad_row(got, exact, size, dtype, what):
    """Each entry within 8 ULP, plus 8 ULP of `size` (the terms that cancel)
    where given (Note [Stable cross-entropy])."""
    for c, want in enumerate(exact):
        slack = 0.0 if size is None else 8 * float(np.spacing(dtype(float(size[c]))))
        err = abs(float(got[c]) - float(want)) - slack
        assert err <= 8 * np.spacing(np.abs(dtype(float(want)))), (what, c, got[c], want)


def test_p_t_near_one_poly_term_is_kept_where_the_naive_formula_loses_it():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    x = np.array([[70.0, 0.0, 0.0, 0.0]], np.float32)  # 1 - p_t = 3 e^-70 ~ 1.2e-30
    want, _, _ = mp_poly1(x[0], 0, None, 2.0, 0.0)
    got = ll.poly1_cross_entropy(x, [0], reduction="none")
    assert float(want) == pytest.approx(3 * 3 * np.exp(-70.0), rel=1e-12)
    assert ulp_error(got[0], want, np.float32) <= 2
    naive = 1 - ll.softmax(x.astype(np.float64), axis=1)[0, 0]  # 1 - p_t in float64
    assert naive == 0.0


# -------------------------------------------------------------------- Dask


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dask_matches_in_memory(reduction):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    import logitloss.dask as lld

    rng = np.random.default_rng(3)
    x = rng.standard_normal((53, 7, 4)) * 3
    t = rng.integers(0, 7, (53, 4))
    t[rng.uniform(size=t.shape) < 0.2] = -100
    q = ll.softmax(rng.standard_normal(x.shape), axis=1)
    w = np.linspace(0.5, 2.0, 7)
    dx = da.from_array(x, chunks=(10, 3, 2))  # the class axis split: rechunked
    for target, dtarget, kw in ((t, da.from_array(t, chunks=(20, 1)), {"label_smoothing": 0.1}),
                                (q, da.from_array(q, chunks=(9, 7, 4)), {})):
        kw = dict(kw, epsilon=1.5, reduction=reduction)
        got = dask.compute(lld.poly1_cross_entropy(dx, dtarget, w, **kw),
                           lld.poly1_cross_entropy_grad(dx, dtarget, w, **kw),
                           *lld.poly1_cross_entropy_value_and_grad(dx, dtarget, w, **kw),
                           scheduler="sync")
        value = ll.poly1_cross_entropy(x, target, w, **kw)
        grad = ll.poly1_cross_entropy_grad(x, target, w, **kw)
        for g, want in zip(got, (value, grad, value, grad)):
            np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match=r"^poly1_cross_entropy: epsilon must be a finite"):
        lld.poly1_cross_entropy(dx, t, epsilon=float("nan"))


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"epsilon": float("nan")}, ValueError, "epsilon must be a finite number, got nan"),
    ({"epsilon": float("inf")}, ValueError, "epsilon must be a finite number, got inf"),
    ({"epsilon": "2"}, TypeError, "epsilon must be a real number, not str"),
    ({"epsilon": None}, TypeError, "epsilon must be a real number, not NoneType"),
    ({"label_smoothing": 1.5}, ValueError, r"label_smoothing must be in \[0, 1\]"),
    ({"reduction": "batchmean"}, ValueError, "reduction must be"),
    ({"axis": 2}, ValueError, "axis 2 is out of bounds"),
    ({"weight": np.ones(3)}, ValueError, r"weight has shape \(3,\)"),
    ({"target": np.zeros(5, np.int64)}, ValueError, r"target has shape \(5,\)"),
    ({"target": np.zeros((6, 4), complex)}, TypeError, "target has unsupported dtype complex128"),
    ({"target": np.array([0, 1, 2, 3, 4, 0])}, IndexError, "target 4 is out of range for 4"),
])
@pytest.mark.parametrize("func", FUNCS)
def test_errors_name_the_argument(func, kwargs, exc, match):
    kw = dict(kwargs)
    target = kw.pop("target", np.zeros(6, np.int64))
    with pytest.raises(exc, match=f"^{func.__name__}: {match}"):
        func(np.zeros((6, 4)), target, **kw)
