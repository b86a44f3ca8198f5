"""Labels, weights and outputs of the boosting objectives and metrics.

Labels and weights go to the kernels in the dtype the caller holds them in
(XGBoost and LightGBM hand out float32, users int64): the kernels read float32,
float64, int32, int64 and bool/uint8 directly and report the first bad row,
so the common cases make no converted copy and no validation pass here.
Outputs of a megabyte or more live on recycled buffers (Note [Recycled
outputs]): a boosting loop drops each round's gradient and Hessian right
after the library copies them, and the next round reuses their memory
instead of faulting in fresh pages (about 1 ms per 8 MB array here).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from . import _core, _outputs
from ._validation import as_array, compute_dtype

# dtypes the kernels read as they are (RowValues in csrc/kernels/api.h).
_KERNEL_LABEL_DTYPES = frozenset(
    np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_)
)
_RECYCLE_MIN_BYTES = 1 << 20


def kernel_values(a: np.ndarray) -> np.ndarray:
    """`a` (1-D, real) as an array the kernels read: itself when they can."""
    if a.dtype in _KERNEL_LABEL_DTYPES and a.dtype.isnative:
        return a
    if a.dtype.kind == "i" or (a.dtype.kind == "u" and a.dtype.itemsize < 8):
        return a.astype(np.int64)
    return a.astype(np.float64)  # float16, longdouble, uint64: exact or out of range anyway


def class_labels(labels: Any, n: int, func: str) -> np.ndarray:
    """Class ids for a softmax objective: integers, or floats holding integers."""
    y = as_array(labels, func, "labels")
    if y.dtype.kind not in "iuf":
        raise TypeError(
            f"{func}: labels has dtype {y.dtype}; expected integer class ids "
            "(an integer array, or floats holding integers)"
        )
    if y.shape != (n,):
        raise ValueError(
            f"{func}: labels has shape {y.shape}; expected ({n},), one per row of margins"
        )
    return kernel_values(y)


def binary_labels(labels: Any, n: int, func: str) -> np.ndarray:
    """Labels for a binary objective: 0/1 or soft labels in [0, 1]."""
    y = as_array(labels, func, "labels")
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"{func}: labels has unsupported dtype {y.dtype}; expected 0/1 or [0, 1] values"
        )
    if y.shape != (n,):
        raise ValueError(f"{func}: labels has shape {y.shape}; expected ({n},), one per margin")
    return kernel_values(y)


def sample_weight(weight: Any, n: int, func: str) -> np.ndarray | None:
    """Per-row weights as float32/float64 (the kernels check their values)."""
    if weight is None:
        return None
    w = as_array(weight, func, "sample_weight")
    compute_dtype(w.dtype, func, "sample_weight")  # TypeError for non-real dtypes
    if w.shape != (n,):
        raise ValueError(
            f"{func}: sample_weight has shape {w.shape}; expected ({n},), one per row"
        )
    if w.dtype in (np.float32, np.float64) and w.dtype.isnative:
        return w
    return w.astype(np.float64)


def raise_bad_rows(bad: tuple[int, int], labels: np.ndarray, func: str, classes: int) -> None:
    """The error for the first bad label or weight a kernel reported
    (classes = 0: binary labels in [0, 1])."""
    bad_label, bad_weight = bad
    if bad_label >= 0:
        value = labels[bad_label].item()
        if classes == 0:
            raise ValueError(f"{func}: labels must lie in [0, 1] (0/1 or soft labels)")
        if isinstance(value, float) and not float(value).is_integer():
            raise ValueError(f"{func}: labels holds {value}, which is not an integer class id")
        raise IndexError(f"{func}: label {int(value)} is out of range for {classes} classes")
    if bad_weight >= 0:
        raise ValueError(f"{func}: sample_weight must be finite and non-negative")


def output(shape: tuple[int, ...], dtype: np.dtype, order: Literal["C", "F"] = "C") -> np.ndarray:
    """An uninitialised output, on a recycled buffer when large."""
    nbytes = math.prod(shape) * dtype.itemsize  # np.prod costs microseconds a call
    if not (_outputs._RECYCLING and nbytes >= _RECYCLE_MIN_BYTES):
        return np.empty(shape, dtype, order=order)
    if order == "F":
        return _core.recycled_empty(shape[::-1], dtype).T
    return _core.recycled_empty(shape, dtype)
