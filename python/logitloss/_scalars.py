"""Reduced results as Python floats and NumPy scalars, with IEEE semantics
and without the per-call cost of np.errstate on the common path."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_FLOAT64 = np.dtype(np.float64)
_SMALLEST_MAX = 65504.0  # float16's; every result dtype holds values up to it


def ieee_div(num: float, den: float) -> float:
    """num / den with IEEE semantics (x / 0 = +-inf, 0 / 0 = NaN)."""
    if den != 0 or math.isnan(den):
        return num / den
    if math.isnan(num) or num == 0:
        return math.nan
    return math.copysign(math.inf, num) * math.copysign(1.0, den)


def as_scalar(dtype: np.dtype, value: float) -> Any:
    """value rounded to dtype; beyond its range that is inf, silently (as torch)."""
    if abs(value) <= _SMALLEST_MAX or dtype == _FLOAT64:
        return dtype.type(value)
    with np.errstate(over="ignore"):
        return dtype.type(value)
