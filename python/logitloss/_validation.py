"""Argument checking shared by every public function.

The public modules turn user input into what the kernels take: a native-endian
array of a kernel dtype (float32, float64, float16, bfloat16) seen as an
``(outer, classes, inner)`` view. Errors name the argument they are about.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _outputs

_KERNEL_FLOATS = frozenset({"float32", "float64", "float16", "bfloat16"})


def dtype_name(dtype: np.dtype) -> str:
    return str(dtype.name) if dtype.names is None else "structured"


# dtype -> is it a kernel float? dtype.name is computed in Python by NumPy
# (microseconds per call), and every argument of every call asks.
_kernel_float_cache: dict[np.dtype, bool] = {}


def is_kernel_float(dtype: np.dtype) -> bool:
    known = _kernel_float_cache.get(dtype)
    if known is None:
        known = dtype.names is None and dtype.name in _KERNEL_FLOATS
        if len(_kernel_float_cache) < 256:  # bounded: dtypes can be made freely
            _kernel_float_cache[dtype] = known
    return known


# np.from_dlpack; NumPy 1.22 calls it np._from_dlpack.
_from_dlpack = getattr(np, "from_dlpack", None) or getattr(np, "_from_dlpack", None)
# NumPy < 1.24 turns a ragged sequence into an object array (which
# compute_dtype rejects) after this warning: an exception where warnings are
# errors, caught like NumPy >= 1.24's ValueError.
_RAGGED_WARNING = getattr(np, "exceptions", np).VisibleDeprecationWarning
_NOT_AN_ARRAY = (TypeError, ValueError, BufferError, RuntimeError, _RAGGED_WARNING)


def as_array(value: object, func: str, arg: str) -> np.ndarray:
    """`value` as an ndarray, sharing its memory wherever the memory allows,
    with a TypeError naming the argument for non-arrays.

    ndarrays pass as they are. Other CPU arrays are read where they lie:
    PyTorch tensors (through a detached view when they require grad),
    DLPack exporters (``__dlpack__``: JAX arrays, ...), then anything
    ``np.asarray`` takes (``__array__``, the buffer protocol, nested
    sequences). The result may be a view of the caller's memory: it is only
    ever read (views of other libraries' memory are made read-only).
    """
    if type(value) is np.ndarray:
        return value
    if value is None:
        raise TypeError(f"{func}: {arg} must be an array, not None")
    try:
        return _foreign_array(value)
    except _NOT_AN_ARRAY as exc:  # ragged lists, other devices, ...
        raise TypeError(f"{func}: {arg} is not a valid numeric array ({exc})") from None


def _foreign_array(value: object) -> np.ndarray:
    if isinstance(value, np.ndarray):  # subclasses (np.matrix, masked): the data
        return np.asarray(value)
    torch = sys.modules.get("torch")  # never imported here: a tensor implies it
    if torch is not None and isinstance(value, torch.Tensor):
        return _read_only(_torch_array(value, torch))
    if _from_dlpack is not None and hasattr(type(value), "__dlpack__"):
        try:
            return _read_only(_from_dlpack(value))
        except (TypeError, ValueError, BufferError, RuntimeError):
            # A dtype NumPy's DLPack import lacks (bfloat16) or a device it
            # cannot read: the object's own __array__ may still convert it.
            if not hasattr(type(value), "__array__"):
                raise
    return np.asarray(value)


def _read_only(view: np.ndarray) -> np.ndarray:
    """A new view of another library's memory, made read-only: nothing here
    may write to the caller's data, and NumPy now enforces it."""
    view.flags.writeable = False
    return view


def _torch_array(tensor: Any, torch: Any) -> np.ndarray:
    """A CPU tensor's memory as an ndarray (no copy; torch's error for other
    devices)."""
    if tensor.requires_grad:
        tensor = tensor.detach()  # the same memory, outside the autograd graph
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16; ml_dtypes does
        try:
            from ml_dtypes import bfloat16
        except ImportError:
            raise TypeError("torch.bfloat16 needs ml_dtypes (pip install ml_dtypes)") from None
        return tensor.view(torch.int16).numpy().view(bfloat16)  # type: ignore[no-any-return]
    return tensor.numpy()  # type: ignore[no-any-return]


def compute_dtype(dtype: np.dtype, func: str, arg: str) -> np.dtype:
    """The kernel dtype for a value of `dtype` (NumPy's promotion rules).

    float32/float64/float16/bfloat16 stay; integers and bool become float64;
    anything else (complex, object, strings, datetimes, structured, longdouble)
    is a TypeError.
    """
    if is_kernel_float(dtype):
        return dtype if dtype.isnative else dtype.newbyteorder("=")
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(
        f"{func}: {arg} has unsupported dtype {dtype_name(dtype)}; "
        "expected a real floating, integer or bool array"
    )


def as_float(value: object, func: str, arg: str, dtype: np.dtype | None = None) -> np.ndarray:
    """`value` as an array of a kernel dtype (`dtype` if given), copying only
    when the dtype or byte order has to change."""
    a = as_array(value, func, arg)
    want = compute_dtype(a.dtype, func, arg)
    if dtype is not None:
        want = dtype
    return a if a.dtype == want and a.dtype.isnative else a.astype(want)


def result_float(*dtypes: np.dtype, func: str, args: Sequence[str]) -> np.dtype:
    """The common kernel dtype of several inputs (NumPy's result_type)."""
    kinds = [compute_dtype(d, func, a) for d, a in zip(dtypes, args)]
    return compute_dtype(np.result_type(*kinds), func, args[0])


def broadcast_shape(func: str, a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """The shape a and b broadcast to (logsumexp's a and b), or a ValueError
    naming b."""
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{func}: b with shape {b.shape} does not broadcast against a with shape {a.shape}"
        ) from None


def broadcast_to_shape(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """a broadcast to shape; a itself when it already has it (np.broadcast_to
    costs microseconds a call even then)."""
    return a if a.shape == shape else np.broadcast_to(a, shape)


def normalize_axis(axis: object, ndim: int, func: str, arg: str = "axis") -> int:
    try:
        k = operator.index(axis)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{func}: {arg} must be an int, a tuple of ints or None, not {type(axis).__name__}"
        ) from None
    if not -ndim <= k < ndim:
        raise ValueError(f"{func}: {arg} {k} is out of bounds for an array of dimension {ndim}")
    return k % ndim


def normalize_axes(axis: object, ndim: int, func: str) -> tuple[int, ...]:
    """None -> every axis; int or tuple of ints -> sorted distinct axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim, func) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{func}: axis {tuple(axis)} has repeated axes")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim, func),)


class ClassLayout(NamedTuple):
    """How an array maps onto the kernels' (outer, classes, inner) view.

    The class axes are reduced; `reduced_shape` is the array's shape without
    them (the kernels' row order, C-order) and `kept_shape` keeps them as 1.
    """

    shape: tuple[int, ...]
    axes: tuple[int, ...]
    outer: int
    classes: int
    inner: int
    reduced_shape: tuple[int, ...]
    kept_shape: tuple[int, ...]

    @property
    def contiguous_axes(self) -> bool:
        """One class axis, or several adjacent ones: a plain reshape."""
        if not self.axes:
            return True
        return self.axes == tuple(range(self.axes[0], self.axes[0] + len(self.axes)))

    def view3(self, a: np.ndarray) -> np.ndarray:
        """`a` (shaped like the input) as (outer, classes, inner); a view
        whenever the strides allow, else a copy."""
        if not self.contiguous_axes:
            others = [d for d in range(len(self.shape)) if d not in self.axes]
            a = a.transpose(others + list(self.axes))
        return a.reshape(self.outer, self.classes, self.inner)

    def writable_view3(self, out: np.ndarray) -> np.ndarray | None:
        """`out` (shaped like the input) as a writable (outer, classes, inner)
        view of its own memory, or None where that would take a copy."""
        view = self.view3(out)
        return view if view.size == 0 or np.may_share_memory(view, out) else None

    def output(self, out: np.ndarray | None, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """An array shaped like the input and its writable 3-D view: `out`
        itself when given and viewable, else a new array (which the caller
        copies into `out` when it was given: see `finish`)."""
        if out is not None:
            out3 = self.writable_view3(out)
            if out3 is not None:
                return out, out3
        return self.new_output(dtype)

    def new_output(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """A fresh array shaped like the input and its writable 3-D view."""
        if self.contiguous_axes:
            full = _outputs.empty(self.shape, dtype)
            return full, full.reshape(self.outer, self.classes, self.inner)
        others = [d for d in range(len(self.shape)) if d not in self.axes]
        perm = others + list(self.axes)
        moved = _outputs.empty(tuple(self.shape[d] for d in perm), dtype)
        return moved.transpose(np.argsort(perm)), moved.reshape(self.outer, self.classes, 1)


def reduction_layout(
    func: str, x: np.ndarray, b: np.ndarray | None, axis: object
) -> tuple[np.ndarray, np.ndarray | None, ClassLayout]:
    """x (and b, of x's shape) at least 1-D, as SciPy treats a scalar, and
    the layout that reduces `axis` of it."""
    if x.ndim == 0:
        x = x.reshape(1)
        b = None if b is None else b.reshape(1)
    return x, b, class_layout(x.shape, normalize_axes(axis, x.ndim, func))


def class_layout(shape: tuple[int, ...], axes: tuple[int, ...]) -> ClassLayout:
    ndim = len(shape)
    classes = _prod(shape[d] for d in axes)
    contiguous = axes == tuple(range(axes[0], axes[0] + len(axes))) if axes else True
    if contiguous and axes:
        outer = _prod(shape[: axes[0]])
        inner = _prod(shape[axes[-1] + 1 :])
    else:
        outer = _prod(shape[d] for d in range(ndim) if d not in axes)
        inner = 1
    reduced = tuple(shape[d] for d in range(ndim) if d not in axes)
    kept = tuple(1 if d in axes else shape[d] for d in range(ndim))
    return ClassLayout(tuple(shape), axes, outer, classes, inner, reduced, kept)


def _prod(values: object) -> int:
    p = 1
    for v in values:  # type: ignore[attr-defined]
        p *= int(v)
    return p
