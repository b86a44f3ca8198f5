"""The KL divergence of ``torch.nn.functional.kl_div``: pointwise, on
log-probability inputs (`_elementwise`: one fused pass for the value and
the gradient; the gradient alone never reads the input)."""

from __future__ import annotations

from typing import Any

from ._elementwise import ElementwiseCall, operands
from ._family import LossFamily
from ._options import BATCH_REDUCTIONS, check_flag, check_reduction

__all__ = ["kl_div", "kl_div_grad", "kl_div_value_and_grad"]


def _prepare_kl_div(func: str, input: Any, target: Any, reduction: Any,
                    log_target: Any) -> ElementwiseCall:
    red = check_reduction(func, reduction, BATCH_REDUCTIONS)
    kind = "kl_div_log_target" if check_flag(func, "log_target", log_target) else "kl_div"
    return ElementwiseCall(func, kind, operands(func, input, target, target_broadcasts=True), red)


def _kl_div(input: Any, target: Any, *, reduction: str = "mean",
            log_target: bool = False) -> Any:
    """Kullback-Leibler divergence, pointwise, as
    :func:`torch.nn.functional.kl_div`.

    `input` holds log-probabilities ``x``; the pointwise loss is
    ``t * (log(t) - x)``, evaluated as torch does: ``xlogy(t, t) - t * x``,
    so a zero target contributes 0 (``0 * log 0 = 0``) for any finite `x`;
    with ``log_target=True`` the target holds log-probabilities and the loss
    is ``exp(t) * (t - x)``. Special values follow torch exactly: e.g. a zero
    target against ``x = -inf`` is NaN (``0 * inf``), a negative target NaN.

    Parameters
    ----------
    input : array_like
        Log-probabilities; float32/float64/float16/bfloat16 (integers and
        bool become float64). The result has this dtype.
    target : array_like
        Probabilities (or log-probabilities with `log_target`), of the
        input's shape or broadcasting to it; cast to the input's dtype.
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        ``'none'`` is elementwise; ``'sum'`` adds everything; ``'mean'``
        divides the sum by the number of elements (torch's default, which
        is not the KL divergence of rows); ``'batchmean'`` divides it by
        ``input.shape[0]`` (not at all for a 0-d input): the mean KL
        divergence per sample for ``(N, C)`` input, torch's advice.
    log_target : bool
        Whether `target` holds log-probabilities.

    Returns
    -------
    ndarray or scalar
        The loss (input's shape for ``'none'``, else a NumPy scalar).

    Raises
    ------
    TypeError
        For a non-real dtype, or a `log_target` that is not a bool.
    ValueError
        For a target that does not broadcast to the input's shape (the
        loss and its gradient have the input's shape), or an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> p, q = np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]])
    >>> round(float(ll.kl_div(np.log(q), p, reduction="batchmean")), 6)  # KL(p || q)
    0.510826
    >>> ll.kl_div(0.0, 0.0, reduction="none")  # 0 * log 0 = 0
    array(0.)
    """

KL_DIV = LossFamily(
    signature=_kl_div,
    prepare=_prepare_kl_div,
    grad_doc="""Gradient of :func:`kl_div` with respect to `input`: ``-grad_output * t``
    (``-grad_output * exp(t)`` with `log_target`), divided by the element
    count for ``'mean'`` and by ``input.shape[0]`` for ``'batchmean'``. It
    does not depend on the input, which is not read.

    `grad_output` is a scalar for the reductions (default 1) and an array of
    the input's shape for ``'none'`` (default ones). `out`: an array of the
    input's shape and dtype to write the gradient into, or `input` itself
    (in place). Returns an array shaped and typed like `input`.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> ll.kl_div_grad(np.log([[0.9, 0.1]]), [[0.5, 0.5]], reduction="batchmean")
    array([[-0.5, -0.5]])
    """,
    value_and_grad_doc="""``(loss, grad)`` of :func:`kl_div` in one fused pass (input and
    target read once); `out` as for the gradient.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> loss, grad = ll.kl_div_value_and_grad(np.log([0.25, 0.75]), [0.5, 0.5], reduction="sum")
    >>> round(float(loss), 6), grad
    (0.143841, array([-0.5, -0.5]))
    """,
    dask="elementwise",
    example=("[-0.5, -1.0, -2.0]", "[0.5, 0.25, 0.25]", ", reduction='batchmean'"),
    loss_object="KLDivLoss",
    loss_object_options=("reduction", "log_target"),
    reductions=BATCH_REDUCTIONS,
    target_broadcasts=True,
)
kl_div, kl_div_grad, kl_div_value_and_grad = KL_DIV.functions()
