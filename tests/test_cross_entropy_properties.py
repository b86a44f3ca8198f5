"""Hypothesis properties of the cross-entropy family."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def problems(draw, smoothing=True, weights=True):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(1, 6))
    C = draw(st.integers(1, 12))
    inner = draw(st.sampled_from([1, 1, 3]))
    shape = (n, C) if inner == 1 else (n, C, inner)
    finite = st.floats(-60, 60, width=32)
    x = draw(hnp.arrays(dtype, shape, elements=finite))
    tshape = (n,) if inner == 1 else (n, inner)
    t = draw(hnp.arrays(np.int64, tshape, elements=st.integers(0, C - 1)))
    w = None
    if weights and draw(st.booleans()):
        w = draw(hnp.arrays(dtype, (C,), elements=st.floats(0, 4, width=32)))
    eps = draw(st.sampled_from([0.0, 0.1, 1.0])) if smoothing else 0.0
    reduction = draw(st.sampled_from(["none", "sum", "mean"]))
    return x, t, w, eps, reduction


@SETTINGS
@given(problems())
def test_loss_is_non_negative(p):
    x, t, w, eps, reduction = p
    loss = np.asarray(ll.cross_entropy(x, t, w, label_smoothing=eps, reduction=reduction))
    assert np.all(np.isnan(loss) | (loss >= 0))  # NaN only for a zero-weight 'mean'
    if reduction != "mean" or w is None:
        assert not np.isnan(loss).any()


@SETTINGS
@given(problems(weights=False))
def test_gradient_rows_sum_to_zero(p):
    """Unit weights: the gradient of each sample sums to 0 over the classes
    (with or without smoothing, which mixes in a distribution)."""
    x, t, _, eps, reduction = p
    g = ll.cross_entropy_grad(x, t, label_smoothing=eps, reduction=reduction)
    # Each row's gradient is s (p - q) with s = 1 (or 1/N for 'mean') and
    # entries of size <= s: rounding errors are relative to s.
    s = 1.0 / x.shape[0] if reduction == "mean" else 1.0
    tol = 8 * np.finfo(x.dtype).eps * x.shape[1] * s
    assert np.all(np.abs(np.sum(g.astype(np.float64), axis=1)) <= tol)


@SETTINGS
@given(problems())
def test_value_and_grad_equals_value_and_grad(p):
    x, t, w, eps, reduction = p
    kw = dict(label_smoothing=eps, reduction=reduction)
    v, g = ll.cross_entropy_value_and_grad(x, t, w, **kw)
    np.testing.assert_array_equal(v, ll.cross_entropy(x, t, w, **kw))
    np.testing.assert_array_equal(g, ll.cross_entropy_grad(x, t, w, **kw))
    lp = ll.log_softmax(x, axis=1)
    v, g = ll.nll_loss_value_and_grad(lp, t, w, reduction=reduction)
    np.testing.assert_array_equal(v, ll.nll_loss(lp, t, w, reduction=reduction))
    np.testing.assert_array_equal(g, ll.nll_loss_grad(lp, t, w, reduction=reduction))


@SETTINGS
@given(problems(smoothing=False))
def test_cross_entropy_is_nll_of_log_softmax(p):
    x, t, w, _, reduction = p
    x = x.astype(np.float64)
    w = None if w is None else w.astype(np.float64)
    ce = ll.cross_entropy(x, t, w, reduction=reduction)
    nll = ll.nll_loss(ll.log_softmax(x, axis=1), t, w, reduction=reduction)
    np.testing.assert_allclose(ce, nll, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(problems(weights=False, smoothing=False), st.floats(-30, 30))
def test_shift_invariance(p, c):
    x, t, _, _, reduction = p
    x = x.astype(np.float64)
    a = ll.cross_entropy(x, t, reduction=reduction)
    b = ll.cross_entropy(x + c, t, reduction=reduction)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
