"""Custom objectives and evaluation metrics for gradient boosting (XGBoost,
LightGBM).

``softmax`` (multiclass) and ``logistic`` (binary) return the gradient and
diagonal Hessian of the (sample-weighted) log-loss with respect to raw
margins, ``softmax_focal`` and ``focal`` those of the focal loss, each
computed by one fused native pass (softmax, gradient and Hessian together;
labels and weights read in their own dtype). ``xgboost_objective`` and
``lightgbm_objective`` wrap them in the callables each library's
custom-objective interface expects; ``xgboost_metric`` and
``lightgbm_metric`` give the matching evaluation metrics from raw margins.

Conventions (see Note [Boosting objectives] in csrc/kernels/objectives.h),
with ``p = softmax(margins)`` per row and ``w`` the sample weight:

==============  ==============================  =====================================
``hessian``     library objective               diagonal Hessian
==============  ==============================  =====================================
``'xgboost'``   XGBoost ``multi:softprob``      ``max(2 p (1 - p) w, 1e-16)``
``'lightgbm'``  LightGBM ``multiclass``         ``K / (K - 1) p (1 - p) w``
``'exact'``     --                              ``p (1 - p) w``
==============  ==============================  =====================================

The gradient is ``w (p - onehot(label))`` in every convention. ``logistic``
follows XGBoost's ``binary:logistic``: ``grad = w (p - y)``,
``hess = w max(p (1 - p), 1e-16)`` with ``p = sigmoid(margin)``; LightGBM's
``binary`` has the same values without the floor (which only matters for
``|margin| > 36.8``). The focal objectives are derived in Note [Focal
objective] (csrc/kernels/focal_objectives.h). Importing this module never
imports XGBoost or LightGBM.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from . import _core
from ._boosting_metrics import lightgbm_metric, xgboost_metric
from ._objective_inputs import (
    binary_labels,
    class_labels,
    output,
    raise_bad_rows,
    sample_weight,
)
from ._validation import as_float

__all__ = [
    "softmax",
    "logistic",
    "focal",
    "softmax_focal",
    "xgboost_objective",
    "lightgbm_objective",
    "xgboost_metric",
    "lightgbm_metric",
]

# HessianKind in csrc/kernels/api.h.
_HESSIAN_KINDS = {"xgboost": 0, "lightgbm": 1, "exact": 2}
_FOCAL_HESSIANS = {"floored": 3, "exact": 2}
_OBJECTIVES = ("softmax", "logistic", "focal", "softmax_focal")
_MAX_CLASSES = 2**31 - 1  # the kernel holds class ids in 32-bit lanes


def _check_choice(value: Any, choices: dict[str, int], func: str, arg: str) -> int:
    # Users may pass anything, whatever the annotation says.
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{func}: {arg} must be one of {sorted(choices)}, not {value!r}")
    return choices[value]


def _real(value: Any, func: str, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {arg} must be a real number, not {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{func}: {arg} must be finite, not {v}")
    return v


def _gamma(gamma: Any, func: str) -> float:
    g = _real(gamma, func, "gamma")
    if g < 0:
        raise ValueError(f"{func}: gamma must be >= 0, not {g}")
    return g


def _softmax_run(
    func: str,
    margins: Any,
    labels: Any,
    weight: Any,
    hessian: int,
    focal: bool = False,
    gamma: float = 0.0,
    alpha: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    x = as_float(margins, func, "margins")
    if x.ndim != 2:
        raise ValueError(f"{func}: margins has shape {x.shape}; expected (N, K)")
    n, classes = x.shape
    if classes < 1 or classes > _MAX_CLASSES:
        raise ValueError(f"{func}: margins has {classes} classes; expected 1 to {_MAX_CLASSES}")
    if hessian == _HESSIAN_KINDS["lightgbm"] and classes < 2:
        raise ValueError(f"{func}: hessian='lightgbm' needs at least 2 classes (K/(K-1) factor)")
    y = class_labels(labels, n, func)
    w = sample_weight(weight, n, func)
    class_alpha = _class_alpha(alpha, classes, func) if focal else None
    # Class-major memory (e.g. Fortran order, LightGBM's old flat layout seen
    # as (N, K)) runs as (1, K, N) so the kernel's row blocks load along rows.
    class_major = n > 1 and classes > 1 and abs(x.strides[0]) < abs(x.strides[1])
    order: Literal["C", "F"] = "F" if class_major else "C"
    grad = output(x.shape, x.dtype, order)
    hess = output(x.shape, x.dtype, order)
    if class_major:
        views = [a.T[None] for a in (x, grad, hess)]
    else:
        views = [a[:, :, None] for a in (x, grad, hess)]
    bad = _core.softmax_objective(
        views[0], y, w, views[1], views[2], hessian, focal, gamma, class_alpha
    )
    raise_bad_rows(bad, y, func, classes)
    return grad, hess


def _class_alpha(alpha: Any, classes: int, func: str) -> np.ndarray | None:
    """softmax_focal's alpha as one float64 weight per class (None: all 1)."""
    if alpha is None:
        return None
    a = np.asarray(alpha) if not np.isscalar(alpha) else None
    if a is None or a.ndim == 0:
        return np.full(classes, _real(alpha if a is None else a.item(), func, "alpha"))
    if a.dtype.kind not in "iuf" or a.shape != (classes,):
        raise ValueError(
            f"{func}: alpha must be None, a real number or ({classes},) per class, "
            f"not an array of shape {a.shape} and dtype {a.dtype}"
        )
    a = np.ascontiguousarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{func}: alpha must be finite")
    return a


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
        (as XGBoost and LightGBM store labels); read without a converted copy.
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
    kind = _check_choice(hessian, _HESSIAN_KINDS, func, "hessian")
    return _softmax_run(func, margins, labels, sample_weight, kind)


