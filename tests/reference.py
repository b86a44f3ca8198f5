"""Float64 NumPy references for the tests.

Each family has its own section. References are written for clarity, not
speed, and are evaluated in float64 (or exactly, with mpmath, where a test
needs the correctly rounded value).
"""

from __future__ import annotations

import numpy as np

# --- log-sum-exp family ---------------------------------------------------


def log_total_ref(x: np.ndarray, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """(m, log sum exp(x - m)) in float64, keepdims, for finite inputs.

    The sum is split as 1 + (the others) with log1p, so that a dominant
    entry keeps every digit (log(1 + tiny) would round the tiny away).
    """
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    ties = np.sum(x == m, axis=axis, keepdims=True)
    rest = np.sum(np.where(x == m, 0.0, e), axis=axis, keepdims=True)
    return m, np.log(ties) + np.log1p(rest / ties)


def lse_ref(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """logsumexp in float64 (finite inputs)."""
    m, log_total = log_total_ref(x, axis)
    out = m + log_total
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax_ref(x: np.ndarray, axis=None) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.exp(x - lse_ref(x, axis, keepdims=True))


def log_softmax_ref(x: np.ndarray, axis=None) -> np.ndarray:
    x = np.asarray(x, np.float64)
    m, log_total = log_total_ref(x, axis)
    return (x - m) - log_total


def softmax_vjp_ref(x: np.ndarray, g: np.ndarray, axis) -> np.ndarray:
    y = softmax_ref(x, axis)
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def log_softmax_vjp_ref(x: np.ndarray, g: np.ndarray, axis) -> np.ndarray:
    return g - softmax_ref(x, axis) * np.sum(g, axis=axis, keepdims=True)


def central_difference(f, x: np.ndarray, g: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d <g, f(x)> / dx by central differences, one coordinate at a time."""
    x = np.array(x, np.float64)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = np.sum(g * f(x))
        x[i] = old - h
        down = np.sum(g * f(x))
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad
