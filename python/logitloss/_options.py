"""Option checks shared by every loss (in memory and in logitloss.dask): each
returns the normalised value or raises an error naming the option."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

REDUCTIONS = ("none", "mean", "sum")
#: kl_div's: torch's 'batchmean' divides the sum by input.shape[0].
BATCH_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def check_reduction(func: str, reduction: object, allowed: Sequence[str] = REDUCTIONS) -> str:
    if not isinstance(reduction, str) or reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{func}: reduction must be {names}, not {reduction!r}")
    return reduction


def check_real(func: str, name: str, value: object) -> float:
    """A real number (Python or NumPy scalar, or anything float() takes but
    strings)."""
    if isinstance(value, (str, bytes, bool, np.bool_)):  # float() would take them
        raise TypeError(f"{func}: {name} must be a real number, not {type(value).__name__}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(
            f"{func}: {name} must be a real number, not {type(value).__name__}"
        ) from None


def check_flag(func: str, name: str, value: object) -> bool:
    """A bool (Python or NumPy), as torch's flags take."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be a bool, not {type(value).__name__}")
    return bool(value)


def check_unit_interval(func: str, name: str, value: object) -> float:
    v = check_real(func, name, value)
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{func}: {name} must be in [0, 1], got {v}")
    return v


def check_ignore_index(func: str, ignore_index: object) -> int:
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{func}: ignore_index must be an integer, not bool")
    try:
        return operator.index(ignore_index)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{func}: ignore_index must be an integer, not {type(ignore_index).__name__}"
        ) from None


def check_softcap(func: str, softcap: object) -> float:
    """None -> 0.0 (no capping); else a finite c > 0."""
    if softcap is None:
        return 0.0
    c = check_real(func, "softcap", softcap)
    if not (c > 0 and math.isfinite(c)):
        raise ValueError(f"{func}: softcap must be a finite number > 0 or None, got {c}")
    return c


def check_z_loss(func: str, z_loss: object) -> float:
    z = check_real(func, "z_loss", z_loss)
    if not (z >= 0 and math.isfinite(z)):
        raise ValueError(f"{func}: z_loss must be a finite number >= 0, got {z}")
    return z


def check_finite(func: str, name: str, value: object) -> float:
    v = check_real(func, name, value)
    if not math.isfinite(v):
        raise ValueError(f"{func}: {name} must be a finite number, got {v}")
    return v


def check_nonnegative(func: str, name: str, value: object) -> float:
    """A finite real >= 0 (gamma, a scalar alpha)."""
    v = check_real(func, name, value)
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{func}: {name} must be a finite number >= 0, got {v}")
    return v


def check_temperature(func: str, temperature: object) -> float:
    """A finite T > 0 whose reciprocal is finite (the kernels scale by 1 / T)."""
    t = check_real(func, "temperature", temperature)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"{func}: temperature must be a finite number > 0, got {t}")
    if not math.isfinite(1.0 / t):
        raise ValueError(f"{func}: temperature {t} is too small: 1 / temperature overflows")
    return t
