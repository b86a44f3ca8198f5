"""Divergences between the softmaxes of two logit arrays, for knowledge
distillation: ``softmax_kl_div`` (KL of the teacher's distribution from the
student's) and ``generalized_jsd`` (Liger-Kernel's generalized
Jensen-Shannon divergence), each with its gradient with respect to the
student's logits.

Both read the two arrays once, in one fused pass per row (no log-softmax
array is formed), and write every class's term as a non-negative quantity
computed without cancellation (Note [Stable divergences] in
csrc/kernels/divergence.h): float32 rows that differ by 1e-4 (KL ~ 1e-9)
keep their digits (within 3 ulp), and no divergence is ever negative. The
class axis is ``axis=`` (default -1), read in place through a strided view.
Each function is one declaration (Note [Loss families] in _family.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._family import LossFamily
from ._options import check_reduction, check_temperature, check_unit_interval
from ._rows import RowLoss, single_axis_layout
from ._validation import as_array, as_float, compute_dtype, normalize_axis

__all__ = [
    "softmax_kl_div",
    "softmax_kl_div_grad",
    "softmax_kl_div_value_and_grad",
    "generalized_jsd",
    "generalized_jsd_grad",
    "generalized_jsd_value_and_grad",
]

REDUCTIONS = ("none", "mean", "sum", "batchmean")
_NATIVE = frozenset({np.dtype(np.float32), np.dtype(np.float64)})

# The kernel's divergences (csrc/kernels/api.h, Divergence).
_FORWARD_KL, _REVERSE_KL, _JSD = 0, 1, 2
_FLOAT64 = np.dtype(np.float64)

# Below this, float32 arithmetic cannot hold the JSD's beta nor
# (1 - beta) / beta (float32's smallest normal is 1.2e-38, its largest
# 3.4e38): float32 and 16-bit inputs are then computed on float64 copies.
_TINY_BETA = 1e-30


def class_axis(func: str, axis: Any, ndim: int) -> int:
    """The class axis: an int (None has no meaning here, unlike for
    logsumexp)."""
    if axis is None:
        raise TypeError(f"{func}: axis must be an int, not None")
    return normalize_axis(axis, ndim, func)


class _DivergenceCall(RowLoss):
    """A validated divergence call: the LossCall of Note [Loss families]."""

    def __init__(self, func: str, input: Any, target: Any, kind: int, beta: float,
                 temperature: Any, axis: Any, reduction: Any) -> None:
        self.func = func
        self.reduction = check_reduction(func, reduction, REDUCTIONS)
        self.inv_temperature = 1.0 / check_temperature(func, temperature)
        self.kind, self.beta = kind, beta
        # Fast path for the common case (a native float32/float64 array).
        x = input if type(input) is np.ndarray and input.dtype in _NATIVE else as_float(
            input, func, "input")
        if x.ndim == 0:
            raise ValueError(f"{func}: input must have a class axis; got a 0-d array")
        ax = class_axis(func, axis, x.ndim)
        self.target = target if type(target) is np.ndarray else as_array(target, func, "target")
        compute_dtype(self.target.dtype, func, "target")  # TypeError for a non-real dtype
        if self.target.shape != x.shape:
            raise ValueError(f"{func}: target has shape {self.target.shape} but input has "
                             f"shape {x.shape}; they must be equal")
        y = as_float(self.target, func, "target", x.dtype)  # read in the input's dtype
        self.layout = layout = single_axis_layout(x.shape, ax)
        shape3 = (layout.outer, layout.classes, layout.inner)
        self.x3, self.y3 = x.reshape(shape3), y.reshape(shape3)  # views unless strides forbid
        self.input, self.grad_shape, self.dtype = x, x.shape, x.dtype
        self.widened = kind == _JSD and beta < _TINY_BETA and x.dtype != _FLOAT64
        if self.widened:
            self.x3, self.y3 = self.x3.astype(_FLOAT64), self.y3.astype(_FLOAT64)

    def others(self) -> list[tuple[str, Any]]:
        return [("target", self.target)]

    def _denominator(self) -> float | None:
        """'batchmean' divides by the number of rows, 'mean' by the number of
        elements."""
        if self.reduction == "batchmean":
            return float(self._rows)
        if self.reduction == "mean":
            return float(self._rows * self.layout.classes)
        return None

    def _run(self, loss: np.ndarray | None = None, grad3: np.ndarray | None = None,
             grad_scale: np.ndarray | None = None, grad_scalar: float = 1.0) -> None:
        if self.widened and grad3 is not None:  # float64 copies: a float64 gradient first
            wide = np.empty(grad3.shape, _FLOAT64)
            _core.divergence(self.x3, self.y3, self.kind, self.beta, self.inv_temperature,
                             loss, wide, grad_scale, grad_scalar)
            grad3[...] = wide.astype(grad3.dtype)
            return
        _core.divergence(self.x3, self.y3, self.kind, self.beta, self.inv_temperature, loss,
                         grad3, grad_scale, grad_scalar)

    def value(self) -> Any:
        loss = np.empty(self._rows)
        self._run(loss=loss)
        return self._reduce(loss, self._denominator())

    def grad(self, grad_output: Any, out: np.ndarray | None) -> np.ndarray:
        scale, scalar = self._grad_scale(grad_output, self._denominator())
        return self._gradient_into(
            out, lambda g3: self._run(grad3=g3, grad_scale=scale, grad_scalar=scalar))

    def value_and_grad(self, out: np.ndarray | None) -> tuple[Any, np.ndarray]:
        den = self._denominator()
        _, scalar = self._grad_scale(None, den)
        loss = np.empty(self._rows)
        grad = self._gradient_into(out, lambda g3: self._run(loss=loss, grad3=g3,
                                                             grad_scalar=scalar))
        return self._reduce(loss, den), grad


def _prepare_kl(func: str, input: Any, target: Any, temperature: Any, axis: Any,
                reduction: Any) -> _DivergenceCall:
    return _DivergenceCall(func, input, target, _FORWARD_KL, 0.0, temperature, axis, reduction)


def _prepare_jsd(func: str, input: Any, target: Any, beta: Any, temperature: Any, axis: Any,
                 reduction: Any) -> _DivergenceCall:
    b = check_unit_interval(func, "beta", beta)
    kind = _FORWARD_KL if b == 0 else _REVERSE_KL if b == 1 else _JSD
    return _DivergenceCall(func, input, target, kind, b, temperature, axis, reduction)


# The gradients' extra parameters and their result, in both families' docs.
_GRAD_PARAMETERS = """
    grad_output : scalar or array_like, optional
        A scalar for 'batchmean'/'mean'/'sum' (default 1) or an array of the
        unreduced loss shape (broadcast to it) for 'none' (default ones).
    out : ndarray, optional
        Where to write the gradient: an array of the input's shape and
        dtype (any strides), or `input` itself (in place: nothing of the
        input's size is allocated).

    Returns
    -------
    ndarray
        Shaped and typed like `input` (`out` when given)."""


# ------------------------------------------------------------ softmax_kl_div


def _softmax_kl_div(
    input: Any,
    target: Any,
    *,
    temperature: float = 1.0,
    axis: int = -1,
    reduction: str = "batchmean",
) -> Any:
    """Knowledge-distillation KL divergence on logits,
    ``KL(softmax(target / T) || softmax(input / T))`` summed over the class
    axis: the teacher's distribution P (from `target`) against the student's
    Q (from `input`).

    The same as PyTorch's ``F.kl_div(F.log_softmax(input / T, axis),
    F.softmax(target / T, axis), reduction='none').sum(axis)`` per row, but
    computed in one pass without forming either array, and without the
    cancellation that costs PyTorch's float32 composition its digits when P
    and Q are close. The temperature is not squared into the result:
    multiply by ``T**2`` yourself, as Hinton et al. do.

    Parameters
    ----------
    input : array_like
        The student's logits; float32, float64, float16 or bfloat16
        (integers and bool become float64). The result has this dtype.
    target : array_like
        The teacher's logits, shaped like `input`; read in the input's dtype.
    temperature : float, default 1
        T > 0, finite: both sets of logits are divided by it.
    axis : int, default -1
        The class axis, computed in place for any axis.
    reduction : {'batchmean', 'mean', 'sum', 'none'}, default 'batchmean'
        'none' keeps one value per row (the input's shape without `axis`);
        'batchmean' divides the sum by the number of rows (the product of the
        non-class dimensions), 'mean' by the number of elements, as
        ``F.kl_div`` does.

    Returns
    -------
    scalar or ndarray
        A NumPy scalar of the input's dtype, or for 'none' an array of the
        rows (the input's shape without `axis`).

    Raises
    ------
    TypeError
        Non-numeric input or target, or a bad option type.
    ValueError
        Shapes that differ; a bad axis, reduction or temperature.

    Examples
    --------
    >>> import logitloss as ll
    >>> float(ll.softmax_kl_div([[0.0, 1.0, 2.0]], [[0.0, 1.0, 2.0]]))
    0.0
    >>> ll.softmax_kl_div([[0.0, 0.0], [1.0, 0.0]], [[0.0, 2.0], [1.0, 0.0]], reduction="none")
    array([0.32781333, 0.        ])
    """


SOFTMAX_KL_DIV = LossFamily(
    signature=_softmax_kl_div,
    prepare=_prepare_kl,
    grad_doc="""Gradient of :func:`softmax_kl_div` with respect to `input` (the
    student's logits): ``(softmax(input / T) - softmax(target / T)) / T``
    per row, times `grad_output` (and divided by the denominator of
    'batchmean' or 'mean'), computed as ``p (expm1(r)) / T`` from the
    log-ratio r of the two softmaxes: no cancellation for close rows.

    Parameters are those of :func:`softmax_kl_div`, and:
    """ + _GRAD_PARAMETERS + """

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.softmax_kl_div_grad([[0.0, 0.0]], [[0.0, 2.0]])
    array([[ 0.38079708, -0.38079708]])
    """,
    value_and_grad_doc="""``(softmax_kl_div(...), softmax_kl_div_grad(...))`` in one fused pass
    over both arrays; `out` as for :func:`softmax_kl_div_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss, grad = ll.softmax_kl_div_value_and_grad([[0.0, 0.0]], [[0.0, 2.0]])
    >>> round(float(loss), 8), grad
    (0.32781333, array([[ 0.38079708, -0.38079708]]))
    """,
    dask="pair",
    example=("[[0.0, 1.0, 2.0], [1.0, 0.5, 0.0]]", "[[0.5, 1.0, 1.5], [0.0, 0.0, 3.0]]", ""),
)
softmax_kl_div, softmax_kl_div_grad, softmax_kl_div_value_and_grad = SOFTMAX_KL_DIV.functions()


# ----------------------------------------------------------- generalized_jsd


def _generalized_jsd(
    input: Any,
    target: Any,
    *,
    beta: float = 0.5,
    temperature: float = 1.0,
    axis: int = -1,
    reduction: str = "batchmean",
) -> Any:
    """Generalized Jensen-Shannon divergence on logits, as Liger-Kernel's
    ``LigerJSD``: with P = softmax(target / T) (teacher) and
    Q = softmax(input / T) (student), summed over the class axis,

        ``beta * KL(P || M) + (1 - beta) * KL(Q || M)``,  ``M = beta P + (1 - beta) Q``;

    at ``beta = 0`` it is ``KL(P || Q)`` and at ``beta = 1`` ``KL(Q || P)``
    (Liger's forward and reverse KL limits; the mixture formula itself is 0
    there). ``beta = 0.5`` is the symmetric Jensen-Shannon divergence. Every
    class's term is non-negative and computed without cancellation, also
    where M has tiny entries. The temperature is not squared into the
    result.

    Parameters
    ----------
    input, target
        As for :func:`softmax_kl_div`.
    beta : float in [0, 1], default 0.5
        The mixture's weight of the teacher's distribution.
    temperature, axis, reduction
        As for :func:`softmax_kl_div`.

    Returns
    -------
    scalar or ndarray
        A NumPy scalar of the input's dtype, or for 'none' an array of the
        rows (the input's shape without `axis`).

    Raises
    ------
    TypeError
        Non-numeric input or target, or a bad option type.
    ValueError
        Shapes that differ; a bad axis, reduction or temperature; `beta`
        outside [0, 1].

    Examples
    --------
    >>> import logitloss as ll
    >>> round(float(ll.generalized_jsd([[0.0, 0.0]], [[0.0, 2.0]])), 8)
    0.0895409
    >>> float(ll.generalized_jsd([[0.0, 0.0]], [[0.0, 2.0]], beta=0.0)) == float(
    ...     ll.softmax_kl_div([[0.0, 0.0]], [[0.0, 2.0]]))
    True
    """


GENERALIZED_JSD = LossFamily(
    signature=_generalized_jsd,
    prepare=_prepare_jsd,
    grad_doc="""Gradient of :func:`generalized_jsd` with respect to `input` (the
    student's logits): ``(1 - beta) q_c (log(q_c / M_c) - KL(Q || M)) / T``
    per class, times `grad_output` (and divided by the denominator of
    'batchmean' or 'mean'); at ``beta = 0`` and ``1`` the gradients of the
    two KL limits.

    Parameters are those of :func:`generalized_jsd`, and:
    """ + _GRAD_PARAMETERS + """

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.generalized_jsd_grad([[0.0, 0.0]], [[0.0, 2.0]])
    array([[ 0.1002479, -0.1002479]])
    """,
    value_and_grad_doc="""``(generalized_jsd(...), generalized_jsd_grad(...))`` in one fused
    pass over both arrays; `out` as for :func:`generalized_jsd_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss, grad = ll.generalized_jsd_value_and_grad([[0.0, 0.0]], [[0.0, 2.0]], beta=0.9)
    >>> grad.shape
    (1, 2)
    """,
    dask="pair",
    example=("[[0.0, 1.0, 2.0], [1.0, 0.5, 0.0]]", "[[0.5, 1.0, 1.5], [0.0, 0.0, 3.0]]",
             ", beta=0.25"),
)
generalized_jsd, generalized_jsd_grad, generalized_jsd_value_and_grad = (
    GENERALIZED_JSD.functions())
