"""logitloss: fast, exact log-sum-exp, softmax cross-entropy, NLL and
BCE-with-logits losses and their gradients for NumPy."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .logsumexp import (
    log_softmax,
    log_softmax_grad,
    logsumexp,
    logsumexp_grad,
    softmax,
    softmax_grad,
)
# --- cross-entropy family
from .cross_entropy import (
    cross_entropy,
    cross_entropy_grad,
    cross_entropy_value_and_grad,
    nll_loss,
    nll_loss_grad,
    nll_loss_value_and_grad,
)
from .losses import CrossEntropyLoss, NLLLoss
# --- end cross-entropy family
from .runtime import _configure_from_environment, build_info, get_num_threads, set_num_threads

try:
    __version__: str = version("logitloss")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "logsumexp",
    "log_softmax",
    "softmax",
    "logsumexp_grad",
    "log_softmax_grad",
    "softmax_grad",
    # --- cross-entropy family
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_value_and_grad",
    "nll_loss",
    "nll_loss_grad",
    "nll_loss_value_and_grad",
    "CrossEntropyLoss",
    "NLLLoss",
    # --- end cross-entropy family
    "get_num_threads",
    "set_num_threads",
    "build_info",
]

_configure_from_environment()
