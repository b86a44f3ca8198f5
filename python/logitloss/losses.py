"""Loss objects: drop-in replacements for the ``torch.nn`` loss modules.

Each holds its options and is callable as ``loss_fn(input, target)``, with
``.grad(input, target, grad_output=None)`` and ``.value_and_grad(input,
target)``. Options are validated by the functions on each call, exactly as
for the functional forms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .binary import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    binary_cross_entropy_with_logits_value_and_grad,
)
from .cross_entropy import (
    cross_entropy,
    cross_entropy_grad,
    cross_entropy_value_and_grad,
    nll_loss,
    nll_loss_grad,
    nll_loss_value_and_grad,
)

__all__ = ["CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"]


class _Loss:
    """A loss function with fixed keyword options: subclasses name the three
    functions and the options they pass."""

    _value: Any
    _grad: Any
    _value_and_grad: Any

    def __init__(self, **options: Any) -> None:
        self._options = options

    def __getattr__(self, name: str) -> Any:
        options = self.__dict__.get("_options", {})
        if name in options:
            return options[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __call__(self, input: Any, target: Any) -> Any:
        """The loss of `input` against `target` with this object's options.

        Parameters
        ----------
        input, target : array_like
            As for the functional form (see the class's summary line).

        Returns
        -------
        loss : scalar or ndarray
            A NumPy scalar for ``'mean'``/``'sum'``, an array for ``'none'``.

        Examples
        --------
        >>> import logitloss as ll
        >>> float(ll.CrossEntropyLoss(reduction="sum")([[0.0, 0.0]], [1]))
        0.6931471805599453
        """
        return type(self)._value(input, target, **self._options)

    def grad(self, input: Any, target: Any, grad_output: Any = None) -> np.ndarray:
        """The gradient of the loss with respect to `input`.

        Parameters
        ----------
        input, target : array_like
            As for :meth:`__call__`.
        grad_output : scalar or array_like, optional
            The upstream gradient: a scalar for ``'mean'``/``'sum'``
            (default 1), an array of the loss's shape for ``'none'``.

        Returns
        -------
        grad : ndarray
            Shaped and typed like `input`.

        Examples
        --------
        >>> import logitloss as ll
        >>> ll.CrossEntropyLoss().grad([[0.0, 0.0]], [1])
        array([[ 0.5, -0.5]])
        """
        grad: np.ndarray = type(self)._grad(
            input, target, grad_output=grad_output, **self._options
        )
        return grad

    def value_and_grad(self, input: Any, target: Any) -> tuple[Any, np.ndarray]:
        """``(self(input, target), self.grad(input, target))`` in one fused pass.

        Parameters
        ----------
        input, target : array_like
            As for :meth:`__call__`.

        Returns
        -------
        loss : scalar or ndarray
            As :meth:`__call__` returns it.
        grad : ndarray
            As :meth:`grad` returns it (with the default `grad_output`).

        Examples
        --------
        >>> import logitloss as ll
        >>> loss, grad = ll.BCEWithLogitsLoss().value_and_grad([0.0, 0.0], [1.0, 0.0])
        >>> float(loss), grad
        (0.6931471805599453, array([-0.25,  0.25]))
        """
        value_and_grad: tuple[Any, np.ndarray] = type(self)._value_and_grad(
            input, target, **self._options
        )
        return value_and_grad

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}" for k, v in self._options.items() if k != "weight" or v is not None
        )
        return f"{type(self).__name__}({shown})"


class CrossEntropyLoss(_Loss):
    """``torch.nn.CrossEntropyLoss`` for NumPy: see :func:`cross_entropy`.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss_fn = ll.CrossEntropyLoss(label_smoothing=0.1)
    >>> value, grad = loss_fn.value_and_grad([[2.0, 0.0]], [0])
    """

    _value = staticmethod(cross_entropy)
    _grad = staticmethod(cross_entropy_grad)
    _value_and_grad = staticmethod(cross_entropy_value_and_grad)

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        axis: Any = None,
    ) -> None:
        super().__init__(
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class NLLLoss(_Loss):
    """``torch.nn.NLLLoss`` for NumPy: see :func:`nll_loss`.

    Examples
    --------
    >>> import logitloss as ll
    >>> loss_fn = ll.NLLLoss()
    >>> log_probs = ll.log_softmax([[2.0, 0.0]], axis=1)
    >>> round(float(loss_fn(log_probs, [0])), 6)
    0.126928
    """

    _value = staticmethod(nll_loss)
    _grad = staticmethod(nll_loss_grad)
    _value_and_grad = staticmethod(nll_loss_value_and_grad)

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        axis: Any = None,
    ) -> None:
        super().__init__(weight=weight, ignore_index=ignore_index, reduction=reduction, axis=axis)


class BCEWithLogitsLoss(_Loss):
    """``torch.nn.BCEWithLogitsLoss`` for NumPy: see
    :func:`binary_cross_entropy_with_logits` (same argument order as torch).

    Examples
    --------
    >>> import logitloss as ll
    >>> loss_fn = ll.BCEWithLogitsLoss(pos_weight=[2.0])
    >>> round(float(loss_fn([[0.0]], [[1.0]])), 6)
    1.386294
    """

    _value = staticmethod(binary_cross_entropy_with_logits)
    _grad = staticmethod(binary_cross_entropy_with_logits_grad)
    _value_and_grad = staticmethod(binary_cross_entropy_with_logits_value_and_grad)

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(weight=weight, reduction=reduction, pos_weight=pos_weight)
