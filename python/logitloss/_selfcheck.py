"""The quick self-check run by ``python -m logitloss``.

Each check compares a logitloss function on a small random input with a plain
float64 NumPy computation; a failure names the function and the error found.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import logitloss as ll

Check = tuple[str, Callable[[np.random.Generator], float], float]


def _lse_ref(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    ref: np.ndarray = np.squeeze(m, axis) + np.log(np.exp(x - m).sum(axis=axis))
    return ref


def _rel_err(got: np.ndarray | np.floating[Any], want: np.ndarray) -> float:
    got64 = np.asarray(got, np.float64)
    return float(np.max(np.abs(got64 - want) / np.maximum(np.abs(want), 1e-300)))


def _scaled_err(got: np.ndarray, want: np.ndarray) -> float:
    """Max absolute error relative to the largest entry (for gradients, whose
    entries near zero make a relative error meaningless)."""
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


def _logsumexp(rng: np.random.Generator) -> float:
    x = rng.standard_normal((37, 129)) * 30
    return max(
        _rel_err(
            ll.logsumexp(x.astype(np.float32), axis=1),
            _lse_ref(x.astype(np.float32).astype(np.float64), 1),
        ),
        _rel_err(ll.logsumexp(x, axis=0), _lse_ref(x, 0)),
    )


def _softmax(rng: np.random.Generator) -> float:
    x = rng.standard_normal((19, 33, 5))
    want = np.exp(x - _lse_ref(x, 1)[:, None, :])
    return _rel_err(ll.softmax(x, axis=1), want)


def _log_softmax(rng: np.random.Generator) -> float:
    x = rng.standard_normal((19, 33))
    return _rel_err(ll.log_softmax(x, axis=1), x - _lse_ref(x, 1)[:, None])


def _cross_entropy(rng: np.random.Generator) -> float:
    x = rng.standard_normal((64, 10)) * 4
    t = rng.integers(0, 10, 64)
    w = rng.uniform(0.5, 2.0, 10)
    logp = x - _lse_ref(x, 1)[:, None]
    per_row = -logp[np.arange(64), t] * w[t]
    want_loss = per_row.sum() / w[t].sum()
    want_grad = (np.exp(logp) - np.eye(10)[t]) * (w[t] / w[t].sum())[:, None]
    loss, grad = ll.cross_entropy_value_and_grad(x, t, w)
    return max(_rel_err(loss, want_loss), _scaled_err(grad, want_grad))


def _binary_cross_entropy(rng: np.random.Generator) -> float:
    x = rng.standard_normal((32, 5)) * 6
    y = rng.uniform(0, 1, (32, 5))
    pw = rng.uniform(0.5, 3.0, 5)
    log_sig = -np.logaddexp(0.0, -x)
    log_one_minus = -np.logaddexp(0.0, x)
    want = -(pw * y * log_sig + (1 - y) * log_one_minus)
    got = ll.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    return _rel_err(got, want)


CHECKS: list[Check] = [
    ("logsumexp", _logsumexp, 1e-6),
    ("softmax", _softmax, 1e-12),
    ("log_softmax", _log_softmax, 1e-12),
    ("cross_entropy_value_and_grad", _cross_entropy, 1e-12),
    ("binary_cross_entropy_with_logits", _binary_cross_entropy, 1e-12),
]


def run_checks(seed: int = 0) -> list[tuple[str, float, bool]]:
    """Runs every check; returns (name, max relative error, passed)."""
    rng = np.random.default_rng(seed)
    results = []
    for name, check, tol in CHECKS:
        err = check(rng)
        results.append((name, err, bool(err <= tol)))
    return results
