"""logsumexp of complex input (SciPy's semantics): the dtype rules and the
call of the complex kernel (Note [Complex log-sum-exp] in
csrc/kernels/complex_logsumexp.cpp). Only logsumexp takes complex input;
every gradient and loss keeps refusing it."""

from __future__ import annotations

import numpy as np

from . import _core
from ._typing import Axis, FloatResult, InexactResult
from ._validation import (
    broadcast_shape,
    broadcast_to_shape,
    compute_dtype,
    dtype_name,
    reduction_layout,
)

_COMPLEX: dict[int, np.dtype] = {8: np.dtype(np.complex64), 16: np.dtype(np.complex128)}


def is_complex(*arrays: np.ndarray | None) -> bool:
    return any(a is not None and a.dtype.kind == "c" for a in arrays)


def _real_part_dtype(dtype: np.dtype, func: str, arg: str) -> np.dtype:
    """The real dtype a value of `dtype` contributes to the complex result:
    complex64 -> float32, complex128 -> float64, real dtypes by NumPy's rules
    with 16-bit floats as float32 (complex has no 16-bit type)."""
    if dtype.kind == "c":
        if dtype.itemsize not in _COMPLEX:
            raise TypeError(f"{func}: {arg} has unsupported dtype {dtype_name(dtype)}; "
                            "complex input must be complex64 or complex128")
        return np.dtype(np.float32 if dtype.itemsize == 8 else np.float64)
    real = compute_dtype(dtype, func, arg)
    return np.dtype(np.float32) if real.itemsize == 2 else real


def complex_dtype(a: np.dtype, b: np.dtype | None, func: str) -> np.dtype:
    """complex64 or complex128: NumPy's result type of a and b (SciPy's
    promotion: integers count as float64)."""
    parts = [_real_part_dtype(a, func, "a")]
    if b is not None:
        parts.append(_real_part_dtype(b, func, "b"))
    return _COMPLEX[2 * np.result_type(*parts).itemsize]


def _as_complex(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a if a.dtype == dtype and a.dtype.isnative else a.astype(dtype)


def logsumexp(func: str, x: np.ndarray, b: np.ndarray | None, axis: Axis, keepdims: bool,
              return_sign: bool) -> InexactResult | tuple[FloatResult, InexactResult]:
    dtype = complex_dtype(x.dtype, None if b is None else b.dtype, func)
    real = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
    x = _as_complex(x, dtype)
    if b is not None:
        shape = broadcast_shape(func, x, b)
        x = broadcast_to_shape(x, shape)
        b = broadcast_to_shape(_as_complex(b, dtype), shape)
    x, b, layout = reduction_layout(func, x, b, axis)
    lse = np.empty(layout.reduced_shape, real if return_sign else dtype)
    sign = np.empty(layout.reduced_shape, dtype) if return_sign else None
    _core.logsumexp_complex(layout.view3(x), None if b is None else layout.view3(b), lse, sign)
    shape = layout.kept_shape if keepdims else layout.reduced_shape
    out = lse.reshape(shape)
    s = None if sign is None else sign.reshape(shape)
    if s is None:
        return out[()] if out.ndim == 0 else out
    return (out[()] if out.ndim == 0 else out), (s[()] if s.ndim == 0 else s)
