"""nll_loss family against the float64 reference: any axis, layouts,
special values, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from reference import cross_entropy_grad_ref, cross_entropy_ref

REDUCTIONS = ("none", "sum", "mean")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("shape", "axis"), [((7, 5), 1), ((7, 5), 0), ((3, 4, 6), -1), ((3, 4, 6), 1), ((6,), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(reduction, shape, axis, dtype):
    rng = np.random.default_rng(len(shape) + axis)
    x = (rng.standard_normal(shape) - 2).astype(dtype)
    ax = axis % len(shape)
    C = shape[ax]
    t = rng.integers(0, C, size=tuple(n for d, n in enumerate(shape) if d != ax))
    t.flat[1::4] = -100
    w = rng.uniform(0.5, 2, C).astype(dtype)
    go = rng.uniform(-1, 1, t.shape) if reduction == "none" else 0.7
    kw = dict(reduction=reduction, axis=axis)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)
    got = ll.nll_loss(x, t, w, **kw)
    assert (got.dtype if reduction == "none" else type(got)) == dtype
    np.testing.assert_allclose(got, cross_entropy_ref(x, t, w, nll=True, **kw), **tol)
    g = ll.nll_loss_grad(x, t, w, grad_output=go, **kw)
    assert g.dtype == dtype
    assert g.shape == x.shape
    np.testing.assert_allclose(
        g, cross_entropy_grad_ref(x, t, w, grad_output=go, nll=True, **kw), **tol
    )
    v2, g2 = ll.nll_loss_value_and_grad(x, t, w, **kw)
    np.testing.assert_array_equal(v2, got)
    np.testing.assert_array_equal(g2, ll.nll_loss_grad(x, t, w, **kw))


def test_layouts_and_untouched_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 8, 3))
    t = rng.integers(0, 8, (5, 3))
    for xv in (x[:, :, ::-1], np.asfortranarray(x), x[::2]):
        tv = t[:, ::-1] if xv.strides[2] < 0 else t[::2] if xv.shape[0] == 3 else t
        keep = xv.copy()
        xv.setflags(write=False)
        for reduction in REDUCTIONS:
            np.testing.assert_array_equal(
                ll.nll_loss(xv, tv, reduction=reduction),
                ll.nll_loss(np.ascontiguousarray(xv), tv, reduction=reduction),
            )
            np.testing.assert_array_equal(
                ll.nll_loss_grad(xv, tv, reduction=reduction),
                ll.nll_loss_grad(np.ascontiguousarray(xv), tv, reduction=reduction),
            )
        np.testing.assert_array_equal(xv, keep)


def test_special_values_and_edge_cases():
    x = np.array([[-np.inf, 0.0], [np.nan, -1.0], [np.nan, -1.0]])
    loss = ll.nll_loss(x, [0, 0, 1], reduction="none")
    assert loss[0] == np.inf
    assert np.isnan(loss[1])
    assert loss[2] == 1.0
    assert np.isnan(ll.nll_loss(x, [-100, -100, -100]))
    np.testing.assert_array_equal(ll.nll_loss_grad(x, [-100, -100, -100]), np.zeros((3, 2)))
    assert np.isnan(ll.nll_loss(np.empty((0, 3)), np.empty(0, np.int8)))
    assert ll.nll_loss([-0.25, -2.0], 1, reduction="none").shape == ()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision(dtype):
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    x = np.array([[-0.5, -1.25], [-2.0, -0.125]]).astype(dtype)
    v, g = ll.nll_loss_value_and_grad(x, [1, 0], np.array([1.0, 2.0]), reduction="sum")
    assert np.asarray(v).dtype == np.dtype(dtype)
    assert g.dtype == np.dtype(dtype)
    assert float(v) == 1.25 * 2 + 2.0
    np.testing.assert_array_equal(g.astype(np.float32), [[0, -2], [-1, 0]])
