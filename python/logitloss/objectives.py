"""Custom objectives for gradient boosting (XGBoost, LightGBM).

``softmax`` (multiclass) and ``logistic`` (binary) return the gradient and
diagonal Hessian of the (sample-weighted) log-loss with respect to raw
margins, computed by a fused native kernel: one pass per row yields the
softmax, the gradient and the Hessian. ``xgboost_objective`` and
``lightgbm_objective`` wrap them in the callables each library's
custom-objective interface expects.

Conventions (see Note [Boosting objectives] in csrc/kernels/objectives.h),
with ``p = softmax(margins)`` per row and ``w`` the sample weight:

=============  ==============================  =====================================
``hessian``    library objective               diagonal Hessian
=============  ==============================  =====================================
``'xgboost'``  XGBoost ``multi:softprob``      ``max(2 p (1 - p) w, 1e-16)``
``'lightgbm'`` LightGBM ``multiclass``         ``K / (K - 1) p (1 - p) w``
``'exact'``    --                              ``p (1 - p) w``
=============  ==============================  =====================================

The gradient is ``w (p - onehot(label))`` in every convention. ``logistic``
follows XGBoost's ``binary:logistic``: ``grad = w (p - y)``,
``hess = w max(p (1 - p), 1e-16)`` with ``p = sigmoid(margin)``; LightGBM's
``binary`` has the same values without the floor (which only matters for
``|margin| > 36.8``). Importing this module never imports XGBoost or LightGBM.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from . import _core
from ._validation import as_array, as_float, compute_dtype

__all__ = ["softmax", "logistic", "xgboost_objective", "lightgbm_objective"]

_HESSIAN_KINDS = {"xgboost": 0, "lightgbm": 1, "exact": 2}
_OBJECTIVES = ("softmax", "logistic")
_MAX_CLASSES = 2**31 - 1  # the kernel holds class ids in 32-bit lanes


def _class_labels(labels: Any, n: int, classes: int, func: str) -> np.ndarray:
    """Integer class ids (integer dtype, or floats holding integers, as the
    boosting libraries pass them) as a contiguous int64 buffer."""
    y = as_array(labels, func, "labels")
    if y.dtype.kind not in "iuf":
        raise TypeError(
            f"{func}: labels has dtype {y.dtype}; expected integer class ids "
            "(an integer array, or floats holding integers)"
        )
    if y.shape != (n,):
        raise ValueError(
            f"{func}: labels has shape {y.shape}; expected ({n},), one per row of margins"
        )
    if n == 0:
        return np.empty(0, np.int64)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.floor(y))
        if bad.any():
            value = float(y[bad][0])
            raise ValueError(f"{func}: labels holds {value}, which is not an integer class id")
    lo, hi = y.min(), y.max()
    if lo < 0 or hi >= classes:
        value = lo if lo < 0 else hi
        shown = int(value)
        raise IndexError(f"{func}: label {shown} is out of range for {classes} classes")
    return np.ascontiguousarray(y, dtype=np.int64)


def _sample_weight(sample_weight: Any, n: int, dtype: np.dtype, func: str) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = as_array(sample_weight, func, "sample_weight")
    compute_dtype(w.dtype, func, "sample_weight")  # TypeError for non-real dtypes
    if w.shape != (n,):
        raise ValueError(
            f"{func}: sample_weight has shape {w.shape}; expected ({n},), one per row"
        )
    with np.errstate(over="ignore"):  # a weight beyond dtype's range is refused below
        w = np.ascontiguousarray(w, dtype=dtype)
    if n and not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError(f"{func}: sample_weight must be finite and non-negative")
    return w


def softmax(
    margins: Any, labels: Any, sample_weight: Any = None, *, hessian: str = "xgboost"
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and diagonal Hessian of the softmax log-loss.

    Parameters
    ----------
    margins : array_like, shape (N, K)
        Raw scores (before the softmax), any memory order. float32 and
        float64 stay; float16/bfloat16 are computed in float32; integers are
        promoted to float64.
    labels : array_like, shape (N,)
        Class ids in ``[0, K)``: an integer array, or floats holding integers
        (as XGBoost and LightGBM store labels).
    sample_weight : array_like, shape (N,), optional
        Non-negative per-row weights; multiply the gradient and Hessian.
    hessian : {'xgboost', 'lightgbm', 'exact'}
        Diagonal-Hessian convention (module docstring): XGBoost's
        ``multi:softprob`` ``max(2 p (1 - p) w, 1e-16)``, LightGBM's
        ``multiclass`` ``K/(K-1) p (1 - p) w``, or ``p (1 - p) w``.

    Returns
    -------
    grad, hess : ndarray
        Shaped and typed like `margins` (in its memory order). Rows whose
        maximum margin is not finite (NaN, +inf, or all -inf) are NaN.

    Raises
    ------
    TypeError
        For a non-real `margins` dtype or non-numeric labels/weights.
    ValueError
        For a bad shape, a non-integer label, a negative or non-finite weight,
        an unknown `hessian`, or ``hessian='lightgbm'`` with one class.
    IndexError
        For a label outside ``[0, K)``.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> g, h = obj.softmax([[0.0, 0.0]], [1], hessian="exact")
    >>> g, h
    (array([[ 0.5, -0.5]]), array([[0.25, 0.25]]))
    """
    func = "objectives.softmax"
    # Users may pass anything, whatever the annotation says.
    if not isinstance(hessian, str) or hessian not in _HESSIAN_KINDS:  # type: ignore[redundant-expr]
        raise ValueError(
            f"{func}: hessian must be one of {sorted(_HESSIAN_KINDS)}, not {hessian!r}"
        )
    x = as_float(margins, func, "margins")
    if x.ndim != 2:
        raise ValueError(f"{func}: margins has shape {x.shape}; expected (N, K)")
    n, classes = x.shape
    if classes < 1 or classes > _MAX_CLASSES:
        raise ValueError(f"{func}: margins has {classes} classes; expected 1 to {_MAX_CLASSES}")
    if hessian == "lightgbm" and classes < 2:
        raise ValueError(f"{func}: hessian='lightgbm' needs at least 2 classes (K/(K-1) factor)")
    y = _class_labels(labels, n, classes, func)
    w = _sample_weight(sample_weight, n, x.dtype, func)
    # Class-major memory (e.g. Fortran order, LightGBM's old flat layout seen
    # as (N, K)) runs as (1, K, N) so the kernel's row blocks load along rows.
    class_major = n > 1 and classes > 1 and abs(x.strides[0]) < abs(x.strides[1])
    order: Literal["C", "F"] = "F" if class_major else "C"
    grad = np.empty(x.shape, x.dtype, order=order)
    hess = np.empty(x.shape, x.dtype, order=order)
    if class_major:
        views = [a.T[None] for a in (x, grad, hess)]
    else:
        views = [a[:, :, None] for a in (x, grad, hess)]
    _core.softmax_objective(views[0], y, w, views[1], views[2], _HESSIAN_KINDS[hessian])
    return grad, hess


