"""Evaluation metrics for XGBoost and LightGBM from raw margins.

'logloss' and 'mlogloss' equal the libraries' built-in metrics: per sample
``-log max(p_label, eps)`` (binary: each of ``p`` and ``1 - p`` clipped at
eps, as soft labels are weighted), then ``sum(w * loss) / sum(w)``, with
XGBoost's eps = float32(1e-16) and LightGBM's kEpsilon = float32(1e-15).
Clipping p at eps is clipping the per-sample loss at ``-log(eps)``, so the
losses come straight from the cross-entropy kernels' stable per-row values
(no softmax or sigmoid array is formed) and are then capped. 'focal' is the
mean focal loss with the focal objectives' defaults: torchvision's
``sigmoid_focal_loss`` (alpha 0.25, gamma 2) for binary margins, the softmax
focal loss ``-(1 - p_t)**2 log p_t`` (alpha None) for multiclass margins.

With a custom objective both libraries hand the metric raw margins
(XGBoost: ``output_margin=callable(obj)``; LightGBM: predictions "before any
transformation"), which is what these metrics take.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _core
from ._objective_inputs import binary_labels, class_labels, sample_weight
from ._validation import as_float
from .binary import binary_cross_entropy_with_logits, sigmoid_focal_loss

_METRICS = ("logloss", "mlogloss", "focal")
_XGBOOST_EPS = float(np.float32(1e-16))  # src/metric/elementwise_metric.cu, multiclass_metric.cu
_LIGHTGBM_EPS = float(np.float32(1e-15))  # kEpsilon, include/LightGBM/meta.h
# The built-in metrics' names in each library's evaluation results.
_XGBOOST_NAMES = {"logloss": "logloss", "mlogloss": "mlogloss", "focal": "focal"}
_LIGHTGBM_NAMES = {"logloss": "binary_logloss", "mlogloss": "multi_logloss", "focal": "focal"}


def _mean(loss: np.ndarray, weight: np.ndarray | None) -> float:
    if weight is None:
        return float(np.mean(loss)) if loss.size else math.nan
    w = np.asarray(weight, np.float64)
    return float(np.dot(w, loss) / w.sum())


def _binary_losses(margins: Any, labels: Any, func: str, eps: float | None) -> np.ndarray:
    """Per-sample log-loss of binary margins, clipped at -log(eps) (None: no clip)."""
    z = as_float(margins, func, "margins").reshape(-1)
    y = binary_labels(labels, z.shape[0], func)
    yf = y.astype(z.dtype, copy=False)
    if z.size and not (np.all(yf >= 0) and np.all(yf <= 1)):
        raise ValueError(f"{func}: labels must lie in [0, 1] (0/1 or soft labels)")
    cap = math.inf if eps is None else -math.log(eps)
    if y.dtype.kind in "bu" or np.all((yf == 0) | (yf == 1)):
        loss = binary_cross_entropy_with_logits(z, yf, reduction="none")
        return np.minimum(np.asarray(loss, np.float64), cap)
    # Soft labels: y (-log max(p, eps)) + (1 - y) (-log max(1 - p, eps)).
    pos, neg = (
        np.minimum(np.asarray(binary_cross_entropy_with_logits(
            z, np.broadcast_to(z.dtype.type(target), z.shape), reduction="none"), np.float64), cap)
        for target in (1, 0)
    )
    y64 = np.asarray(yf, np.float64)
    result: np.ndarray = y64 * pos + (1 - y64) * neg
    return result


def _row_losses(margins: np.ndarray, labels: Any, func: str) -> np.ndarray:
    """Per-row softmax cross-entropy (float64) of (N, K) margins."""
    x = as_float(margins, func, "margins")
    n, classes = x.shape
    y = class_labels(labels, n, func)
    target = y if y.dtype == np.int64 else y.astype(np.int64)
    if y.dtype.kind == "f":
        bad = np.flatnonzero(target != y)
        if bad.size:
            value = y[bad[0]].item()
            raise ValueError(f"{func}: labels holds {value}, which is not an integer class id")
    class_major = n > 1 and classes > 1 and abs(x.strides[0]) < abs(x.strides[1])
    x3 = x.T[None] if class_major else x[:, :, None]
    loss = np.empty(n)
    # No ignore index, smoothing, softcap (0: none) or z-loss; per-row losses only.
    bad_row = _core.cross_entropy(x3, np.ascontiguousarray(target), None, None, 0, False, 0.0,
                                  0.0, 0.0, loss, None, None, None, 1.0, False)
    if bad_row >= 0:
        raise IndexError(
            f"{func}: label {int(target[bad_row])} is out of range for {classes} classes"
        )
    return loss


def _metric_value(name: str, margins: np.ndarray, labels: Any, weight: Any, eps: float,
                  func: str) -> float:
    n = len(labels)
    w = sample_weight(weight, n, func)
    if w is not None and not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError(f"{func}: sample_weight must be finite and non-negative")
    if name == "logloss":
        return _mean(_binary_losses(margins, labels, func, eps), w)
    rows = margins.ndim == 2 and margins.shape[1] > 1
    if name == "mlogloss":
        return _mean(np.minimum(_row_losses(margins, labels, func), -math.log(eps)), w)
    if not rows:  # binary focal: torchvision's sigmoid_focal_loss, alpha 0.25, gamma 2
        z = as_float(margins, func, "margins").reshape(-1)
        y = binary_labels(labels, z.shape[0], func).astype(z.dtype, copy=False)
        return _mean(np.asarray(sigmoid_focal_loss(z, y, 0.25, 2.0), np.float64), w)
    ce = _row_losses(margins, labels, func)  # -log p_t; 1 - p_t without cancellation:
    return _mean(np.square(-np.expm1(-ce)) * ce, w)


def _check_name(name: Any, func: str) -> str:
    if not isinstance(name, str) or name not in _METRICS:
        raise ValueError(
            f"{func}: name must be one of {', '.join(map(repr, _METRICS))}, not {name!r}"
        )
    return name


def _multiclass_rows(preds: np.ndarray, n: int, class_major: bool) -> np.ndarray:
    """Flat multiclass predictions as (N, K); 2-D ones as they are."""
    if preds.ndim == 1 and n > 0 and preds.size > n and preds.size % n == 0:
        return preds.reshape(-1, n).T if class_major else preds.reshape(n, -1)
    return preds


def xgboost_metric(name: str) -> Callable[..., Any]:
    """An evaluation metric for ``xgboost.train(..., custom_metric=...)``.

    Parameters
    ----------
    name : {'logloss', 'mlogloss', 'focal'}
        'logloss' and 'mlogloss' equal XGBoost's built-in metrics of those
        names (probabilities clipped at float32(1e-16), weighted mean);
        'focal' is the mean focal loss (torchvision's sigmoid focal loss with
        alpha 0.25, gamma 2 for ``(N,)`` margins; the softmax focal loss with
        gamma 2 for ``(N, K)``), weighted like the others.

    Returns
    -------
    callable
        ``metric(predt, dtrain) -> (name, value)`` on raw margins, which is
        what XGBoost passes when the objective is a custom one (set
        ``disable_default_eval_metric``). The scikit-learn estimators' form
        ``metric(y_true, y_pred, sample_weight=None) -> value`` works too.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> f = obj.xgboost_metric("mlogloss")
    >>> class D:
    ...     def get_label(self): return [0.0]
    ...     def get_weight(self): return []
    >>> f([[0.0, 0.0]], D())
    ('mlogloss', 0.6931471805599453)
    """
    func = "objectives.xgboost_metric"
    _check_name(name, func)

    def metric(first: Any, second: Any, sample_weight: Any = None) -> Any:
        if hasattr(second, "get_label"):  # xgboost.train: (predt, dtrain)
            predt, labels, weight = first, second.get_label(), second.get_weight()
        else:  # scikit-learn API: (y_true, y_pred, sample_weight=...)
            labels, predt, weight = first, second, sample_weight
        labels = np.asarray(labels)
        weight = weight if weight is not None and np.size(weight) else None
        margins = _multiclass_rows(np.asarray(predt), len(labels), class_major=False)
        value = _metric_value(name, margins, labels, weight, _XGBOOST_EPS, func)
        return (_XGBOOST_NAMES[name], value) if hasattr(second, "get_label") else value

    metric.__name__ = _XGBOOST_NAMES[name]
    return metric


def lightgbm_metric(name: str) -> Callable[..., tuple[str, float, bool]]:
    """An evaluation metric for LightGBM (``feval=`` of ``lgb.train``, or
    ``eval_metric=`` of the scikit-learn estimators).

    Parameters
    ----------
    name : {'logloss', 'mlogloss', 'focal'}
        'logloss' and 'mlogloss' equal LightGBM's ``binary_logloss`` and
        ``multi_logloss`` (probabilities clipped at kEpsilon =
        float32(1e-15), weighted mean); 'focal' as in :func:`xgboost_metric`.

    Returns
    -------
    callable
        ``feval(preds, eval_data) -> (name, value, False)`` on raw margins
        (what LightGBM passes with a custom objective; ``(N, K)`` in
        LightGBM >= 4, flat class-major before). The names are LightGBM's
        (``binary_logloss``, ``multi_logloss``) and ``focal``. The
        scikit-learn form ``(y_true, y_pred[, weight])`` works too.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> f = obj.lightgbm_metric("logloss")
    >>> f([1.0], [0.0])  # scikit-learn form: (y_true, y_pred)
    ('binary_logloss', 0.6931471805599453, False)
    """
    func = "objectives.lightgbm_metric"
    _check_name(name, func)

    def metric(
        first: Any, second: Any, weight: Any = None, group: Any = None
    ) -> tuple[str, float, bool]:
        if hasattr(second, "get_label"):  # lgb.train: (preds, Dataset)
            preds, labels, weight = first, second.get_label(), second.get_weight()
        else:  # scikit-learn API: (y_true, y_pred[, weight[, group]])
            labels, preds = first, second
        labels = np.asarray(labels)
        margins = _multiclass_rows(np.asarray(preds), len(labels), class_major=True)
        value = _metric_value(name, margins, labels, weight, _LIGHTGBM_EPS, func)
        return _LIGHTGBM_NAMES[name], value, False

    metric.__name__ = _LIGHTGBM_NAMES[name]
    return metric
