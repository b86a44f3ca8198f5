"""sigmoid_focal_loss (+ _grad, _value_and_grad) against torchvision's formula."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from logitloss import _core

RTOL = {"float32": 2e-5, "float64": 1e-11, "float16": 2e-2}


def _torchvision_focal(x, y, alpha, gamma, reduction, g):  # type: ignore[no-untyped-def]
    """torchvision.ops.sigmoid_focal_loss, written out with torch ops (the
    PyPI torchvision does not import beside torch 2.13 here), in float64."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    inputs = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    targets = torch.tensor(np.asarray(y, np.float64))
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    loss.backward(torch.tensor(np.asarray(g, np.float64)))
    return loss.detach().numpy(), inputs.grad.numpy()


def _data(shape, dtype, seed=0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 4).astype(dtype)
    y = rng.uniform(size=shape).astype(dtype)
    y[..., ::2] = np.round(y[..., ::2])
    return x, y, rng


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (-1.0, 2.0), (0.5, 0.0), (0.25, 1.0),
                                              (0.75, 1.5), (-0.5, 3.0), (0.25, 0.5)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(9,), (6, 5), (2, 3, 4, 5), (0, 4)])
def test_against_torchvision_formula(shape, dtype, alpha, gamma, reduction) -> None:  # type: ignore[no-untyped-def]
    x, y, rng = _data(shape, dtype)
    g = rng.uniform(-1, 1, shape).astype(dtype) if reduction == "none" else np.asarray(0.7)
    want_loss, want_grad = _torchvision_focal(x, y, alpha, gamma, reduction, g)
    loss = ll.sigmoid_focal_loss(x, y, alpha, gamma, reduction)
    grad = ll.sigmoid_focal_loss_grad(x, y, alpha, gamma, reduction,
                                      grad_output=g if reduction == "none" else 0.7)
    vloss, vgrad = ll.sigmoid_focal_loss_value_and_grad(x, y, alpha, gamma, reduction)
    assert loss.dtype == np.dtype(dtype)
    assert grad.dtype == np.dtype(dtype)
    assert grad.shape == shape
    if reduction != "none":
        assert isinstance(loss, np.generic)
    rtol = RTOL[dtype]
    np.testing.assert_allclose(np.asarray(loss, np.float64), want_loss, rtol=rtol,
                               atol=rtol * 1e-2)
    gscale = 1.0 / max(x.size, 1) if reduction == "mean" else 1.0
    np.testing.assert_allclose(grad.astype(np.float64), want_grad, rtol=rtol,
                               atol=rtol * 1e-2 * gscale)
    # The fused kernel may contract to FMAs differently: equal to a few ULP.
    eps = float(np.finfo(dtype).eps)
    for got, want in ((vloss, loss), (vgrad, ll.sigmoid_focal_loss_grad(x, y, alpha, gamma,
                                                                        reduction))):
        want = np.asarray(want, np.float64)
        scale = float(np.abs(want).max()) if want.size else 0.0
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=4 * eps,
                                   atol=4 * eps * scale)


def test_defaults_are_torchvision() -> None:
    x, y, _ = _data((4, 3), "float64")
    np.testing.assert_array_equal(ll.sigmoid_focal_loss(x, y),
                                  ll.sigmoid_focal_loss(x, y, 0.25, 2.0, "none"))
    assert ll.sigmoid_focal_loss(x, y).shape == (4, 3)


def test_gamma_zero_is_weighted_bce() -> None:
    x, y, _ = _data((50,), "float64", seed=1)
    got = ll.sigmoid_focal_loss(x, y, alpha=-1, gamma=0)
    np.testing.assert_allclose(
        got, ll.binary_cross_entropy_with_logits(x, y, reduction="none"), rtol=1e-15)


