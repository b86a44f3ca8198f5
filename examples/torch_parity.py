"""logitloss next to PyTorch on the seed examples of the torch.nn docs.
====================================================================

Runs the examples of ``torch.nn.CrossEntropyLoss`` (class indices, class
probabilities, and with per-class weights) and ``torch.nn.BCEWithLogitsLoss``
(with ``pos_weight``) through both libraries, printing the losses and the
largest gradient difference side by side. Exits 1 on a mismatch, and 0 with
a message when PyTorch is not installed.

Run::

    pip install logitloss torch
    python examples/torch_parity.py
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

import logitloss as ll

Array = npt.NDArray[Any]
#: Float32 as in the docs; both libraries accumulate differently, so compare
#: to a few float32 ulps of the values involved.
RTOL, ATOL = 1e-5, 1e-6


def torch_value_and_grad(
    loss_fn: Callable[[Any, Any], Any], input: Any, target: Any
) -> tuple[float, Array]:
    x = input.detach().clone().requires_grad_(True)
    out = loss_fn(x, target)
    out.backward()
    return float(out.item()), x.grad.numpy()


def compare(
    name: str,
    torch_fn: Callable[[Any, Any], Any],
    ll_fn: Any,
    input: Any,
    target: Any,
) -> bool:
    t_value, t_grad = torch_value_and_grad(torch_fn, input, target)
    value, grad = ll_fn.value_and_grad(input.detach().numpy(), target.numpy())
    value_ok = bool(np.isclose(float(value), t_value, rtol=RTOL, atol=ATOL))
    grad_ok = bool(np.allclose(grad, t_grad, rtol=RTOL, atol=ATOL))
    grad_diff = float(np.max(np.abs(np.asarray(grad, np.float64) - t_grad)))
    status = "ok" if value_ok and grad_ok else "MISMATCH"
    print(f"{name:<44} {t_value:>12.7f} {float(value):>12.7f} {grad_diff:>12.2e}  {status}")
    return value_ok and grad_ok


def main() -> int:
    try:
        import torch
    except ImportError:
        print("torch_parity: PyTorch is not installed; nothing to compare (pip install torch)")
        return 0

    torch.manual_seed(0)
    results: list[bool] = []
    print(f"{'example (torch.nn docs)':<44} {'torch':>12} {'logitloss':>12} {'max |dgrad|':>12}")

    # torch.nn.CrossEntropyLoss: "Example of target with class indices"
    input = torch.randn(3, 5, requires_grad=True)
    target = torch.empty(3, dtype=torch.long).random_(5)
    results.append(
        compare(
            "CrossEntropyLoss, class indices",
            torch.nn.CrossEntropyLoss(), ll.CrossEntropyLoss(), input, target,
        )
    )

    # "Example of target with class probabilities"
    input = torch.randn(3, 5, requires_grad=True)
    target = torch.randn(3, 5).softmax(dim=1)
    results.append(
        compare(
            "CrossEntropyLoss, class probabilities",
            torch.nn.CrossEntropyLoss(), ll.CrossEntropyLoss(), input, target,
        )
    )

    # The same with a manual rescaling weight per class (the `weight` argument).
    weight = torch.rand(5) + 0.5
    input = torch.randn(3, 5, requires_grad=True)
    target = torch.empty(3, dtype=torch.long).random_(5)
    results.append(
        compare(
            "CrossEntropyLoss(weight), class indices",
            torch.nn.CrossEntropyLoss(weight=weight),
            ll.CrossEntropyLoss(weight=weight.numpy()), input, target,
        )
    )
    target = torch.randn(3, 5).softmax(dim=1)
    results.append(
        compare(
            "CrossEntropyLoss(weight), probabilities",
            torch.nn.CrossEntropyLoss(weight=weight),
            ll.CrossEntropyLoss(weight=weight.numpy()), input, target,
        )
    )

    # torch.nn.BCEWithLogitsLoss: 64 classes, batch size 10, pos_weight of ones
    # ("-log(sigmoid(1.5))"), then a pos_weight that is not all ones.
    target = torch.ones([10, 64], dtype=torch.float32)
    output = torch.full([10, 64], 1.5)
    pos_weight = torch.ones([64])
    results.append(
        compare(
            "BCEWithLogitsLoss(pos_weight=ones(64))",
            torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight),
            ll.BCEWithLogitsLoss(pos_weight=pos_weight.numpy()), output, target,
        )
    )
    pos_weight = torch.rand(64) * 4
    output = torch.randn(10, 64)
    target = torch.empty(10, 64).random_(2)
    results.append(
        compare(
            "BCEWithLogitsLoss(pos_weight=rand(64)*4)",
            torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight),
            ll.BCEWithLogitsLoss(pos_weight=pos_weight.numpy()), output, target,
        )
    )
    # "Example of BCEWithLogitsLoss": a batch of 3 with binary targets.
    input = torch.randn(3, requires_grad=True)
    target = torch.empty(3).random_(2)
    results.append(
        compare("BCEWithLogitsLoss()", torch.nn.BCEWithLogitsLoss(), ll.BCEWithLogitsLoss(),
                input, target)
    )

    failed = results.count(False)
    print(f"{len(results) - failed}/{len(results)} examples match torch {torch.__version__}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
