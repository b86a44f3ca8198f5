"""Poly-1 cross-entropy and multi-class (softmax) focal loss.

Both run in the cross-entropy kernels' passes as per-row transforms of the
same sums (Note [Poly-1 cross-entropy] and Note [Softmax focal loss] in
csrc/kernels/cross_entropy_variants.h), and share cross_entropy's argument
handling, reductions and outputs (`_CrossEntropyCall`): index targets of any
integer dtype, any class axis, ``out=`` and in-place gradients. Each family
is one declaration (Note [Loss families] in _family.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._family import LossFamily
from ._options import check_finite, check_nonnegative
from ._validation import as_array, as_float, dtype_name, is_kernel_float
from .cross_entropy import _CrossEntropyCall, _Operands, _operands

__all__ = [
    "poly1_cross_entropy",
    "poly1_cross_entropy_grad",
    "poly1_cross_entropy_value_and_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
    "softmax_focal_loss_value_and_grad",
]

# CeVariant in csrc/kernels/api.h.
_POLY1 = 1
_FOCAL = 2


class _VariantCall(_CrossEntropyCall):
    """A Poly-1 or focal call: cross-entropy's operands, denominators and
    outputs, with the kernel's per-row variant."""

    def __init__(self, op: _Operands, variant: int, *, epsilon: float = 0.0,
                 gamma: float = 0.0, alpha: np.ndarray | None = None,
                 alpha_scalar: float = 1.0) -> None:
        super().__init__(op, False)
        self.variant, self.epsilon, self.gamma = variant, epsilon, gamma
        self.alpha, self.alpha_scalar = alpha, alpha_scalar

    def _kernel(self, loss: np.ndarray | None, target_weight: np.ndarray | None,
                grad3: np.ndarray | None, grad_scale: np.ndarray | None,
                grad_scalar: float) -> int:
        op = self.op
        return _core.cross_entropy_variant(
            op.x3, op.target, op.prob3, op.weight, op.ignore_index if op.has_ignore else 0,
            op.has_ignore, op.smoothing, self.variant, self.epsilon, self.gamma, self.alpha,
            self.alpha_scalar, loss, target_weight, grad3, grad_scale, grad_scalar,
        )


# ------------------------------------------------------------------ Poly-1


def _prepare_poly1(func: str, input: Any, target: Any, weight: Any, epsilon: Any,
                   ignore_index: Any, reduction: Any, label_smoothing: Any,
                   axis: Any) -> _VariantCall:
    eps = check_finite(func, "epsilon", epsilon)
    op = _operands(func, False, input, target, weight, ignore_index, reduction,
                   label_smoothing, axis, None, 0.0)
    return _VariantCall(op, _POLY1, epsilon=eps)


def _poly1_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    epsilon: float = 2.0,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    axis: Any = None,
) -> Any:
    """Poly-1 cross-entropy (Leng et al. 2022), as
    :func:`optax.poly_loss_cross_entropy` with every option of
    :func:`cross_entropy`.

    Per sample, ``cross_entropy(...) + epsilon * w * (1 - sum_c q_c p_c)``
    with ``p = softmax(input)`` over the class axis, ``q`` the target
    distribution after label smoothing (one-hot for a class index) and ``w``
    the target's class weight (``weight[t]``, 0 when ignored) for class
    indices, 1 for probabilities. The cross-entropy term is
    :func:`cross_entropy`'s, weights and smoothing included; the sum is
    reduced with its denominators ('mean': the summed target weights, or
    the number of samples for probability targets).

    Parameters
    ----------
    input, target, weight
        As for :func:`cross_entropy`.
    epsilon : float, default 2.0
        The coefficient of the poly term; any finite number (optax's
        default is 2.0; ``epsilon = 0`` is :func:`cross_entropy` bit for
        bit).
    ignore_index, reduction, label_smoothing, axis
        As for :func:`cross_entropy`.

    Returns
    -------
    scalar or ndarray
        As :func:`cross_entropy` returns.

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`cross_entropy` raises; ValueError also for a non-finite
        `epsilon`.

    Examples
    --------
    >>> import logitloss as ll
    >>> float(ll.poly1_cross_entropy([[2.0, 0.0, 0.0]], [0]))
    0.6655726818986876
    >>> float(ll.poly1_cross_entropy([[2.0, 0.0, 0.0]], [0], epsilon=0.0))
    0.23954476622188453
    """


POLY1_CROSS_ENTROPY = LossFamily(
    signature=_poly1_cross_entropy,
    prepare=_prepare_poly1,
    grad_doc="""Gradient of :func:`poly1_cross_entropy` with respect to `input`:
    the cross-entropy gradient plus ``epsilon * w * p_c * (P - q_c)``,
    ``P = sum_c q_c p_c``. `grad_output` and `out` as for
    :func:`cross_entropy_grad` (``out=input`` overwrites the logits in place).

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.poly1_cross_entropy_grad([[0.0, 0.0]], [1])
    array([[ 1., -1.]])
    """,
    value_and_grad_doc="""``(poly1_cross_entropy(...), poly1_cross_entropy_grad(...))`` in one
    fused pass over the logits; `out` as for :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.poly1_cross_entropy_value_and_grad([[0.0, 0.0]], [1])
    (np.float64(1.6931471805599454), array([[ 1., -1.]]))
    """,
    dask="class",
)
(
    poly1_cross_entropy,
    poly1_cross_entropy_grad,
    poly1_cross_entropy_value_and_grad,
) = POLY1_CROSS_ENTROPY.functions()


# ------------------------------------------------------------- focal loss


