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
import inspect
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

import logitloss as _ll  # the public functions (the package is initialised first)

from ._complex_lse import complex_dtype
from ._family import LossFamily, make_function
from ._options import check_ignore_index, check_reduction
from ._rows import DIVIDING
from ._scalars import as_scalar, ieee_div
from ._validation import as_array, compute_dtype, normalize_axes, normalize_axis, result_float
from .binary import BINARY_CROSS_ENTROPY, BINARY_CROSS_ENTROPY_WITH_LOGITS, SIGMOID_FOCAL_LOSS
from .cross_entropy import CROSS_ENTROPY, NLL_LOSS
from .cross_entropy_variants import POLY1_CROSS_ENTROPY, SOFTMAX_FOCAL_LOSS
from .divergences import GENERALIZED_JSD, REDUCTIONS, SOFTMAX_KL_DIV
from .divergences import class_axis as _divergence_axis
from .kl_div import KL_DIV

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
    signs), exact up to the partials' rounding. Complex input works the same
    way: each chunk's complex log-sum is combined by a complex log-sum-exp
    of them. Returns a Dask array (and its sign with ``return_sign``).

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
    bb = None if b is None else _dask(b, func, "b")
    if x.dtype.kind == "c" or (bb is not None and bb.dtype.kind == "c"):
        return _complex_logsumexp(x, axis, bb, keepdims, return_sign)
    if bb is None:
        dtype = compute_dtype(x.dtype, func, "a")
    else:
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


