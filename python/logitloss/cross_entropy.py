"""Softmax cross-entropy and NLL with ``torch.nn.functional`` semantics.

``cross_entropy`` takes logits, ``nll_loss`` log-probabilities; both take
class-index targets (any integer dtype) with ``weight``, ``ignore_index`` and
PyTorch's weighted-mean denominator, and ``cross_entropy`` also takes class
probabilities and ``label_smoothing``. The class axis is 1 (0 for 1-D input)
as in PyTorch, or ``axis=`` any axis, computed in place on the strided view.

Per-sample losses are sums of non-negative terms (Note [Stable
cross-entropy] in csrc/kernels/cross_entropy.h): float32 losses of confident
rows keep every digit. Reductions add float64 per-row losses in a fixed
(pairwise) order, so results do not depend on the thread count.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np

from . import _core, _outputs
from ._scalars import as_scalar, ieee_div
from ._validation import (
    ClassLayout,
    as_array,
    as_float,
    dtype_name,
    is_kernel_float,
    normalize_axis,
)

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_value_and_grad",
    "nll_loss",
    "nll_loss_grad",
    "nll_loss_value_and_grad",
]

_REDUCTIONS = ("none", "mean", "sum")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _Operands(NamedTuple):
    func: str
    x3: np.ndarray  # input as (outer, classes, inner)
    layout: ClassLayout
    target: np.ndarray | None  # int64 per row (index targets)
    prob3: np.ndarray | None  # probabilities as (outer, classes, inner)
    weight: np.ndarray | None  # float64 (classes,)
    ignore_index: int
    has_ignore: bool
    smoothing: float
    reduction: str
    loss_shape: tuple[int, ...]
    dtype: np.dtype


_NATIVE = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
_INT64 = np.dtype(np.int64)
_FLOAT64 = np.dtype(np.float64)
_UINT64 = np.dtype(np.uint64)


def _single_axis_layout(shape: tuple[int, ...], ax: int) -> ClassLayout:
    """class_layout(shape, (ax,)) without the generality (cheaper)."""
    reduced = shape[:ax] + shape[ax + 1 :]
    kept = (*shape[:ax], 1, *shape[ax + 1:])
    return ClassLayout(
        shape, (ax,), math.prod(shape[:ax]), shape[ax], math.prod(shape[ax + 1 :]), reduced, kept
    )


def _check_reduction(func: str, reduction: object) -> str:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{func}: reduction must be 'none', 'mean' or 'sum', not {reduction!r}")
    return reduction


def _check_smoothing(func: str, label_smoothing: object) -> float:
    if isinstance(label_smoothing, (str, bytes)):  # float() would parse them
        kind = type(label_smoothing).__name__
        raise TypeError(f"{func}: label_smoothing must be a real number, not {kind}")
    try:
        eps = float(label_smoothing)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(
            f"{func}: label_smoothing must be a real number, not {type(label_smoothing).__name__}"
        ) from None
    if not 0.0 <= eps <= 1.0:  # also rejects NaN
        raise ValueError(f"{func}: label_smoothing must be in [0, 1], got {eps}")
    return eps


def _check_ignore_index(func: str, ignore_index: object) -> int:
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{func}: ignore_index must be an integer, not bool")
    try:
        return operator.index(ignore_index)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{func}: ignore_index must be an integer, not {type(ignore_index).__name__}"
        ) from None


def _index_target(
    func: str, tg: np.ndarray, ignore: int, classes: int
) -> tuple[np.ndarray, int, bool]:
    """Class indices as a contiguous int64 row buffer, with the ignore index
    the kernel should use and whether any index can match it."""
    has_ignore = _INT64_MIN <= ignore <= _INT64_MAX
    if tg.dtype == _UINT64 and tg.size and int(tg.max()) > _INT64_MAX:
        # Values beyond int64: only an equally large ignore index may be one.
        big = tg > np.uint64(_INT64_MAX)
        in_uint64 = _INT64_MAX < ignore < 2**64
        bad = tg[big & (tg != np.uint64(ignore))] if in_uint64 else tg[big]
        if bad.size:
            raise IndexError(
                f"{func}: target {int(bad[0])} is out of range for {classes} classes"
            )
        # They are all the ignore index; uint64 holds no -1, so -1 stands for it.
        flat = np.where(big, np.uint64(0), tg).astype(np.int64).reshape(-1)
        flat[big.reshape(-1)] = -1
        return flat, -1, True
    if tg.dtype == _INT64 and tg.flags.c_contiguous:
        return tg.reshape(-1), ignore, has_ignore
    return np.ascontiguousarray(tg, dtype=np.int64).reshape(-1), ignore, has_ignore


def _operands(
    func: str,
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: Any,
    reduction: Any,
    label_smoothing: Any,
    axis: Any,
    *,
    nll: bool,
) -> _Operands:
    red = _check_reduction(func, reduction)
    eps = _check_smoothing(func, label_smoothing)
    ignore = _check_ignore_index(func, ignore_index)
    # Fast path for the common case (a native float32/float64 array): the
    # generic checks cost more than a small kernel call.
    x = input if type(input) is np.ndarray and input.dtype in _NATIVE else as_float(
        input, func, "input")
    if x.ndim == 0:
        raise ValueError(f"{func}: input must have a class axis; got a 0-d array")
    if axis is None:
        ax = 1 if x.ndim >= 2 else 0
    else:
        ax = normalize_axis(axis, x.ndim, func)
    layout = _single_axis_layout(x.shape, ax)
    C = layout.classes

    tg = target if type(target) is np.ndarray else as_array(target, func, "target")
    prob3 = None
    index = None
    if tg.dtype.kind in "iu":
        if tg.shape != layout.reduced_shape:
            raise ValueError(
                f"{func}: target has shape {tg.shape} but input has shape {x.shape}; class "
                f"indices must have shape {layout.reduced_shape} (input without axis {ax})"
            )
        index, ignore, has_ignore = _index_target(func, tg, ignore, C)
    elif not nll and (tg.dtype.kind == "f" or is_kernel_float(tg.dtype)):
        if tg.shape != x.shape:
            raise ValueError(
                f"{func}: target has shape {tg.shape} but input has shape {x.shape}; class "
                "probabilities must have the shape of input"
            )
        prob3 = as_float(tg, func, "target", x.dtype).reshape(layout.outer, C, layout.inner)
        has_ignore = False
    else:
        want = "integer class indices" if nll else "integer class indices or floating probabilities"
        raise TypeError(
            f"{func}: target has unsupported dtype {dtype_name(tg.dtype)}; expected {want}"
        )

    w = None
    if weight is not None:
        wa = as_float(weight, func, "weight", None)
        if wa.shape != (C,):
            raise ValueError(
                f"{func}: weight has shape {wa.shape} but input has shape {x.shape}; "
                f"expected one weight per class, shape ({C},)"
            )
        # Rounded to the input dtype first, as PyTorch computes with it.
        w = wa.astype(x.dtype).astype(np.float64)
    x3 = x.reshape(layout.outer, C, layout.inner)  # a view unless strides forbid
    return _Operands(
        func, x3, layout, index, prob3, w, ignore, has_ignore, eps, red, layout.reduced_shape,
        x.dtype,
    )


def _run(
    op: _Operands,
    nll: bool,
    loss: np.ndarray | None = None,
    target_weight: np.ndarray | None = None,
    grad3: np.ndarray | None = None,
    grad_scale: np.ndarray | None = None,
    grad_scalar: float = 1.0,
) -> None:
    bad = _core.cross_entropy(
        op.x3, op.target, op.prob3, op.weight, op.ignore_index if op.has_ignore else 0,
        op.has_ignore, op.smoothing, loss, target_weight, grad3, grad_scale, grad_scalar, nll,
    )
    if bad >= 0:
        assert op.target is not None
        value, classes = int(op.target[bad]), op.layout.classes
        raise IndexError(f"{op.func}: target {value} is out of range for {classes} classes")


def _denominator(op: _Operands, target_weight: np.ndarray | None) -> float:
    """'mean' divides by the summed target weight (index targets) or the
    number of samples (probabilities)."""
    if target_weight is None:
        return float(op.layout.outer * op.layout.inner)
    return float(_core.row_sum(target_weight))


def _unreduced(loss: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The float64 per-row losses in the result dtype (a new array unless it
    is float64); a loss beyond the dtype's range is inf, with NumPy's cast
    warning under the caller's np.errstate."""
    if dtype == _FLOAT64:
        return loss
    return loss.astype(dtype)


