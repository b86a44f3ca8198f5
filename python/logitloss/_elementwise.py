"""The machinery of the elementwise losses: BCE with logits, sigmoid focal
loss, BCE on probabilities and the KL divergence (one kernel driver,
csrc/kernels/binary_loss.h, with one op each).

Every operand is seen by the kernel as an ``(outer, mid, inner)`` strided
view of the input's shape. ``weight``, ``pos_weight`` and broadcast targets
are zero-stride views (no copies), and adjacent dimensions are merged
whenever every operand's strides allow it. `ElementwiseCall` is their
LossCall (Note [Loss families]).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _core, _outputs
from ._scalars import as_scalar, ieee_div
from ._validation import as_array, broadcast_to_shape, compute_dtype


class Operands(NamedTuple):
    x: np.ndarray  # input, kernel dtype
    y: np.ndarray  # target of x's shape and dtype (a zero-stride view when broadcast)
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


def operands(
    func: str, input: Any, target: Any, weight: Any = None, pos_weight: Any = None, *,
    target_broadcasts: bool = False,
) -> Operands:
    """The arrays of an elementwise loss call, checked and cast to the input's
    kernel dtype. The target has the input's shape, or with
    `target_broadcasts` broadcasts to it."""
    x = as_array(input, func, "input")
    dtype = compute_dtype(x.dtype, func, "input")
    x = _cast(x, dtype, func, "input")
    if target_broadcasts:
        y = _broadcast_operand(as_array(target, func, "target"), x.shape, dtype, func, "target")
        assert y is not None
    else:
        y = as_array(target, func, "target")
        if y.shape != x.shape:
            raise ValueError(
                f"{func}: target with shape {y.shape} must have the same shape as "
                f"input with shape {x.shape}"
            )
        y = _cast(y, dtype, func, "target")
    w = _broadcast_operand(weight, x.shape, dtype, func, "weight")
    pw = _broadcast_operand(pos_weight, x.shape, dtype, func, "pos_weight")
    return Operands(x, y, w, pw)


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


def divisor(reduction: str, shape: tuple[int, ...]) -> int:
    """What a reduced loss's sum is divided by: the element count for
    'mean', input.shape[0] for 'batchmean' (1 for a 0-d input, as torch),
    else 1."""
    if reduction == "mean":
        return math.prod(shape)
    if reduction == "batchmean":
        return shape[0] if shape else 1
    return 1


def _grad_output(
    func: str, grad_output: Any, reduction: str, shape: tuple[int, ...], dtype: np.dtype
) -> tuple[np.ndarray | None, float]:
    """(elementwise grad_output view or None, scalar factor)."""
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
    n = divisor(reduction, shape)
    return None, g_scalar / n if n else g_scalar


_RANGE_BITS = ((1, "input"), (2, "target"))  # csrc/kernels/api.h: kInputOutOfRange, ...


class ElementwiseCall:
    """A validated call of an elementwise loss: the LossCall of Note [Loss
    families]. `kind` names the kernel op (bindings' binary_loss_kind);
    `probabilities`: input and target must lie in [0, 1], as torch checks
    for binary_cross_entropy."""

    def __init__(self, func: str, kind: str, ops: Operands, reduction: str,
                 alpha: float = 0.0, gamma: float = 0.0, *, probabilities: bool = False) -> None:
        self.func, self.kind, self.ops, self.reduction = func, kind, ops, reduction
        self.alpha, self.gamma, self.probabilities = alpha, gamma, probabilities
        self.input, self.grad_shape, self.dtype = ops.x, ops.x.shape, ops.x.dtype

    def others(self) -> list[tuple[str, Any]]:
        ops = self.ops
        return [("target", ops.y), ("weight", ops.w), ("pos_weight", ops.pw)]

    def _range_error(self, bits: int) -> ValueError:
        """The error for out-of-range probabilities, with the first value
        (in C order) that is; the error path only, so a temporary is fine."""
        name = next(n for bit, n in _RANGE_BITS if bits & bit)
        a = self.ops.x if name == "input" else self.ops.y
        with np.errstate(invalid="ignore"):  # NaN compares false (ml_dtypes may flag it)
            value = a[~((a >= 0) & (a <= 1))].flat[0]
        return ValueError(
            f"{self.func}: all elements of {name} should be between 0 and 1 "
            f"(probabilities, as torch requires); found {value!s}"
        )

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
        if self.probabilities and out is not None and size:
            # Into a buffer of the user's (maybe the input itself): check the
            # whole range first, so that a refused call writes nothing.
            self._kernel(_kernel_views([x, ops.y], 0, dtype).inputs, None, None, None, None, 1.0)
        n_out = int(want_none_loss) + int(want_grad)
        views = _kernel_views([x, ops.y, ops.w, ops.pw, g], n_out, dtype, out)
        outs, results = iter(views.outputs), iter(views.results)
        vl = next(outs) if want_none_loss else None
        loss_out = next(results) if want_none_loss else None
        vgrad = next(outs) if want_grad else None
        grad = next(results) if want_grad else None
        if size:
            self._kernel(views.inputs, vl, partials, vgrad, views.inputs[4], g_scalar)
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
                if reduction != "sum":
                    total = ieee_div(total, divisor(reduction, shape))
                loss = as_scalar(dtype, total)
        return loss, grad

    def _kernel(self, inputs: list[np.ndarray | None], loss: np.ndarray | None,
                partials: np.ndarray | None, grad: np.ndarray | None,
                g: np.ndarray | None, g_scalar: float) -> None:
        vx, vy, *rest = inputs
        vw, vpw = (rest[0], rest[1]) if rest else (None, None)
        assert vx is not None
        assert vy is not None
        bits = _core.binary_loss(self.kind, vx, vy, vw, vpw, self.alpha, self.gamma,
                                 loss, partials, grad, g, g_scalar)
        if bits:
            raise self._range_error(bits)

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