def _complex_logsumexp(x: da.Array, axis: Any, bb: da.Array | None, keepdims: bool,
                       return_sign: bool) -> Any:
    """logsumexp of complex input. Over axes that span chunks, each chunk's
    complex log-sum z_i = log(S_i) is combined by a complex logsumexp of the
    z_i (exp(z_i) = S_i), exact up to the rounding of the z_i. Special values
    pass through exp(log(.)) as through SciPy's direct path, with one
    difference: a chunk whose weighted sum is infinite has a NaN phase and so
    (SciPy's rule) a NaN log-sum, which makes the combined value NaN where the
    in-memory function's ``return_sign`` value is inf."""
    func = "logsumexp"
    dtype = complex_dtype(x.dtype, None if bb is None else bb.dtype, func)
    if bb is not None:
        x, bb = _broadcast_pair(func, x, bb, ("a", "b"))
    if x.ndim == 0:
        x = x.reshape(1)
        bb = None if bb is None else bb.reshape(1)
    axes = normalize_axes(axis, x.ndim, func)
    if not all(x.numblocks[d] == 1 for d in axes):
        parts, _ = _lse_map(x, bb, axes, False, dtype)
        x, bb = parts.rechunk({d: -1 for d in axes}), None
    lse, sign = _lse_map(x, bb, axes, return_sign, dtype)
    if return_sign:  # stacked with the (complex) sign: the value is real
        lse = lse.real
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
_INT64 = (-(2**63), 2**63 - 1)


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
    their blockwise indices, after the input), their argument names (the
    input's first), the per-chunk in-memory functions and the options they
    take. `loss_ind` indexes the unreduced loss."""

    def __init__(self, func: str, fns: tuple[Callable[..., Any], ...], dtype: np.dtype,
                 x: da.Array, x_ind: str, operands: list[Any], names: tuple[str, ...],
                 loss_ind: str, kwargs: dict[str, Any], denominator: Callable[..., float],
                 static_denominator: float | None = None):
        self.func, self.dtype = func, dtype
        # The 'mean' denominator when the shapes alone fix it (probability
        # targets, elementwise losses): gradients then need no data pass.
        self.static_denominator = static_denominator
        self.value_fn, self.grad_fn = fns
        self.x, self.x_ind, self.operands, self.loss_ind = x, x_ind, operands, loss_ind
        self.kwargs, self.denominator = kwargs, denominator
        # Chunks reach the in-memory functions as keyword arguments.
        self.value_fn = functools.partial(_call_by_name, self.value_fn, names)
        self.grad_fn = functools.partial(_call_by_name, self.grad_fn, names)

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
        den = self.static_denominator if reduction in DIVIDING else None
        fn = functools.partial(_finish_total, reduction in DIVIDING, self.dtype, den)
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
        if reduction in DIVIDING:
            den = self.static_denominator
            if den is None:  # needs the data: computed lazily, passed to every chunk
                total = self.totals()[1] if shared_totals else self.denominator_total()
                extra += [total, ""]
                den = _FROM_GRAPH
        fn = functools.partial(_grad_sum_block, self.grad_fn, self.n_inputs,
                               dict(self.kwargs, reduction="sum"),
                               None if isinstance(g, da.Array) else g, den)
        return self._blockwise(fn, self.x_ind, extra, dtype=self.dtype)


def _call_by_name(fn: Callable[..., Any], names: tuple[str, ...], *blocks: Any,
                  **kwargs: Any) -> Any:
    return fn(**dict(zip(names, blocks)), **kwargs)


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


def _finish_total(mean: bool, dtype: np.dtype, den: float | None,
                  totals: np.ndarray) -> np.ndarray:
    """The reduced loss: the summed chunk sums, over the denominator for
    'mean' (`den` when the shapes fix it, else the summed chunk shares)."""
    value = ieee_div(totals[0], totals[1] if den is None else den) if mean else totals[0]
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


# ------------------------------------------- loss families: the layouts

# A family's layout (LossFamily.dask) says how its arguments chunk:
#   "class":       `input` chunked with its class axis whole; `target` class
#                  indices (aligned with the rows) or probabilities (with the
#                  input); `weight` a per-class vector held in memory.
#   "elementwise": `input` and `target` of one shape (or, for a family with
#                  `target_broadcasts`, a target broadcast to the input's),
#                  chunked alike; `weight` and `pos_weight` broadcast to it.
#                  'batchmean' is 'mean' over input.shape[0].
#   "pair":        `input` and `target` of one shape, chunked alike with the
#                  class axis whole (the divergences); 'batchmean' divides by
#                  the rows, 'mean' by the elements.
# Every other argument is an option passed to each chunk's in-memory call,
# and checked first by the family's own `prepare` on empty stand-ins of the
# arguments (the in-memory messages, before any data is read).


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


def _numel_denominator(x: np.ndarray, *rest: Any) -> float:
    return float(x.size)


def _stand_in(a: da.Array, zeroed: tuple[int, ...]) -> np.ndarray:
    """An empty NumPy array of a's dtype and rank: the axes in `zeroed` have
    length 0, the others a's lengths (class axes, weight vectors)."""
    return np.empty(tuple(0 if d in zeroed else n for d, n in enumerate(a.shape)), a.dtype)


def _check_options(family: LossFamily, func: str, args: dict[str, Any],
                   rows: tuple[int, ...]) -> None:
    """The in-memory checks of every argument that needs no data (dtypes,
    option values): the family's prepare on stand-ins without rows (`rows`:
    the input's axes that are not class axes) and with consistent shapes,
    so that shape errors are left to the caller, which has the real ones."""
    x = args["input"]
    stand_ins = dict(args)
    stand_ins["input"] = x_stand = _stand_in(x, rows)
    t = args["target"]
    index = family.dask == "class" and t.dtype.kind in "iu"
    reduced = (0,) * len(rows)  # the input's shape without its class axis
    stand_ins["target"] = np.empty(reduced if index else x_stand.shape, t.dtype)
    for name in ("weight", "pos_weight"):
        w = args.get(name)
        if isinstance(w, da.Array):
            stand_ins[name] = (np.empty(w.shape, w.dtype) if family.dask == "class"
                               else np.zeros((1,) * w.ndim, w.dtype))
    family.prepare(func, *stand_ins.values())


def _class_layout(family: LossFamily, func: str, args: dict[str, Any]) -> tuple[_Loss, str]:
    x, target, weight = args["input"], args["target"], args.get("weight")
    red = check_reduction(func, args["reduction"])
    compute_dtype(x.dtype, func, "input")
    if x.ndim == 0:
        raise ValueError(f"{func}: input must have a class axis; got a 0-d array")
    if x.ndim > len(_LETTERS):
        raise ValueError(f"{func}: input has {x.ndim} dimensions; at most {len(_LETTERS)}")
    ax = (1 if x.ndim >= 2 else 0) if args.get("axis") is None else normalize_axis(
        args["axis"], x.ndim, func)
    x = _class_chunked(x, (ax,))
    x_ind = _LETTERS[: x.ndim]
    loss_ind = x_ind[:ax] + x_ind[ax + 1:]
    classes = x.shape[ax]
    if weight is not None and weight.shape != (classes,):
        raise ValueError(
            f"{func}: weight has shape {weight.shape} but input has shape {x.shape}; expected "
            f"one weight per class, shape ({classes},)")
    _check_options(family, func, args, tuple(d for d in range(x.ndim) if d != ax))
    index_target = target.dtype.kind in "iu"
    if index_target and target.shape != _reduced_shape(x.shape, ax):
        raise ValueError(
            f"{func}: target has shape {target.shape} but input has shape {x.shape}; class "
            f"indices must have shape {_reduced_shape(x.shape, ax)} (input without axis {ax})")
    if not index_target and target.shape != x.shape:
        raise ValueError(
            f"{func}: target has shape {target.shape} but input has shape {x.shape}; class "
            "probabilities must have the shape of input")
    dtype = compute_dtype(x.dtype, func, "input")
    static = None
    if index_target:
        t_ind = loss_ind
        target = target.rechunk(tuple(x.chunks[d] for d in range(x.ndim) if d != ax))
        ignore = check_ignore_index(func, args.get("ignore_index", -100))
        denominator = functools.partial(_index_denominator, func, ignore, classes, dtype)
    else:
        t_ind = x_ind
        target = target.rechunk(x.chunks)
        denominator = functools.partial(_sample_denominator, ax)
        static = float(math.prod(_reduced_shape(x.shape, ax)))
    operands: list[Any] = [target, t_ind]
    names = ["input", "target"]
    if weight is not None:
        operands += [weight.rechunk(-1), "z"]
        names.append("weight")
    kwargs = {k: v for k, v in args.items()
              if k not in ("input", "target", "weight", "reduction")}
    kwargs["axis"] = ax
    return _Loss(func, family.functions()[:2], dtype, x, x_ind, operands, tuple(names),
                 loss_ind, kwargs, denominator, static), red


def _elementwise_layout(family: LossFamily, func: str,
                        args: dict[str, Any]) -> tuple[_Loss, str]:
    x, t = args["input"], args["target"]
    red = check_reduction(func, args["reduction"], family.reductions)
    dtype = compute_dtype(x.dtype, func, "input")
    if x.ndim > len(_LETTERS):
        raise ValueError(f"{func}: input has {x.ndim} dimensions; at most {len(_LETTERS)}")
    if t.shape != x.shape and not family.target_broadcasts:
        compute_dtype(t.dtype, func, "target")
        raise ValueError(f"{func}: target has shape {t.shape} but input has shape {x.shape}; "
                         "they must be equal")
    ind = _LETTERS[: x.ndim]
    operands: list[Any] = []
    names = ["input"]
    for name in ("target", "weight", "pos_weight"):
        w = args.get(name)
        if w is None:
            continue
        compute_dtype(w.dtype, func, name)
        try:
            if np.broadcast_shapes(w.shape, x.shape) != x.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{func}: {name} with shape {w.shape} does not broadcast to the "
                             f"input's shape {x.shape}") from None
        operands += [da.broadcast_to(w, x.shape).rechunk(x.chunks), ind]
        names.append(name)
    _check_options(family, func, args, tuple(range(x.ndim)))
    kwargs = {k: v for k, v in args.items() if k not in (*names, "reduction")}
    static = float(x.size)
    if red == "batchmean":  # the sum over input.shape[0] (1 for 0-d input)
        red, static = "mean", float(x.shape[0] if x.ndim else 1)
    return _Loss(func, family.functions()[:2], dtype, x, ind, operands, tuple(names),
                 ind, kwargs, _numel_denominator, static), red


