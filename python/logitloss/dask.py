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
import operator
from typing import Any, Callable

import numpy as np

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "logitloss.dask needs Dask; install the extra: pip install 'logitloss[dask]' "
        "(dask[array], distributed, zarr)"
    ) from exc

import logitloss as _ll  # the public functions (the package is initialised first)

from ._scalars import as_scalar, ieee_div
from ._validation import as_array, compute_dtype, normalize_axes, normalize_axis, result_float

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
    res: Any = _ll.logsumexp(x, axis=axes, b=b, keepdims=True, return_sign=sign)
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
        lse = da.map_blocks(fn, *args, chunks=chunks, dtype=dtype, meta=_meta(x.ndim, dtype))
        return lse, None
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

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0], [1000.0, 0.0], [1.0, 2.0]]), chunks=(2, 1))
    >>> lld.logsumexp(x, axis=1).compute()
    array([6.93147181e-01, 1.00000000e+03, 2.31326169e+00])
    >>> lld.logsumexp(x).compute()  # over chunks: combined from per-chunk results
    np.float64(1000.0)
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
        # 16-bit input is computed in float32 anyway: float32 partials (from
        # exact float32 copies) keep 13 more bits than 16-bit ones.
        part_dtype = np.dtype(np.float32) if dtype.itemsize == 2 else dtype
        if part_dtype != dtype:
            x = x.astype(part_dtype)
            bb = None if bb is None else bb.astype(part_dtype)
        parts, part_sign = _lse_map(x, bb, axes, bb is not None, part_dtype)
        parts = parts.rechunk({d: -1 for d in axes})
        if part_sign is not None:
            part_sign = part_sign.rechunk(parts.chunks)
        lse, sign = _lse_map(parts, part_sign, axes, return_sign, part_dtype)
        lse = lse.astype(dtype)
        sign = None if sign is None else sign.astype(dtype)
    if not keepdims:
        lse = _scalar_if_0d(lse.squeeze(axis=axes))
        sign = None if sign is None else _scalar_if_0d(sign.squeeze(axis=axes))
    return (lse, sign) if return_sign else lse


def _item(a: np.ndarray) -> Any:
    return a[()]


def _scalar_if_0d(x: da.Array) -> da.Array:
    """A 0-d result computes to a NumPy scalar, as the in-memory one (and
    Dask's own reductions) return."""
    if x.ndim:
        return x
    return x.map_blocks(_item, dtype=x.dtype, meta=_meta(0, x.dtype))


def _softmax_like(fn: Callable[..., Any], func: str, x: Any, axis: Any) -> da.Array:
    arr = _dask(x, func, "x")
    dtype = compute_dtype(arr.dtype, func, "x")
    if arr.ndim == 0:
        return arr.map_blocks(fn, dtype=dtype, meta=_meta(0, dtype))
    axes = normalize_axes(axis, arr.ndim, func)
    arr = _class_chunked(arr, axes)
    fn_on_axes = functools.partial(fn, axis=axes)
    return arr.map_blocks(fn_on_axes, dtype=dtype, meta=_meta(arr.ndim, dtype))


