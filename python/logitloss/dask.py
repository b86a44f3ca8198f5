"""Dask versions of logitloss's functions: lazy, chunked, exact.

``logitloss.dask.<name>`` takes Dask arrays (NumPy arrays and array-likes are
wrapped) with the signature of ``logitloss.<name>`` and returns lazy Dask
results; nothing is computed until ``.compute()`` / ``dask.compute``. Each
chunk runs the in-memory kernel, so results equal the in-memory function's
to rounding:

* The class axis (the reduced axes of the softmax family) is kept in one
  chunk: arrays split along it are rechunked (``{class axes: -1, other axes:
  'auto'}``), then every chunk holds whole rows.
* ``logsumexp`` over axes that span several chunks (``axis=None``, or a tuple
  of axes) is not rechunked: each chunk's log-sum-exp (with its sign) is
  combined by a log-sum-exp of the per-chunk results, which is exact up to
  the rounding of the partial results.
* ``'sum'`` reductions add the per-chunk sums (in float64); ``'mean'`` with
  class-index targets divides the summed per-chunk weighted losses by the
  summed per-chunk weight denominators (never a mean of means); the other
  means divide by the number of samples or elements.
* Gradients with ``reduction='mean'`` compute that global denominator first
  (lazily, in the same graph) and pass ``grad_output / denominator`` to each
  chunk's ``'sum'`` gradient, which is what the in-memory function does.

Argument types, shapes, axes and option values are checked when the lazy
result is built; value errors that need the data (a class index out of range)
are raised by ``compute()``, with the in-memory function's message.

Importing ``logitloss`` never imports Dask; this module needs the ``dask``
extra: ``pip install "logitloss[dask]"``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "logitloss.dask needs Dask; install the extra: pip install 'logitloss[dask]' "
        "(dask[array], distributed, zarr)"
    ) from exc

import logitloss as _lse  # the public functions (the package is initialised first)
from ._validation import as_array, compute_dtype, normalize_axes, result_float

__all__ = [
    "logsumexp",
    "log_softmax",
    "softmax",
    "logsumexp_grad",
    "log_softmax_grad",
    "softmax_grad",
]


# ------------------------------------------------------------------ helpers


def _dask(value: Any, func: str, arg: str) -> da.Array:
    """`value` as a Dask array (array-likes become one chunk)."""
    if isinstance(value, da.Array):
        return value
    return da.from_array(as_array(value, func, arg), chunks=-1)


def _meta(ndim: int, dtype: np.dtype) -> np.ndarray:
    return np.empty((0,) * ndim, dtype)


def _class_chunked(x: da.Array, axes: tuple[int, ...]) -> da.Array:
    """`x` with every axis in `axes` in a single chunk (whole rows per chunk);
    the other axes are re-split by Dask's 'auto' rule to keep chunk sizes."""
    if all(x.numblocks[d] == 1 for d in axes):
        return x
    return x.rechunk({d: (-1 if d in axes else "auto") for d in range(x.ndim)})


