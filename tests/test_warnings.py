"""Warnings follow NumPy's conventions: logitloss adds no RuntimeWarning (nor
floating-point error) of its own on edge inputs, and where it rounds a
result into its dtype, an overflow to inf warns exactly as NumPy's own cast
of that value does under the caller's np.errstate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import logitloss as ll
from logitloss import objectives

INF, NAN = np.inf, np.nan
F32_MAX = float(np.finfo(np.float32).max)

# Rows that are NaN, +inf, -inf throughout, or mixed.
SPECIAL = np.array([[-INF, -INF, -INF], [INF, 1.0, 0.0], [NAN, 1.0, 0.0], [INF, -INF, 2.0],
                    [1e308, 1e308, -1e308], [0.0, 1.0, 2.0]])
TARGETS = np.array([0, 1, 2, 0, 1, 2])
IGNORED = np.full(6, -100)
EMPTY = np.zeros((0, 3))
NO_TARGETS = np.zeros(0, np.int64)
F16_BIG = np.full((2, 4), 65504.0, np.float16)
LOGITS = np.array([-INF, INF, NAN, -1e308, 1e308, 0.0])
LABELS = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.5])

EDGE_CALLS = {
    # log-sum-exp family on NaN/inf rows, b masking and cancelling, empty and 0-d input
    "logsumexp": lambda: ll.logsumexp(SPECIAL, axis=1, return_sign=True),
    "logsumexp b": lambda: ll.logsumexp(SPECIAL, axis=1, b=[[0.0, 1.0, -1.0]]),
    "logsumexp b=0": lambda: ll.logsumexp(SPECIAL, axis=1, b=0.0, return_sign=True),
    "logsumexp empty": lambda: ll.logsumexp(EMPTY),
    "logsumexp float16 max": lambda: ll.logsumexp(F16_BIG, axis=1),
    "logsumexp_grad": lambda: ll.logsumexp_grad(SPECIAL, axis=1, b=[1.0, -1.0, 0.5]),
    "softmax": lambda: ll.softmax(SPECIAL, axis=1),
    "log_softmax": lambda: ll.log_softmax(SPECIAL, axis=0),
    "softmax empty": lambda: ll.softmax(EMPTY, axis=1),
    "softmax_grad": lambda: ll.softmax_grad(SPECIAL, SPECIAL[::-1], axis=1),
    "log_softmax_grad": lambda: ll.log_softmax_grad(SPECIAL, np.ones_like(SPECIAL), axis=1),
    # cross-entropy: special rows, all-ignored and empty means, zero weights
    "cross_entropy none": lambda: ll.cross_entropy(SPECIAL, TARGETS, reduction="none"),
    "cross_entropy sum": lambda: ll.cross_entropy_value_and_grad(SPECIAL, TARGETS, reduction="sum"),
    "cross_entropy smoothing": lambda: ll.cross_entropy(SPECIAL, TARGETS, label_smoothing=1.0),
    "cross_entropy probabilities": lambda: ll.cross_entropy_value_and_grad(
        SPECIAL, ll.softmax(SPECIAL[::-1], axis=1)),
    "cross_entropy all ignored": lambda: ll.cross_entropy_value_and_grad(SPECIAL, IGNORED),
    "cross_entropy_grad all ignored": lambda: ll.cross_entropy_grad(SPECIAL, IGNORED),
    "cross_entropy zero weights": lambda: ll.cross_entropy_value_and_grad(
        SPECIAL, TARGETS, weight=[0.0, 0.0, 0.0]),
    "cross_entropy empty": lambda: ll.cross_entropy_value_and_grad(EMPTY, NO_TARGETS),
    "CrossEntropyLoss all ignored": lambda: ll.CrossEntropyLoss()(SPECIAL, IGNORED),
    "nll_loss all ignored": lambda: ll.nll_loss_value_and_grad(SPECIAL, IGNORED),
    "nll_loss -inf": lambda: ll.nll_loss(np.full((2, 3), -INF), [0, 1], reduction="sum"),
    # binary losses: infinite and NaN logits, empty mean, zero weights
    "bce": lambda: ll.binary_cross_entropy_with_logits_value_and_grad(
        LOGITS, LABELS, pos_weight=2.0, reduction="none"),
    "bce mean": lambda: ll.binary_cross_entropy_with_logits_value_and_grad(LOGITS, LABELS),
    "bce empty mean": lambda: ll.binary_cross_entropy_with_logits_value_and_grad(
        np.zeros(0), np.zeros(0)),
    "bce zero weight": lambda: ll.binary_cross_entropy_with_logits(LOGITS, LABELS, weight=0.0),
    "focal": lambda: ll.sigmoid_focal_loss_value_and_grad(LOGITS, LABELS, reduction="sum"),
    # linear cross-entropy: inf hidden states times zero weights (NaN logits)
    "linear_cross_entropy": lambda: ll.linear_cross_entropy_value_and_grad(
        np.array([[INF], [1.0], [NAN]]), np.array([[0.5], [0.0], [-1.0]]), [1, 0, 2],
        softcap=2.0, z_loss=1e-3),
    # boosting objectives on non-finite margins
    "objectives.softmax": lambda: objectives.softmax(SPECIAL, TARGETS % 3),
    "objectives.logistic": lambda: objectives.logistic(LOGITS, LABELS),
}


@pytest.mark.parametrize("errors", ["warn", "raise"])
@pytest.mark.parametrize("name", EDGE_CALLS)
def test_edge_inputs_give_no_warnings(name, errors):
    # Every warning an error, and under all='raise' every floating-point
    # exception NumPy sees too: none may come from the Python layer.
    with warnings.catch_warnings(), np.errstate(all=errors):
        warnings.simplefilter("error")
        EDGE_CALLS[name]()


def test_edge_values_are_the_documented_ones():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The mean over no (or only zero-weight) targets is 0/0, as PyTorch.
        loss, grad = ll.cross_entropy_value_and_grad(SPECIAL, IGNORED)
        assert np.isnan(loss)
        assert not grad.any()
        assert np.isnan(ll.cross_entropy(EMPTY, NO_TARGETS))
        assert ll.cross_entropy(EMPTY, NO_TARGETS, reduction="sum") == 0
        assert np.isnan(ll.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0)))
        # NaN and +inf rows are NaN; an all -inf row is -inf for logsumexp.
        lse, sign = ll.logsumexp(SPECIAL, axis=1, return_sign=True)
        assert lse[0] == -INF
        assert sign[0] == 0
        assert lse[1] == INF
        assert np.isnan(lse[2])
        assert np.isnan(ll.cross_entropy(SPECIAL, TARGETS, reduction="none")[:4]).all()


def _outcome(compute, errors):
    """What `compute` gives under np.errstate(over=errors): its value (as
    dtype and bytes) or the exception type, with the warnings it issued."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(over=errors):
        warnings.simplefilter("always")
        try:
            value = np.asarray(compute())
            result: object = (value.dtype, value.tobytes())
        except FloatingPointError as exc:
            result = (FloatingPointError, str(exc))
    return result, [(w.category, str(w.message)) for w in caught]


