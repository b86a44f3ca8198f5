"""Type stub for the compiled kernels (csrc/bindings.cpp).

Internal: the public modules validate every argument before calling these.
Arrays are (outer, classes, inner) views of one kernel dtype (float32,
float64, float16, bfloat16); outputs are preallocated and filled in place.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.generic]

compiler: str

# --- log-sum-exp family
def logsumexp(x: _Array, b: _Array | None, lse: _Array, sign: _Array | None) -> None: ...
def logsumexp_complex(a: _Array, b: _Array | None, lse: _Array, sign: _Array | None) -> None: ...
def softmax(x: _Array, out: _Array, log: bool) -> None: ...
def logsumexp_grad(x: _Array, b: _Array | None, g: _Array, out: _Array) -> None: ...
def softmax_grad(x: _Array, g: _Array, out: _Array, log: bool) -> None: ...

# --- cross-entropy family
def cross_entropy(
    x: _Array,
    target: _Array | None,
    prob: _Array | None,
    weight: _Array | None,
    ignore_index: int,
    has_ignore: bool,
    smoothing: float,
    softcap: float,
    z_loss: float,
    loss: _Array | None,
    target_weight: _Array | None,
    grad: _Array | None,
    grad_scale: _Array | None,
    grad_scalar: float,
    nll: bool,
) -> int: ...
def cross_entropy_variant(
    x: _Array,
    target: _Array | None,
    prob: _Array | None,
    weight: _Array | None,
    ignore_index: int,
    has_ignore: bool,
    smoothing: float,
    variant: int,
    epsilon: float,
    gamma: float,
    alpha: _Array | None,
    alpha_scalar: float,
    loss: _Array | None,
    target_weight: _Array | None,
    grad: _Array | None,
    grad_scale: _Array | None,
    grad_scalar: float,
) -> int: ...

# --- divergences: kind 0 KL(P || Q), 1 KL(Q || P), 2 generalized JSD
def divergence(
    x: _Array,
    y: _Array,
    kind: int,
    beta: float,
    inv_temperature: float,
    loss: _Array | None,
    grad: _Array | None,
    grad_scale: _Array | None,
    grad_scalar: float,
) -> None: ...

# --- BCE-with-logits and sigmoid focal loss
def binary_loss(
    kind: str,
    x: _Array,
    y: _Array | None,
    w: _Array | None,
    pw: _Array | None,
    alpha: float,
    gamma: float,
    loss_out: _Array | None,
    partials: _Array | None,
    grad_out: _Array | None,
    g: _Array | None,
    g_scalar: float,
) -> int: ...
def binary_loss_blocks(size: int) -> int: ...
def strided_view(a: _Array, shape: Sequence[int], strides: Sequence[int]) -> _Array: ...
def _vector_math(name: str, x: _Array) -> _Array: ...

# --- integrations: gradient-boosting objectives (logitloss.objectives)
def softmax_objective(
    x: _Array,
    labels: _Array,
    weight: _Array | None,
    grad: _Array,
    hess: _Array,
    hessian: int,
    focal: bool,
    gamma: float,
    class_alpha: npt.NDArray[np.float64] | None,
) -> tuple[int, int]: ...
def logistic_objective(
    x: _Array,
    y: _Array,
    weight: _Array | None,
    grad: _Array,
    hess: _Array,
    hessian: int,
    focal: bool,
    alpha: float,
    gamma: float,
) -> tuple[int, int]: ...

# --- runtime
def row_sum(a: npt.NDArray[np.float64]) -> float: ...
def recycled_empty(shape: Sequence[int], dtype: np.dtype[Any]) -> _Array: ...
def buffer_cache_info() -> tuple[int, int]: ...
def release_cached_buffers() -> None: ...

buffer_recycling_supported: bool
def cross_entropy_reduced(
    x: _Array, target: npt.NDArray[np.int64], ignore_index: int, has_ignore: bool
) -> tuple[int, float, float]: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def simd_levels_built() -> list[str]: ...
def simd_levels_supported() -> list[str]: ...
def simd_level() -> str: ...
def set_simd_level(name: str) -> bool: ...
