"""softmax_focal_loss (Note [Softmax focal loss]): -alpha_t (1 - p_t)**gamma
log p_t written out in torch float64 autograd over dtypes, class axes, alpha
kinds, gamma values, ignore_index and reductions; gamma = 0 is weighted
cross_entropy bit for bit (a hypothesis property), with 'mean' over the
samples; confident rows (1 - p_t ~ 1e-30) against mpmath; the limits u = 0
and p_t = 0; central differences; Dask; errors."""

from __future__ import annotations

import functools
import itertools
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
FUNCS = (ll.softmax_focal_loss, ll.softmax_focal_loss_grad, ll.softmax_focal_loss_value_and_grad)


def alpha_of(kind, rng, C):
    return {"none": None, "scalar": 0.25, "per_class": rng.uniform(0.1, 1.0, C)}[kind]


def torch_focal(x, target, *, alpha, gamma, ignore_index, reduction, axis, grad_output):
    """-alpha_t (1 - p_t)**gamma log p_t per sample in float64 autograd, with
    1 - p_t as -expm1(log p_t) (accurate, so the reference keeps its digits);
    'mean' over the non-ignored samples. Returns (loss, gradient)."""
    torch = pytest.importorskip("torch")
    ax = axis % x.ndim
    C = x.shape[ax]
    xl = np.moveaxis(np.asarray(x, np.float64), ax, -1)
    xt = torch.tensor(xl.reshape(-1, C), requires_grad=True)
    tt = torch.tensor(np.asarray(target).reshape(-1).astype(np.int64))
    valid = tt != ignore_index
    safe = torch.where(valid, tt, 0)
    if alpha is None:
        a = torch.ones(len(tt), dtype=torch.float64)
    else:  # rounded to the input's dtype, as documented
        rounded = np.asarray(alpha, np.float64).astype(x.dtype).astype(np.float64)
        a = torch.tensor(np.broadcast_to(rounded, (C,)).copy())[safe]
    logp_t = torch.log_softmax(xt, -1).gather(1, safe[:, None])[:, 0]
    per = torch.where(valid, -a * (-torch.expm1(logp_t)) ** gamma * logp_t, 0.0)
    count = int(valid.sum())
    if reduction == "none":
        loss = per
        go = torch.tensor(np.broadcast_to(grad_output, xl.shape[:-1]).reshape(-1))
    else:
        loss = per.sum()
        if reduction == "mean":  # all ignored: NaN, with cross_entropy's zero gradient
            loss = loss / count if count else loss + float("nan")
        go = torch.tensor(float(grad_output), dtype=torch.float64)
    loss.backward(go)
    value = loss.detach().numpy()
    if reduction == "none":
        value = value.reshape(xl.shape[:-1])
    return value, np.moveaxis(xt.grad.numpy().reshape(xl.shape), -1, ax)


def assert_close(ours, theirs, what, dtype):
    # 16-bit results in the subnormal range (float16 below 6e-5) have that spacing.
    subnormal = 2 * float(ml_dtypes.finfo(dtype).smallest_subnormal)
    assert_close_scaled(ours, theirs, RTOL[dtype], scaled=0.1, absolute=subnormal, what=what)


def make_case(rng, shape, axis, dtype):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    t = rng.integers(0, shape[axis % len(shape)], without_axis(shape, axis))
    t.reshape(-1)[1::3] = -100
    return x, t


# (alpha kind, gamma): every kind and an integer, a non-integer and a zero gamma.
OPTIONS = [("none", 2.0), ("scalar", 0.5), ("per_class", 0.0), ("per_class", 3.5)]
CASES = [(layout, dtype, *options)
         for layout, dtype, options in itertools.product(LAYOUTS, DTYPES, OPTIONS)]