def logistic(
    margins: Any, labels: Any, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the binary logistic log-loss.

    ``grad = w (p - y)`` and ``hess = w max(p (1 - p), 1e-16)`` with
    ``p = sigmoid(margins)``, computed without overflow for any margin and
    without cancellation in ``1 - p`` (XGBoost's ``binary:logistic``).

    Parameters
    ----------
    margins : array_like, shape (N,)
        Raw scores. float32/float64 stay; float16/bfloat16 are computed in
        float32; integers are promoted to float64.
    labels : array_like, shape (N,)
        0/1 labels, or soft labels in ``[0, 1]``.
    sample_weight : array_like, shape (N,), optional
        Non-negative per-element weights.

    Returns
    -------
    grad, hess : ndarray
        Shaped and typed like `margins`.

    Raises
    ------
    TypeError
        For a non-real dtype.
    ValueError
        For a bad shape, a label outside ``[0, 1]`` (or NaN), or a negative or
        non-finite weight.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> obj.logistic([0.0, 0.0], [1, 0])
    (array([-0.5,  0.5]), array([0.25, 0.25]))
    """
    func = "objectives.logistic"
    x = as_float(margins, func, "margins")
    if x.ndim != 1:
        raise ValueError(f"{func}: margins has shape {x.shape}; expected (N,)")
    n = x.shape[0]
    y = as_array(labels, func, "labels")
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"{func}: labels has unsupported dtype {y.dtype}; expected 0/1 or [0, 1] values"
        )
    if y.shape != (n,):
        raise ValueError(f"{func}: labels has shape {y.shape}; expected ({n},), one per margin")
    with np.errstate(over="ignore"):  # a label beyond x's range is refused below
        y = as_float(y, func, "labels", x.dtype)
    if n and not ((y >= 0).all() and (y <= 1).all()):
        raise ValueError(f"{func}: labels must lie in [0, 1] (0/1 or soft labels)")
    w = _sample_weight(sample_weight, n, x.dtype, func)
    grad = np.empty(n, x.dtype)
    hess = np.empty(n, x.dtype)
    _core.logistic_objective(x, y, w, grad, hess)
    return grad, hess


def _check_name(name: Any, func: str) -> str:
    if not isinstance(name, str) or name not in _OBJECTIVES:
        raise ValueError(f"{func}: name must be 'softmax' or 'logistic', not {name!r}")
    return name


def _as_rows(preds: np.ndarray, n: int, func: str) -> tuple[np.ndarray, bool]:
    """The multiclass predictions as an (N, K) array, and whether they came
    flat (class-major for LightGBM < 4, row-major for XGBoost < 2)."""
    if preds.ndim == 2:
        return preds, False
    if preds.ndim == 1 and n > 0 and preds.size % n == 0:
        return preds, True
    raise ValueError(f"{func}: predictions of shape {preds.shape} do not match {n} labels")


def xgboost_objective(name: str) -> Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]:
    """A custom objective for ``xgboost.train(params, dtrain, obj=...)``.

    Parameters
    ----------
    name : {'softmax', 'logistic'}
        ``'softmax'`` mirrors ``multi:softprob`` (set ``num_class`` in the
        params); ``'logistic'`` mirrors ``binary:logistic``.

    Returns
    -------
    callable
        ``obj(predt, dtrain) -> (grad, hess)``: reads the labels and weights
        from the DMatrix; `predt` holds raw margins, ``(N, K)`` for
        multiclass (XGBoost >= 2; a flat row-major ``(N * K,)`` is accepted
        too) and the results have the layout of `predt`. The scikit-learn
        estimators' form, ``obj(y_true, y_pred, sample_weight=None)``
        (``XGBClassifier(objective=obj)``), works too.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> f = obj.xgboost_objective("softmax")
    >>> callable(f)
    True
    """
    func = "objectives.xgboost_objective"
    _check_name(name, func)

    def objective(
        first: Any, second: Any, *, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(second, "get_label"):  # xgboost.train: (predt, dtrain)
            predt, labels, weight = first, second.get_label(), second.get_weight()
        else:  # scikit-learn API: (y_true, y_pred, sample_weight=...)
            labels, predt, weight = np.asarray(first), second, sample_weight
        weight = weight if weight is not None and np.size(weight) else None
        margins = np.asarray(predt)
        if name == "logistic":
            g, h = logistic(margins.reshape(-1), labels, weight)
            return g.reshape(margins.shape), h.reshape(margins.shape)
        rows, flat = _as_rows(margins, len(labels), func)
        if flat:
            rows = rows.reshape(len(labels), -1)  # row-major (N * K,)
        g, h = softmax(rows, labels, weight, hessian="xgboost")
        return g.reshape(margins.shape), h.reshape(margins.shape)

    objective.__name__ = f"logitloss_xgboost_{name}"
    return objective


def lightgbm_objective(name: str) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """A custom objective for LightGBM.

    Parameters
    ----------
    name : {'softmax', 'logistic'}
        ``'softmax'`` mirrors ``multiclass`` (set ``num_class``);
        ``'logistic'`` mirrors ``binary``.

    Returns
    -------
    callable
        Works with both LightGBM interfaces: ``lgb.train(params)`` with
        ``params['objective'] = f`` calls ``f(preds, train_set)``, and the
        scikit-learn estimators (``LGBMClassifier(objective=f)``) call
        ``f(y_true, y_pred, weight)``. Multiclass predictions are ``(N, K)``
        in LightGBM >= 4 and flat class-major ``(K * N,)`` before; the
        gradient and Hessian come back in the layout received.
        With a custom objective LightGBM starts from zero scores
        (no ``boost_from_average``) and predicts raw margins.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> f = obj.lightgbm_objective("logistic")
    >>> callable(f)
    True
    """
    func = "objectives.lightgbm_objective"
    _check_name(name, func)

    def objective(first: Any, second: Any, weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(second, "get_label"):  # lgb.train: (preds, Dataset)
            preds, labels, weight = first, second.get_label(), second.get_weight()
        else:  # scikit-learn API: (y_true, y_pred, weight)
            labels, preds = first, second
        margins = np.asarray(preds)
        labels = np.asarray(labels)
        if name == "logistic":
            g, h = logistic(margins.reshape(-1), labels, weight)
            return g.reshape(margins.shape), h.reshape(margins.shape)
        rows, flat = _as_rows(margins, len(labels), func)
        if flat:
            rows = rows.reshape(-1, len(labels)).T  # class-major (K * N,) as (N, K)
            g, h = softmax(rows, labels, weight, hessian="lightgbm")
            return g.T.reshape(-1), h.T.reshape(-1)
        return softmax(rows, labels, weight, hessian="lightgbm")

    objective.__name__ = f"logitloss_lightgbm_{name}"
    return objective