def softmax(x: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.softmax`; the axes in `axis` are brought into
    one chunk (``axis=None``: the whole array).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 2.0]]), chunks=1)  # class axis split
    >>> lld.softmax(x, axis=1).compute()
    array([[0.5       , 0.5       ],
           [0.26894142, 0.73105858]])
    """
    return _softmax_like(_ll.softmax, "softmax", x, axis)


def log_softmax(x: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.log_softmax`; the axes in `axis` are brought
    into one chunk (``axis=None``: the whole array).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> lld.log_softmax(da.from_array(np.array([[1000.0, 0.0]]), chunks=1), axis=1).compute()
    array([[    0., -1000.]])
    """
    return _softmax_like(_ll.log_softmax, "log_softmax", x, axis)


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
    """Lazy :func:`logitloss.softmax_grad` (class axes in one chunk).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0]]), chunks=1)
    >>> lld.softmax_grad(x, np.array([[1.0, 0.0]]), axis=1).compute()
    array([[ 0.25, -0.25]])
    """
    return _softmax_grad_like(_ll.softmax_grad, "softmax_grad", x, grad_output, axis)


def log_softmax_grad(x: Any, grad_output: Any, axis: Any = None) -> da.Array:
    """Lazy :func:`logitloss.log_softmax_grad` (class axes in one chunk).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0]]), chunks=1)
    >>> lld.log_softmax_grad(x, np.array([[1.0, 0.0]]), axis=1).compute()
    array([[ 0.5, -0.5]])
    """
    return _softmax_grad_like(_ll.log_softmax_grad, "log_softmax_grad", x, grad_output, axis)


def _lse_grad_block(x: np.ndarray, *rest: np.ndarray, axes: tuple[int, ...], has_b: bool,
                    has_g: bool) -> np.ndarray:
    b = rest[0] if has_b else None
    g = rest[-1] if has_g else None
    return np.asarray(_ll.logsumexp_grad(x, axis=axes, b=b, grad_output=g))


def logsumexp_grad(a: Any, axis: Any = None, b: Any = None, grad_output: Any = None) -> da.Array:
    """Lazy :func:`logitloss.logsumexp_grad`, shaped like `a`.

    The reduced axes are brought into one chunk so that each chunk's
    gradient is the in-memory one; `grad_output` (shaped like logsumexp's
    result, with or without the kept axes) is aligned to those chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> lld.logsumexp_grad(da.from_array(np.array([0.0, 0.0, -np.inf]), chunks=2)).compute()
    array([0.5, 0.5, 0. ])
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


# ----------------------------------------------- loss machinery (all losses)

_LETTERS = "abcdefghijklmnopqrstuvwxy"  # "z": a weight vector, "Y": partial totals
_REDUCTIONS = ("none", "mean", "sum")
_INT64 = (-(2**63), 2**63 - 1)


def _check_reduction(func: str, reduction: Any) -> str:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{func}: reduction must be 'none', 'mean' or 'sum', not {reduction!r}")
    return reduction


def _scalar_grad_output(func: str, grad_output: Any, reduction: str) -> Any:
    """grad_output of a 'mean'/'sum' loss: a float, or a 0-d Dask array."""
    if grad_output is None:
        return 1.0
    if isinstance(grad_output, da.Array):
        compute_dtype(grad_output.dtype, func, "grad_output")
        if grad_output.ndim != 0:
            raise ValueError(f"{func}: grad_output has shape {grad_output.shape}; expected a "
                             f"scalar for reduction={reduction!r}")
        return grad_output.astype(np.float64)
    g = as_array(grad_output, func, "grad_output")
    compute_dtype(g.dtype, func, "grad_output")
    if g.ndim != 0:
        raise ValueError(f"{func}: grad_output has shape {g.shape}; expected a scalar for "
                         f"reduction={reduction!r}")
    return float(g)


def _scalar_args(value: Any) -> list[Any]:
    """blockwise arguments for a float (a constant) or a 0-d Dask array."""
    return [value, ""] if isinstance(value, da.Array) else []


