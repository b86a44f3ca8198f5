"""Hypothesis properties of the log-sum-exp family."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import logitloss as ll

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=64)
matrices = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40), elements=finite
)


@given(matrices, st.floats(-1e3, 1e3), st.sampled_from([0, 1]))
def test_shift_invariance(x, c, axis):
    shifted = ll.logsumexp(x + c, axis=axis)
    scale = np.maximum(np.abs(shifted), 1.0)
    np.testing.assert_array_less(np.abs(shifted - (ll.logsumexp(x, axis=axis) + c)) / scale, 1e-12)


@given(matrices, st.sampled_from([0, 1]))
def test_softmax_sums_to_one_and_log_softmax_is_non_positive(x, axis):
    np.testing.assert_allclose(ll.softmax(x, axis=axis).sum(axis=axis), 1.0, rtol=1e-13)
    assert (ll.log_softmax(x, axis=axis) <= 0).all()
    np.testing.assert_allclose(
        np.exp(ll.log_softmax(x, axis=axis)), ll.softmax(x, axis=axis), rtol=1e-12, atol=1e-300
    )


@given(matrices, st.sampled_from([0, 1]))
def test_logsumexp_bounds(x, axis):
    lse = ll.logsumexp(x, axis=axis)
    assert (lse >= x.max(axis=axis)).all()
    assert (lse <= x.max(axis=axis) + np.log(x.shape[axis]) * (1 + 1e-15) + 1e-12).all()


@given(matrices, st.sampled_from([0, 1]))
def test_float32_agrees_with_float64(x, axis):
    x32 = x.astype(np.float32)
    want = ll.logsumexp(x32.astype(np.float64), axis=axis)
    got = ll.logsumexp(x32, axis=axis)
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-30)


@given(matrices, st.sampled_from([0, 1]))
def test_gradients_are_shaped_like_the_input_and_sum_to_one(x, axis):
    g = ll.logsumexp_grad(x, axis=axis)
    assert g.shape == x.shape
    assert g.dtype == x.dtype
    np.testing.assert_allclose(g.sum(axis=axis), 1.0, rtol=1e-13)
    assert (ll.softmax_grad(x, np.ones_like(x), axis=axis) == 0).all() or np.allclose(
        ll.softmax_grad(x, np.ones_like(x), axis=axis), 0.0, atol=1e-15
    )
