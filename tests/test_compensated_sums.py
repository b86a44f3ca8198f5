"""float64 rows whose terms repeat: the kernels' row sums are compensated
(kCompensatedSums in csrc/kernels/row_stats.h), so softmax, logsumexp,
softmax_grad and cross-entropy keep their few-ULP accuracy where a plain
double sum of equal terms drifts by up to n/2 ULP (11 ULP on these rows)."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll

mpmath = pytest.importorskip("mpmath")
EPS = np.finfo(np.float64).eps


def repeated_row(classes: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(classes)
    x[: classes // 2] = x[0]  # half the row one value (not the max, mostly)
    return x


def as_layout(x: np.ndarray, layout: str) -> tuple[np.ndarray, int]:
    """The row as a (1, C) array (classes contiguous) or a (C, 2) one read
    along axis 0 (the strided row-block kernels)."""
    if layout == "contiguous":
        return x[None, :], 1
    return np.ascontiguousarray(np.stack([x, x]).T), 0


def exact_softmax(x: np.ndarray) -> tuple[list, object]:
    mpmath.mp.dps = 50
    m = mpmath.mpf(float(x.max()))
    exps = [mpmath.exp(mpmath.mpf(float(v)) - m) for v in x]
    total = mpmath.fsum(exps)
    return [e / total for e in exps], m + mpmath.log(total)


def first_row(a: np.ndarray, axis: int) -> np.ndarray:
    return np.asarray(a)[0] if axis == 1 else np.asarray(a)[:, 0]


@pytest.mark.parametrize("classes", [29, 1000, 4097])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_softmax_and_logsumexp_of_repeated_terms(simd_level, classes, layout):
    x = repeated_row(classes, seed=classes)
    xx, axis = as_layout(x, layout)
    probs, lse = exact_softmax(x)
    y = first_row(ll.softmax(xx, axis=axis), axis)
    rel = max(abs(float((mpmath.mpf(float(v)) - p) / p)) for v, p in zip(y, probs))
    assert rel <= 3 * EPS  # measured 1.4 eps; 11 eps with plain sums
    got = float(np.asarray(ll.logsumexp(xx, axis=axis)).ravel()[0])
    assert abs(float(mpmath.mpf(got) - lse)) <= np.spacing(abs(got))


@pytest.mark.parametrize("classes", [29, 1000, 4097])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_softmax_grad_of_ones_vanishes(simd_level, classes, layout):
    # y * (1 - sum y): d = sum g * y must come out 1 to within an ULP or two.
    xx, axis = as_layout(repeated_row(classes, seed=classes + 1), layout)
    g = ll.softmax_grad(xx, np.ones_like(xx), axis=axis)
    y = ll.softmax(xx, axis=axis)
    assert np.all(np.abs(g) <= 2 * EPS * y)


@pytest.mark.parametrize("classes", [29, 1000, 4097])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_cross_entropy_of_repeated_terms(simd_level, classes, layout):
    x = repeated_row(classes, seed=classes + 2)
    xx, axis = as_layout(x, layout)
    target = int(np.argmin(x))  # a large loss, where L = log(sum of exps) matters
    t = np.array([target] * (1 if axis == 1 else 2))
    probs, _ = exact_softmax(x)
    exact = -mpmath.log(probs[target])
    got = float(ll.cross_entropy(xx, t, reduction="none", axis=axis)[0])
    assert abs(float(mpmath.mpf(got) - exact)) <= 2 * np.spacing(got)
