"""Binary losses: BCE with logits and BCE on probabilities
(``torch.nn.functional`` semantics) and sigmoid focal loss
(``torchvision.ops`` semantics).

All are elementwise (`_elementwise`): weights broadcast as zero-stride
views, one fused pass for the value and the gradient.
"""

from __future__ import annotations

from typing import Any

from ._elementwise import ElementwiseCall, operands
from ._family import LossFamily
from ._options import check_real, check_reduction

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_value_and_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_value_and_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "sigmoid_focal_loss_value_and_grad",
]

# ------------------------------------------------------------------ BCE


def _prepare_bce(func: str, input: Any, target: Any, weight: Any, pos_weight: Any,
                 reduction: Any) -> ElementwiseCall:
    red = check_reduction(func, reduction)
    return ElementwiseCall(func, "bce", operands(func, input, target, weight, pos_weight), red)


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
                   reduction: Any) -> ElementwiseCall:
    a, g = check_real(func, "alpha", alpha), check_real(func, "gamma", gamma)
    red = check_reduction(func, reduction)
    return ElementwiseCall(func, "focal", operands(func, input, target), red, a, g)


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


# ------------------------------------------------------- BCE on probabilities


def _prepare_bce_probs(func: str, input: Any, target: Any, weight: Any,
                       reduction: Any) -> ElementwiseCall:
    red = check_reduction(func, reduction)
    return ElementwiseCall(func, "binary_cross_entropy", operands(func, input, target, weight),
                           red, probabilities=True)


def _binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, *, reduction: str = "mean"
) -> Any:
    """Binary cross-entropy on probabilities, as
    :func:`torch.nn.functional.binary_cross_entropy`.

    ``l = -w * (y * max(log(p), -100) + (1 - y) * max(log(1 - p), -100))``:
    the logs are clamped at -100 as PyTorch clamps them, so ``p = 0`` and
    ``p = 1`` give finite losses. ``log(p)`` and ``log1p(-p)`` are each
    computed to within an ULP or two, so the loss keeps its relative accuracy
    near ``p = 0`` and ``p = 1``. For probabilities from a sigmoid,
    :func:`binary_cross_entropy_with_logits` on the logits is more accurate
    still.

    Parameters
    ----------
    input : array_like
        Probabilities in [0, 1]; float32/float64/float16/bfloat16 (integers
        and bool become float64). The result has this dtype.
    target : array_like
        Targets in [0, 1] (soft targets allowed) of the input's shape; cast
        to the input's dtype.
    weight : array_like, optional
        Per-element rescaling, broadcast to the input's shape (NumPy rules,
        as torch expands it).
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
        For an element of `input` or `target` outside [0, 1] or NaN (torch
        raises too; the message names the first one), a target of another
        shape, a weight that does not broadcast to the input's shape, or an
        unknown reduction.

    Examples
    --------
    >>> import logitloss as ll
    >>> float(ll.binary_cross_entropy([0.5, 0.9], [1.0, 0.0], reduction="sum"))
    2.9957322735539913
    >>> ll.binary_cross_entropy([0.0, 1.0], [1.0, 0.0], reduction="none")  # logs clamped
    array([100., 100.])
    """

BINARY_CROSS_ENTROPY = LossFamily(
    signature=_binary_cross_entropy,
    prepare=_prepare_bce_probs,
    grad_doc="""Gradient of :func:`binary_cross_entropy` with respect to `input`:
    ``grad_output * w * (p - y) / max(p * (1 - p), 1e-12)`` (divided by the
    element count for ``'mean'``), PyTorch's formula, so the gradient at
    ``p = 0`` or ``p = 1`` is finite (about 1e12 in size) where the target
    differs from p. (PyTorch's own float16 kernel rounds 1e-12 to 0 and
    returns inf or NaN there; 16-bit input is computed in float32 here.)

    `grad_output` is a scalar for ``'mean'``/``'sum'`` (default 1) and an
    array of the input's shape for ``'none'`` (default ones). `out`: an array
    of the input's shape and dtype to write the gradient into, or `input`
    itself (in place); probabilities out of range are refused before
    anything is written. Returns an array shaped and typed like `input`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.binary_cross_entropy_grad([0.5, 0.8], [1.0, 0.0], reduction="sum")
    array([-2.,  5.])
    """,
    value_and_grad_doc="""``(loss, grad)`` of :func:`binary_cross_entropy` in one fused pass
    (input and target read once; only the gradient, and for ``'none'`` the
    loss, written); `out` as for the gradient.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss, grad = ll.binary_cross_entropy_value_and_grad([0.5], [1.0])
    >>> float(loss), grad
    (0.6931471805599453, array([-2.]))
    """,
    dask="elementwise",
    example=("[0.5, 0.9, 0.2]", "[1.0, 1.0, 0.0]", ""),
    loss_object="BCELoss",
    loss_object_options=("weight", "reduction"),
)
(
    binary_cross_entropy,
    binary_cross_entropy_grad,
    binary_cross_entropy_value_and_grad,
) = BINARY_CROSS_ENTROPY.functions()
