"""logitloss: fast, exact log-sum-exp, softmax cross-entropy, NLL and
BCE-with-logits losses and their gradients for NumPy."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .binary import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    binary_cross_entropy_with_logits_value_and_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    sigmoid_focal_loss_value_and_grad,
)
from .cross_entropy import (
    cross_entropy,
    cross_entropy_grad,
    cross_entropy_value_and_grad,
    nll_loss,
    nll_loss_grad,
    nll_loss_value_and_grad,
)
from .divergences import (
    generalized_jsd,
    generalized_jsd_grad,
    generalized_jsd_value_and_grad,
    softmax_kl_div,
    softmax_kl_div_grad,
    softmax_kl_div_value_and_grad,
)
from .linear import (
    linear_cross_entropy,
    linear_cross_entropy_grad,
    linear_cross_entropy_value_and_grad,
)
from .logsumexp import (
    log_softmax,
    log_softmax_grad,
    logsumexp,
    logsumexp_grad,
    softmax,
    softmax_grad,
)
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from .runtime import _configure_from_environment, build_info, get_num_threads, set_num_threads

try:
    __version__: str = version("logitloss")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    # log-sum-exp family (scipy.special semantics)
    "logsumexp",
    "log_softmax",
    "softmax",
    "logsumexp_grad",
    "log_softmax_grad",
    "softmax_grad",
    # cross-entropy family (torch.nn.functional semantics)
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_value_and_grad",
    "nll_loss",
    "nll_loss_grad",
    "nll_loss_value_and_grad",
    # large vocabularies: the logits never formed
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
    "linear_cross_entropy_value_and_grad",
    # divergences between softmaxes (knowledge distillation)
    "softmax_kl_div",
    "softmax_kl_div_grad",
    "softmax_kl_div_value_and_grad",
    "generalized_jsd",
    "generalized_jsd_grad",
    "generalized_jsd_value_and_grad",
    # binary losses
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_value_and_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "sigmoid_focal_loss_value_and_grad",
    # loss objects (torch.nn)
    "CrossEntropyLoss",
    "NLLLoss",
    "BCEWithLogitsLoss",
    # runtime
    "get_num_threads",
    "set_num_threads",
    "build_info",
]

_configure_from_environment()