def _reduce(op: _Operands, loss: np.ndarray, den: float | None) -> Any:
    if op.reduction == "none":
        return _unreduced(loss, op.dtype).reshape(op.loss_shape)
    total = float(_core.row_sum(loss))  # pairwise summation: a fixed order
    if op.reduction == "mean":
        assert den is not None
        total = ieee_div(total, den)  # NaN when every target is ignored
    return as_scalar(op.dtype, total)


def _grad_scale(
    func: str, op: _Operands, grad_output: Any, den: float | None
) -> tuple[np.ndarray | None, float]:
    """grad_output (and the 'mean' denominator) as the kernel's per-row
    scales or single scale."""
    if op.reduction == "none":
        if grad_output is None:
            return None, 1.0
        g = as_float(grad_output, func, "grad_output", np.dtype(np.float64))
        try:
            g = np.broadcast_to(g, op.loss_shape)
        except ValueError:
            raise ValueError(
                f"{func}: grad_output has shape {g.shape}; expected the loss shape {op.loss_shape}"
            ) from None
        return np.ascontiguousarray(g).reshape(-1), 1.0
    if grad_output is None:
        go = 1.0
    else:
        g = as_float(grad_output, func, "grad_output", np.dtype(np.float64))
        if g.ndim != 0:
            raise ValueError(
                f"{func}: grad_output has shape {g.shape}; expected a scalar for "
                f"reduction={op.reduction!r}"
            )
        go = float(g)
    if op.reduction == "mean":
        assert den is not None
        go = ieee_div(go, den)  # inf or NaN when the weights sum to 0
    return None, go


