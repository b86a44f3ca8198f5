"""Output arrays. Large ones live on recycled buffers (Note [Recycled outputs]
in csrc/runtime/buffer_cache.h): a training loop's next gradient reuses the
memory of the one it just dropped instead of faulting in and zeroing fresh
pages. LOGITLOSS_RECYCLE_OUTPUTS=0 turns this off."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import _core

# Below this NumPy's allocator already reuses freed memory (glibc serves
# blocks under its 32 MiB mmap threshold from the heap once one was freed).
RECYCLE_MIN_BYTES = 32 << 20

_RECYCLING = (
    _core.buffer_recycling_supported and os.environ.get("LOGITLOSS_RECYCLE_OUTPUTS", "1") != "0"
)


def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised C-contiguous array, like np.empty."""
    if _RECYCLING:
        dtype = np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize >= RECYCLE_MIN_BYTES:
            return _core.recycled_empty(shape, dtype)
    return np.empty(shape, dtype)


# ------------------------------------------------------------------ out=


def checked_out(func: str, out: Any, input: np.ndarray | None, shape: tuple[int, ...],
                dtype: np.dtype, others: list[tuple[str, Any]]) -> np.ndarray:
    """`out` checked as the gradient's buffer (the contract's ``out=``): an
    ndarray of the gradient's shape and dtype (any strides), writable, with
    no element twice, that is `input` itself (in place) or shares no memory
    with it, nor with any of `others` (name, value). Nothing is written by a
    call whose `out` fails here."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: out must be a NumPy array, not {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{func}: out has dtype {out.dtype}; the gradient has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"{func}: out has shape {out.shape}; the gradient has shape {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{func}: out is read-only")
    if any(s == 0 and n > 1 for s, n in zip(out.strides, out.shape)):
        raise ValueError(f"{func}: out has a zero stride (a broadcast view): elements overlap")
    if input is not None and not _same_view(out, input) and _overlap(out, input):
        raise ValueError(f"{func}: out partly overlaps input; it may be input itself (in "
                         "place) or memory of its own")
    for name, value in others:
        if isinstance(value, np.ndarray) and _overlap(out, value):
            raise ValueError(f"{func}: out overlaps {name}")
    return out


# np.exceptions (NumPy >= 1.25) or the top level (older NumPy).
_TOO_HARD: type[Exception] = getattr(np, "exceptions", np).TooHardError


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """The same elements in the same places: in-place use."""
    return (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    if not np.may_share_memory(a, b):  # bounds only: cheap
        return False
    try:
        # A bounded search (NumPy's stubs admit only -1 and 0; positive is documented).
        return bool(np.shares_memory(a, b, max_work=1 << 16))  # type: ignore[arg-type]
    except _TOO_HARD:
        return True  # could not tell: refuse rather than risk it


def into(out: np.ndarray | None, result: np.ndarray) -> np.ndarray:
    """`result`, copied into `out` when `out` is given and is not it."""
    if out is None or result is out:
        return result
    np.copyto(out, result)
    return out


def writable_view(out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """`out` reshaped to `shape` as a view of its memory, or None where its
    strides need a copy (the caller then computes into a new array and copies)."""
    view = out.reshape(shape)
    return view if view.size == 0 or np.may_share_memory(view, out) else None