class _Loss:
    """A loss call laid out for blockwise: its operands (Dask arrays with
    their blockwise indices), the per-chunk in-memory functions and the
    options they take. `loss_ind` indexes the unreduced loss."""

    def __init__(self, func: str, fns: tuple[Callable[..., Any], ...], dtype: np.dtype,
                 x: da.Array, x_ind: str, operands: list[Any], loss_ind: str,
                 kwargs: dict[str, Any], denominator: Callable[..., float],
                 static_denominator: float | None = None):
        self.func, self.dtype = func, dtype
        # The 'mean' denominator when the shapes alone fix it (probability
        # targets, elementwise losses): gradients then need no data pass.
        self.static_denominator = static_denominator
        self.value_fn, self.grad_fn = fns
        self.x, self.x_ind, self.operands, self.loss_ind = x, x_ind, operands, loss_ind
        self.kwargs, self.denominator = kwargs, denominator

    @property
    def loss_chunks(self) -> dict[str, tuple[int, ...]]:
        return {i: self.x.chunks[self.x_ind.index(i)] for i in self.loss_ind}

    def _blockwise(self, fn: Callable[..., Any], out_ind: str, extra: list[Any],
                   **kw: Any) -> da.Array:
        ndim = len(out_ind)
        meta = _meta(ndim, kw.pop("meta_dtype", self.dtype))
        return da.blockwise(fn, out_ind, self.x, self.x_ind, *self.operands, *extra,
                            concatenate=True, meta=meta, **kw)

    def unreduced(self) -> da.Array:
        fn = functools.partial(_call_block, self.value_fn, self.n_inputs, dict(
            self.kwargs, reduction="none"))
        return self._blockwise(fn, self.loss_ind, [], dtype=self.dtype)

    @property
    def n_inputs(self) -> int:
        return 1 + len(self.operands) // 2

    def totals(self) -> da.Array:
        """(sum of the chunks' loss sums, sum of their 'mean' denominators),
        float64, shape (2,)."""
        fn = functools.partial(_partial_block, self.value_fn, self.n_inputs, self.kwargs,
                               self.denominator, len(self.loss_ind), self.dtype)
        parts = self._blockwise(
            fn, self.loss_ind + "Y", [], new_axes={"Y": 2}, dtype=np.float64,
            adjust_chunks={i: 1 for i in self.loss_ind}, meta_dtype=np.dtype(np.float64))
        return parts.sum(axis=tuple(range(len(self.loss_ind))), dtype=np.float64)

    def denominator_total(self) -> da.Array:
        """The 'mean' denominator alone (0-d float64): per-chunk denominators
        from the targets, summed; no loss is computed."""
        fn = functools.partial(_denominator_block, self.denominator, len(self.loss_ind))
        parts = self._blockwise(fn, self.loss_ind, [], dtype=np.float64,
                                adjust_chunks={i: 1 for i in self.loss_ind},
                                meta_dtype=np.dtype(np.float64))
        return parts.sum(dtype=np.float64)

    def value(self, reduction: str) -> da.Array:
        if reduction == "none":
            return self.unreduced()
        fn = functools.partial(_finish_total, reduction == "mean", self.dtype)
        return da.map_blocks(fn, self.totals().rechunk(-1), drop_axis=0, dtype=self.dtype,
                             meta=_meta(0, self.dtype))

    def grad(self, reduction: str, grad_output: Any, shared_totals: bool = False) -> da.Array:
        """The gradient; with `shared_totals` a 'mean' denominator comes from
        `totals()` (the graph `value()` builds) instead of its own pass."""
        if reduction == "none":
            extra: list[Any] = []
            if grad_output is not None:
                g = _dask(grad_output, self.func, "grad_output")
                compute_dtype(g.dtype, self.func, "grad_output")
                shape = tuple(self.x.shape[self.x_ind.index(i)] for i in self.loss_ind)
                try:
                    g = da.broadcast_to(g, shape)
                except ValueError:
                    raise ValueError(f"{self.func}: grad_output has shape {g.shape}; expected "
                                     f"the loss shape {shape}") from None
                g = g.rechunk(tuple(self.loss_chunks[i] for i in self.loss_ind))
                extra = [g, self.loss_ind]
            fn = functools.partial(_grad_none_block, self.grad_fn, self.n_inputs,
                                   dict(self.kwargs, reduction="none"), bool(extra))
            return self._blockwise(fn, self.x_ind, extra, dtype=self.dtype)
        g = _scalar_grad_output(self.func, grad_output, reduction)
        extra = _scalar_args(g)
        den: Any = None  # 'sum': no denominator
        if reduction == "mean":
            den = self.static_denominator
            if den is None:  # needs the data: computed lazily, passed to every chunk
                total = self.totals()[1] if shared_totals else self.denominator_total()
                extra += [total, ""]
                den = _FROM_GRAPH
        fn = functools.partial(_grad_sum_block, self.grad_fn, self.n_inputs,
                               dict(self.kwargs, reduction="sum"),
                               None if isinstance(g, da.Array) else g, den)
        return self._blockwise(fn, self.x_ind, extra, dtype=self.dtype)


