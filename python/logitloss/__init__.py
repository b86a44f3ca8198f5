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
# --- issue 4: BCE-with-logits and sigmoid focal loss
from .binary import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    binary_cross_entropy_with_logits_value_and_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    sigmoid_focal_loss_value_and_grad,
)
from .losses import BCEWithLogitsLoss

# ---
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
    "get_num_threads",
    "set_num_threads",
    "build_info",
    # issue 4
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_value_and_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "sigmoid_focal_loss_value_and_grad",
    "BCEWithLogitsLoss",
]

_configure_from_environment()
