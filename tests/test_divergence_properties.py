"""Properties of softmax_kl_div and generalized_jsd (hypothesis): KL >= 0
and = 0 exactly for equal rows, > 0 otherwise; JSD symmetric at beta = 0.5
and bounded by the mixture's entropy; invariance to shifting a row; gradient
rows summing to 0; gradients against central finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import logitloss as ll

FINITE = st.floats(-30, 30, allow_nan=False, width=64)
ENTRY = FINITE | st.just(-np.inf)


@st.composite
def row_pairs(draw, entries=FINITE, dtype=np.float64):
    rows = draw(st.integers(1, 5))
    classes = draw(st.integers(1, 40))
    x = draw(hnp.arrays(np.float64, (rows, classes), elements=entries)).astype(dtype)
    y = draw(hnp.arrays(np.float64, (rows, classes), elements=entries)).astype(dtype)
    return x, y


BETAS = st.sampled_from([0.0, 1e-3, 0.25, 0.5, 0.75, 1.0])
TEMPERATURES = st.sampled_from([0.3, 1.0, 4.0])


def softmax_differs(x, y):
    """Rows of finite logits whose softmaxes differ clearly: x - y varies by
    more than 1e-6 over the classes (smaller differences may give a
    divergence below the smallest float64)."""
    return np.ptp(x - y, axis=1) > 1e-6


@given(row_pairs(ENTRY), BETAS, TEMPERATURES,
       st.sampled_from([np.float32, np.float64, np.float16]))
def test_never_negative(pair, beta, temperature, dtype):
    x, y = (a.astype(dtype) for a in pair)
    for loss in (ll.softmax_kl_div(x, y, temperature=temperature, reduction="none"),
                 ll.generalized_jsd(x, y, beta=beta, temperature=temperature, reduction="none")):
        defined = ~(np.isneginf(x).all(axis=1) | np.isneginf(y).all(axis=1))
        assert (loss[defined] >= 0).all()
        assert np.isnan(loss[~defined]).all()


@given(row_pairs(), BETAS, TEMPERATURES)
def test_zero_exactly_for_equal_rows_and_positive_otherwise(pair, beta, temperature):
    x, y = pair
    for fn, kw in ((ll.softmax_kl_div, {}), (ll.generalized_jsd, {"beta": beta})):
        assert (fn(x, x, temperature=temperature, reduction="none", **kw) == 0).all()
        differs = softmax_differs(x, y)
        loss = fn(x, y, temperature=temperature, reduction="none", **kw)
        assert (loss[differs] > 0).all()


@given(row_pairs(ENTRY), TEMPERATURES)
def test_jsd_is_symmetric_at_one_half(pair, temperature):
    x, y = pair
    a = ll.generalized_jsd(x, y, beta=0.5, temperature=temperature, reduction="none")
    b = ll.generalized_jsd(y, x, beta=0.5, temperature=temperature, reduction="none")
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-300)
    # beta and 1 - beta swap with the arguments, and the two KL limits too.
    np.testing.assert_allclose(ll.generalized_jsd(x, y, beta=0.2, reduction="none"),
                               ll.generalized_jsd(y, x, beta=0.8, reduction="none"),
                               rtol=1e-13, atol=1e-300)
    np.testing.assert_array_equal(ll.generalized_jsd(x, y, beta=0.0, reduction="none"),
                                  ll.softmax_kl_div(x, y, reduction="none"))
    np.testing.assert_allclose(ll.generalized_jsd(x, y, beta=1.0, reduction="none"),
                               ll.softmax_kl_div(y, x, reduction="none"), rtol=1e-13,
                               atol=1e-300)


@given(row_pairs(ENTRY), st.floats(1e-3, 1 - 1e-3))
def test_jsd_is_below_the_entropy_of_beta(pair, beta):
    x, y = pair
    loss = ll.generalized_jsd(x, y, beta=beta, reduction="none")
    bound = -beta * math.log(beta) - (1 - beta) * math.log1p(-beta)
    defined = ~np.isnan(loss)
    assert (loss[defined] <= bound * (1 + 1e-12)).all()


@given(row_pairs(), st.integers(-20, 20), st.integers(-20, 20), BETAS)
def test_shifting_rows_changes_nothing(pair, c, d, beta):
    x, y = pair
    np.testing.assert_allclose(
        ll.generalized_jsd(x + c, y + d, beta=beta, reduction="none"),
        ll.generalized_jsd(x, y, beta=beta, reduction="none"), rtol=1e-9, atol=1e-14)


@given(row_pairs(ENTRY), BETAS, TEMPERATURES)
def test_gradient_rows_sum_to_zero(pair, beta, temperature):
    x, y = pair
    grad = ll.generalized_jsd_grad(x, y, beta=beta, temperature=temperature, reduction="sum")
    finite = np.isfinite(grad).all(axis=1)
    # Each entry is q (nu - KL(Q || M)) / T (or its KL limits), |nu| below
    # |log beta| + |log(q / p)|: a few ulps of that size is the rounding.
    with np.errstate(invalid="ignore"):
        spread = np.nan_to_num(np.abs(x - y), posinf=0.0).max() / temperature
    rounding = 64 * np.finfo(np.float64).eps / temperature * (1 + spread + abs(math.log(
        min(beta, 1 - beta) or 1.0)))
    scale = np.abs(grad[finite]).sum(axis=1)
    assert (np.abs(grad[finite].sum(axis=1)) <= 1e-14 * scale + rounding).all()


@pytest.mark.parametrize("beta", [None, 0.0, 0.3, 0.5, 1.0])
@given(row_pairs(FINITE), TEMPERATURES)
def test_gradients_match_finite_differences(beta, pair, temperature):
    x, y = pair
    if beta is None:
        def f(a):
            return float(ll.softmax_kl_div(a, y, temperature=temperature, reduction="sum"))
        grad = ll.softmax_kl_div_grad(x, y, temperature=temperature, reduction="sum")
    else:
        def f(a):
            return float(ll.generalized_jsd(a, y, beta=beta, temperature=temperature,
                                            reduction="sum"))
        grad = ll.generalized_jsd_grad(x, y, beta=beta, temperature=temperature,
                                       reduction="sum")
    h = 1e-6
    rng = np.random.default_rng(0)
    for _ in range(3):
        i = rng.integers(0, x.shape[0])
        j = rng.integers(0, x.shape[1])
        up, down = x.copy(), x.copy()
        up[i, j] += h
        down[i, j] -= h
        numeric = (f(up) - f(down)) / (2 * h)
        assert abs(numeric - grad[i, j]) <= 1e-6 * (1 + abs(grad[i, j]) / temperature)