def _call_block(fn: Callable[..., Any], n_inputs: int, kwargs: dict[str, Any],
                *blocks: Any) -> np.ndarray:
    return np.asarray(fn(*blocks[:n_inputs], **kwargs))


def _float32_copies(blocks: tuple[Any, ...], dtype: np.dtype) -> tuple[Any, ...]:
    """For 16-bit input: the floating operands rounded to the input dtype (as
    the in-memory function rounds them) and held in float32. The kernels
    compute 16-bit input in float32 anyway, and a float32 partial sum keeps
    13 more bits than a 16-bit one."""
    if dtype.itemsize != 2:
        return blocks
    return tuple(
        b.astype(dtype).astype(np.float32)
        if isinstance(b, np.ndarray) and (b.dtype.kind == "f" or b.dtype.name == "bfloat16")
        else b
        for b in blocks
    )


def _partial_block(fn: Callable[..., Any], n_inputs: int, kwargs: dict[str, Any],
                   denominator: Callable[..., float], loss_ndim: int, dtype: np.dtype,
                   *blocks: Any) -> np.ndarray:
    inputs = _float32_copies(blocks[:n_inputs], dtype)
    total = float(fn(*inputs, **dict(kwargs, reduction="sum")))  # checks the targets first
    return np.array([total, denominator(*inputs)]).reshape((1,) * loss_ndim + (2,))


def _denominator_block(denominator: Callable[..., float], loss_ndim: int,
                       *blocks: Any) -> np.ndarray:
    return np.full((1,) * loss_ndim, denominator(*blocks))


def _finish_total(mean: bool, dtype: np.dtype, totals: np.ndarray) -> np.ndarray:
    value = ieee_div(totals[0], totals[1]) if mean else totals[0]
    return as_scalar(dtype, value)  # as the in-memory reduction rounds (and warns)


def _grad_none_block(fn: Callable[..., Any], n_inputs: int, kwargs: dict[str, Any],
                     has_g: bool, *blocks: Any) -> np.ndarray:
    g = blocks[n_inputs] if has_g else None
    return np.asarray(fn(*blocks[:n_inputs], grad_output=g, **kwargs))


# Marks a denominator passed as the block after grad_output (a string: compared
# with ==, it survives pickling to distributed workers).
_FROM_GRAPH = "from the graph"


def _grad_sum_block(fn: Callable[..., Any], n_inputs: int, kwargs: dict[str, Any],
                    g: float | None, den: Any, *blocks: Any) -> np.ndarray:
    """A chunk's gradient of a reduced loss: grad_output (a constant, or the
    first extra block) divided by the 'mean' denominator (None for 'sum', a
    constant, or the next extra block), through the 'sum' gradient: what the
    in-memory 'mean' gradient computes."""
    rest = list(blocks[n_inputs:])
    go = float(rest.pop(0)) if g is None else g
    if den is not None:
        go = ieee_div(go, float(rest.pop(0)) if den == _FROM_GRAPH else den)
    return np.asarray(fn(*blocks[:n_inputs], grad_output=go, **kwargs))


# ------------------------------------------------- cross-entropy and NLL


def _check_ignore_index(func: str, ignore_index: Any) -> int:
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{func}: ignore_index must be an int, not bool")
    try:
        return operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"{func}: ignore_index must be an int, not "
                        f"{type(ignore_index).__name__}") from None


def _check_smoothing(func: str, label_smoothing: Any) -> float:
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: label_smoothing must be a float, not "
                        f"{type(label_smoothing).__name__}") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{func}: label_smoothing must be in [0, 1], got {eps}")
    return eps


def _index_denominator(func: str, ignore_index: int, classes: int, dtype: np.dtype,
                       x: np.ndarray, target: np.ndarray,
                       weight: np.ndarray | None = None) -> float:
    """A chunk's share of the 'mean' denominator for class-index targets:
    the summed weight of its non-ignored targets."""
    t = np.asarray(target).reshape(-1)
    if _INT64[0] <= ignore_index <= _INT64[1] or t.dtype.kind == "u":
        keep = t != ignore_index
    else:
        keep = np.ones(t.shape, bool)
    kept = t[keep]
    if kept.size and (kept.min() < 0 or kept.max() >= classes):
        bad = kept[(kept < 0) | (kept >= classes)][0]
        raise IndexError(f"{func}: target {int(bad)} is out of range for {classes} classes")
    if weight is None:
        return float(kept.size)
    w = np.asarray(weight).astype(dtype).astype(np.float64)  # rounded as in memory
    return float(np.add.reduce(w[kept.astype(np.int64)]))