def softmax_focal(
    margins: Any,
    labels: Any,
    sample_weight: Any = None,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    hessian: str = "floored",
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and diagonal Hessian of the multiclass (softmax) focal loss.

    Per row, with ``p = softmax(margins)``, label ``t`` and weight ``w``:
    ``L = -w alpha_t (1 - p_t)**gamma log p_t``; ``grad`` and ``hess`` are the
    exact ``dL/dz_k`` and ``d2L/dz_k2`` (Note [Focal objective]), computed
    without cancellation for confident rows.

    Parameters
    ----------
    margins, labels, sample_weight
        As for :func:`softmax`.
    alpha : None, float or array_like of shape (K,)
        Class weight ``alpha_t``: None for 1, one number for every class, or
        one per class (as ``softmax_focal_loss``'s alpha).
    gamma : float
        Focusing exponent, >= 0; ``gamma=0`` is :func:`softmax` with
        ``hessian='exact'`` times ``alpha_t`` (bit for bit when alpha is None
        and ``hessian='exact'``).
    hessian : {'floored', 'exact'}
        The focal loss is not convex: ``'floored'`` returns
        ``w max(d2L/dz2, 1e-16)`` (XGBoost and LightGBM need positive
        Hessians; 1e-16 is XGBoost's own floor), ``'exact'`` the second
        derivative as it is (negative for confidently wrong rows).

    Returns
    -------
    grad, hess : ndarray
        Shaped and typed like `margins`.

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`softmax`; also for a negative or non-finite gamma, a bad
        alpha or an unknown `hessian`.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> g, h = obj.softmax_focal([[0.0, 0.0]], [1], gamma=0.0, hessian="exact")
    >>> g, h
    (array([[ 0.5, -0.5]]), array([[0.25, 0.25]]))
    """
    func = "objectives.softmax_focal"
    kind = _check_choice(hessian, _FOCAL_HESSIANS, func, "hessian")
    g = _gamma(gamma, func)
    return _softmax_run(func, margins, labels, sample_weight, kind, True, g, alpha)


def _logistic_run(
    func: str,
    margins: Any,
    labels: Any,
    weight: Any,
    hessian: int = _FOCAL_HESSIANS["floored"],
    focal: bool = False,
    alpha: float = -1.0,
    gamma: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    x = as_float(margins, func, "margins")
    if x.ndim != 1:
        raise ValueError(f"{func}: margins has shape {x.shape}; expected (N,)")
    n = x.shape[0]
    y = binary_labels(labels, n, func)
    w = sample_weight(weight, n, func)
    grad = output((n,), x.dtype)
    hess = output((n,), x.dtype)
    bad = _core.logistic_objective(x, y, w, grad, hess, hessian, focal, alpha, gamma)
    raise_bad_rows(bad, y, func, 0)
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
        0/1 labels (bool, integer or float), or soft labels in ``[0, 1]``.
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
    return _logistic_run("objectives.logistic", margins, labels, sample_weight)


def focal(
    margins: Any,
    labels: Any,
    sample_weight: Any = None,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    hessian: str = "floored",
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the binary focal loss.

    Per element, torchvision's ``sigmoid_focal_loss`` times the weight:
    ``L = w a_t ce (1 - p_t)**gamma`` with ``p = sigmoid(margin)``,
    ``ce = bce_with_logits(margin, y)``, ``p_t = p y + (1 - p)(1 - y)`` and
    ``a_t = alpha y + (1 - alpha)(1 - y)`` (1 when ``alpha < 0``);
    ``grad`` and ``hess`` are the exact ``dL/dz`` and ``d2L/dz2`` (Note
    [Focal objective]), stable for any margin.

    Parameters
    ----------
    margins, labels, sample_weight
        As for :func:`logistic` (soft labels use torchvision's formula).
    alpha : float
        Weight of the positive class (torchvision's; < 0 disables it).
    gamma : float
        Focusing exponent, >= 0; ``gamma=0`` is :func:`logistic` times
        ``a_t`` (bit for bit when ``alpha < 0`` and ``hessian='floored'``).
    hessian : {'floored', 'exact'}
        ``'floored'``: ``w max(d2L/dz2, 1e-16)`` (positive, as XGBoost and
        LightGBM need; 1e-16 is ``binary:logistic``'s own floor);
        ``'exact'``: the second derivative as it is (negative for
        confidently wrong predictions: the focal loss is not convex).

    Returns
    -------
    grad, hess : ndarray
        Shaped and typed like `margins`.

    Raises
    ------
    TypeError, ValueError
        As :func:`logistic`; also for a non-real alpha, a negative or
        non-finite gamma or an unknown `hessian`.

    Examples
    --------
    >>> import logitloss.objectives as obj
    >>> g, h = obj.focal([0.0], [1], alpha=-1, gamma=0.0)
    >>> g, h
    (array([-0.5]), array([0.25]))
    """
    func = "objectives.focal"
    kind = _check_choice(hessian, _FOCAL_HESSIANS, func, "hessian")
    a = _real(alpha, func, "alpha")
    g = _gamma(gamma, func)
    return _logistic_run(func, margins, labels, sample_weight, kind, True, a, g)


def _check_name(name: Any, func: str) -> str:
    if not isinstance(name, str) or name not in _OBJECTIVES:
        raise ValueError(
            f"{func}: name must be one of {', '.join(map(repr, _OBJECTIVES))}, not {name!r}"
        )
    return name


def _as_rows(preds: np.ndarray, n: int, func: str) -> tuple[np.ndarray, bool]:
    """The multiclass predictions as an (N, K) array, and whether they came
    flat (class-major for LightGBM < 4, row-major for XGBoost < 2)."""
    if preds.ndim == 2:
        return preds, False
    if preds.ndim == 1 and n > 0 and preds.size % n == 0:
        return preds, True
    raise ValueError(f"{func}: predictions of shape {preds.shape} do not match {n} labels")


_Derivs = Callable[[Any, Any, Any], "tuple[np.ndarray, np.ndarray]"]


def _binary_derivs(name: str) -> _Derivs:
    if name == "logistic":
        return logistic
    return lambda m, y, w: focal(m, y, w)


def _multiclass_derivs(name: str, hessian: str) -> _Derivs:
    if name == "softmax":
        return lambda m, y, w: softmax(m, y, w, hessian=hessian)
    return lambda m, y, w: softmax_focal(m, y, w)


def xgboost_objective(name: str) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """A custom objective for ``xgboost.train(params, dtrain, obj=...)``.

    Parameters
    ----------
    name : {'softmax', 'logistic', 'focal', 'softmax_focal'}
        ``'softmax'`` mirrors ``multi:softprob`` (set ``num_class`` in the
        params); ``'logistic'`` mirrors ``binary:logistic``; ``'focal'`` and
        ``'softmax_focal'`` are :func:`focal` and :func:`softmax_focal` with
        their defaults.

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
    binary = name in ("logistic", "focal")
    derivs = _binary_derivs(name) if binary else _multiclass_derivs(name, "xgboost")

    def objective(
        first: Any, second: Any, *, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(second, "get_label"):  # xgboost.train: (predt, dtrain)
            predt, labels, weight = first, second.get_label(), second.get_weight()
        else:  # scikit-learn API: (y_true, y_pred, sample_weight=...)
            labels, predt, weight = np.asarray(first), second, sample_weight
        weight = weight if weight is not None and np.size(weight) else None
        margins = np.asarray(predt)
        if binary:
            g, h = derivs(margins.reshape(-1), labels, weight)
            return g.reshape(margins.shape), h.reshape(margins.shape)
        rows, flat = _as_rows(margins, len(labels), func)
        if flat:
            rows = rows.reshape(len(labels), -1)  # row-major (N * K,)
        g, h = derivs(rows, labels, weight)
        return g.reshape(margins.shape), h.reshape(margins.shape)

    objective.__name__ = f"logitloss_xgboost_{name}"
    return objective


def lightgbm_objective(name: str) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """A custom objective for LightGBM.

    Parameters
    ----------
    name : {'softmax', 'logistic', 'focal', 'softmax_focal'}
        ``'softmax'`` mirrors ``multiclass`` (set ``num_class``);
        ``'logistic'`` mirrors ``binary``; ``'focal'`` and
        ``'softmax_focal'`` are :func:`focal` and :func:`softmax_focal` with
        their defaults.

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
    binary = name in ("logistic", "focal")
    derivs = _binary_derivs(name) if binary else _multiclass_derivs(name, "lightgbm")

    def objective(first: Any, second: Any, weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(second, "get_label"):  # lgb.train: (preds, Dataset)
            preds, labels, weight = first, second.get_label(), second.get_weight()
        else:  # scikit-learn API: (y_true, y_pred, weight)
            labels, preds = first, second
        margins = np.asarray(preds)
        labels = np.asarray(labels)
        if binary:
            g, h = derivs(margins.reshape(-1), labels, weight)
            return g.reshape(margins.shape), h.reshape(margins.shape)
        rows, flat = _as_rows(margins, len(labels), func)
        if flat:
            rows = rows.reshape(-1, len(labels)).T  # class-major (K * N,) as (N, K)
            g, h = derivs(rows, labels, weight)
            return g.T.reshape(-1), h.T.reshape(-1)
        return derivs(rows, labels, weight)

    objective.__name__ = f"logitloss_lightgbm_{name}"
    return objective