@pytest.mark.parametrize(("layout", "dtype", "alpha_kind", "gamma"), CASES)
def test_against_the_formula_in_torch(layout, dtype, alpha_kind, gamma):
    shape, axis = layout
    rng = np.random.default_rng(zlib.crc32(repr((layout, alpha_kind, gamma)).encode()))
    x, t = make_case(rng, shape, axis, dtype)
    alpha = alpha_of(alpha_kind, rng, shape[axis % len(shape)])
    kw = {"alpha": alpha, "gamma": gamma, "axis": axis}
    check_loss_functions(
        FUNCS, (x, t), kw,
        lambda reduction, go: torch_focal(x, t, ignore_index=-100, reduction=reduction,
                                          grad_output=go, **kw),
        without_axis(shape, axis), dtype, functools.partial(assert_close, dtype=dtype), rng)


@pytest.mark.parametrize(("layout", "dtype"), list(itertools.product(
    [((6, 5), 1), ((4, 40), 1), ((5, 33, 3), 1)], [np.float32, np.float64])))
@pytest.mark.parametrize("gamma", [0.0, 2.0, 1.7])
def test_every_simd_level_against_torch(simd_level, layout, dtype, gamma):
    shape, axis = layout
    rng = np.random.default_rng(len(shape) + shape[-1])
    x, t = make_case(rng, shape, axis, dtype)
    alpha = rng.uniform(0.1, 1.0, shape[axis])
    kw = {"alpha": alpha, "gamma": gamma, "axis": axis}
    want, want_grad = torch_focal(x, t, ignore_index=-100, reduction="sum", grad_output=1.0, **kw)
    value, grad = ll.softmax_focal_loss_value_and_grad(x, t, reduction="sum", **kw)
    assert_close(value, want, "value", dtype)
    assert_close(grad, want_grad, "grad", dtype)


# --------------------------------------------- gamma = 0: weighted CE


@st.composite
def focal_calls(draw):
    C = draw(st.integers(1, 40))
    n = draw(st.integers(0, 12))
    inner = draw(st.sampled_from([None, 1, 3]))
    shape = (n, C) if inner is None else (n, C, inner)
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16, ml_dtypes.bfloat16]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([0.5, 3.0, 30.0]))
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    t = rng.integers(0, C, without_axis(shape, 1))
    t[rng.random(t.shape) < 0.3] = -100
    kind = draw(st.sampled_from(["none", "scalar", "per_class"]))
    alpha = {"none": None, "scalar": float(rng.uniform(0, 2)),
             "per_class": rng.uniform(0, 2, C)}[kind]
    return x, t, alpha


@given(focal_calls())
def test_gamma_zero_is_weighted_cross_entropy(call):
    x, t, alpha = call
    C = x.shape[1]
    weight = None if alpha is None else np.broadcast_to(np.asarray(alpha, np.float64), (C,))
    for reduction in ("none", "sum"):
        got = ll.softmax_focal_loss_value_and_grad(x, t, alpha=alpha, gamma=0.0,
                                                   reduction=reduction)
        want = ll.cross_entropy_value_and_grad(x, t, weight, reduction=reduction)
        bitwise_equal(got[0], want[0], reduction)
        bitwise_equal(got[1], want[1], reduction)
    # 'mean' divides by the number of non-ignored samples, not their alpha.
    count = int(np.count_nonzero(t != -100))
    total = ll.cross_entropy(x.astype(np.float64) if x.dtype == np.float64 else x, t, weight,
                             reduction="sum")
    mean = ll.softmax_focal_loss(x, t, alpha=alpha, gamma=0.0)
    grad = ll.softmax_focal_loss_grad(x, t, alpha=alpha, gamma=0.0)
    if count:
        bitwise_equal(grad, ll.cross_entropy_grad(x, t, weight, reduction="sum",
                                                  grad_output=1.0 / count))
        if x.dtype == np.float64:
            assert mean == total / count
    else:
        assert np.isnan(mean)


