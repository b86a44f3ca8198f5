"""kl_div (+ _grad, _value_and_grad, KLDivLoss): torch.nn.functional.kl_div's
values and gradients for every reduction ('batchmean' included), both target
kinds, special values, broadcast targets; accuracy against mpmath."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import logitloss as ll
from logitloss import _core

ml_dtypes = pytest.importorskip("ml_dtypes")
try:
    import torch

    F = torch.nn.functional
except ImportError:  # the comparisons with torch skip; every other test runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
RTOL = {"float32": 1e-5, "float64": 1e-12, "float16": 4e-3, "bfloat16": 3e-2}
REDUCTIONS = ["none", "mean", "sum", "batchmean"]
FUNCS = [ll.kl_div, ll.kl_div_grad, ll.kl_div_value_and_grad]


def torch_kl(x, t, reduction, log_target, g):
    """torch float64 autograd on the same (rounded) values."""
    tx = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    with warnings.catch_warnings():  # torch warns that 'mean' is not 'batchmean'
        warnings.simplefilter("ignore")
        loss = F.kl_div(tx, torch.tensor(np.asarray(t, np.float64)), reduction=reduction,
                        log_target=log_target)
    loss.backward(torch.tensor(np.asarray(g, np.float64)))
    return loss.detach().numpy(), tx.grad.numpy()


def close(got, want, dtype, atol_scale=1.0):
    rtol = RTOL[np.dtype(dtype).name]
    with np.errstate(over="ignore"):
        want = np.asarray(want, np.float64).astype(dtype).astype(np.float64)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol,
                               atol=rtol * atol_scale)


def data(rng, shape, dtype, log_target, zeros=True):
    """Log-probabilities and (log-)probability targets; some targets 0."""
    x = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1])) if shape else np.float64(-0.7)
    t = rng.dirichlet(np.ones(shape[-1]) * 0.5, shape[:-1]) if shape else np.float64(0.4)
    if zeros and np.ndim(t) and t.size:
        t.reshape(-1)[::5] = 0.0
    if log_target:
        with np.errstate(divide="ignore"):
            t = np.log(t)
        t = np.maximum(t, -30.0)
    return np.asarray(x).astype(dtype), np.asarray(t).astype(dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(7,), (6, 5), (3, 4, 5), (0, 3), (3, 0), ()])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_against_torch_float64_autograd(dtype, shape, log_target, reduction):
    rng = np.random.default_rng(len(shape))
    x, t = data(rng, shape, dtype, log_target)
    g = rng.uniform(-1, 1, shape).astype(dtype) if reduction == "none" else np.float64(0.7)
    want_loss, want_grad = torch_kl(x, t, reduction, log_target, g)
    kw = {"reduction": reduction, "log_target": log_target}
    loss = ll.kl_div(x, t, **kw)
    grad = ll.kl_div_grad(x, t, **kw, grad_output=g)
    vloss, vgrad = ll.kl_div_value_and_grad(x, t, **kw)
    assert np.asarray(loss).dtype == np.dtype(dtype)
    assert grad.dtype == np.dtype(dtype)
    assert grad.shape == np.shape(x)
    if reduction == "none":
        assert isinstance(loss, np.ndarray)
    else:
        assert isinstance(loss, np.generic)
    # The loss adds terms of both signs: an absolute tolerance of its scale.
    close(loss, want_loss, dtype, atol_scale=max(1.0, float(np.sum(np.abs(want_loss)))))
    close(grad, want_grad, dtype)
    close(vloss, loss, dtype, atol_scale=max(1.0, float(np.sum(np.abs(want_loss)))))
    close(vgrad, ll.kl_div_grad(x, t, **kw), dtype)


@needs_torch
@pytest.mark.parametrize("target_shape", [(5,), (4, 1), (), (1, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_a_target_broadcasts_to_the_input_as_in_torch(target_shape, reduction):
    rng = np.random.default_rng(9)
    x = np.log(rng.dirichlet(np.ones(5), 4))
    t = rng.uniform(0, 1, target_shape)
    g = np.ones((4, 5)) if reduction == "none" else 1.0
    want_loss, want_grad = torch_kl(x, np.broadcast_to(t, (4, 5)), reduction, False, g)
    loss, grad = ll.kl_div_value_and_grad(x, t, reduction=reduction)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-15)
    # The result has the input's shape: a target that would widen it is refused.
    with pytest.raises(ValueError, match=r"^kl_div: target with shape \(2, 4, 5\) does not "
                                         r"broadcast to the input shape \(4, 5\)"):
        ll.kl_div(x, np.ones((2, 4, 5)))


INF, NAN = np.inf, np.nan
X_SPECIAL = [0.0, -1.0, 2.0, -INF, INF, NAN, -1e30]
T_SPECIAL = [0.0, -0.0, 0.5, 1.0, -0.5, INF, NAN, 5e-324, 2.0, 1e-30]
LOG_T_SPECIAL = [0.0, -0.0, 0.5, -INF, INF, NAN, -800.0, 800.0, -1e30]


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_target", [False, True])
def test_special_values_follow_torch(simd_level, dtype, log_target):
    """Zero targets (0 * log 0 = 0, but NaN against an infinite input),
    negative, infinite, NaN and subnormal targets, infinite inputs: torch's
    NaN and inf pattern exactly, the finite values to rounding."""
    targets = LOG_T_SPECIAL if log_target else T_SPECIAL
    xg, tg = (a.ravel().astype(dtype) for a in np.meshgrid(X_SPECIAL, targets))
    with np.errstate(all="ignore"):
        _, want_grad = torch_kl(xg, tg, "none", log_target, np.ones(xg.size))
        # torch in the dtype itself (float32 overflow of exp(800), ...)
        tx = torch.tensor(xg)
        want32 = F.kl_div(tx, torch.tensor(tg), reduction="none", log_target=log_target).numpy()
    loss, grad = ll.kl_div_value_and_grad(xg, tg, reduction="none", log_target=log_target)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(want32))
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(want_grad.astype(dtype)))
    np.testing.assert_allclose(loss, want32, rtol=4 * np.finfo(dtype).eps, atol=0)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(grad, want_grad.astype(dtype), rtol=np.finfo(dtype).eps, atol=0)
    # The gradient's signed zeros too: -t, as torch's -(grad * t).
    zero = grad == 0
    np.testing.assert_array_equal(np.signbit(grad[zero]), np.signbit(want_grad[zero]))


def test_zero_targets_contribute_nothing():
    x = np.array([-1.0, -2.0, -30.0, 0.0])
    t = np.array([0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ll.kl_div(x, t, reduction="none"), [0, 0, 0, 0])
    assert ll.kl_div(x, t, reduction="sum") == 0


def test_the_gradient_does_not_read_the_input():
    t = np.array([[0.25, 0.75], [0.5, 0.5]])
    x = np.full((2, 2), np.nan)
    np.testing.assert_array_equal(ll.kl_div_grad(x, t, reduction="sum"), -t)
    np.testing.assert_array_equal(ll.kl_div_grad(x, np.log(t), reduction="batchmean",
                                                 log_target=True), -t / 2)
    # In place: the gradient overwrites the input.
    y = np.log(t)
    assert ll.kl_div_grad(y, t, reduction="mean", out=y) is y
    np.testing.assert_array_equal(y, -t / 4)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_dimensional_input(reduction):
    # torch's 'batchmean' leaves a 0-d input's sum undivided.
    want_loss, want_grad = torch_kl(np.float64(-1.0), np.float64(0.5), reduction, False,
                                    np.float64(1.0))
    loss, grad = ll.kl_div_value_and_grad(-1.0, 0.5, reduction=reduction)
    assert grad.shape == ()
    np.testing.assert_allclose(loss, want_loss, rtol=1e-15)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_target", [False, True])
def test_accuracy_against_mpmath(simd_level, dtype, log_target):
    """Within 3 ULP of the larger of the two terms (measured <= 2.3): the
    terms cancel where t = exp(x), so the bound is absolute there."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(1)
    n = 400
    lo = -80 if dtype == np.float32 else -700
    t = np.exp(rng.uniform(lo, 3, n)).astype(dtype)
    x = (rng.normal(size=n) * 10).astype(dtype)
    x[: n // 3] = np.log(t[: n // 3].astype(np.float64)).astype(dtype)  # near cancellation
    if log_target:
        t = rng.uniform(lo, 80, n).astype(dtype)
    with mpmath.workdps(50):
        def exact(xi, ti):
            xm, tm = mpmath.mpf(float(xi)), mpmath.mpf(float(ti))
            if log_target:
                e = mpmath.exp(tm)
                return float(e * (tm - xm)), float(e * abs(tm - xm))
            return float(tm * mpmath.log(tm) - tm * xm), float(max(abs(tm * mpmath.log(tm)),
                                                                   abs(tm * xm)))

        want, scale = np.array([exact(a, b) for a, b in zip(x, t)]).T
    keep = scale < float(np.finfo(dtype).max)
    got = ll.kl_div(x, t, reduction="none", log_target=log_target).astype(np.float64)
    err = np.abs(got - want)[keep] / np.spacing(scale[keep].astype(dtype)).astype(np.float64)
    assert err.max() <= 3, float(err.max())


@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_properties(rows, classes, seed):
    """For distributions p (target) and q = exp(x) (input): each pointwise
    term is at least t - exp(x) (log y <= y - 1), so every row's KL is >= 0
    and 0 for p = q; log_target gives the same values."""
    rng = np.random.default_rng(seed)
    t = rng.dirichlet(np.ones(classes) * 0.3, rows)
    t[t < 1e-300] = 0.0
    x = np.log(rng.dirichlet(np.ones(classes), rows))
    pointwise = ll.kl_div(x, t, reduction="none")
    assert np.all(pointwise >= t - np.exp(x) - 1e-12)
    assert np.all(pointwise.sum(axis=1) >= -1e-12)
    with np.errstate(divide="ignore"):
        log_t = np.log(t)
    np.testing.assert_allclose(np.nan_to_num(ll.kl_div(x, log_t, reduction="none",
                                                       log_target=True)), pointwise,
                               rtol=1e-12, atol=1e-14)
    same = ll.kl_div(np.log(t[:, :1].clip(1e-300)), t[:, :1], reduction="none")
    np.testing.assert_allclose(same, 0, atol=1e-15)
    batch = ll.kl_div(x, t, reduction="batchmean")
    np.testing.assert_allclose(batch, pointwise.sum() / rows, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ll.kl_div(x, t), pointwise.sum() / t.size, rtol=1e-12, atol=1e-15)


def test_finite_differences_and_threads(threads):
    rng = np.random.default_rng(6)
    x, t = data(rng, (30, 17), np.float64, False)
    h = 1e-6
    fd = (ll.kl_div(x + h, t, reduction="none") - ll.kl_div(x - h, t, reduction="none")) / (2 * h)
    np.testing.assert_allclose(ll.kl_div_grad(x, t, reduction="none"), fd, rtol=1e-7, atol=1e-9)
    xs, ts = data(rng, (300, 701), np.float32, True)
    results = []
    for n in (1, 2, 3):
        ll.set_num_threads(n)
        results.append(ll.kl_div_value_and_grad(xs, ts, reduction="batchmean", log_target=True))
    for loss, grad in results[1:]:
        assert loss.tobytes() == results[0][0].tobytes()
        assert grad.tobytes() == results[0][1].tobytes()


def test_simd_levels_agree():
    rng = np.random.default_rng(2)
    x, t = data(rng, (37, 29), np.float32, False)
    before = _core.simd_level()
    out = {}
    try:
        for level in _core.simd_levels_supported():
            _core.set_simd_level(level)
            out[level] = ll.kl_div_value_and_grad(x, t, reduction="none")
    finally:
        _core.set_simd_level(before)
    for loss, grad in out.values():
        np.testing.assert_allclose(loss, out["baseline"][0], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(grad, out["baseline"][1])  # -t: exact


def test_strided_and_fortran_inputs():
    rng = np.random.default_rng(4)
    x, t = data(rng, (6, 8, 5), np.float64, False)
    ref = ll.kl_div(x, t, reduction="none")
    np.testing.assert_array_equal(ll.kl_div(np.asfortranarray(x), t, reduction="none"), ref)
    np.testing.assert_array_equal(ll.kl_div(x[::-1, ::2], t[::-1, ::2], reduction="none"),
                                  ref[::-1, ::2])


def test_loss_object():
    rng = np.random.default_rng(5)
    x, t = data(rng, (4, 5), np.float64, True)
    fn = ll.KLDivLoss("batchmean", log_target=True)
    assert fn(x, t) == ll.kl_div(x, t, reduction="batchmean", log_target=True)
    np.testing.assert_array_equal(fn.grad(x, t, grad_output=2.0), ll.kl_div_grad(
        x, t, reduction="batchmean", log_target=True, grad_output=2.0))
    loss, grad = fn.value_and_grad(x, t)
    assert loss == fn(x, t)
    np.testing.assert_array_equal(grad, fn.grad(x, t))
    assert repr(fn) == "KLDivLoss(reduction='batchmean', log_target=True)"


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_errors_name_the_argument(fn):
    x = np.zeros((2, 3))
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be 'none', 'batchmean', "
                                         "'sum' or 'mean', not 'avg'"):
        fn(x, x, reduction="avg")
    with pytest.raises(TypeError, match=rf"^{name}: log_target must be a bool, not int"):
        fn(x, x, log_target=1)
    with pytest.raises(ValueError, match=rf"^{name}: target with shape \(3, 2\) does not "
                                         "broadcast"):
        fn(x, np.zeros((3, 2)))
    with pytest.raises(TypeError, match=rf"^{name}: input has unsupported dtype complex128"):
        fn(x + 0j, x)
    with pytest.raises(TypeError, match=rf"^{name}: target has unsupported dtype complex64"):
        fn(x, np.zeros(3, np.complex64))
    with pytest.raises(TypeError, match=rf"^{name}: target must be an array, not None"):
        fn(x, None)


def test_grad_output_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="grad_output must be a scalar for reduction='batchmean'"):
        ll.kl_div_grad(x, x, reduction="batchmean", grad_output=np.ones(2))
    with pytest.raises(ValueError, match=r"grad_output with shape \(2,\) must have the loss shape"):
        ll.kl_div_grad(x, x, reduction="none", grad_output=np.ones(2))