def _new_grad(op: _Operands, nll: bool) -> tuple[np.ndarray, np.ndarray]:
    layout = op.layout
    full = np.zeros(layout.shape, op.dtype) if nll else _outputs.empty(layout.shape, op.dtype)
    return full, full.reshape(layout.outer, layout.classes, layout.inner)


def _rows(op: _Operands) -> int:
    return op.layout.outer * op.layout.inner


def _value(func: str, nll: bool, args: tuple[Any, ...]) -> Any:
    op = _operands(func, *args, nll=nll)
    loss = np.empty(_rows(op))
    tw = np.empty(_rows(op)) if op.reduction == "mean" and op.target is not None else None
    _run(op, nll, loss=loss, target_weight=tw)
    den = _denominator(op, tw) if op.reduction == "mean" else None
    return _reduce(op, loss, den)


def _mean_denominator(op: _Operands, nll: bool) -> float | None:
    """Runs the targets-only pass for an index-target 'mean' (which also
    checks the targets' range)."""
    if op.reduction != "mean":
        return None
    if op.target is None:
        return _denominator(op, None)
    tw = np.empty(_rows(op))
    _run(op, nll, target_weight=tw)
    return _denominator(op, tw)


def _grad(func: str, nll: bool, args: tuple[Any, ...], grad_output: Any) -> np.ndarray:
    op = _operands(func, *args, nll=nll)
    den = _mean_denominator(op, nll)
    scale, scalar = _grad_scale(func, op, grad_output, den)
    grad, grad3 = _new_grad(op, nll)
    _run(op, nll, grad3=grad3, grad_scale=scale, grad_scalar=scalar)
    return grad


def _value_and_grad(func: str, nll: bool, args: tuple[Any, ...]) -> tuple[Any, np.ndarray]:
    op = _operands(func, *args, nll=nll)
    den = _mean_denominator(op, nll)
    _, scalar = _grad_scale(func, op, None, den)
    loss = np.empty(_rows(op))
    grad, grad3 = _new_grad(op, nll)
    _run(op, nll, loss=loss, grad3=grad3, grad_scalar=scalar)
    return _reduce(op, loss, den), grad


# ------------------------------------------------- the common call, fast


