"""Losses with one value per row of an ``(outer, classes, inner)`` view (the
cross-entropy family, the divergences): their layout, reductions,
``grad_output`` and gradient buffers, in one place.

Per-row losses are float64; reductions add them in a fixed (pairwise) order
(``_core.row_sum``), so results do not depend on the thread count.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _core, _outputs
from ._scalars import as_scalar, ieee_div
from ._validation import ClassLayout, as_float

_FLOAT64 = np.dtype(np.float64)

#: The reductions that divide the rows' sum by a denominator.
DIVIDING = frozenset({"mean", "batchmean"})


def single_axis_layout(shape: tuple[int, ...], ax: int) -> ClassLayout:
    """class_layout(shape, (ax,)) without the generality (cheaper)."""
    reduced = shape[:ax] + shape[ax + 1 :]
    kept = (*shape[:ax], 1, *shape[ax + 1:])
    return ClassLayout(
        shape, (ax,), math.prod(shape[:ax]), shape[ax], math.prod(shape[ax + 1 :]), reduced, kept
    )


def unreduced(loss: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The float64 per-row losses in the result dtype (a new array unless it
    is float64); a loss beyond the dtype's range is inf, with NumPy's cast
    warning under the caller's np.errstate."""
    if dtype == _FLOAT64:
        return loss
    return loss.astype(dtype)


class RowLoss:
    """Reductions, grad_output and gradient buffers of a loss call with one
    value per row; subclasses set the four attributes."""

    func: str
    layout: ClassLayout
    reduction: str
    dtype: np.dtype

    @property
    def _rows(self) -> int:
        return self.layout.outer * self.layout.inner

    def _reduce(self, loss: np.ndarray, den: float | None) -> Any:
        """The per-row losses reduced: 'none' in the loss shape, else a
        scalar of the result dtype ('mean', 'batchmean': the sum over `den`)."""
        if self.reduction == "none":
            return unreduced(loss, self.dtype).reshape(self.layout.reduced_shape)
        total = float(_core.row_sum(loss))  # pairwise summation: a fixed order
        if self.reduction in DIVIDING:
            assert den is not None
            total = ieee_div(total, den)  # NaN for 0 / 0
        return as_scalar(self.dtype, total)

    def _grad_scale(self, grad_output: Any, den: float | None) -> tuple[np.ndarray | None, float]:
        """grad_output (and the denominator) as the kernel's per-row scales
        or single scale."""
        func, shape = self.func, self.layout.reduced_shape
        if self.reduction == "none":
            if grad_output is None:
                return None, 1.0
            g = as_float(grad_output, func, "grad_output", _FLOAT64)
            try:
                g = np.broadcast_to(g, shape)
            except ValueError:
                raise ValueError(
                    f"{func}: grad_output has shape {g.shape}; expected the loss shape {shape}"
                ) from None
            return np.ascontiguousarray(g).reshape(-1), 1.0
        if grad_output is None:
            go = 1.0
        else:
            g = as_float(grad_output, func, "grad_output", _FLOAT64)
            if g.ndim != 0:
                raise ValueError(
                    f"{func}: grad_output has shape {g.shape}; expected a scalar for "
                    f"reduction={self.reduction!r}"
                )
            go = float(g)
        if self.reduction in DIVIDING:
            assert den is not None
            go = ieee_div(go, den)  # inf or NaN for a zero denominator
        return None, go

    def _gradient_into(self, out: np.ndarray | None,
                       run: Callable[[np.ndarray], None]) -> np.ndarray:
        """Calls run(grad3) on the gradient's (outer, classes, inner) view:
        of `out` (in place when it is the input), or of a new array; where
        `out`'s strides allow no such view, of a new array then copied."""
        layout = self.layout
        shape3 = (layout.outer, layout.classes, layout.inner)
        if out is not None:
            out3 = _outputs.writable_view(out, shape3)
            if out3 is not None:
                run(out3)
                return out
        grad = _outputs.empty(layout.shape, self.dtype)
        run(grad.reshape(shape3))
        if out is not None:
            np.copyto(out, grad)
            return out
        return grad