def _reduced_shape(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + shape[axis + 1:]


def _sample_denominator(class_axis: int, x: np.ndarray, *rest: Any) -> float:
    """A chunk's number of samples (rows): the 'mean' denominator of
    probability targets."""
    return float(math.prod(_reduced_shape(x.shape, class_axis)))


def _class_loss(func: str, nll: bool, input: Any, target: Any, weight: Any, ignore_index: Any,
                reduction: Any, label_smoothing: Any, axis: Any) -> tuple[_Loss, str]:
    red = _check_reduction(func, reduction)
    ignore = _check_ignore_index(func, ignore_index)
    x = _dask(input, func, "input")
    dtype = compute_dtype(x.dtype, func, "input")
    if x.ndim == 0:
        raise ValueError(f"{func}: input must have a class axis; got a 0-d array")
    if x.ndim > len(_LETTERS):
        raise ValueError(f"{func}: input has {x.ndim} dimensions; at most {len(_LETTERS)}")
    ax = (1 if x.ndim >= 2 else 0) if axis is None else normalize_axis(axis, x.ndim, func)
    x = _class_chunked(x, (ax,))
    x_ind = _LETTERS[: x.ndim]
    loss_ind = x_ind[:ax] + x_ind[ax + 1:]
    classes = x.shape[ax]
    t = _dask(target, func, "target")
    static = None
    if t.dtype.kind in "iu":
        reduced = _reduced_shape(x.shape, ax)
        if t.shape != reduced:
            raise ValueError(
                f"{func}: target has shape {t.shape} but input has shape {x.shape}; class "
                f"indices must have shape {reduced} (input without axis {ax})")
        t_ind = loss_ind
        t = t.rechunk(tuple(x.chunks[d] for d in range(x.ndim) if d != ax))
        denominator = functools.partial(_index_denominator, func, ignore, classes, dtype)
    elif not nll and (t.dtype.kind == "f" or t.dtype.name == "bfloat16"):
        if t.shape != x.shape:
            raise ValueError(
                f"{func}: target has shape {t.shape} but input has shape {x.shape}; class "
                "probabilities must have the shape of input")
        t_ind = x_ind
        t = t.rechunk(x.chunks)
        denominator = functools.partial(_sample_denominator, ax)
        static = float(math.prod(_reduced_shape(x.shape, ax)))
    else:
        want = "integer class indices" + ("" if nll else " or floating probabilities")
        raise TypeError(f"{func}: target has unsupported dtype {t.dtype}; expected {want}")
    operands: list[Any] = [t, t_ind]
    if weight is not None:
        w = _dask(weight, func, "weight")
        compute_dtype(w.dtype, func, "weight")
        if w.shape != (classes,):
            raise ValueError(
                f"{func}: weight has shape {w.shape} but input has shape {x.shape}; expected "
                f"one weight per class, shape ({classes},)")
        operands += [w.rechunk(-1), "z"]
    kwargs: dict[str, Any] = {"ignore_index": ignore, "axis": ax}
    if not nll:
        kwargs["label_smoothing"] = _check_smoothing(func, label_smoothing)
    fns = (_ll.nll_loss, _ll.nll_loss_grad) if nll else (_ll.cross_entropy, _ll.cross_entropy_grad)
    return _Loss(func, fns, dtype, x, x_ind, operands, loss_ind, kwargs, denominator, static), red


def cross_entropy(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0, axis: Any = None) -> Any:
    """Lazy :func:`logitloss.cross_entropy` (PyTorch semantics).

    The class axis is brought into one chunk; `target` is aligned to the
    input's chunks. 'sum' adds the chunks' sums; 'mean' divides the summed
    chunk losses by the summed chunk denominators (the weight of the
    non-ignored index targets, or the number of samples), so it equals the
    in-memory mean to rounding. Returns a 0-d Dask array for 'mean'/'sum'.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0], [1000.0, 0.0], [1.0, 2.0]]), chunks=(2, 1))
    >>> t = da.from_array(np.array([0, 0, 1]), chunks=2)
    >>> lld.cross_entropy(x, t).compute()
    np.float64(0.33546962269272274)
    >>> lld.cross_entropy(x, t, reduction="none").compute()
    array([0.69314718, 0.        , 0.31326169])
    """
    loss, red = _class_loss("cross_entropy", False, input, target, weight, ignore_index,
                            reduction, label_smoothing, axis)
    return loss.value(red)


def cross_entropy_grad(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                       reduction: str = "mean", label_smoothing: float = 0.0, axis: Any = None,
                       grad_output: Any = None) -> da.Array:
    """Lazy :func:`logitloss.cross_entropy_grad`; for 'mean' the global
    denominator is computed first (in the same graph).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 2.0]]), chunks=1)
    >>> lld.cross_entropy_grad(x, np.array([0, 1]), reduction="sum").compute()
    array([[-0.5       ,  0.5       ],
           [ 0.26894142, -0.26894142]])
    """
    loss, red = _class_loss("cross_entropy_grad", False, input, target, weight, ignore_index,
                            reduction, label_smoothing, axis)
    return loss.grad(red, grad_output)


def cross_entropy_value_and_grad(input: Any, target: Any, weight: Any = None, *,
                                 ignore_index: int = -100, reduction: str = "mean",
                                 label_smoothing: float = 0.0,
                                 axis: Any = None) -> tuple[Any, da.Array]:
    """Lazy ``(cross_entropy, cross_entropy_grad)`` sharing one graph
    (compute them together: ``dask.compute(loss, grad)``).

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> x = da.from_array(np.array([[0.0, 0.0], [1.0, 2.0]]), chunks=1)
    >>> loss, grad = dask.compute(*lld.cross_entropy_value_and_grad(x, np.array([0, 1])))
    >>> loss
    np.float64(0.5032044340...)
    """
    loss, red = _class_loss("cross_entropy_value_and_grad", False, input, target, weight,
                            ignore_index, reduction, label_smoothing, axis)
    return loss.value(red), loss.grad(red, None, shared_totals=True)


def nll_loss(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
             reduction: str = "mean", axis: Any = None) -> Any:
    """Lazy :func:`logitloss.nll_loss`; reductions combine as for
    :func:`cross_entropy`.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> logp = da.from_array(np.log([[0.5, 0.5], [0.25, 0.75]]), chunks=1)
    >>> lld.nll_loss(logp, np.array([0, 1]), reduction="none").compute()
    array([0.69314718, 0.28768207])
    """
    loss, red = _class_loss("nll_loss", True, input, target, weight, ignore_index, reduction,
                            0.0, axis)
    return loss.value(red)


def nll_loss_grad(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                  reduction: str = "mean", axis: Any = None, grad_output: Any = None) -> da.Array:
    """Lazy :func:`logitloss.nll_loss_grad`.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> logp = da.from_array(np.log([[0.5, 0.5], [0.25, 0.75]]), chunks=1)
    >>> lld.nll_loss_grad(logp, np.array([0, 1])).compute()
    array([[-0.5,  0. ],
           [ 0. , -0.5]])
    """
    loss, red = _class_loss("nll_loss_grad", True, input, target, weight, ignore_index, reduction,
                            0.0, axis)
    return loss.grad(red, grad_output)


def nll_loss_value_and_grad(input: Any, target: Any, weight: Any = None, *,
                            ignore_index: int = -100, reduction: str = "mean",
                            axis: Any = None) -> tuple[Any, da.Array]:
    """Lazy ``(nll_loss, nll_loss_grad)``.

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> logp = da.from_array(np.log([[0.5, 0.5], [0.25, 0.75]]), chunks=1)
    >>> lazy = lld.nll_loss_value_and_grad(logp, np.array([0, 1]), reduction="sum")
    >>> loss, grad = dask.compute(*lazy)
    >>> loss
    np.float64(0.9808292530117262)
    """
    loss, red = _class_loss("nll_loss_value_and_grad", True, input, target, weight,
                            ignore_index, reduction, 0.0, axis)
    return loss.value(red), loss.grad(red, None, shared_totals=True)


__all__ += [
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_value_and_grad",
    "nll_loss",
    "nll_loss_grad",
    "nll_loss_value_and_grad",
]


# ------------------------------- elementwise losses: BCE-with-logits, focal


def _bce_call(fn: Callable[..., Any], has_weight: bool, has_pos_weight: bool, x: np.ndarray,
              target: np.ndarray, *rest: np.ndarray, **kwargs: Any) -> Any:
    """fn(input, target, weight, pos_weight=...) from positional chunks."""
    it = iter(rest)
    weight = next(it) if has_weight else None
    pos_weight = next(it) if has_pos_weight else None
    return fn(x, target, weight, pos_weight=pos_weight, **kwargs)


def _numel_denominator(x: np.ndarray, *rest: Any) -> float:
    return float(x.size)


def _elementwise_loss(func: str, fns: tuple[Callable[..., Any], Callable[..., Any]], input: Any,
                      target: Any, broadcast: dict[str, Any], reduction: Any,
                      kwargs: dict[str, Any]) -> tuple[_Loss, str]:
    """An elementwise loss: target shaped like input, the `broadcast`
    operands (weights) broadcast to input's shape and chunks."""
    red = _check_reduction(func, reduction)
    x = _dask(input, func, "input")
    dtype = compute_dtype(x.dtype, func, "input")
    if x.ndim > len(_LETTERS):
        raise ValueError(f"{func}: input has {x.ndim} dimensions; at most {len(_LETTERS)}")
    t = _dask(target, func, "target")
    compute_dtype(t.dtype, func, "target")
    if t.shape != x.shape:
        raise ValueError(f"{func}: target has shape {t.shape} but input has shape {x.shape}; "
                         "they must be equal")
    ind = _LETTERS[: x.ndim]
    operands: list[Any] = [t.rechunk(x.chunks), ind]
    for name, value in broadcast.items():
        if value is None:
            continue
        w = _dask(value, func, name)
        compute_dtype(w.dtype, func, name)
        try:
            if np.broadcast_shapes(w.shape, x.shape) != x.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{func}: {name} with shape {w.shape} does not broadcast to the "
                             f"target's shape {x.shape}") from None
        operands += [da.broadcast_to(w, x.shape).rechunk(x.chunks), ind]
    return _Loss(func, fns, dtype, x, ind, operands, ind, kwargs, _numel_denominator,
                 float(x.size)), red