def test_mean_is_over_samples_not_alpha():
    x = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0]])
    t = np.array([0, 1, 2])
    alpha = np.array([0.1, 1.0, 10.0])
    per_sample = ll.softmax_focal_loss(x, t, alpha=alpha, gamma=0.0, reduction="none")
    focal = ll.softmax_focal_loss(x, t, alpha=alpha, gamma=0.0)
    ce = ll.cross_entropy(x, t, alpha)
    assert focal == pytest.approx(per_sample.sum() / 3, rel=1e-15)
    assert ce == pytest.approx(per_sample.sum() / alpha.sum(), rel=1e-15)
    assert abs(focal - ce) > 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fused_equals_separate_bit_for_bit(simd_level, dtype, layout):
    shape, axis = layout
    rng = np.random.default_rng(11)
    x, t = make_case(rng, shape, axis, dtype)
    for gamma in (0.0, 2.0, 0.3):
        kw = {"alpha": rng.uniform(0.1, 1, shape[axis]), "gamma": gamma, "axis": axis,
              "reduction": "none"}
        value, grad = ll.softmax_focal_loss_value_and_grad(x, t, **kw)
        bitwise_equal(value, ll.softmax_focal_loss(x, t, **kw))
        bitwise_equal(grad, ll.softmax_focal_loss_grad(x, t, **kw))


def test_gradient_against_central_differences(rng):
    x = rng.standard_normal((5, 4, 3))
    t = rng.integers(0, 4, (5, 3))
    t[0, 0] = -100
    g = rng.standard_normal((5, 3))
    for gamma in (0.0, 0.5, 2.0, 3.3):
        def f(a, gamma=gamma):
            return ll.softmax_focal_loss(a, t, alpha=[0.2, 0.5, 1.0, 2.0], gamma=gamma,
                                         reduction="none")

        got = ll.softmax_focal_loss_grad(x, t, alpha=[0.2, 0.5, 1.0, 2.0], gamma=gamma,
                                         reduction="none", grad_output=g)
        np.testing.assert_allclose(got, central_difference(f, x, g), rtol=1e-7, atol=1e-8)


# --------------------------------------------------------------- limits


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_limits_where_autograd_gives_nan(dtype, gamma):
    # u = 1 - p_t = 0 (every other exp underflows): loss 0 and gradient 0
    # (for gamma = 0: -(p_c - [c = t]) rounds to 0 too).
    x = np.array([[0.0, -2000.0, -2000.0]], dtype)
    loss, grad = ll.softmax_focal_loss_value_and_grad(x, [0], gamma=gamma, reduction="sum")
    assert loss == 0
    np.testing.assert_array_equal(grad, 0.0)
    # p_t = 0 (x_t = -inf, or its exp underflows): F = alpha_t, the limit.
    for x_t in (-np.inf, -2000.0):
        x = np.array([[0.0, x_t, 0.0]], dtype)
        loss, grad = ll.softmax_focal_loss_value_and_grad(x, [1], alpha=0.5, gamma=gamma,
                                                          reduction="sum")
        assert loss == (np.inf if x_t == -np.inf else dtype(0.5 * (2000 + np.log(2.0))))
        np.testing.assert_allclose(grad, [[0.25, -0.5, 0.25]], rtol=1e-7)


def test_ignored_samples_and_special_rows():
    x = np.array([[0.0, 1.0, 2.0], [np.inf, 0.0, 0.0], [np.nan, 0.0, 0.0], [1.0, 2.0, 3.0]])
    t = np.array([1, 0, 2, -100])
    with np.errstate(invalid="ignore"):
        loss, grad = ll.softmax_focal_loss_value_and_grad(x, t, reduction="none")
    assert np.isfinite(loss[0])
    assert np.isnan(loss[1:3]).all()
    assert loss[3] == 0
    assert np.isnan(grad[1:3]).all()
    np.testing.assert_array_equal(grad[3], 0.0)


# ------------------------------------------------------- mpmath accuracy


def mp_focal(row, target, alpha, gamma):
    """Exact loss and gradient of one row: the loss from the definition
    (1 - p_t as the sum of the other classes' p_c: no cancellation), the
    gradient by mpmath's differentiation of it."""
    mpmath = pytest.importorskip("mpmath")

    def loss(*v):
        p, nlp = mp_row(v)
        u = mpmath.fsum(pc for c, pc in enumerate(p) if c != target)
        return alpha * u ** gamma * nlp[target]

    v = [mpmath.mpf(float(a)) for a in row]
    C = len(v)
    return loss(*v), [mpmath.diff(loss, v, tuple(int(i == c) for i in range(C)))
                      for c in range(C)]