def _pair_layout(family: LossFamily, func: str, args: dict[str, Any]) -> tuple[_Loss, str]:
    x, t = args["input"], args["target"]
    red = check_reduction(func, args["reduction"], REDUCTIONS)
    dtype = compute_dtype(x.dtype, func, "input")
    compute_dtype(t.dtype, func, "target")
    if x.ndim == 0:
        raise ValueError(f"{func}: input must have a class axis; got a 0-d array")
    if x.ndim > len(_LETTERS):
        raise ValueError(f"{func}: input has {x.ndim} dimensions; at most {len(_LETTERS)}")
    if t.shape != x.shape:
        raise ValueError(f"{func}: target has shape {t.shape} but input has shape {x.shape}; "
                         "they must be equal")
    ax = _divergence_axis(func, args["axis"], x.ndim)
    _check_options(family, func, args, tuple(d for d in range(x.ndim) if d != ax))
    x = _class_chunked(x, (ax,))
    ind = _LETTERS[: x.ndim]
    if red == "mean":  # the elements
        denominator: Callable[..., float] = _numel_denominator
        static = float(x.size)
    else:  # 'batchmean': the rows
        denominator = functools.partial(_sample_denominator, ax)
        static = float(math.prod(_reduced_shape(x.shape, ax)))
    kwargs = {k: v for k, v in args.items() if k not in ("input", "target", "reduction")}
    kwargs["axis"] = ax
    return _Loss(func, family.functions()[:2], dtype, x, ind, [t.rechunk(x.chunks), ind],
                 ("input", "target"), ind[:ax] + ind[ax + 1:], kwargs, denominator,
                 static), red