def _bce(func: str, input: Any, target: Any, weight: Any, pos_weight: Any,
         reduction: Any) -> tuple[_Loss, str]:
    fns = tuple(functools.partial(_bce_call, fn, weight is not None, pos_weight is not None)
                for fn in (_ll.binary_cross_entropy_with_logits,
                           _ll.binary_cross_entropy_with_logits_grad))
    return _elementwise_loss(func, fns, input, target,  # type: ignore[arg-type]
                             {"weight": weight, "pos_weight": pos_weight}, reduction, {})


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, *,
                                     pos_weight: Any = None, reduction: str = "mean") -> Any:
    """Lazy :func:`logitloss.binary_cross_entropy_with_logits`, chunk by
    chunk; `weight` and `pos_weight` are broadcast to the input's chunks.
    'mean' is the sum of the chunks' sums over the number of elements.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> z = da.from_array(np.array([0.0, 2.0, -2.0]), chunks=2)
    >>> lld.binary_cross_entropy_with_logits(z, np.array([1.0, 1.0, 0.0])).compute()
    np.float64(0.3156677342...)
    """
    loss, red = _bce("binary_cross_entropy_with_logits", input, target, weight, pos_weight,
                     reduction)
    return loss.value(red)


def binary_cross_entropy_with_logits_grad(input: Any, target: Any, weight: Any = None, *,
                                          pos_weight: Any = None, reduction: str = "mean",
                                          grad_output: Any = None) -> da.Array:
    """Lazy :func:`logitloss.binary_cross_entropy_with_logits_grad`.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> z = da.from_array(np.array([0.0, 2.0, -2.0]), chunks=2)
    >>> y = np.array([1.0, 1.0, 0.0])
    >>> lld.binary_cross_entropy_with_logits_grad(z, y, reduction="sum").compute()
    array([-0.5       , -0.11920292,  0.11920292])
    """
    loss, red = _bce("binary_cross_entropy_with_logits_grad", input, target, weight, pos_weight,
                     reduction)
    return loss.grad(red, grad_output)