# (dtype, gamma, margins): 1 - p_t from 1e-9 to ~1e-30, the loss and
# gradient ~ (1 - p_t)**(gamma + 1) kept within the dtype's normal range.
ACCURACY = [(np.float64, 2.0, (20, 70)), (np.float64, 0.5, (20, 70)),
            (np.float64, 3.7, (20, 70)), (np.float32, 0.25, (20, 60)),
            (np.float32, 2.0, (5, 25)), (np.float32, 1.5, (10, 30))]


def ulp_bounds(dtype, gamma):
    """(loss, gradient) bounds of Note [Softmax focal loss]. float32 storage
    computes in double from float exps: a few ULP for gamma <= 2 (measured
    2.0 / 2.5). float64's exps are within 1 ULP of the result's own
    precision, and u^gamma multiplies u's error by gamma: about
    1.5 (gamma + 1) ULP (measured 5.4 / 5.5 at gamma = 2, 7.6 / 8.8 at 3.7)."""
    if dtype == np.float32:
        return 3.0, 4.0
    return 1.5 * (gamma + 1) + 2, 1.5 * (gamma + 1) + 3


@functools.cache
def confident_case(dtype, gamma, margin, C):
    """Rows whose target leads by `margin`, with their exact losses and
    gradients (computed once for every SIMD level)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 80
    rng = np.random.default_rng(C + int(10 * gamma))
    n = 6
    x = (rng.standard_normal((n, C)) * 2).astype(dtype)
    t = rng.integers(0, C, n)
    x[np.arange(n), t] = x.max(axis=1) + rng.uniform(*margin, n).astype(dtype)
    alpha = rng.uniform(0.2, 1.0, C).astype(dtype)
    exact = [mp_focal(x[i], t[i], mpmath.mpf(float(alpha[t[i]])), gamma) for i in range(n)]
    return x, t, alpha, exact


@pytest.mark.parametrize(("dtype", "gamma", "margin"), ACCURACY)
@pytest.mark.parametrize("C", [4, 40])
def test_confident_rows_keep_their_digits(simd_level, dtype, gamma, margin, C):
    x, t, alpha, exact = confident_case(dtype, gamma, margin, C)
    loss_ulp, grad_ulp = ulp_bounds(dtype, gamma)
    for layout in ("contiguous", "strided"):
        xs = x if layout == "contiguous" else np.asfortranarray(x)
        loss, grad = ll.softmax_focal_loss_value_and_grad(xs, t, alpha=alpha, gamma=gamma,
                                                          reduction="none")
        for i, (want_loss, want_grad) in enumerate(exact):
            assert ulp_error(loss[i], want_loss, dtype) <= loss_ulp, (layout, i)
            for c in range(C):
                assert ulp_error(grad[i, c], want_grad[c], dtype) <= grad_ulp, (
                    layout, i, c, grad[i, c], want_grad[c])


def test_one_minus_p_t_near_1e_30_keeps_its_digits():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 80
    x = np.array([[70.0, 0.0, 0.0, 0.0]])  # 1 - p_t = 3 e^-70 ~ 1.2e-30
    want, want_grad = mp_focal(x[0], 0, mpmath.mpf(1), 2.0)
    loss, grad = ll.softmax_focal_loss_value_and_grad(x, [0], reduction="none")
    assert float(want) == pytest.approx((3 * np.exp(-70.0)) ** 3, rel=1e-12)
    loss_ulp, grad_ulp = ulp_bounds(np.float64, 2.0)
    assert ulp_error(loss[0], want, np.float64) <= loss_ulp
    for c in range(4):
        assert ulp_error(grad[0, c], want_grad[c], np.float64) <= grad_ulp
    # The formula as usually written loses it all: 1 - p_t rounds to 0.
    assert 1 - ll.softmax(x, axis=1)[0, 0] == 0.0


# -------------------------------------------------------------------- Dask


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dask_matches_in_memory(reduction):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    import logitloss.dask as lld

    rng = np.random.default_rng(5)
    x = rng.standard_normal((53, 7, 4)) * 3
    t = rng.integers(0, 7, (53, 4))
    t[rng.uniform(size=t.shape) < 0.2] = -100
    dx, dt = da.from_array(x, chunks=(10, 3, 2)), da.from_array(t, chunks=(20, 1))
    for alpha in (None, 0.25, np.linspace(0.1, 1.0, 7)):
        kw = {"alpha": alpha, "gamma": 1.5, "reduction": reduction}
        got = dask.compute(lld.softmax_focal_loss(dx, dt, **kw),
                           lld.softmax_focal_loss_grad(dx, dt, **kw),
                           *lld.softmax_focal_loss_value_and_grad(dx, dt, **kw),
                           scheduler="sync")
        value = ll.softmax_focal_loss(x, t, **kw)
        grad = ll.softmax_focal_loss_grad(x, t, **kw)
        for g, want in zip(got, (value, grad, value, grad)):
            np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match=r"^softmax_focal_loss: gamma must be a finite number"):
        lld.softmax_focal_loss(dx, dt, gamma=-1.0)
    with pytest.raises(TypeError, match=r"^softmax_focal_loss: target has dtype float64"):
        lld.softmax_focal_loss(dx, da.zeros(x.shape, chunks=10))


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"gamma": -1.0}, ValueError, r"gamma must be a finite number >= 0, got -1.0"),
    ({"gamma": float("nan")}, ValueError, r"gamma must be a finite number >= 0, got nan"),
    ({"gamma": float("inf")}, ValueError, r"gamma must be a finite number >= 0, got inf"),
    ({"gamma": "2"}, TypeError, "gamma must be a real number, not str"),
    ({"alpha": -0.5}, ValueError, r"alpha must be a finite number >= 0, got -0.5"),
    ({"alpha": float("nan")}, ValueError, r"alpha must be a finite number >= 0, got nan"),
    ({"alpha": [0.1, -1.0, 0.3, 0.4]}, ValueError,
     r"alpha must hold finite numbers >= 0, got -1.0"),
    ({"alpha": [0.1, np.inf, 0.3, 0.4]}, ValueError,
     r"alpha must hold finite numbers >= 0, got inf"),
    ({"alpha": [0.1, 0.2, 0.3]}, ValueError,
     r"alpha has shape \(3,\) but input has shape \(6, 4\); expected a scalar or one value "
     r"per class, shape \(4,\)"),
    ({"alpha": np.ones((1, 4))}, ValueError, r"alpha has shape \(1, 4\)"),
    ({"alpha": "x"}, TypeError, "alpha has unsupported dtype"),
    ({"alpha": [1j, 0, 0, 0]}, TypeError, "alpha has unsupported dtype complex128"),
    ({"target": np.zeros(6)}, TypeError,
     r"target has dtype float64; expected integer class indices \(probability targets are "
     r"not supported\)"),
    ({"target": np.zeros((6, 4))}, TypeError, r"target has dtype float64"),
    ({"target": np.zeros(6, complex)}, TypeError, "target has unsupported dtype complex128"),
    ({"target": np.zeros(5, np.int64)}, ValueError, r"target has shape \(5,\)"),
    ({"target": np.array([0, 1, 2, 3, 4, 0])}, IndexError, "target 4 is out of range for 4"),
    ({"reduction": "batchmean"}, ValueError, "reduction must be"),
    ({"axis": 2}, ValueError, "axis 2 is out of bounds"),
    ({"ignore_index": 1.5}, TypeError, "ignore_index must be an integer"),
])
@pytest.mark.parametrize("func", FUNCS)
def test_errors_name_the_argument(func, kwargs, exc, match):
    kw = dict(kwargs)
    target = kw.pop("target", np.zeros(6, np.int64))
    with pytest.raises(exc, match=f"^{func.__name__}: {match}"):
        func(np.zeros((6, 4)), target, **kw)


def test_no_weight_or_smoothing_options():
    with pytest.raises(TypeError):
        ll.softmax_focal_loss(np.zeros((2, 3)), [0, 1], np.ones(3))  # alpha is keyword-only
    with pytest.raises(TypeError):
        ll.softmax_focal_loss(np.zeros((2, 3)), [0, 1], label_smoothing=0.1)