_LAYOUTS = {"class": _class_layout, "elementwise": _elementwise_layout, "pair": _pair_layout}


def _bound(family: LossFamily, values: tuple[Any, ...], func: str) -> dict[str, Any]:
    """The call's arguments by name; array arguments as Dask arrays."""
    args = dict(zip((p.name for p in family.parameters), values))
    for name in ("input", "target", "weight", "pos_weight"):
        if args.get(name) is not None:
            args[name] = _dask(args[name], func, name)
    return args


def _layout(family: LossFamily, func: str, values: tuple[Any, ...]) -> tuple[_Loss, str]:
    return _LAYOUTS[family.dask](family, func, _bound(family, values, func))


def _lazy_value(family: LossFamily, func: str, values: tuple[Any, ...]) -> Any:
    loss, red = _layout(family, func, values)
    return loss.value(red)


def _lazy_grad(family: LossFamily, func: str, values: tuple[Any, ...],
               grad_output: Any) -> da.Array:
    loss, red = _layout(family, func, values)
    return loss.grad(red, grad_output)


def _lazy_value_and_grad(family: LossFamily, func: str,
                         values: tuple[Any, ...]) -> tuple[Any, da.Array]:
    loss, red = _layout(family, func, values)
    return loss.value(red), loss.grad(red, None, shared_totals=True)


_LAZY_DOC = """Lazy :func:`logitloss.{name}` of Dask arrays (NumPy arrays and
array-likes become one chunk), with its signature{without_out}.

{layout} Reductions combine exactly: 'sum' adds the chunks' sums, 'mean'
divides the summed chunk losses by the summed chunk denominators (never a
mean of means); {returns}

Examples
--------
>>> import numpy as np, dask, dask.array as da
>>> import logitloss as ll, logitloss.dask as lld
>>> x, t = np.array({input}), np.array({target})
>>> lazy = lld.{name}(da.from_array(x, chunks=1), t{kwargs})
>>> want = ll.{name}(x, t{kwargs})
{check}
True
"""