def _focal_alpha(func: str, alpha: Any, op: _Operands) -> tuple[np.ndarray | None, float]:
    """alpha as the kernel takes it: (per-class float64 array or None, the
    scalar used without one), rounded to the input's dtype as weights are."""
    dtype = op.x.dtype
    if alpha is None:
        return None, 1.0
    a = as_float(alpha, func, "alpha", None)
    if a.ndim == 0:
        value = check_nonnegative(func, "alpha", float(a))
        return None, float(np.asarray(value).astype(dtype))
    classes = op.layout.classes
    if a.shape != (classes,):
        raise ValueError(
            f"{func}: alpha has shape {a.shape} but input has shape {op.x.shape}; expected "
            f"a scalar or one value per class, shape ({classes},)"
        )
    a = a.astype(np.float64)
    if not bool(np.all(np.isfinite(a) & (a >= 0))):
        bad = a[~(np.isfinite(a) & (a >= 0))][0]
        raise ValueError(f"{func}: alpha must hold finite numbers >= 0, got {bad}")
    return a.astype(dtype).astype(np.float64), 1.0


def _prepare_focal(func: str, input: Any, target: Any, alpha: Any, gamma: Any,
                   ignore_index: Any, reduction: Any, axis: Any) -> _VariantCall:
    g = check_nonnegative(func, "gamma", gamma)
    tg = target if type(target) is np.ndarray else as_array(target, func, "target")
    if tg.dtype.kind == "f" or is_kernel_float(tg.dtype):
        raise TypeError(
            f"{func}: target has dtype {dtype_name(tg.dtype)}; expected integer class "
            "indices (probability targets are not supported)"
        )
    op = _operands(func, True, input, tg, None, ignore_index, reduction, 0.0, axis, None, 0.0)
    a, a_scalar = _focal_alpha(func, alpha, op)
    return _VariantCall(op, _FOCAL, gamma=g, alpha=a, alpha_scalar=a_scalar)


def _softmax_focal_loss(
    input: Any,
    target: Any,
    *,
    alpha: Any = None,
    gamma: float = 2.0,
    ignore_index: int = -100,
    reduction: str = "mean",
    axis: Any = None,
) -> Any:
    """Multi-class focal loss (Lin et al. 2017) on logits:
    ``-alpha_t * (1 - p_t) ** gamma * log(p_t)`` per sample, with
    ``p = softmax(input)`` over the class axis and ``t`` the target class.

    ``1 - p_t`` and ``log(p_t)`` are computed without cancellation, so
    confident samples (``1 - p_t`` far below the dtype's epsilon) keep
    their digits, and the gradient has no ``0 * inf``. With ``gamma = 0`` the
    per-sample losses and the 'sum' are :func:`cross_entropy`'s with
    ``weight=alpha`` bit for bit, but 'mean' divides by the number of
    non-ignored samples, not by their summed ``alpha``.

    Parameters
    ----------
    input : array_like
        Logits, as for :func:`cross_entropy`.
    target : array_like of int
        Class indices (any integer dtype), shaped like `input` without the
        class axis. Probability targets are refused (TypeError): the focal
        loss has no single accepted soft-target form.
    alpha : None, float or array_like, optional
        None: ``alpha_t = 1``; a number: the same ``alpha_t`` for every
        class; shape ``(C,)``: one per class. Finite and ``>= 0``; rounded
        to the input's dtype.
    gamma : float, default 2.0
        The focusing exponent, finite and ``>= 0``.
    ignore_index : int, default -100
        Targets equal to it add nothing and are not counted by 'mean'.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'mean' divides by the number of non-ignored samples (NaN when all
        are ignored).
    axis : int, optional
        The class axis; default 1 (0 for 1-D input).

    Returns
    -------
    scalar or ndarray
        A NumPy scalar of the input's dtype for 'mean'/'sum'; for 'none' an
        array shaped like `input` without the class axis.

    Raises
    ------
    TypeError
        Non-numeric input, a target that is not integer, or a bad option
        type.
    ValueError
        Shape mismatch between input, target and alpha; negative or
        non-finite gamma or alpha; bad reduction or axis.
    IndexError
        A non-ignored class index outside ``[0, C)``.

    Examples
    --------
    >>> import logitloss as ll
    >>> float(ll.softmax_focal_loss([[2.0, 0.0, 0.0]], [0]))
    0.010869330887949391
    >>> float(ll.softmax_focal_loss([[2.0, 0.0, 0.0]], [0], gamma=0.0))
    0.23954476622188453
    """


SOFTMAX_FOCAL_LOSS = LossFamily(
    signature=_softmax_focal_loss,
    prepare=_prepare_focal,
    grad_doc="""Gradient of :func:`softmax_focal_loss` with respect to `input`:
    ``F * (p_c - [c = t])`` with
    ``F = alpha_t * ((1 - p_t)**gamma - gamma * p_t * (1 - p_t)**(gamma - 1) * log(p_t))``
    (its limits where ``p_t`` is 0 or 1). `grad_output` and `out` as for
    :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.softmax_focal_loss_grad([[0.0, 0.0]], [1], gamma=0.0)
    array([[ 0.5, -0.5]])
    """,
    value_and_grad_doc="""``(softmax_focal_loss(...), softmax_focal_loss_grad(...))`` in one
    fused pass over the logits; `out` as for :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss, grad = ll.softmax_focal_loss_value_and_grad([[0.0, 0.0]], [1], alpha=0.25)
    >>> float(loss), grad
    (0.04332169878499658, array([[ 0.0745717, -0.0745717]]))
    """,
    dask="class",
    example=("[[0.0, 0.0], [1.0, 2.0]]", "[0, 1]", ", alpha=[0.25, 0.75]"),
)
(
    softmax_focal_loss,
    softmax_focal_loss_grad,
    softmax_focal_loss_value_and_grad,
) = SOFTMAX_FOCAL_LOSS.functions()
