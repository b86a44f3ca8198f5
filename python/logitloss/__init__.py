"""logitloss: fast, exact log-sum-exp, softmax cross-entropy, NLL and
BCE-with-logits losses and their gradients for NumPy."""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .binary import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    binary_cross_entropy_value_and_grad,
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
from .cross_entropy_variants import (
    poly1_cross_entropy,
    poly1_cross_entropy_grad,
    poly1_cross_entropy_value_and_grad,
    softmax_focal_loss,
    softmax_focal_loss_grad,
    softmax_focal_loss_value_and_grad,
)
from .divergences import (
    generalized_jsd,
    generalized_jsd_grad,
    generalized_jsd_value_and_grad,
    softmax_kl_div,
    softmax_kl_div_grad,
    softmax_kl_div_value_and_grad,
)
from .kl_div import kl_div, kl_div_grad, kl_div_value_and_grad
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
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, NLLLoss
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
    # cross-entropy variants: Poly-1 (optax), multi-class focal loss
    "poly1_cross_entropy",
    "poly1_cross_entropy_grad",
    "poly1_cross_entropy_value_and_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
    "softmax_focal_loss_value_and_grad",
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
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_value_and_grad",
    # divergences
    "kl_div",
    "kl_div_grad",
    "kl_div_value_and_grad",
    # loss objects (torch.nn)
    "CrossEntropyLoss",
    "NLLLoss",
    "BCEWithLogitsLoss",
    "BCELoss",
    "KLDivLoss",
    # runtime
    "get_num_threads",
    "set_num_threads",
    "build_info",
]

# Submodules reachable as attributes, imported on first use (PEP 562):
# `ll.objectives.softmax` works after a bare `import logitloss`, which itself
# never imports Dask (logitloss.dask) or a boosting library. They stay out of
# __all__, so `from logitloss import *` does not import them either.
_LAZY_SUBMODULES = ("objectives", "dask")

if TYPE_CHECKING:
    from . import dask as dask
    from . import objectives as objectives


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        # Binds the submodule as a package attribute: later lookups are direct.
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


_configure_from_environment()