_LAYOUT_DOC = {
    "class": "The class axis is brought into one chunk (rows stay whole); `target` "
             "is aligned with the input's chunks and `weight` held in memory.",
    "elementwise": "`target` is aligned with the input's chunks; `weight` and "
                   "`pos_weight` are broadcast to them.",
    "pair": "The class axis is brought into one chunk (rows stay whole) and `target` "
            "is aligned with the input's chunks.",
}


def _lazy(family: LossFamily) -> tuple[Callable[..., Any], Callable[..., da.Array],
                                        Callable[..., tuple[Any, da.Array]]]:
    """logitloss.dask's trio of a family (Note [Loss families])."""
    name, params = family.name, family.parameters
    grad_output = inspect.Parameter("grad_output", inspect.Parameter.KEYWORD_ONLY,
                                    default=None, annotation="Any")
    values = "(" + "".join(f"{p.name}, " for p in params) + ")"
    namespace = {"Any": Any, "da": da, "_family": family, "_lazy_value": _lazy_value,
                 "_lazy_grad": _lazy_grad, "_lazy_value_and_grad": _lazy_value_and_grad}
    example = family.example
    doc = functools.partial(
        _LAZY_DOC.format, layout=_LAYOUT_DOC[family.dask], input=example[0],
        target=example[1], kwargs=example[2])
    fns = []
    one = ">>> bool(np.allclose(lazy.compute(), want))"
    two = (">>> loss, grad = dask.compute(*lazy)\n"
           ">>> bool(np.allclose(loss, want[0]) and np.allclose(grad, want[1]))")
    for suffix, extra, body, without_out, returns, check in (
        ("", [], "_lazy_value(_family, {f!r}, {v})", "",
         "'mean'/'sum' give a 0-d Dask array.", one),
        ("_grad", [grad_output], "_lazy_grad(_family, {f!r}, {v}, grad_output)",
         " (no ``out``: the result is lazy)",
         "a 'mean' gradient computes the global denominator first, in the same graph.", one),
        ("_value_and_grad", [], "_lazy_value_and_grad(_family, {f!r}, {v})",
         " (no ``out``)",
         "the two results share one graph: compute them together.", two),
    ):
        func = name + suffix
        fns.append(make_function(
            func, params + extra, body.format(f=func, v=values), namespace,
            doc(name=func, without_out=without_out, returns=returns, check=check),
            __name__, "Any"))
    return fns[0], fns[1], fns[2]


# ------------------------------------------- loss families: the functions

cross_entropy, cross_entropy_grad, cross_entropy_value_and_grad = _lazy(CROSS_ENTROPY)
nll_loss, nll_loss_grad, nll_loss_value_and_grad = _lazy(NLL_LOSS)
(binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad,
 binary_cross_entropy_with_logits_value_and_grad) = _lazy(BINARY_CROSS_ENTROPY_WITH_LOGITS)
sigmoid_focal_loss, sigmoid_focal_loss_grad, sigmoid_focal_loss_value_and_grad = _lazy(
    SIGMOID_FOCAL_LOSS)
binary_cross_entropy, binary_cross_entropy_grad, binary_cross_entropy_value_and_grad = _lazy(
    BINARY_CROSS_ENTROPY)
kl_div, kl_div_grad, kl_div_value_and_grad = _lazy(KL_DIV)
poly1_cross_entropy, poly1_cross_entropy_grad, poly1_cross_entropy_value_and_grad = _lazy(
    POLY1_CROSS_ENTROPY)
softmax_focal_loss, softmax_focal_loss_grad, softmax_focal_loss_value_and_grad = _lazy(
    SOFTMAX_FOCAL_LOSS)
softmax_kl_div, softmax_kl_div_grad, softmax_kl_div_value_and_grad = _lazy(SOFTMAX_KL_DIV)
generalized_jsd, generalized_jsd_grad, generalized_jsd_value_and_grad = _lazy(GENERALIZED_JSD)