def binary_cross_entropy_with_logits_value_and_grad(
        input: Any, target: Any, weight: Any = None, *, pos_weight: Any = None,
        reduction: str = "mean") -> tuple[Any, da.Array]:
    """Lazy ``(binary_cross_entropy_with_logits, ..._grad)``.

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> z = da.from_array(np.array([0.0, 2.0, -2.0]), chunks=2)
    >>> y = np.array([1.0, 1.0, 0.0])
    >>> lazy = lld.binary_cross_entropy_with_logits_value_and_grad(z, y)
    >>> loss, grad = dask.compute(*lazy)
    >>> loss
    np.float64(0.3156677342...)
    """
    loss, red = _bce("binary_cross_entropy_with_logits_value_and_grad", input, target, weight,
                     pos_weight, reduction)
    return loss.value(red), loss.grad(red, None, shared_totals=True)


def _focal(func: str, input: Any, target: Any, alpha: Any, gamma: Any,
           reduction: Any) -> tuple[_Loss, str]:
    fns = (_ll.sigmoid_focal_loss, _ll.sigmoid_focal_loss_grad)
    return _elementwise_loss(func, fns, input, target, {}, reduction,
                             {"alpha": alpha, "gamma": gamma})


def sigmoid_focal_loss(input: Any, target: Any, alpha: float = 0.25, gamma: float = 2.0,
                       reduction: str = "none") -> Any:
    """Lazy :func:`logitloss.sigmoid_focal_loss` (torchvision semantics).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> z = da.from_array(np.array([0.0, 2.0, -2.0]), chunks=2)
    >>> lld.sigmoid_focal_loss(z, np.array([1.0, 1.0, 0.0])).compute()
    array([0.0433217 , 0.00045089, 0.00135267])
    """
    loss, red = _focal("sigmoid_focal_loss", input, target, alpha, gamma, reduction)
    return loss.value(red)


