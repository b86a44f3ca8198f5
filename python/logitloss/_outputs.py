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
