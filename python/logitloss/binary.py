"""Binary losses on logits: BCE-with-logits (``torch.nn.functional``
semantics) and sigmoid focal loss (``torchvision.ops`` semantics).

Both are elementwise: every operand is seen by the kernel as an
``(outer, mid, inner)`` strided view of the input's shape. ``weight`` and
``pos_weight`` are broadcast as zero-stride views (no copies), and adjacent
dimensions are merged whenever every operand's strides allow it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _core, _outputs
from ._family import LossFamily
from ._options import check_real, check_reduction
from ._scalars import as_scalar
from ._validation import as_array, broadcast_to_shape, compute_dtype

__all__ = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_value_and_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "sigmoid_focal_loss_value_and_grad",
]

class _Operands(NamedTuple):
    x: np.ndarray  # input, kernel dtype
    y: np.ndarray  # target, broadcast-free, same shape and dtype
    w: np.ndarray | None  # weight broadcast to x.shape (zero-stride view)
    pw: np.ndarray | None  # pos_weight broadcast to x.shape (zero-stride view)


def _cast(a: np.ndarray, dtype: np.dtype, func: str, arg: str) -> np.ndarray:
    compute_dtype(a.dtype, func, arg)  # TypeError for non-real dtypes
    return a if a.dtype == dtype else a.astype(dtype)


def _broadcast_operand(
    value: object, shape: tuple[int, ...], dtype: np.dtype, func: str, arg: str
) -> np.ndarray | None:
    if value is None:
        return None
    a = as_array(value, func, arg)
    try:
        if a.shape != shape and np.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{func}: {arg} with shape {a.shape} does not broadcast to the input shape {shape}"
        ) from None
    # Cast before broadcasting: the cast copies only the small operand.
    a = _cast(a, dtype, func, arg)
    return broadcast_to_shape(a, shape)


def _operands(
    func: str, input: Any, target: Any, weight: Any = None, pos_weight: Any = None
) -> _Operands:
    x = as_array(input, func, "input")
    dtype = compute_dtype(x.dtype, func, "input")
    x = _cast(x, dtype, func, "input")
    y = as_array(target, func, "target")
    if y.shape != x.shape:
        raise ValueError(
            f"{func}: target with shape {y.shape} must have the same shape as "
            f"input with shape {x.shape}"
        )
    y = _cast(y, dtype, func, "target")
    w = _broadcast_operand(weight, x.shape, dtype, func, "weight")
    pw = _broadcast_operand(pos_weight, x.shape, dtype, func, "pos_weight")
    return _Operands(x, y, w, pw)


def _merged_layout(
    shape: tuple[int, ...], arrays: list[np.ndarray]
) -> tuple[tuple[int, ...], list[tuple[int, ...]]] | None:
    """Shape and per-array strides (in bytes) after dropping size-1 dimensions
    and merging adjacent ones where every array's strides allow it; None when
    more than 3 dimensions remain."""
    if all(a.flags.c_contiguous for a in arrays):  # the common case: one run
        return (1, 1, math.prod(shape)), [(0, 0, a.itemsize) for a in arrays]
    # Innermost first; a dimension merges into the one inside it when, for
    # every array, stepping it equals stepping the inner one all the way.
    mshape: list[int] = []
    mstrides: list[list[int]] = [[] for _ in arrays]
    for d in reversed(range(len(shape))):
        n = shape[d]
        if n == 1:
            continue
        if mshape and all(
            a.strides[d] == ms[-1] * mshape[-1] for a, ms in zip(arrays, mstrides)
        ):
            mshape[-1] *= n
            continue
        mshape.append(n)
        for a, ms in zip(arrays, mstrides):
            ms.append(a.strides[d])
    if len(mshape) > 3:
        return None
    pad = 3 - len(mshape)
    return (1,) * pad + tuple(reversed(mshape)), [
        (0,) * pad + tuple(reversed(ms)) for ms in mstrides
    ]


class _KernelViews(NamedTuple):
    inputs: list[np.ndarray | None]  # 3-D views of the inputs, in order
    outputs: list[np.ndarray]  # 3-D writable views of the new outputs
    results: list[np.ndarray]  # the outputs as the user sees them (input's shape)


def _kernel_views(
    inputs: list[np.ndarray | None], n_outputs: int, dtype: np.dtype,
    given: np.ndarray | None = None,
) -> _KernelViews:
    """3-D views of `inputs` (all of the first one's shape) and `n_outputs`
    arrays of that shape for the kernel: new ones, except that the last is
    `given` when it is (a checked out=) and its strides merge with the
    others'."""
    x = inputs[0]
    assert x is not None
    shape = x.shape
    # Walk memory in the input's order, like NumPy's order='K': axes sorted
    # by decreasing |stride|, so a Fortran-ordered or transposed input still
    # gives long unit-stride runs. Outputs are C-contiguous in that order.
    perm = sorted(range(len(shape)), key=lambda d: -abs(x.strides[d]))
    pshape = tuple(shape[d] for d in perm)
    ins = [None if a is None else a.transpose(perm) for a in inputs]
    outs = [_outputs.empty(pshape, dtype) for _ in range(n_outputs)]
    inverse = sorted(range(len(perm)), key=perm.__getitem__)
    results = [o.transpose(inverse) for o in outs]
    if given is not None:
        outs[-1], results[-1] = given.transpose(perm), given
    layout = _merged_layout(pshape, [a for a in ins if a is not None] + outs)
    if layout is None:
        # An exotic layout (more than three unmergeable strided dimensions,
        # e.g. a 4-D input with two axes swapped and a weight broadcast over
        # another): fall back to C-contiguous copies of the inputs, broadcast
        # weights included, so everything merges into one dimension.
        ins = [None if a is None else np.ascontiguousarray(a) for a in ins]
        if given is not None:  # computed into a new array, then copied into it
            outs[-1] = _outputs.empty(pshape, dtype)
            results[-1] = outs[-1].transpose(inverse)
        layout = _merged_layout(pshape, [a for a in ins if a is not None] + outs)
        assert layout is not None
    mshape, mstrides = layout
    strides = iter(mstrides)
    in3 = [None if a is None else _core.strided_view(a, mshape, next(strides)) for a in ins]
    out3 = [_core.strided_view(o, mshape, next(strides)) for o in outs]
    return _KernelViews(in3, out3, results)


def _grad_output(
    func: str, grad_output: Any, reduction: str, shape: tuple[int, ...], dtype: np.dtype
) -> tuple[np.ndarray | None, float]:
    """(elementwise grad_output view or None, scalar factor)."""
    size = math.prod(shape)
    if reduction == "none":
        if grad_output is None:
            return None, 1.0
        g = as_array(grad_output, func, "grad_output")
        if g.shape != shape:
            raise ValueError(
                f"{func}: grad_output with shape {g.shape} must have the loss shape {shape} "
                "for reduction='none'"
            )
        return _cast(g, dtype, func, "grad_output"), 1.0
    g_scalar = 1.0
    if grad_output is not None:
        g = as_array(grad_output, func, "grad_output")
        compute_dtype(g.dtype, func, "grad_output")
        if g.ndim != 0:
            raise ValueError(
                f"{func}: grad_output must be a scalar for reduction={reduction!r}, "
                f"not an array of shape {g.shape}"
            )
        g_scalar = float(g)
    if reduction == "mean":
        g_scalar = g_scalar / size if size else g_scalar
    return None, g_scalar


class _BinaryCall:
    """A validated call of an elementwise loss on logits (BCE-with-logits or
    sigmoid focal): the LossCall of Note [Loss families]."""

    def __init__(self, func: str, kind: str, ops: _Operands, reduction: str,
                 alpha: float = 0.0, gamma: float = 0.0) -> None:
        self.func, self.kind, self.ops, self.reduction = func, kind, ops, reduction
        self.alpha, self.gamma = alpha, gamma
        self.input, self.grad_shape, self.dtype = ops.x, ops.x.shape, ops.x.dtype

    def others(self) -> list[tuple[str, Any]]:
        ops = self.ops
        return [("target", ops.y), ("weight", ops.w), ("pos_weight", ops.pw)]

    def _run(self, want_loss: bool, want_grad: bool, grad_output: Any = None,
             out: np.ndarray | None = None) -> tuple[Any, np.ndarray | None]:
        ops, reduction = self.ops, self.reduction
        x = ops.x
        shape, dtype = x.shape, x.dtype
        size = x.size
        want_none_loss = want_loss and reduction == "none"
        partials = None
        if want_loss and reduction != "none":
            partials = np.zeros(_core.binary_loss_blocks(size), np.float64)
        g, g_scalar = (None, 1.0)
        if want_grad:
            g, g_scalar = _grad_output(self.func, grad_output, reduction, shape, dtype)
        n_out = int(want_none_loss) + int(want_grad)
        views = _kernel_views([x, ops.y, ops.w, ops.pw, g], n_out, dtype, out)
        vx, vy, vw, vpw, vg = views.inputs
        assert vx is not None  # input is always given; only the optional operands may be None
        outs, results = iter(views.outputs), iter(views.results)
        vl = next(outs) if want_none_loss else None
        loss_out = next(results) if want_none_loss else None
        vgrad = next(outs) if want_grad else None
        grad = next(results) if want_grad else None
        if size:
            _core.binary_loss(self.kind, vx, vy, vw, vpw, self.alpha, self.gamma,
                              vl, partials, vgrad, vg, g_scalar)
        if out is not None and grad is not out:  # out's strides did not merge
            assert grad is not None
            np.copyto(out, grad)
            grad = out
        loss: Any = None
        if want_loss:
            if reduction == "none":
                loss = loss_out
            else:
                assert partials is not None
                total = _core.row_sum(partials)  # fixed (pairwise) order
                if reduction == "mean":
                    total = total / size if size else float("nan")
                loss = as_scalar(dtype, total)
        return loss, grad

    def value(self) -> Any:
        return self._run(want_loss=True, want_grad=False)[0]

    def grad(self, grad_output: Any, out: np.ndarray | None) -> np.ndarray:
        grad = self._run(want_loss=False, want_grad=True, grad_output=grad_output, out=out)[1]
        assert grad is not None
        return grad

    def value_and_grad(self, out: np.ndarray | None) -> tuple[Any, np.ndarray]:
        loss, grad = self._run(want_loss=True, want_grad=True, out=out)
        assert grad is not None
        return loss, grad


# ------------------------------------------------------------------ BCE


def _prepare_bce(func: str, input: Any, target: Any, weight: Any, pos_weight: Any,
                 reduction: Any) -> _BinaryCall:
    red = check_reduction(func, reduction)
    return _BinaryCall(func, "bce", _operands(func, input, target, weight, pos_weight), red)


def _binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, *, pos_weight: Any = None,
    reduction: str = "mean",
) -> Any:
    """Binary cross-entropy on logits, as
    :func:`torch.nn.functional.binary_cross_entropy_with_logits`.

    ``l = -w * (pw * y * log(sigmoid(x)) + (1 - y) * log(1 - sigmoid(x)))``,
    evaluated stably for every finite logit (no overflow or NaN up to the
    largest float; confident correct predictions keep full relative accuracy).

    Parameters
    ----------
    input : array_like
        Logits; float32/float64/float16/bfloat16 (integers and bool become
        float64). The result has this dtype.
    target : array_like
        Targets of the same shape (soft targets allowed, not range-checked);
        cast to the input's dtype.
    weight : array_like, optional
        Per-element rescaling, broadcast to the input's shape (NumPy rules).
    pos_weight : array_like, optional
        Weight of the positive term, broadcast to the input's shape: a
        ``(C,)`` array applies along the last axis; use ``(C, 1, 1)`` for
        ``(N, C, H, W)``.
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean over all elements (NaN when empty).

    Returns
    -------
    ndarray or scalar
        The loss (input's shape for ``'none'``, else a NumPy scalar).

    Raises
    ------
    TypeError
        For a non-real dtype of any operand.
    ValueError
        For a target of another shape, a weight or pos_weight that does not
        broadcast to the input's shape, or an unknown reduction.

    Examples
    --------
    >>> import logitloss as ll
    >>> float(ll.binary_cross_entropy_with_logits([0.0, 0.0], [1.0, 0.0]))
    0.6931471805599453
    """