__all__ += [
    name + suffix
    for name in ("cross_entropy", "nll_loss", "binary_cross_entropy_with_logits",
                 "sigmoid_focal_loss", "binary_cross_entropy", "kl_div",
                 "poly1_cross_entropy", "softmax_focal_loss", "softmax_kl_div",
                 "generalized_jsd")
    for suffix in ("", "_grad", "_value_and_grad")
]


# ------------------------------------------------- linear cross-entropy
# hidden as (rows, D) with blockwise indices "rd", the targets "r", weight
# "VW" and bias "V" (single chunks, passed whole to every task), a per-row
# grad_output "r" or a scalar "" (0-d): every task runs the in-memory
# function on its rows with reduction 'sum' (or 'none').


def _linear_task(fn: Callable[..., Any], kwargs: dict[str, Any], with_bias: bool,
                 pick: Callable[[Any], np.ndarray], hidden: np.ndarray, target: np.ndarray,
                 weight: np.ndarray, *rest: Any) -> np.ndarray:
    bias = rest[0] if with_bias else None
    kw = dict(kwargs)
    if len(rest) > int(with_bias):
        g = rest[-1]
        kw["grad_output"] = float(g) if np.ndim(g) == 0 else g
    return pick(fn(hidden, weight, target, bias, **kw))


def _first_row(result: Any) -> np.ndarray:
    return np.array([float(result)])


def _linear_denominator_task(class_weight: np.ndarray | None, ignore: int, vocab: int,
                             func: str, target: np.ndarray) -> np.ndarray:
    """A chunk's share of the 'mean' denominator (and its targets' check)."""
    return np.array([_index_denominator(func, ignore, vocab, np.dtype(np.float64), target,
                                        target, class_weight)])


