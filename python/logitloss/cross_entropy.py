"""Softmax cross-entropy and NLL with ``torch.nn.functional`` semantics.

``cross_entropy`` takes logits, ``nll_loss`` log-probabilities; both take
class-index targets (any integer dtype) with ``weight``, ``ignore_index`` and
PyTorch's weighted-mean denominator, and ``cross_entropy`` also takes class
probabilities, ``label_smoothing``, soft-capping (``softcap``) and PaLM's
z-loss (``z_loss``). The class axis is 1 (0 for 1-D input) as in PyTorch,
or ``axis=`` any axis, computed in place on the strided view.

Per-sample losses are sums of non-negative terms (Note [Stable
cross-entropy] in csrc/kernels/cross_entropy_terms.h): float32 losses of
confident rows keep every digit. Reductions add float64 per-row losses in a
fixed (pairwise) order, so results do not depend on the thread count. Each
family is one declaration (Note [Loss families] in _family.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import _core, _outputs
from ._family import LossFamily
from ._options import (
    check_ignore_index,
    check_reduction,
    check_softcap,
    check_unit_interval,
    check_z_loss,
)
from ._rows import RowLoss
from ._rows import single_axis_layout as _single_axis_layout
from ._rows import unreduced as _unreduced
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

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NATIVE = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
_INT64 = np.dtype(np.int64)
_FLOAT64 = np.dtype(np.float64)
_UINT64 = np.dtype(np.uint64)


class _Operands(NamedTuple):
    func: str
    x: np.ndarray  # input, kernel dtype, the user's shape
    x3: np.ndarray  # input as (outer, classes, inner)
    layout: ClassLayout
    target: np.ndarray | None  # int64 per row (index targets)
    prob3: np.ndarray | None  # probabilities as (outer, classes, inner)
    weight: np.ndarray | None  # float64 (classes,)
    ignore_index: int
    has_ignore: bool
    smoothing: float
    softcap: float  # 0: none
    z_loss: float
    reduction: str


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
    func: str, index_only: bool, input: Any, target: Any, weight: Any, ignore_index: Any,
    reduction: Any, label_smoothing: Any, axis: Any, softcap: Any, z_loss: Any,
) -> _Operands:
    """The validated operands of a call; `index_only`: class indices are the
    only targets (NLL, focal loss)."""
    red = check_reduction(func, reduction)
    eps = check_unit_interval(func, "label_smoothing", label_smoothing)
    ignore = check_ignore_index(func, ignore_index)
    cap = check_softcap(func, softcap)
    z = check_z_loss(func, z_loss)
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
    elif not index_only and (tg.dtype.kind == "f" or is_kernel_float(tg.dtype)):
        if tg.shape != x.shape:
            raise ValueError(
                f"{func}: target has shape {tg.shape} but input has shape {x.shape}; class "
                "probabilities must have the shape of input"
            )
        prob3 = as_float(tg, func, "target", x.dtype).reshape(layout.outer, C, layout.inner)
        has_ignore = False
    else:
        want = ("integer class indices" if index_only
                else "integer class indices or floating probabilities")
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
    return _Operands(func, x, x3, layout, index, prob3, w, ignore, has_ignore, eps, cap, z, red)


class _CrossEntropyCall(RowLoss):
    """A validated cross-entropy (or NLL) call: the LossCall of
    Note [Loss families]."""

    def __init__(self, op: _Operands, nll: bool) -> None:
        self.op, self.nll, self.func = op, nll, op.func
        self.input, self.grad_shape, self.dtype = op.x, op.x.shape, op.x.dtype
        self.layout, self.reduction = op.layout, op.reduction

    def others(self) -> list[tuple[str, Any]]:
        return [("target", self.op.target), ("target", self.op.prob3)]

    def _kernel(self, loss: np.ndarray | None, target_weight: np.ndarray | None,
                grad3: np.ndarray | None, grad_scale: np.ndarray | None,
                grad_scalar: float) -> int:
        """Runs the kernel; returns the first row with a bad target, or -1."""
        op = self.op
        return _core.cross_entropy(
            op.x3, op.target, op.prob3, op.weight, op.ignore_index if op.has_ignore else 0,
            op.has_ignore, op.smoothing, op.softcap, op.z_loss, loss, target_weight, grad3,
            grad_scale, grad_scalar, self.nll,
        )

    def _run(
        self,
        loss: np.ndarray | None = None,
        target_weight: np.ndarray | None = None,
        grad3: np.ndarray | None = None,
        grad_scale: np.ndarray | None = None,
        grad_scalar: float = 1.0,
    ) -> None:
        op = self.op
        bad = self._kernel(loss, target_weight, grad3, grad_scale, grad_scalar)
        if bad >= 0:
            assert op.target is not None
            value, classes = int(op.target[bad]), op.layout.classes
            raise IndexError(f"{op.func}: target {value} is out of range for {classes} classes")

    def _denominator(self, target_weight: np.ndarray | None) -> float:
        """'mean' divides by the summed target weight (index targets) or the
        number of samples (probabilities)."""
        if target_weight is None:
            return float(self._rows)
        return float(_core.row_sum(target_weight))

    def _mean_denominator(self, checking: bool) -> float | None:
        """Runs the targets-only pass for an index-target 'mean' (it also
        checks the targets' range), and for any reduction when `checking`:
        before a gradient is written into the caller's buffer, so that an
        out-of-range target raises before anything is written."""
        op = self.op
        if op.target is None:
            return self._denominator(None) if op.reduction == "mean" else None
        if op.reduction != "mean" and not checking:
            return None
        tw = np.empty(self._rows)
        self._run(target_weight=tw)
        return self._denominator(tw) if op.reduction == "mean" else None

    def value(self) -> Any:
        op = self.op
        loss = np.empty(self._rows)
        tw = np.empty(self._rows) if op.reduction == "mean" and op.target is not None else None
        self._run(loss=loss, target_weight=tw)
        den = self._denominator(tw) if op.reduction == "mean" else None
        return self._reduce(loss, den)

    def grad(self, grad_output: Any, out: np.ndarray | None) -> np.ndarray:
        den = self._mean_denominator(checking=out is not None)
        scale, scalar = self._grad_scale(grad_output, den)
        return self._gradient_into(
            out, lambda g3: self._run(grad3=g3, grad_scale=scale, grad_scalar=scalar))

    def value_and_grad(self, out: np.ndarray | None) -> tuple[Any, np.ndarray]:
        den = self._mean_denominator(checking=out is not None)
        _, scalar = self._grad_scale(None, den)
        loss = np.empty(self._rows)
        grad = self._gradient_into(out, lambda g3: self._run(loss=loss, grad3=g3,
                                                             grad_scalar=scalar))
        return self._reduce(loss, den), grad


# ------------------------------------------------- the common call, fast


class _CommonCall:
    """A plain (N, C) float32/float64 array with contiguous int64 targets,
    any reduction, no other option: the same kernel calls as
    _CrossEntropyCall without the generic argument handling (which costs
    several times the kernel on small inputs), so the same bits. Anything
    else (grad_output, out, an out-of-range target) goes the generic way."""

    def __init__(self, func: str, args: tuple[Any, ...]) -> None:
        self.func, self.args = func, args
        self.input, self.target, _, self.ignore, self.reduction = args[:5]
        self.grad_shape, self.dtype = self.input.shape, self.input.dtype

    def _generic(self) -> _CrossEntropyCall:
        return _CrossEntropyCall(_operands(self.func, False, *self.args), False)

    def others(self) -> list[tuple[str, Any]]:
        return [("target", self.target)]

    def value(self) -> Any:
        x, reduction = self.input, self.reduction
        rows, classes = x.shape
        if reduction == "none":
            loss = np.empty(rows)
            if _core.cross_entropy(x.reshape(rows, classes, 1), self.target, None, None,
                                   self.ignore, True, 0.0, 0.0, 0.0, loss, None, None, None, 1.0,
                                   False) < 0:
                return _unreduced(loss, x.dtype)
        else:
            bad, total, den = _core.cross_entropy_reduced(
                x.reshape(rows, classes, 1), self.target, self.ignore, True)
            if bad < 0:
                return as_scalar(x.dtype, total if reduction == "sum" else ieee_div(total, den))
        return self._generic().value()  # raises the IndexError

    def _value_and_grad(self, with_value: bool) -> tuple[Any, np.ndarray] | None:
        x, reduction, target = self.input, self.reduction, self.target
        rows, classes = x.shape
        x3 = x.reshape(rows, classes, 1)
        scalar, den = 1.0, 0.0
        if reduction == "mean":  # the targets-only pass: the denominator first
            weights = np.empty(rows)
            if _core.cross_entropy(x3, target, None, None, self.ignore, True, 0.0, 0.0, 0.0,
                                   None, weights, None, None, 1.0, False) >= 0:
                return None
            den = _core.row_sum(weights)
            scalar = ieee_div(1.0, den)
        loss = np.empty(rows) if with_value else None
        grad = _outputs.empty((rows, classes), x.dtype)
        if _core.cross_entropy(x3, target, None, None, self.ignore, True, 0.0, 0.0, 0.0, loss,
                               None, grad.reshape(rows, classes, 1), None, scalar, False) >= 0:
            return None
        if loss is None:
            return None, grad
        if reduction == "none":
            return _unreduced(loss, x.dtype), grad
        total = _core.row_sum(loss)
        return as_scalar(x.dtype, total if reduction == "sum" else ieee_div(total, den)), grad

    def grad(self, grad_output: Any, out: np.ndarray | None) -> np.ndarray:
        if grad_output is None and out is None:
            result = self._value_and_grad(with_value=False)
            if result is not None:
                return result[1]
        return self._generic().grad(grad_output, out)

    def value_and_grad(self, out: np.ndarray | None) -> tuple[Any, np.ndarray]:
        if out is None:
            result = self._value_and_grad(with_value=True)
            if result is not None:
                return result
        return self._generic().value_and_grad(out)


def _is_common_call(
    input: Any, target: Any, weight: Any, ignore_index: Any, reduction: Any,
    label_smoothing: Any, axis: Any, softcap: Any, z_loss: Any,
) -> bool:
    """Every argument checked in full for _CommonCall."""
    return (
        weight is None
        and axis is None
        and softcap is None
        and type(input) is np.ndarray
        and type(target) is np.ndarray
        and (reduction == "mean" or reduction == "sum" or reduction == "none")
        and type(label_smoothing) is float
        and label_smoothing == 0.0
        and type(z_loss) is float
        and z_loss == 0.0
        and type(ignore_index) is int
        and input.ndim == 2
        and input.dtype in _NATIVE
        and target.dtype == _INT64
        and target.shape == input.shape[:1]
        and target.flags.c_contiguous
        and _INT64_MIN <= ignore_index <= _INT64_MAX
    )


def _prepare_cross_entropy(func: str, *args: Any) -> _CrossEntropyCall | _CommonCall:
    if _is_common_call(*args):
        return _CommonCall(func, args)
    return _CrossEntropyCall(_operands(func, False, *args), False)


def _prepare_nll(func: str, input: Any, target: Any, weight: Any, ignore_index: Any,
                 reduction: Any, axis: Any) -> _CrossEntropyCall:
    op = _operands(func, True, input, target, weight, ignore_index, reduction, 0.0, axis,
                   None, 0.0)
    return _CrossEntropyCall(op, True)


# ------------------------------------------------------------ public API


def _cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    axis: Any = None,
    softcap: float | None = None,
    z_loss: float = 0.0,
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
    softcap : float, optional
        ``c > 0``: the logits are replaced by ``c * tanh(logits / c)`` before
        the loss (Gemma 2's final-logit soft-capping), inside the kernel's
        passes (the capped logits are never written out); the gradient
        includes the tanh factor. Default None: no capping.
    z_loss : float, default 0
        ``z >= 0``: adds PaLM's ``z * logsumexp(logits)**2`` (over the class
        axis, after soft-capping) to each sample's loss, weighted like it
        (by the target's class weight for index targets, 0 when ignored, 1
        for probability targets) and reduced with the same denominator.

    Returns
    -------
    scalar or ndarray
        A NumPy scalar of the input's dtype for 'mean'/'sum'; for 'none' an
        array shaped like `input` without the class axis.

    Raises
    ------
    TypeError
        Non-numeric input or target, or a bad option type.
    ValueError
        Shape mismatch between input, target and weight; bad reduction,
        label_smoothing, softcap, z_loss or axis.
    IndexError
        A non-ignored class index outside ``[0, C)``.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.cross_entropy([[2.0, 0.0, 0.0]], [0])
    np.float64(0.23954476622188453)
    >>> round(float(ll.cross_entropy([[60.0, 0.0]], [1], softcap=30.0)), 6)
    28.920827
    """


CROSS_ENTROPY = LossFamily(
    signature=_cross_entropy,
    prepare=_prepare_cross_entropy,
    grad_doc="""Gradient of :func:`cross_entropy` with respect to `input`.

    Parameters are those of :func:`cross_entropy`, and:

    grad_output : scalar or array_like, optional
        A scalar for 'mean'/'sum' (default 1) or an array of the unreduced
        loss shape for 'none' (default ones).
    out : ndarray, optional
        Where to write the gradient: an array of the input's shape and
        dtype (any strides), or `input` itself to overwrite the logits with
        their gradient (in place: nothing of the input's size is allocated).

    Returns
    -------
    ndarray
        Shaped and typed like `input` (`out` when given); ignored samples
        have gradient 0.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.cross_entropy_grad([[0.0, 0.0]], [1])
    array([[ 0.5, -0.5]])
    >>> import numpy as np
    >>> logits = np.array([[0.0, 0.0]])
    >>> _ = ll.cross_entropy_grad(logits, [1], out=logits)  # in place
    >>> logits
    array([[ 0.5, -0.5]])
    """,
    value_and_grad_doc="""``(cross_entropy(...), cross_entropy_grad(...))`` in one fused pass
    over the logits (no log-softmax array is formed); `out` as for
    :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.cross_entropy_value_and_grad([[0.0, 0.0]], [1])
    (np.float64(0.6931471805599453), array([[ 0.5, -0.5]]))
    """,
    dask="class",
    loss_object="CrossEntropyLoss",
    loss_object_options=("weight", "ignore_index", "reduction", "label_smoothing", "axis",
                         "softcap", "z_loss"),
)
cross_entropy, cross_entropy_grad, cross_entropy_value_and_grad = CROSS_ENTROPY.functions()


def _nll_loss(
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

    Parameters are those of :func:`cross_entropy` without label smoothing,
    soft-capping or z-loss; `target` holds class indices (any integer dtype).

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.nll_loss([[-0.5, -1.0]], [1])
    np.float64(1.0)
    """


NLL_LOSS = LossFamily(
    signature=_nll_loss,
    prepare=_prepare_nll,
    grad_doc="""Gradient of :func:`nll_loss` with respect to `input`: ``-weight[t]``
    (scaled by grad_output and the 'mean' denominator) at each target, 0
    elsewhere. `grad_output` and `out` as for :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.nll_loss_grad([[-0.5, -1.0]], [1])
    array([[ 0., -1.]])
    """,
    value_and_grad_doc="""``(nll_loss(...), nll_loss_grad(...))`` in one pass; `out` as for
    :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.nll_loss_value_and_grad([[-0.5, -1.0]], [1])
    (np.float64(1.0), array([[ 0., -1.]]))
    """,
    dask="class",
    loss_object="NLLLoss",
    loss_object_options=("weight", "ignore_index", "reduction", "axis"),
)
nll_loss, nll_loss_grad, nll_loss_value_and_grad = NLL_LOSS.functions()