BINARY_CROSS_ENTROPY_WITH_LOGITS = LossFamily(
    signature=_binary_cross_entropy_with_logits,
    prepare=_prepare_bce,
    grad_doc="""Gradient of :func:`binary_cross_entropy_with_logits` with respect to
    `input`: ``grad_output * w * ((1 + (pw - 1) * y) * sigmoid(x) - pw * y)``
    (divided by the element count for ``'mean'``).

    `grad_output` is a scalar for ``'mean'``/``'sum'`` (default 1) and an
    array of the input's shape for ``'none'`` (default ones). `out`: an array
    of the input's shape and dtype to write the gradient into, or `input`
    itself (in place). Returns an array shaped and typed like `input`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.binary_cross_entropy_with_logits_grad([0.0, 2.0], [1.0, 0.0])
    array([-0.25      ,  0.44039854])
    """,
    value_and_grad_doc="""``(loss, grad)`` of :func:`binary_cross_entropy_with_logits` in one
    fused pass (input and target read once; only the gradient, and for
    ``'none'`` the loss, written); `out` as for the gradient.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss, grad = ll.binary_cross_entropy_with_logits_value_and_grad(
    ...     [0.0], [1.0], pos_weight=[2.0])
    >>> float(loss), grad
    (1.3862943611198906, array([-1.]))
    """,
    dask="elementwise",
    example=("[0.0, 2.0, -2.0]", "[1.0, 1.0, 0.0]", ""),
    loss_object="BCEWithLogitsLoss",
    loss_object_options=("weight", "reduction", "pos_weight"),
)
(
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    binary_cross_entropy_with_logits_value_and_grad,
) = BINARY_CROSS_ENTROPY_WITH_LOGITS.functions()