class _LinearCall:
    """A linear cross-entropy call laid out for blockwise."""

    def __init__(self, func: str, args: dict[str, Any]) -> None:
        self.func = func
        h = _dask(args.pop("hidden"), func, "hidden")
        t = _dask(args.pop("target"), func, "target")
        w, b = args.pop("weight"), args.pop("bias")
        self.w = _dask(w, func, "weight")
        self.b = None if b is None else _dask(b, func, "bias")
        if h.ndim == 0:
            raise ValueError(f"{func}: hidden must have shape (..., D); got a 0-d array")
        if t.shape != h.shape[:-1]:
            raise ValueError(f"{func}: target has shape {t.shape} but hidden has shape "
                             f"{h.shape}; expected {h.shape[:-1]} (hidden without its last axis)")
        # Every other check, on empty stand-ins: the in-memory messages.
        stand = (np.empty((0,) * (h.ndim - 1) + h.shape[-1:], h.dtype),
                 np.empty(self.w.shape, self.w.dtype), np.empty((0,) * t.ndim, t.dtype),
                 None if self.b is None else np.empty(self.b.shape, self.b.dtype))
        _ll.linear_cross_entropy(*stand, **args)
        self.reduction = args.pop("reduction")
        self.options = args
        self.shape, self.lead = h.shape, h.shape[:-1]
        h = h.rechunk({h.ndim - 1: -1})
        self.h = h if h.ndim == 2 else h.reshape(-1, h.shape[-1])
        self.t = t.reshape(-1).rechunk((self.h.chunks[0],))
        self.w, self.b = self.w.rechunk(-1), None if self.b is None else self.b.rechunk(-1)
        self.dtype = result_float(*(a.dtype for a in (h, self.w) + (() if self.b is None
                                                                    else (self.b,))),
                                  func=func, args=("hidden", "weight", "bias"))

    def _blockwise(self, fn: Callable[..., Any], pick: Callable[[Any], np.ndarray],
                   out_ind: str, extra: list[Any], reduction: str, **kw: Any) -> da.Array:
        with_bias = self.b is not None
        task = functools.partial(_linear_task, fn, dict(self.options, reduction=reduction),
                                 with_bias, pick)
        args: list[Any] = [self.h, "rd", self.t, "r", self.w, "VW"]
        if with_bias:
            args += [self.b, "V"]
        return da.blockwise(task, out_ind, *args, *extra, concatenate=True, **kw)

    def denominator(self) -> da.Array:
        cw = self.options.get("class_weight")
        fn = functools.partial(_linear_denominator_task, None if cw is None else np.asarray(cw),
                               check_ignore_index(self.func, self.options["ignore_index"]),
                               self.w.shape[0], self.func)
        parts = self.t.map_blocks(fn, chunks=((1,) * self.t.numblocks[0],), dtype=np.float64)
        return parts.sum()

    def value(self) -> Any:
        if self.reduction == "none":
            per_row = self._blockwise(_ll.linear_cross_entropy, np.asarray, "r", [], "none",
                                      dtype=self.dtype, meta=_meta(1, self.dtype))
            return per_row.reshape(self.lead)
        sums = self._blockwise(_ll.linear_cross_entropy, _first_row, "r", [], "sum",
                               adjust_chunks={"r": 1}, dtype=np.float64,
                               meta=_meta(1, np.dtype(np.float64)))
        parts = [sums.sum(), self.denominator()] if self.reduction == "mean" else [sums.sum()]
        fn = functools.partial(_finish_linear, self.dtype)
        return da.map_blocks(fn, *parts, dtype=self.dtype, meta=_meta(0, self.dtype))

    def grads(self, grad_output: Any) -> tuple[da.Array, da.Array, da.Array | None]:
        if self.reduction == "none":
            g = (da.ones(self.lead, chunks=self.t.chunks if len(self.lead) == 1 else "auto")
                 if grad_output is None else _dask(grad_output, self.func, "grad_output"))
            try:
                g = da.broadcast_to(g, self.lead)
            except ValueError:
                raise ValueError(f"{self.func}: grad_output has shape {g.shape}; expected the "
                                 f"loss shape {self.lead}") from None
            extra: list[Any] = [g.reshape(-1).rechunk(self.t.chunks), "r"]
        else:
            go = _scalar_grad_output(self.func, grad_output, self.reduction)
            scale: Any = da.asarray(go) if not isinstance(go, da.Array) else go
            if self.reduction == "mean":
                scale = da.map_blocks(_ratio, scale, self.denominator(), dtype=np.float64,
                                      meta=_meta(0, np.dtype(np.float64)))
            extra = [scale, ""]
        red = "none" if self.reduction == "none" else "sum"
        fn = _ll.linear_cross_entropy_grad
        d_h = self._blockwise(fn, _item_0, "rd", extra, red, dtype=self.h.dtype,
                              meta=_meta(2, self.h.dtype)).reshape(self.shape)
        d_w = self._blockwise(fn, _item_1, "rVW", extra, red, adjust_chunks={"r": 1},
                              dtype=self.w.dtype, meta=_meta(3, self.w.dtype)).sum(axis=0)
        d_b = None
        if self.b is not None:
            d_b = self._blockwise(fn, _item_2, "rV", extra, red, adjust_chunks={"r": 1},
                                  dtype=self.b.dtype, meta=_meta(2, self.b.dtype)).sum(axis=0)
        return d_h, d_w, d_b


def _item_0(grads: Any) -> np.ndarray:
    return np.asarray(grads[0])


def _item_1(grads: Any) -> np.ndarray:
    return np.asarray(grads[1])[None]


def _item_2(grads: Any) -> np.ndarray:
    return np.asarray(grads[2])[None]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.array(ieee_div(float(num), float(den)))


def _finish_linear(dtype: np.dtype, total: np.ndarray,
                   den: np.ndarray | None = None) -> Any:
    value = ieee_div(float(total), float(den)) if den is not None else float(total)
    return as_scalar(dtype, value)  # as the in-memory reduction rounds (and warns)