def _is_common_call(
    input: Any, target: Any, weight: Any, ignore_index: Any, reduction: Any,
    label_smoothing: Any, axis: Any,
) -> bool:
    """A plain float32/float64 (N, C) array with contiguous int64 targets,
    any reduction, no weight or smoothing: every argument checked in full,
    so the call may skip the generic argument handling."""
    return (
        weight is None
        and axis is None
        and type(input) is np.ndarray
        and type(target) is np.ndarray
        and (reduction == "mean" or reduction == "sum" or reduction == "none")
        and type(label_smoothing) is float
        and label_smoothing == 0.0
        and type(ignore_index) is int
        and input.ndim == 2
        and input.dtype in _NATIVE
        and target.dtype == _INT64
        and target.shape == input.shape[:1]
        and target.flags.c_contiguous
        and _INT64_MIN <= ignore_index <= _INT64_MAX
    )


def _common_value_and_grad(
    input: np.ndarray, target: np.ndarray, ignore_index: int, reduction: str,
    with_value: bool = True,
) -> tuple[Any, np.ndarray] | None:
    """_value_and_grad's (or, without the value, _grad's) kernel calls for a
    common call, so the same bits; None when a target is out of range."""
    rows, classes = input.shape
    x3 = input.reshape(rows, classes, 1)
    scalar, den = 1.0, 0.0
    if reduction == "mean":  # the targets-only pass: the denominator first
        weights = np.empty(rows)
        if _core.cross_entropy(x3, target, None, None, ignore_index, True, 0.0, None, weights,
                               None, None, 1.0, False) >= 0:
            return None
        den = _core.row_sum(weights)
        scalar = ieee_div(1.0, den)
    loss = np.empty(rows) if with_value else None
    grad = _outputs.empty((rows, classes), input.dtype)
    if _core.cross_entropy(x3, target, None, None, ignore_index, True, 0.0, loss, None,
                           grad.reshape(rows, classes, 1), None, scalar, False) >= 0:
        return None
    if loss is None:
        return None, grad
    if reduction == "none":
        return _unreduced(loss, input.dtype), grad
    total = _core.row_sum(loss)
    return as_scalar(input.dtype, total if reduction == "sum" else ieee_div(total, den)), grad


def _common_losses(
    input: np.ndarray, target: np.ndarray, ignore_index: int
) -> np.ndarray | None:
    """_value's kernel call and _reduce's 'none' cast for a common call; None
    when a target is out of range."""
    rows, classes = input.shape
    loss = np.empty(rows)
    if _core.cross_entropy(input.reshape(rows, classes, 1), target, None, None, ignore_index,
                           True, 0.0, loss, None, None, None, 1.0, False) >= 0:
        return None
    return _unreduced(loss, input.dtype)


# ------------------------------------------------------------ public API


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    axis: Any = None,
) -> Any:
    """Softmax cross-entropy between logits and targets, as
    :func:`torch.nn.functional.cross_entropy`.

    Parameters
    ----------
    input : array_like
        Logits, ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``; float32,
        float64, float16 or bfloat16 (integers and bool become float64).
    target : array_like
        Class indices (any integer dtype) shaped like `input` without the
        class axis, or class probabilities (floating) shaped like `input`.
    weight : array_like, optional
        Per-class weights, shape ``(C,)``.
    ignore_index : int, default -100
        Index targets equal to it add nothing to the loss, its gradient or
        the 'mean' denominator. Any integer.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'mean' divides by the summed weight of the non-ignored targets
        (NaN when all are ignored), or by the number of samples for
        probability targets.
    label_smoothing : float in [0, 1], default 0
        Mixes the target with the uniform distribution, as PyTorch.
    axis : int, optional
        The class axis; default 1 (0 for 1-D input). Any axis is computed in
        place, e.g. ``axis=-1`` for ``(batch, seq, vocab)`` logits.

    Returns
    -------
    NumPy scalar of the input's dtype for 'mean'/'sum'; for 'none' an array
    shaped like `input` without the class axis.

    Raises
    ------
    TypeError
        Non-numeric input or target, or a bad option type.
    ValueError
        Shape mismatch between input, target and weight; bad reduction,
        label_smoothing or axis.
    IndexError
        A non-ignored class index outside ``[0, C)``.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.cross_entropy([[2.0, 0.0, 0.0]], [0])
    np.float64(0.23954476622188453)
    """
    if _is_common_call(input, target, weight, ignore_index, reduction, label_smoothing, axis):
        # The common call skips the generic argument handling (which costs
        # several times the kernel on small inputs).
        if reduction == "none":
            losses = _common_losses(input, target, ignore_index)
            if losses is not None:
                return losses
        else:
            x3 = input.reshape(input.shape[0], input.shape[1], 1)
            bad, total, den = _core.cross_entropy_reduced(x3, target, ignore_index, True)
            if bad < 0:
                return as_scalar(input.dtype, total if reduction == "sum" else ieee_div(total, den))
        # An out-of-range target: the generic path raises the error.
    return _value(
        "cross_entropy", False,
        (input, target, weight, ignore_index, reduction, label_smoothing, axis),
    )