def sigmoid_focal_loss_grad(input: Any, target: Any, alpha: float = 0.25, gamma: float = 2.0,
                            reduction: str = "none", grad_output: Any = None) -> da.Array:
    """Lazy :func:`logitloss.sigmoid_focal_loss_grad`.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> z = da.from_array(np.array([0.0, 2.0, -2.0]), chunks=2)
    >>> lld.sigmoid_focal_loss_grad(z, np.array([1.0, 1.0, 0.0])).compute()
    array([-0.0745717 , -0.00121774,  0.00365321])
    """
    loss, red = _focal("sigmoid_focal_loss_grad", input, target, alpha, gamma, reduction)
    return loss.grad(red, grad_output)


def sigmoid_focal_loss_value_and_grad(input: Any, target: Any, alpha: float = 0.25,
                                      gamma: float = 2.0,
                                      reduction: str = "none") -> tuple[Any, da.Array]:
    """Lazy ``(sigmoid_focal_loss, sigmoid_focal_loss_grad)``.

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> import logitloss.dask as lld
    >>> z = da.from_array(np.array([0.0, 2.0, -2.0]), chunks=2)
    >>> y = np.array([1.0, 1.0, 0.0])
    >>> loss, grad = dask.compute(*lld.sigmoid_focal_loss_value_and_grad(z, y, reduction="sum"))
    >>> loss
    np.float64(0.04512526...)
    """
    loss, red = _focal("sigmoid_focal_loss_value_and_grad", input, target, alpha, gamma,
                       reduction)
    return loss.value(red), loss.grad(red, None, shared_totals=True)


__all__ += [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_value_and_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "sigmoid_focal_loss_value_and_grad",
]
