"""Gradients of the log-sum-exp family: float64 finite differences, torch
autograd, grad_output handling and the contract's special rows."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from reference import central_difference, log_softmax_vjp_ref, softmax_vjp_ref

INF, NAN = np.inf, np.nan


@pytest.mark.parametrize("axis", [0, 1, -1, None, (0, 2)])
def test_logsumexp_grad_matches_finite_differences(rng, axis):
    x = rng.standard_normal((3, 4, 5))
    out_shape = np.shape(ll.logsumexp(x, axis=axis))
    g = rng.standard_normal(out_shape)
    got = ll.logsumexp_grad(x, axis=axis, grad_output=g)
    want = central_difference(lambda v: ll.logsumexp(v, axis=axis), x, g)
    assert got.shape == x.shape
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_logsumexp_grad_with_scale_b_matches_finite_differences(rng):
    x = rng.standard_normal((4, 6))
    b = rng.uniform(-1.0, 2.0, (4, 6))  # some sums negative: d log|sum|
    g = rng.standard_normal(4)
    got = ll.logsumexp_grad(x, axis=1, b=b, grad_output=g)
    want = central_difference(lambda v: ll.logsumexp(v, axis=1, b=b, return_sign=True)[0], x, g)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_logsumexp_grad_with_broadcast_a_sums_over_the_broadcast(rng):
    a = rng.standard_normal(5)
    b = rng.uniform(0.5, 2.0, (3, 5))
    g = rng.standard_normal(3)
    got = ll.logsumexp_grad(a, axis=-1, b=b, grad_output=g)
    want = central_difference(lambda v: ll.logsumexp(v, axis=-1, b=b), a, g)
    assert got.shape == a.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, None, (1, 2)])
def test_softmax_vjps_match_finite_differences(rng, name, axis):
    x = rng.standard_normal((3, 4, 5))
    g = rng.standard_normal(x.shape)
    vjp = getattr(ll, name + "_grad")
    got = vjp(x, g, axis=axis)
    want = central_difference(lambda v: getattr(ll, name)(v, axis=axis), x, g)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("classes", [1, 3, 16, 17, 1023])
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_vjps_match_references_on_every_isa(simd_level, rng, classes, axis):
    x = rng.standard_normal((classes, 7) if axis == 0 else (7, classes)) * 5
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(
        ll.softmax_grad(x, g, axis=axis), softmax_vjp_ref(x, g, axis), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        ll.log_softmax_grad(x, g, axis=axis),
        log_softmax_vjp_ref(x, g, axis),
        rtol=1e-12,
        atol=1e-14,
    )
    x32, g32 = x.astype(np.float32), g.astype(np.float32)
    np.testing.assert_allclose(
        ll.softmax_grad(x32, g32, axis=axis), softmax_vjp_ref(x32, g32, axis), rtol=2e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        ll.log_softmax_grad(x32, g32, axis=axis),
        log_softmax_vjp_ref(x32, g32, axis),
        rtol=2e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gradients_match_torch_autograd(rng, dtype, axis):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((6, 9, 4)) * 3).astype(dtype)
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)

    t = torch.tensor(x, requires_grad=True)
    g = rng.standard_normal(np.delete(x.shape, axis % 3)).astype(dtype)
    torch.logsumexp(t, dim=axis).backward(torch.tensor(g))
    np.testing.assert_allclose(
        ll.logsumexp_grad(x, axis=axis, grad_output=g), t.grad.numpy(), **tol
    )

    gx = rng.standard_normal(x.shape).astype(dtype)
    for name in ("softmax", "log_softmax"):
        t = torch.tensor(x, requires_grad=True)
        getattr(torch, name)(t, dim=axis).backward(torch.tensor(gx))
        got = getattr(ll, name + "_grad")(x, gx, axis=axis)
        np.testing.assert_allclose(got, t.grad.numpy(), **tol)


def test_grad_output_with_or_without_kept_axes(rng):
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal(3)
    reduced = ll.logsumexp_grad(x, axis=1, grad_output=g)
    kept = ll.logsumexp_grad(x, axis=1, grad_output=g[:, None])
    np.testing.assert_array_equal(reduced, kept)
    np.testing.assert_allclose(reduced.sum(axis=1), g, rtol=1e-14)
    default = ll.logsumexp_grad(x, axis=1)
    np.testing.assert_allclose(default, ll.softmax(x, axis=1), rtol=1e-15)
    assert ll.logsumexp_grad(x, grad_output=2.0).sum() == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [np.ones(4), np.ones((3, 4)), np.ones((1, 3))])
def test_grad_output_of_the_wrong_shape_is_a_value_error(bad):
    with pytest.raises(ValueError, match=r"logsumexp_grad: grad_output has shape"):
        ll.logsumexp_grad(np.zeros((3, 4)), axis=1, grad_output=bad)


@pytest.mark.parametrize("name", ["softmax_grad", "log_softmax_grad"])
def test_vjp_grad_output_must_be_shaped_like_x(name):
    with pytest.raises(
        ValueError,
        match=rf"{name}: grad_output has shape \(4,\); expected the shape of x, \(3, 4\)",
    ):
        getattr(ll, name)(np.zeros((3, 4)), np.ones(4), axis=1)


def test_all_minus_inf_rows_have_zero_gradient(simd_level):
    # The contract: 0, not NaN (autograd would give NaN here).
    for x, axis in (
        (np.array([[-INF, -INF, -INF], [0.0, 1.0, 2.0]]), 1),
        (np.array([[-INF, -INF, -INF], [0.0, 1.0, 2.0]]).T.copy(), 0),
    ):
        for grad in (
            ll.logsumexp_grad(x, axis=axis),
            ll.softmax_grad(x, np.ones_like(x), axis=axis),
            ll.log_softmax_grad(x, np.ones_like(x), axis=axis),
        ):
            dead = grad[0] if axis == 1 else grad[:, 0]
            np.testing.assert_array_equal(dead, 0.0)
            assert np.isfinite(grad).all()
    # A zero scale masks an entry, so the masked row also has zero gradient.
    np.testing.assert_array_equal(ll.logsumexp_grad([5.0, 1.0], b=[0.0, 0.0]), [0.0, 0.0])


def test_nan_and_inf_rows_propagate_nan():
    np.testing.assert_array_equal(np.isnan(ll.logsumexp_grad([NAN, 1.0])), [True, True])
    np.testing.assert_array_equal(ll.logsumexp_grad([INF, 1.0]), [NAN, 0.0])
    assert np.isnan(ll.softmax_grad([INF, 1.0], [1.0, 1.0])).all()


def test_negative_scale_gives_the_derivative_of_log_abs_sum(rng):
    x = np.array([1.0, 2.0])
    b = np.array([1.0, -1.0])  # sum = e - e^2 < 0
    got = ll.logsumexp_grad(x, b=b)
    want = b * np.exp(x) / np.sum(b * np.exp(x))
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_float16_gradients_round_the_float32_result(rng):
    x = rng.standard_normal((4, 10)).astype(np.float16)
    got = ll.logsumexp_grad(x, axis=1)
    assert got.dtype == np.float16
    np.testing.assert_allclose(
        got.astype(np.float64), ll.softmax(x.astype(np.float64), axis=1), rtol=1e-3, atol=1e-7
    )
