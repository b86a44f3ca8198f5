"""Loss objects: drop-in replacements for the ``torch.nn`` loss modules.

Each holds its options and is callable as ``loss_fn(input, target)``, with
``.grad(input, target, grad_output=None)`` and ``.value_and_grad(input, target)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .binary import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    binary_cross_entropy_with_logits_value_and_grad,
)

__all__ = ["BCEWithLogitsLoss"]


class BCEWithLogitsLoss:
    """:func:`~logitloss.binary_cross_entropy_with_logits` as an object, like
    :class:`torch.nn.BCEWithLogitsLoss` (same argument order)."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        self.weight = weight
        self.reduction = reduction
        self.pos_weight = pos_weight

    def __call__(self, input: Any, target: Any) -> Any:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction
        )

    def grad(self, input: Any, target: Any, grad_output: Any = None) -> np.ndarray:
        return binary_cross_entropy_with_logits_grad(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction,
            grad_output=grad_output,
        )

    def value_and_grad(self, input: Any, target: Any) -> tuple[Any, np.ndarray]:
        return binary_cross_entropy_with_logits_value_and_grad(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction
        )

    def __repr__(self) -> str:
        return (f"BCEWithLogitsLoss(weight={self.weight!r}, reduction={self.reduction!r}, "
                f"pos_weight={self.pos_weight!r})")