BIG16 = np.array([[60000.0, -60000.0]] * 2, np.float16)  # each loss ~120000
BIG32 = np.array([[F32_MAX, -F32_MAX], [1.0, 2.0]], np.float32)  # loss 2 * max

# (logitloss call, NumPy's rounding of the same float64 value(s) into the dtype)
OVERFLOWS = {
    "cross_entropy float16 sum": (
        lambda: ll.cross_entropy(BIG16, np.array([1, 1]), reduction="sum"),
        lambda: np.float16(240000.0)),
    "cross_entropy float16 none": (
        lambda: ll.cross_entropy(BIG16, np.array([1, 1]), reduction="none"),
        lambda: np.array([120000.0, 120000.0]).astype(np.float16)),
    "cross_entropy float32 sum (common call)": (
        lambda: ll.cross_entropy(BIG32, np.array([1, 0]), reduction="sum"),
        lambda: np.float32(3 * F32_MAX)),
    "cross_entropy float32 none (common call)": (
        lambda: ll.cross_entropy(BIG32, np.array([1, 0]), reduction="none")[:1],
        lambda: np.array([2 * F32_MAX]).astype(np.float32)),
    "cross_entropy_value_and_grad float32 sum": (
        lambda: ll.cross_entropy_value_and_grad(BIG32, np.array([1, 0]), reduction="sum")[0],
        lambda: np.float32(3 * F32_MAX)),
    "nll_loss float16 sum": (
        lambda: ll.nll_loss(BIG16, np.array([1, 1]), reduction="sum"),
        lambda: np.float16(120000.0)),
    "bce float16 sum": (
        lambda: ll.binary_cross_entropy_with_logits(
            np.full(40000, -3.0, np.float16), np.ones(40000, np.float16), reduction="sum"),
        lambda: np.float16(121943.49)),
}


@pytest.mark.parametrize("errors", ["ignore", "warn", "raise"])
@pytest.mark.parametrize("name", OVERFLOWS)
def test_overflow_to_inf_behaves_like_numpys_cast(name, errors):
    ours, numpys = OVERFLOWS[name]
    result, caught = _outcome(ours, errors)
    want, want_caught = _outcome(numpys, errors)
    assert caught == want_caught
    assert result == want
    if errors == "ignore":
        assert not caught
        assert np.isinf(np.frombuffer(result[1], result[0])).all()


def test_refused_values_raise_their_error_not_a_warning():
    # Weights and labels are read in their own dtype and checked by the
    # kernel: a refused value raises its error, with no warning on top.
    margins = np.zeros((2, 3), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for bad in (np.inf, np.nan, -1.0):
            with pytest.raises(ValueError, match="sample_weight must be finite"):
                objectives.softmax(margins, [0, 1], sample_weight=[1.0, bad])
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
            objectives.logistic(margins[0, :2], [0.0, 1e39])