def test_finite_difference_gradient_float64() -> None:
    x, y, _ = _data((40,), "float64", seed=4)
    h = 1e-6
    for alpha, gamma in [(0.25, 2.0), (-1, 1.5), (0.6, 0.5)]:
        fd = (ll.sigmoid_focal_loss(x + h, y, alpha, gamma)
              - ll.sigmoid_focal_loss(x - h, y, alpha, gamma)) / (2 * h)
        np.testing.assert_allclose(ll.sigmoid_focal_loss_grad(x, y, alpha, gamma), fd,
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits(dtype: str) -> None:
    big = np.finfo(np.float32).max
    x = np.array([1e4, -1e4, 1e30, -1e30, big, -big] * 2, dtype)
    y = np.array([1.0] * 6 + [0.0] * 6, dtype)
    loss, grad = ll.sigmoid_focal_loss_value_and_grad(x, y, reduction="none")
    assert not np.isnan(loss).any()
    assert not np.isnan(grad).any()
    # Right side: exactly 0 loss and gradient; wrong side: a_t * |x|.
    right = (x > 0) == (y == 1)
    assert (loss[right] == 0).all()
    assert (grad[right] == 0).all()
    at = np.where(y == 1, 0.25, 0.75)
    np.testing.assert_allclose(loss[~right], (at * np.abs(x.astype(np.float64)))[~right],
                               rtol=1e-6)
    np.testing.assert_allclose(grad[~right], (at * np.sign(x))[~right], rtol=1e-6)


def test_simd_levels_and_threads_agree() -> None:
    x, y, _ = _data((123, 57), "float32", seed=7)
    before_level, before_threads = _core.simd_level(), ll.get_num_threads()
    out = {}
    try:
        for level in _core.simd_levels_supported():
            _core.set_simd_level(level)
            out[level] = ll.sigmoid_focal_loss_value_and_grad(x, y, reduction="none")
        ll.set_num_threads(1)
        one = ll.sigmoid_focal_loss(x, y, reduction="mean")
        ll.set_num_threads(2)
        two = ll.sigmoid_focal_loss(x, y, reduction="mean")
    finally:
        _core.set_simd_level(before_level)
        ll.set_num_threads(before_threads)
    assert one.tobytes() == two.tobytes()
    for loss, grad in out.values():
        np.testing.assert_allclose(loss, out["baseline"][0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(grad, out["baseline"][1], rtol=1e-5, atol=1e-7)


def test_errors() -> None:
    x = np.zeros((2, 3))
    for fn in (ll.sigmoid_focal_loss, ll.sigmoid_focal_loss_grad,
               ll.sigmoid_focal_loss_value_and_grad):
        with pytest.raises(ValueError, match=r"target with shape \(2,\) must have the same shape"):
            fn(x, np.zeros(2))
        with pytest.raises(TypeError, match="input has unsupported dtype complex128"):
            fn(x + 1j, x)
        with pytest.raises(TypeError, match="target has unsupported dtype"):
            fn(x, np.full((2, 3), "a"))
        with pytest.raises(TypeError, match="alpha must be a real number, not str"):
            fn(x, x, "0.25")
        with pytest.raises(TypeError, match="gamma must be a real number, not NoneType"):
            fn(x, x, 0.25, None)
        with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum'"):
            fn(x, x, reduction="batchmean")


@pytest.mark.parametrize("y_side", [1.0, 0.0])
def test_confident_predictions_ulp_float32(y_side: float) -> None:
    # ce (<= 4 ULP), (1 - p_t)^2 and a_t: measured 5-6 ULP on every level.
    mpmath = pytest.importorskip("mpmath")
    mag = np.linspace(0.5, 50.0, 1500, dtype=np.float32)
    x = mag if y_side == 1.0 else -mag
    at = 0.25 if y_side == 1.0 else 0.75
    with mpmath.workdps(50):
        ref = []
        for m in mag:
            e = mpmath.exp(-mpmath.mpf(float(m)))
            ref.append(float(at * mpmath.log1p(e) * (e / (1 + e)) ** 2))
    want = np.array(ref).astype(np.float32)
    before = _core.simd_level()
    try:
        for level in _core.simd_levels_supported():
            _core.set_simd_level(level)
            got = ll.sigmoid_focal_loss(x, np.full_like(x, y_side))
            np.testing.assert_array_max_ulp(got, want, maxulp=8)
    finally:
        _core.set_simd_level(before)
