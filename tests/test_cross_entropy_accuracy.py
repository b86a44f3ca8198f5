"""Per-sample cross-entropy and its target gradient against mpmath
(Note [Stable cross-entropy]): float32 losses within 4 ULP, the target-class
gradient p_t - 1 within 8 ULP, confident rows (margins 20-80) included, on
the contiguous and the strided kernel path and every SIMD level."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from logitloss import _core

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp

LOSS_ULP = 4
GRAD_ULP = 8


def _exact(x, t, weight=None, eps=0.0):
    """Exact (50-digit) loss and target gradient p_t - 1 of each row."""
    mp.dps = 50
    losses, grads = [], []
    for row, tt in zip(x, t):
        v = [mpmath.mpf(float(a)) for a in row]
        C = len(v)
        w = [mpmath.mpf(1)] * C if weight is None else [mpmath.mpf(float(a)) for a in weight]
        m = max(v)
        ties = sum(1 for a in v if a == m)
        rest = mpmath.fsum(mpmath.exp(a - m) for a in v if a != m)
        L = mpmath.log(ties) + mpmath.log1p(rest / ties)  # log sum exp(x - m)
        nlp = [(m - a) + L for a in v]  # -log_softmax
        loss = (1 - eps) * w[tt] * nlp[tt] + eps / C * mpmath.fsum(wc * n for wc, n in zip(w, nlp))
        others = mpmath.fsum(mpmath.exp(a - m) for i, a in enumerate(v) if i != tt)
        total = ties + rest
        losses.append(loss)
        grads.append(-others / total)
    return losses, grads


def _as(values, dtype):
    return np.array([float(v) for v in values]).astype(dtype)


def _rows(kind, rng, n, C, dtype):
    x = (rng.standard_normal((n, C)) * 3).astype(dtype)
    t = rng.integers(0, C, n)
    if kind == "confident":
        x[np.arange(n), t] = x.max(axis=1) + rng.uniform(20, 80, n).astype(dtype)
    elif kind == "confident_tie":  # two classes share the max
        x[np.arange(n), t] = x.max(axis=1) + rng.uniform(20, 80, n).astype(dtype)
        other = (t + 1) % C
        x[np.arange(n), other] = x[np.arange(n), t]
    elif kind == "wrong":  # the target far below the max
        x[np.arange(n), t] = x.min(axis=1) - rng.uniform(20, 80, n).astype(dtype)
    return x, t


def _levels():
    return _core.simd_levels_supported()


@pytest.fixture
def simd_level(request):
    previous = _core.simd_level()
    _core.set_simd_level(request.param)
    yield request.param
    _core.set_simd_level(previous)


@pytest.mark.parametrize("simd_level", _levels(), indirect=True)
@pytest.mark.parametrize("kind", ["random", "confident", "confident_tie", "wrong"])
@pytest.mark.parametrize("C", [3, 10, 37, 100])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_float32_loss_and_target_grad_ulp(simd_level, kind, C, layout):
    rng = np.random.default_rng(C * 7 + len(kind))
    n = 24
    x, t = _rows(kind, rng, n, C, np.float32)
    exact_loss, exact_grad = _exact(x, t)
    if layout == "contiguous":
        xin, axis = x, 1
    else:  # classes along axis 0: lanes across rows
        xin, axis = np.ascontiguousarray(x.T), 0
    loss = ll.cross_entropy(xin, t, reduction="none", axis=axis)
    np.testing.assert_array_max_ulp(loss, _as(exact_loss, np.float32), maxulp=LOSS_ULP)
    value, grad = ll.cross_entropy_value_and_grad(xin, t, reduction="none", axis=axis)
    np.testing.assert_array_equal(value, loss)
    g = grad[np.arange(n), t] if axis == 1 else grad[t, np.arange(n)]
    np.testing.assert_array_max_ulp(g, _as(exact_grad, np.float32), maxulp=GRAD_ULP)
    g2 = ll.cross_entropy_grad(xin, t, reduction="none", axis=axis)
    np.testing.assert_array_equal(g2, grad)


@pytest.mark.parametrize("kind", ["random", "confident"])
def test_float32_weighted_smoothed_loss_ulp(kind):
    rng = np.random.default_rng(5)
    C = 21
    x, t = _rows(kind, rng, 32, C, np.float32)
    w = rng.uniform(0.25, 2, C).astype(np.float32)
    exact, _ = _exact(x, t, w, eps=0.1)
    loss = ll.cross_entropy(x, t, w, reduction="none", label_smoothing=0.1)
    np.testing.assert_array_max_ulp(loss, _as(exact, np.float32), maxulp=LOSS_ULP)


@pytest.mark.parametrize("kind", ["random", "confident", "wrong"])
def test_float64_loss_ulp(kind):
    rng = np.random.default_rng(9)
    x, t = _rows(kind, rng, 24, 33, np.float64)
    exact_loss, exact_grad = _exact(x, t)
    value, grad = ll.cross_entropy_value_and_grad(x, t, reduction="none")
    np.testing.assert_array_max_ulp(value, _as(exact_loss, np.float64), maxulp=LOSS_ULP)
    np.testing.assert_array_max_ulp(
        grad[np.arange(24), t], _as(exact_grad, np.float64), maxulp=GRAD_ULP)


def test_mean_is_exactly_rounded_sum_of_float64_rows():
    """'mean' and 'sum' combine float64 per-row losses: float32 results are
    within 1 ULP of the exact mean."""
    rng = np.random.default_rng(2)
    x, t = _rows("confident", rng, 40, 12, np.float32)
    exact, _ = _exact(x, t)
    mp.dps = 50
    mean = _as([mpmath.fsum(exact) / len(exact)], np.float32)[0]
    np.testing.assert_array_max_ulp(ll.cross_entropy(x, t), mean, maxulp=1)