def cross_entropy_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    axis: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to `input`.

    `grad_output` is a scalar for 'mean'/'sum' (default 1) or an array of
    the unreduced loss shape for 'none' (default ones). Returns an array
    shaped and typed like `input`; ignored samples have gradient 0.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.cross_entropy_grad([[0.0, 0.0]], [1])
    array([[ 0.5, -0.5]])
    """
    if grad_output is None and _is_common_call(
        input, target, weight, ignore_index, reduction, label_smoothing, axis
    ):
        result = _common_value_and_grad(input, target, ignore_index, reduction, with_value=False)
        if result is not None:
            return result[1]
        # An out-of-range target: the generic path raises the error.
    return _grad(
        "cross_entropy_grad", False,
        (input, target, weight, ignore_index, reduction, label_smoothing, axis),
        grad_output,
    )


def cross_entropy_value_and_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    axis: Any = None,
) -> tuple[Any, np.ndarray]:
    """``(cross_entropy(...), cross_entropy_grad(...))`` in one fused pass
    over the logits (no log-softmax array is formed).

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.cross_entropy_value_and_grad([[0.0, 0.0]], [1])
    (np.float64(0.6931471805599453), array([[ 0.5, -0.5]]))
    """
    if _is_common_call(
        input, target, weight, ignore_index, reduction, label_smoothing, axis
    ):
        result = _common_value_and_grad(input, target, ignore_index, reduction)
        if result is not None:
            return result
        # An out-of-range target: the generic path raises the error.
    return _value_and_grad(
        "cross_entropy_value_and_grad", False,
        (input, target, weight, ignore_index, reduction, label_smoothing, axis),
    )


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    axis: Any = None,
) -> Any:
    """Negative log-likelihood of log-probabilities, as
    :func:`torch.nn.functional.nll_loss`: ``-weight[t] * input[..., t, ...]``.

    Parameters are those of :func:`cross_entropy` without label smoothing;
    `target` holds class indices (any integer dtype).

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.nll_loss([[-0.5, -1.0]], [1])
    np.float64(1.0)
    """
    return _value(
        "nll_loss", True, (input, target, weight, ignore_index, reduction, 0.0, axis)
    )


def nll_loss_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    axis: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`nll_loss` with respect to `input`: ``-weight[t]``
    (scaled by grad_output and the 'mean' denominator) at each target, 0
    elsewhere.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.nll_loss_grad([[-0.5, -1.0]], [1])
    array([[ 0., -1.]])
    """
    return _grad(
        "nll_loss_grad", True,
        (input, target, weight, ignore_index, reduction, 0.0, axis),
        grad_output,
    )


def nll_loss_value_and_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    axis: Any = None,
) -> tuple[Any, np.ndarray]:
    """``(nll_loss(...), nll_loss_grad(...))`` in one pass.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.nll_loss_value_and_grad([[-0.5, -1.0]], [1])
    (np.float64(1.0), array([[ 0., -1.]]))
    """
    return _value_and_grad(
        "nll_loss_value_and_grad", True,
        (input, target, weight, ignore_index, reduction, 0.0, axis),
    )
