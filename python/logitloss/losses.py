"""Loss objects: drop-in replacements for the ``torch.nn`` loss modules.

Each holds its options and is callable as ``loss_fn(input, target)``, with
``.grad(input, target, grad_output=None, out=None)`` and
``.value_and_grad(input, target, out=None)``. Options are validated by the
functions on each call, exactly as for the functional forms. A loss object
follows from its family's declaration (Note [Loss families]): its name and
the order of its options are declared there, the defaults are the function's.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from ._family import LossFamily
from .binary import BINARY_CROSS_ENTROPY, BINARY_CROSS_ENTROPY_WITH_LOGITS
from .cross_entropy import CROSS_ENTROPY, NLL_LOSS
from .kl_div import KL_DIV

__all__ = ["CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "KLDivLoss"]


class _Loss:
    """A loss function with fixed keyword options."""

    _functions: tuple[Callable[..., Any], Callable[..., np.ndarray],
                      Callable[..., tuple[Any, np.ndarray]]]
    _signature: inspect.Signature

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        self._options = dict(bound.arguments)

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
        return self._functions[0](input, target, **self._options)

    def grad(self, input: Any, target: Any, grad_output: Any = None,
             out: np.ndarray | None = None) -> np.ndarray:
        """The gradient of the loss with respect to `input`.

        Parameters
        ----------
        input, target : array_like
            As for :meth:`__call__`.
        grad_output : scalar or array_like, optional
            The upstream gradient: a scalar for ``'mean'``/``'sum'``
            (default 1), an array of the loss's shape for ``'none'``.
        out : ndarray, optional
            Where to write the gradient (an array of the input's shape and
            dtype, or `input` itself: in place), as for the functional form.

        Returns
        -------
        grad : ndarray
            Shaped and typed like `input` (`out` when given).

        Examples
        --------
        >>> import logitloss as ll
        >>> ll.CrossEntropyLoss().grad([[0.0, 0.0]], [1])
        array([[ 0.5, -0.5]])
        """
        return self._functions[1](input, target, grad_output=grad_output, out=out,
                                  **self._options)

    def value_and_grad(self, input: Any, target: Any,
                       out: np.ndarray | None = None) -> tuple[Any, np.ndarray]:
        """``(self(input, target), self.grad(input, target))`` in one fused pass.

        Parameters
        ----------
        input, target : array_like
            As for :meth:`__call__`.
        out : ndarray, optional
            As for :meth:`grad`.

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
        return self._functions[2](input, target, out=out, **self._options)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}" for k, v in self._options.items() if k != "weight" or v is not None
        )
        return f"{type(self).__name__}({shown})"


def loss_class(family: LossFamily, doc: str) -> type[_Loss]:
    """The torch.nn-style class of `family`: options in the declared order,
    with the function's defaults (an __init__ that ``inspect`` reads)."""
    assert family.loss_object is not None
    defaults = {p.name: p.default for p in family.parameters}
    params = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=defaults[name])
              for name in family.loss_object_options]
    signature = inspect.Signature(params)

    def __init__(self: _Loss, *args: Any, **kwargs: Any) -> None:
        _Loss.__init__(self, *args, **kwargs)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    cls = type(family.loss_object, (_Loss,), {
        "__init__": __init__, "__doc__": doc, "__module__": __name__,
        "_functions": family.functions(), "_signature": signature,
    })
    cls.__qualname__ = family.loss_object
    return cls


CrossEntropyLoss = loss_class(CROSS_ENTROPY, """\
``torch.nn.CrossEntropyLoss`` for NumPy: see :func:`cross_entropy`.

Examples
--------
>>> import logitloss as ll
>>> loss_fn = ll.CrossEntropyLoss(label_smoothing=0.1)
>>> value, grad = loss_fn.value_and_grad([[2.0, 0.0]], [0])
""")

NLLLoss = loss_class(NLL_LOSS, """\
``torch.nn.NLLLoss`` for NumPy: see :func:`nll_loss`.

Examples
--------
>>> import logitloss as ll
>>> loss_fn = ll.NLLLoss()
>>> log_probs = ll.log_softmax([[2.0, 0.0]], axis=1)
>>> round(float(loss_fn(log_probs, [0])), 6)
0.126928
""")

BCEWithLogitsLoss = loss_class(BINARY_CROSS_ENTROPY_WITH_LOGITS, """\
``torch.nn.BCEWithLogitsLoss`` for NumPy: see
:func:`binary_cross_entropy_with_logits` (same argument order as torch).

Examples
--------
>>> import logitloss as ll
>>> loss_fn = ll.BCEWithLogitsLoss(pos_weight=[2.0])
>>> round(float(loss_fn([[0.0]], [[1.0]])), 6)
1.386294
""")

BCELoss = loss_class(BINARY_CROSS_ENTROPY, """\
``torch.nn.BCELoss`` for NumPy: see :func:`binary_cross_entropy` (on
probabilities; same argument order as torch).

Examples
--------
>>> import logitloss as ll
>>> loss_fn = ll.BCELoss(reduction="sum")
>>> round(float(loss_fn([0.5, 0.9], [1.0, 0.0])), 6)
2.995732
""")

KLDivLoss = loss_class(KL_DIV, """\
``torch.nn.KLDivLoss`` for NumPy: see :func:`kl_div` (input: log-probabilities).

Examples
--------
>>> import numpy as np
>>> import logitloss as ll
>>> loss_fn = ll.KLDivLoss(reduction="batchmean", log_target=True)
>>> round(float(loss_fn(np.log([[0.9, 0.1]]), np.log([[0.5, 0.5]]))), 6)
0.510826
""")
