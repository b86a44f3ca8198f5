"""Threads, SIMD level and build information."""

from __future__ import annotations

import operator
import os
import warnings
from typing import Any

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "build_info"]


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Number of threads the kernels use (1 = the calling thread only).

    Set at import from ``LOGITLOSS_NUM_THREADS`` (default: the cores this
    process may use) and changed by :func:`set_num_threads`.

    Returns
    -------
    int
        The thread count, at least 1.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.get_num_threads() >= 1
    True
    """
    return int(_core.get_num_threads())


def set_num_threads(n: int) -> None:
    """Use `n` threads (>= 1) for large inputs; results do not depend on it.

    Parameters
    ----------
    n : int
        Number of threads, the calling one included. Inputs of less than
        about 32k elements run on the calling thread alone.

    Raises
    ------
    TypeError
        If `n` is not an integer.
    ValueError
        If `n` < 1.

    Examples
    --------
    >>> import logitloss as ll
    >>> before = ll.get_num_threads()
    >>> ll.set_num_threads(1)
    >>> ll.get_num_threads()
    1
    >>> ll.set_num_threads(before)
    """
    if isinstance(n, bool):
        raise TypeError("set_num_threads: n must be an int, not bool")
    try:
        count = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads: n must be an int, not {type(n).__name__}") from None
    if count < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {count}")
    _core.set_num_threads(count)


def build_info() -> dict[str, Any]:
    """What this build is and what it runs on.

    Returns
    -------
    dict
        ``version``, ``compiler``, ``simd_built`` (levels compiled in),
        ``simd_supported`` (those this CPU runs), ``simd`` (the level in use;
        ``LOGITLOSS_SIMD`` lowers it) and ``num_threads``.

    Examples
    --------
    >>> import logitloss as ll
    >>> sorted(ll.build_info())
    ['compiler', 'num_threads', 'simd', 'simd_built', 'simd_supported', 'version']
    """
    from . import __version__

    return {
        "version": __version__,
        "compiler": str(_core.compiler),
        "simd_built": list(_core.simd_levels_built()),
        "simd_supported": list(_core.simd_levels_supported()),
        "simd": str(_core.simd_level()),
        "num_threads": get_num_threads(),
    }


def _configure_from_environment() -> None:
    """Applies LOGITLOSS_NUM_THREADS (default: the usable cores) and checks
    LOGITLOSS_SIMD, which the C++ side has already applied."""
    value = os.environ.get("LOGITLOSS_NUM_THREADS", "").strip()
    threads = _default_threads()
    if value:
        try:
            threads = int(value)
            if threads < 1:
                raise ValueError
        except ValueError:
            warnings.warn(
                f"LOGITLOSS_NUM_THREADS={value!r} is not a positive integer; "
                f"using {threads} threads",
                RuntimeWarning,
                stacklevel=3,
            )
            threads = _default_threads()
    _core.set_num_threads(threads)
    simd = os.environ.get("LOGITLOSS_SIMD", "").strip()
    if simd and simd != _core.simd_level():
        warnings.warn(
            f"LOGITLOSS_SIMD={simd!r} is not one of the supported levels "
            f"{list(_core.simd_levels_supported())}; using {_core.simd_level()!r}",
            RuntimeWarning,
            stacklevel=3,
        )
