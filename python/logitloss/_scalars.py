"""Reduced results as Python floats and NumPy scalars, with IEEE semantics:
no warning of our own, and NumPy's where NumPy would give one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def ieee_div(num: float, den: float) -> float:
    """num / den with IEEE semantics (x / 0 = +-inf, 0 / 0 = NaN)."""
    if den != 0 or math.isnan(den):
        return num / den
    if math.isnan(num) or num == 0:
        return math.nan
    return math.copysign(math.inf, num) * math.copysign(1.0, den)


def as_scalar(dtype: np.dtype, value: float) -> Any:
    """value rounded to dtype, as NumPy rounds: beyond the dtype's range it
    is inf, with NumPy's overflow warning under the caller's np.errstate
    (a RuntimeWarning by default, an error under over='raise', nothing under
    over='ignore'), like a NumPy float16 sum that overflows."""
    return dtype.type(value)