def _kept_chunks(x: da.Array, axes: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """x's chunks with each reduced axis as one chunk of size 1 per block."""
    return tuple((1,) * x.numblocks[d] if d in axes else x.chunks[d] for d in range(x.ndim))


def _broadcast_pair(
    func: str, x: da.Array, b: da.Array, names: tuple[str, str]
) -> tuple[da.Array, da.Array]:
    try:
        shape = np.broadcast_shapes(x.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{func}: {names[1]} with shape {b.shape} does not broadcast against "
            f"{names[0]} with shape {x.shape}"
        ) from None
    x = da.broadcast_to(x, shape)
    return x, da.broadcast_to(b, shape).rechunk(x.chunks)


# -------------------------------------------------- log-sum-exp family


def _lse_block(x: np.ndarray, b: np.ndarray | None = None, *, axes: tuple[int, ...],
               sign: bool) -> np.ndarray:
    """In-memory logsumexp of one chunk, keepdims; with `sign`, the result and
    its sign stacked along a new leading axis."""
    res = _lse.logsumexp(x, axis=axes, b=b, keepdims=True, return_sign=sign)
    if sign:
        return np.stack([np.asarray(res[0]), np.asarray(res[1])])
    return np.asarray(res)


def _lse_map(x: da.Array, b: da.Array | None, axes: tuple[int, ...], sign: bool,
             dtype: np.dtype) -> tuple[da.Array, da.Array | None]:
    """Per-chunk keepdims logsumexp (and sign): one entry per chunk along axes."""
    chunks = _kept_chunks(x, axes)
    args = [x] if b is None else [x, b]
    fn = functools.partial(_lse_block, axes=axes, sign=sign)
    if not sign:
        return da.map_blocks(fn, *args, chunks=chunks, dtype=dtype, meta=_meta(x.ndim, dtype)), None
    both = da.map_blocks(fn, *args, chunks=((2,), *chunks), new_axis=0, dtype=dtype,
                         meta=_meta(x.ndim + 1, dtype))
    return both[0], both[1]


def logsumexp(
    a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False
) -> Any:
    """Lazy :func:`logitloss.logsumexp` of a Dask array.

    Axes within one chunk run the in-memory function per chunk. Axes that
    span chunks are not rechunked: each chunk's log-sum-exp and sign are
    combined by a log-sum-exp of the partial results (weighted by their
    signs), exact up to the partials' rounding. Returns a Dask array (and
    its sign with ``return_sign``).
    """
    func = "logsumexp"
    x = _dask(a, func, "a")
    bb = None
    if b is None:
        dtype = compute_dtype(x.dtype, func, "a")
    else:
        bb = _dask(b, func, "b")
        dtype = result_float(x.dtype, bb.dtype, func=func, args=("a", "b"))
        x, bb = _broadcast_pair(func, x, bb, ("a", "b"))
    if x.ndim == 0:  # SciPy treats a scalar as a 1-element vector
        x = x.reshape(1)
        bb = None if bb is None else bb.reshape(1)
    axes = normalize_axes(axis, x.ndim, func)
    if all(x.numblocks[d] == 1 for d in axes):
        lse, sign = _lse_map(x, bb, axes, return_sign, dtype)
    else:
        # Partial sums may be negative only with b: then carry their signs.
        parts, part_sign = _lse_map(x, bb, axes, bb is not None, dtype)
        parts = parts.rechunk({d: -1 for d in axes})
        if part_sign is not None:
            part_sign = part_sign.rechunk(parts.chunks)
        lse, sign = _lse_map(parts, part_sign, axes, return_sign, dtype)
    if not keepdims:
        lse = lse.squeeze(axis=axes)
        sign = None if sign is None else sign.squeeze(axis=axes)
    return (lse, sign) if return_sign else lse


def _softmax_like(fn: Callable[..., Any], func: str, x: Any, axis: Any) -> da.Array:
    arr = _dask(x, func, "x")
    dtype = compute_dtype(arr.dtype, func, "x")
    if arr.ndim == 0:
        return arr.map_blocks(fn, dtype=dtype, meta=_meta(0, dtype))
    axes = normalize_axes(axis, arr.ndim, func)
    arr = _class_chunked(arr, axes)
    return arr.map_blocks(functools.partial(fn, axis=axes), dtype=dtype,
                          meta=_meta(arr.ndim, dtype))


def softmax(x: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.softmax`; the axes in `axis` are brought into
    one chunk (``axis=None``: the whole array)."""
    return _softmax_like(_lse.softmax, "softmax", x, axis)


def log_softmax(x: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.log_softmax`; the axes in `axis` are brought
    into one chunk (``axis=None``: the whole array)."""
    return _softmax_like(_lse.log_softmax, "log_softmax", x, axis)


def _softmax_grad_like(fn: Callable[..., Any], func: str, x: Any, grad_output: Any,
                       axis: Any) -> da.Array:
    arr = _dask(x, func, "x")
    g = _dask(grad_output, func, "grad_output")
    dtype = compute_dtype(arr.dtype, func, "x")
    compute_dtype(g.dtype, func, "grad_output")
    if g.shape != arr.shape:
        raise ValueError(
            f"{func}: grad_output has shape {g.shape}; expected the shape of x, {arr.shape}"
        )
    axes = normalize_axes(axis, arr.ndim, func) if arr.ndim else ()
    arr = _class_chunked(arr, axes)
    g = g.rechunk(arr.chunks)
    block = functools.partial(fn, axis=axes) if arr.ndim else fn
    return da.map_blocks(block, arr, g, dtype=dtype, meta=_meta(arr.ndim, dtype))


def softmax_grad(x: Any, grad_output: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.softmax_grad` (class axes in one chunk)."""
    return _softmax_grad_like(_lse.softmax_grad, "softmax_grad", x, grad_output, axis)


def log_softmax_grad(x: Any, grad_output: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.log_softmax_grad` (class axes in one chunk)."""
    return _softmax_grad_like(_lse.log_softmax_grad, "log_softmax_grad", x, grad_output, axis)


def _lse_grad_block(x: np.ndarray, *rest: np.ndarray, axes: tuple[int, ...], has_b: bool,
                    has_g: bool) -> np.ndarray:
    b = rest[0] if has_b else None
    g = rest[-1] if has_g else None
    return np.asarray(_lse.logsumexp_grad(x, axis=axes, b=b, grad_output=g))


def logsumexp_grad(a: Any, axis: Any = None, b: Any = None, grad_output: Any = None) -> da.Array:
    """Lazy :func:`logitloss.logsumexp_grad`, shaped like `a`.

    The reduced axes are brought into one chunk so that each chunk's
    gradient is the in-memory one; `grad_output` (shaped like logsumexp's
    result, with or without the kept axes) is aligned to those chunks.
    """
    func = "logsumexp_grad"
    x = _dask(a, func, "a")
    shape_a = x.shape
    bb = None
    if b is None:
        dtype = compute_dtype(x.dtype, func, "a")
    else:
        bb = _dask(b, func, "b")
        dtype = result_float(x.dtype, bb.dtype, func=func, args=("a", "b"))
        x, bb = _broadcast_pair(func, x, bb, ("a", "b"))
    if x.ndim == 0:
        x = x.reshape(1)
        bb = None if bb is None else bb.reshape(1)
    axes = normalize_axes(axis, x.ndim, func)
    reduced = tuple(n for d, n in enumerate(x.shape) if d not in axes)
    kept = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    x = _class_chunked(x, axes)
    args = [x]
    if bb is not None:
        args.append(bb.rechunk(x.chunks))
    if grad_output is not None:
        g = _dask(grad_output, func, "grad_output")
        compute_dtype(g.dtype, func, "grad_output")
        if g.shape not in (reduced, kept):
            raise ValueError(
                f"{func}: grad_output has shape {g.shape}; expected {reduced} or {kept} "
                "(the shape of the result, without or with keepdims)"
            )
        args.append(g.reshape(kept).rechunk(_kept_chunks(x, axes)))
    fn = functools.partial(_lse_grad_block, axes=axes, has_b=bb is not None,
                           has_g=grad_output is not None)
    out = da.map_blocks(fn, *args, dtype=dtype, meta=_meta(x.ndim, dtype))
    if out.shape != shape_a:  # a was broadcast against b (or was a scalar)
        lead = out.ndim - len(shape_a)
        summed = tuple(range(lead)) + tuple(
            lead + d for d, n in enumerate(shape_a) if n == 1 and out.shape[lead + d] != 1
        )
        if summed:
            out = out.sum(axis=summed, keepdims=True, dtype=dtype)
        out = out.reshape(shape_a)
    return out


def _ieee_div(num: float, den: float) -> float:
    """num / den with IEEE semantics (x / 0 = +-inf, 0 / 0 = NaN)."""
    if den != 0 or math.isnan(den):
        return num / den
    if math.isnan(num) or num == 0:
        return math.nan
    return math.copysign(math.inf, num) * math.copysign(1.0, den)