# ---------------------------------------------------------------- focal


def _prepare_focal(func: str, input: Any, target: Any, alpha: Any, gamma: Any,
                   reduction: Any) -> _BinaryCall:
    a, g = check_real(func, "alpha", alpha), check_real(func, "gamma", gamma)
    red = check_reduction(func, reduction)
    return _BinaryCall(func, "focal", _operands(func, input, target), red, a, g)


def _sigmoid_focal_loss(
    input: Any, target: Any, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"
) -> Any:
    """Sigmoid focal loss, as :func:`torchvision.ops.sigmoid_focal_loss`.

    ``p = sigmoid(x)``, ``ce = bce_with_logits(x, y)``,
    ``p_t = p * y + (1 - p) * (1 - y)``,
    ``loss = a_t * ce * (1 - p_t) ** gamma`` with
    ``a_t = alpha * y + (1 - alpha) * (1 - y)``, or 1 when ``alpha < 0``.
    ``p`` and ``1 - p`` are both computed without cancellation.

    Parameters
    ----------
    input, target : array_like
        Logits and targets of the same shape (result dtype: the input's).
    alpha : float
        Weight of the positive class in [0, 1]; negative disables weighting.
    gamma : float
        Focusing exponent (0 gives weighted BCE).
    reduction : {'none', 'mean', 'sum'}

    Raises
    ------
    TypeError
        Non-real dtypes, or non-real alpha/gamma.
    ValueError
        Shape mismatch or unknown reduction.

    Examples
    --------
    >>> import logitloss as ll
    >>> float(ll.sigmoid_focal_loss([0.0], [1.0], reduction='sum'))
    0.04332169878499658
    """

SIGMOID_FOCAL_LOSS = LossFamily(
    signature=_sigmoid_focal_loss,
    prepare=_prepare_focal,
    grad_doc="""Gradient of :func:`sigmoid_focal_loss` with respect to `input`
    (`grad_output` and `out` as for the other losses).

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.sigmoid_focal_loss_grad([0.0, 2.0], [1.0, 0.0])
    array([-0.0745717,  0.8075353])
    """,
    value_and_grad_doc="""``(loss, grad)`` of :func:`sigmoid_focal_loss` in one fused pass.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss, grad = ll.sigmoid_focal_loss_value_and_grad([0.0], [1.0], reduction="sum")
    >>> round(float(loss), 8), grad
    (0.0433217, array([-0.0745717]))
    """,
    dask="elementwise",
    example=("[0.0, 2.0, -2.0]", "[1.0, 1.0, 0.0]", ", reduction='sum'"),
)
(
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    sigmoid_focal_loss_value_and_grad,
) = SIGMOID_FOCAL_LOSS.functions()