_LINEAR_DOCS = (
    """Lazy :func:`logitloss.linear_cross_entropy`: `hidden` and `target`
    chunked by rows (hidden's last axis whole), `weight` and `bias` whole in
    every task; each chunk runs the in-memory function, and reductions
    combine exactly (the chunks' sums over the summed denominators).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import logitloss as ll, logitloss.dask as lld
    >>> rng = np.random.default_rng(0)
    >>> h, w = rng.standard_normal((6, 3)), rng.standard_normal((10, 3))
    >>> t = np.array([1, 0, 9, -100, 4, 4])
    >>> lazy = lld.linear_cross_entropy(da.from_array(h, chunks=(2, 3)), w, t)
    >>> bool(np.isclose(lazy.compute(), ll.linear_cross_entropy(h, w, t)))
    True
    """,
    """Lazy :func:`logitloss.linear_cross_entropy_grad`: ``d_hidden`` chunked
    like `hidden`; ``d_weight`` and ``d_bias`` summed across the chunks; a
    'mean' gradient computes the global denominator (from the targets) first.

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> import logitloss as ll, logitloss.dask as lld
    >>> rng = np.random.default_rng(0)
    >>> h, w = rng.standard_normal((6, 3)), rng.standard_normal((10, 3))
    >>> t = np.array([1, 0, 9, 2, 4, 4])
    >>> lazy = lld.linear_cross_entropy_grad(da.from_array(h, chunks=2), w, t)
    >>> d_h, d_w, _ = dask.compute(*lazy)
    >>> want = ll.linear_cross_entropy_grad(h, w, t)
    >>> bool(np.allclose(d_h, want[0]) and np.allclose(d_w, want[1]))
    True
    """,
    """Lazy ``(loss, (d_hidden, d_weight, d_bias))`` of
    :func:`logitloss.linear_cross_entropy`: one graph (compute them together).

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> import logitloss as ll, logitloss.dask as lld
    >>> rng = np.random.default_rng(0)
    >>> h, w, b = rng.standard_normal((6, 3)), rng.standard_normal((10, 3)), np.ones(10)
    >>> t = np.array([1, 0, 9, 2, 4, 4])
    >>> lazy = lld.linear_cross_entropy_value_and_grad(da.from_array(h, chunks=4), w, t, b)
    >>> loss, (d_h, d_w, d_b) = dask.compute(*lazy)
    >>> bool(np.isclose(loss, ll.linear_cross_entropy(h, w, t, b)))
    True
    """,
)


def _lazy_linear(func: str, kind: str, args: dict[str, Any]) -> Any:
    grad_output = args.pop("grad_output", None)
    call = _LinearCall(func, args)
    if kind == "value":
        return call.value()
    if kind == "grad":
        return call.grads(grad_output)
    return call.value(), call.grads(None)


def _lazy_linear_trio() -> tuple[Callable[..., Any], ...]:
    """The lazy trio with logitloss.linear_cross_entropy's parameters."""
    from .linear import GRAD_OUTPUT, PARAMETERS

    fields = "{" + ", ".join(f"{p.name!r}: {p.name}" for p in PARAMETERS)
    namespace = {"Any": Any, "_lazy_linear": _lazy_linear}
    fns = []
    for suffix, kind, extra, doc in (("", "value", [], _LINEAR_DOCS[0]),
                                     ("_grad", "grad", [GRAD_OUTPUT], _LINEAR_DOCS[1]),
                                     ("_value_and_grad", "both", [], _LINEAR_DOCS[2])):
        name = "linear_cross_entropy" + suffix
        args = fields + (", 'grad_output': grad_output}" if extra else "}")
        fns.append(make_function(name, PARAMETERS + extra,
                                 f"_lazy_linear({name!r}, {kind!r}, {args})", namespace, doc,
                                 __name__, "Any"))
    return tuple(fns)


linear_cross_entropy, linear_cross_entropy_grad, linear_cross_entropy_value_and_grad = (
    _lazy_linear_trio())


__all__ += ["linear_cross_entropy", "linear_cross_entropy_grad",
            "linear_cross_entropy_value_and_grad"]
