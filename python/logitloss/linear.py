"""Linear cross-entropy: ``cross_entropy(hidden @ weight.T + bias, target)``
without the ``(..., V)`` logits, for large vocabularies.

Note [Linear cross-entropy]
The rows whose target is not ignored are taken in chunks of ``chunk_size``
(default: a chunk's logits stay within 32 MiB). Per chunk: one matrix
product into a buffer reused by every chunk (NumPy's ``matmul``: the BLAS
NumPy ships), the bias added in place, the fused cross-entropy kernel in
place on it (the logits become their gradient G, Note [Stable
cross-entropy]), then ``d_hidden[rows] = G @ weight`` and ``d_weight +=
G.T @ hidden[rows]`` (by blocks of the vocabulary, so the product that is
added stays small) and ``d_bias += G.sum(0)``. Ignored rows cost no product;
the targets are checked, and the 'mean' denominator summed, before any.

Memory beyond the returned gradients: the logits buffer (chunk x V), a
gathered chunk of hidden when rows are skipped, one vocabulary block of
d_weight (<= 4 MiB) and, for 16-bit weights, one float32 copy of weight
(the products run in float32). Threads: the kernel uses logitloss's pool;
NumPy's BLAS is limited to ``get_num_threads()`` for the call when
threadpoolctl is installed (it is optional), else it keeps its own setting.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import operator
from collections.abc import Iterator
from typing import Any, Callable, NamedTuple

import numpy as np

from . import _core
from ._family import make_function
from ._options import (
    check_ignore_index,
    check_reduction,
    check_softcap,
    check_unit_interval,
    check_z_loss,
)
from ._scalars import as_scalar, ieee_div
from ._validation import as_array, as_float, dtype_name, result_float
from .runtime import get_num_threads

__all__ = [
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
    "linear_cross_entropy_value_and_grad",
]

_CHUNK_BYTES = 32 << 20  # a chunk's logits, by default
_VOCAB_BLOCK_BYTES = 4 << 20  # one block of d_weight's per-chunk product
_FLOAT32 = np.dtype(np.float32)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _Linear(NamedTuple):
    func: str
    hidden: np.ndarray  # (N, D), the given dtype
    weight: np.ndarray  # (V, D), the given dtype
    bias: np.ndarray | None  # (V,)
    target: np.ndarray  # (N,) int64, only the active rows
    rows: np.ndarray | None  # active rows' indices; None: all rows, in order
    class_weight: np.ndarray | None  # (V,) float64
    ignore: int
    smoothing: float
    softcap: float
    z_loss: float
    reduction: str
    chunk: int  # rows per chunk
    dtype: np.dtype  # the result's (hidden, weight and bias promoted)
    work: np.dtype  # the products' (float32 for 16-bit)
    lead_shape: tuple[int, ...]  # hidden.shape[:-1]
    denominator: float  # of 'mean': summed class weight of the active targets


def _check_chunk_size(func: str, chunk_size: object, vocab: int, itemsize: int) -> int:
    if chunk_size is None:
        return max(1, _CHUNK_BYTES // max(1, vocab * itemsize))
    if isinstance(chunk_size, (bool, np.bool_)):
        raise TypeError(f"{func}: chunk_size must be an integer or None, not bool")
    try:
        n = operator.index(chunk_size)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{func}: chunk_size must be an integer or None, not "
                        f"{type(chunk_size).__name__}") from None
    if n < 1:
        raise ValueError(f"{func}: chunk_size must be >= 1, got {n}")
    return n


def _vector(func: str, name: str, value: object, vocab: int, dtype: np.dtype | None) -> np.ndarray:
    a = as_float(value, func, name, dtype)
    if a.shape != (vocab,):
        raise ValueError(f"{func}: {name} has shape {a.shape}; expected ({vocab},), one per "
                         "class (a row of weight)")
    return a


def _operands(func: str, hidden: Any, weight: Any, target: Any, bias: Any, class_weight: Any,
              ignore_index: Any, reduction: Any, label_smoothing: Any, softcap: Any,
              z_loss: Any, chunk_size: Any) -> _Linear:
    red = check_reduction(func, reduction)
    eps = check_unit_interval(func, "label_smoothing", label_smoothing)
    ignore = check_ignore_index(func, ignore_index)
    cap, z = check_softcap(func, softcap), check_z_loss(func, z_loss)
    h = as_float(hidden, func, "hidden")
    if h.ndim == 0:
        raise ValueError(f"{func}: hidden must have shape (..., D); got a 0-d array")
    w = as_float(weight, func, "weight")
    if w.ndim != 2:
        raise ValueError(f"{func}: weight must be 2-D, (V, D); got shape {w.shape}")
    vocab, features = w.shape
    if features != h.shape[-1]:
        raise ValueError(f"{func}: weight has shape {w.shape} but hidden has shape {h.shape}: "
                         f"D = {h.shape[-1]} features, weight must be ({vocab}, {h.shape[-1]})")
    b = None if bias is None else _vector(func, "bias", bias, vocab, None)
    dtypes = [h.dtype, w.dtype] + ([] if b is None else [b.dtype])
    names = ["hidden", "weight"] + ([] if b is None else ["bias"])
    dtype = result_float(*dtypes, func=func, args=names)
    work = _FLOAT32 if dtype.itemsize == 2 else dtype
    cw = None
    if class_weight is not None:
        # Rounded to the logits' dtype first, as cross_entropy does.
        cw = _vector(func, "class_weight", class_weight, vocab, None).astype(dtype).astype(
            np.float64)
    t = as_array(target, func, "target")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{func}: target has unsupported dtype {dtype_name(t.dtype)}; expected "
                        "integer class indices")
    lead = h.shape[:-1]
    if t.shape != lead:
        raise ValueError(f"{func}: target has shape {t.shape} but hidden has shape {h.shape}; "
                         f"expected {lead} (hidden without its last axis)")
    flat = t.reshape(-1)
    active = flat != ignore if t.dtype.kind == "u" or _INT64_MIN <= ignore <= _INT64_MAX \
        else np.ones(flat.shape, bool)
    kept = flat[active]
    if kept.size and (kept.min() < 0 or kept.max() >= vocab):
        bad = kept[(kept < 0) | (kept >= vocab)][0]
        raise IndexError(f"{func}: target {int(bad)} is out of range for {vocab} classes")
    kept = kept.astype(np.int64)
    rows = None if kept.size == flat.size else np.flatnonzero(active)
    # cross_entropy's denominator: the per-row weights (0 when ignored) summed
    # in its order, so that 'mean' divides by the same number.
    per_row = np.zeros(flat.size)
    per_row[active] = 1.0 if cw is None else cw[kept]
    den = float(_core.row_sum(per_row))
    chunk = _check_chunk_size(func, chunk_size, vocab, work.itemsize)
    return _Linear(func, h.reshape(flat.size, features), w, b, kept, rows, cw, ignore, eps, cap,
                   z, red, chunk, dtype, work, lead, den)


@contextlib.contextmanager
def _blas_threads() -> Iterator[None]:
    """NumPy's BLAS limited to logitloss's thread count for the call, when
    threadpoolctl is installed (optional); otherwise BLAS keeps its own."""
    controller = _controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=get_num_threads(), user_api="blas"):
        yield


_CONTROLLER: list[Any] = []


def _controller() -> Any:
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())  # scans the loaded libraries once
    return _CONTROLLER[0]


def _in(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return a if a.dtype == dtype else a.astype(dtype)


def _run(op: _Linear, want_loss: bool, want_grad: bool,
         grad_output: Any = None) -> tuple[Any, tuple[np.ndarray, np.ndarray, np.ndarray | None]
                                          | None]:
    _func, h, work = op.func, op.hidden, op.work
    n_active, (vocab, features) = op.target.size, op.weight.shape
    n_rows = h.shape[0]
    scale, scalar = _grad_scale(op, grad_output) if want_grad else (None, 1.0)
    w = _in(op.weight, work)  # 16-bit weights: one float32 copy per call
    bias = None if op.bias is None else _in(op.bias, work)
    loss = np.zeros(n_active) if want_loss else None
    grads = None
    if want_grad:
        dh = np.zeros((n_rows, features), work)
        dw = np.zeros((vocab, features), work)
        db = None if bias is None else np.zeros(vocab, work)
    buffer = np.empty((min(op.chunk, max(n_active, 1)), vocab), work)
    vblock = max(1, _VOCAB_BLOCK_BYTES // max(1, features * work.itemsize))
    product = np.empty((min(vblock, vocab), features), work) if want_grad else None
    # NaN/inf in the operands make NaN/inf rows, as in cross_entropy: without
    # a warning (the products' floating-point flags are not the user's).
    with _blas_threads(), np.errstate(invalid="ignore", over="ignore"):
        for c0 in range(0, n_active, op.chunk):
            c1 = min(c0 + op.chunk, n_active)
            rows = slice(c0, c1) if op.rows is None else op.rows[c0:c1]
            hc = _in(h[rows], work)
            logits = buffer[: c1 - c0]
            np.matmul(hc, w.T, out=logits)
            if bias is not None:
                np.add(logits, bias, out=logits)
            x3 = logits.reshape(c1 - c0, vocab, 1)
            bad = _core.cross_entropy(
                x3, op.target[c0:c1], None, op.class_weight, op.ignore, False, op.smoothing,
                op.softcap, op.z_loss, None if loss is None else loss[c0:c1], None,
                x3 if want_grad else None, None if scale is None else scale[c0:c1], scalar,
                False)
            assert bad < 0  # the targets were checked first
            if want_grad:
                assert product is not None
                if op.rows is None:
                    np.matmul(logits, w, out=dh[c0:c1])
                else:
                    dh[rows] = logits @ w
                for v0 in range(0, vocab, vblock):
                    v1 = min(v0 + vblock, vocab)
                    part = product[: v1 - v0]
                    np.matmul(logits[:, v0:v1].T, hc, out=part)
                    np.add(dw[v0:v1], part, out=dw[v0:v1])
                if db is not None:
                    np.add(db, logits.sum(axis=0), out=db)
    if want_grad:
        d_bias = None if db is None or op.bias is None else _in(db, op.bias.dtype)
        grads = (_in(dh, op.hidden.dtype).reshape(*op.lead_shape, features),
                 _in(dw, op.weight.dtype), d_bias)
    value = _reduce(op, loss) if loss is not None else None
    return value, grads


def _grad_scale(op: _Linear, grad_output: Any) -> tuple[np.ndarray | None, float]:
    """grad_output and the 'mean' denominator as the kernel's per-row scales
    (active rows) or single scale."""
    func = op.func
    if op.reduction == "none":
        if grad_output is None:
            return None, 1.0
        g = as_float(grad_output, func, "grad_output", np.dtype(np.float64))
        try:
            g = np.broadcast_to(g, op.lead_shape)
        except ValueError:
            raise ValueError(f"{func}: grad_output has shape {g.shape}; expected the loss shape "
                             f"{op.lead_shape}") from None
        flat = g.reshape(-1)
        return np.ascontiguousarray(flat if op.rows is None else flat[op.rows]), 1.0
    go = 1.0
    if grad_output is not None:
        g = as_float(grad_output, func, "grad_output", np.dtype(np.float64))
        if g.ndim != 0:
            raise ValueError(f"{func}: grad_output has shape {g.shape}; expected a scalar for "
                             f"reduction={op.reduction!r}")
        go = float(g)
    if op.reduction == "mean":
        go = ieee_div(go, op.denominator)
    return None, go


def _reduce(op: _Linear, loss: np.ndarray) -> Any:
    """The active rows' losses reduced as cross_entropy reduces all rows'
    (ignored ones are 0): in the same order, so the same rounding."""
    full = loss
    if op.rows is not None:
        full = np.zeros(math.prod(op.lead_shape))
        full[op.rows] = loss
    if op.reduction == "none":
        # Beyond the dtype's range: inf, warned as NumPy's cast (as cross_entropy).
        return full.astype(op.dtype).reshape(op.lead_shape)
    total = float(_core.row_sum(full))
    if op.reduction == "mean":
        total = ieee_div(total, op.denominator)
    return as_scalar(op.dtype, total)


def _linear_cross_entropy(
    hidden: Any,
    weight: Any,
    target: Any,
    bias: Any = None,
    *,
    class_weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    softcap: float | None = None,
    z_loss: float = 0.0,
    chunk_size: int | None = None,
) -> Any:
    """Cross-entropy of a linear layer's logits without forming them:
    ``cross_entropy(hidden @ weight.T + bias, target, class_weight, axis=-1,
    ...)`` in row chunks (Note [Linear cross-entropy]).

    Parameters
    ----------
    hidden : array_like
        Hidden states, ``(..., D)``.
    weight : array_like
        The output layer's weight, ``(V, D)`` (the layout of
        ``torch.nn.Linear.weight``).
    target : array_like
        Integer class indices shaped ``hidden.shape[:-1]``.
    bias : array_like, optional
        ``(V,)``.
    class_weight : array_like, optional
        Per-class weights ``(V,)``: :func:`cross_entropy`'s `weight`.
    ignore_index, reduction, label_smoothing, softcap, z_loss
        As for :func:`cross_entropy`.
    chunk_size : int, optional
        Rows per chunk; default: a chunk's logits take at most 32 MiB.

    Returns
    -------
    scalar or ndarray
        A NumPy scalar for 'mean'/'sum', else an array shaped
        ``hidden.shape[:-1]``; the dtype is that of `hidden`, `weight` and
        `bias` promoted (16-bit inputs are multiplied in float32).

    Raises
    ------
    TypeError
        Non-numeric arrays, floating targets, bad option types.
    ValueError
        Mismatched shapes (D, V, target), bad options or chunk_size < 1.
    IndexError
        A non-ignored target outside ``[0, V)``.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> rng = np.random.default_rng(0)
    >>> h, w = rng.standard_normal((4, 3)), rng.standard_normal((10, 3))
    >>> t = np.array([1, 0, 9, -100])
    >>> loss = ll.linear_cross_entropy(h, w, t, chunk_size=2)
    >>> bool(np.isclose(loss, ll.cross_entropy(h @ w.T, t, axis=-1)))
    True
    """


_GRAD_DOC = """Gradients of :func:`linear_cross_entropy`: ``(d_hidden, d_weight,
    d_bias)``, shaped and typed like `hidden`, `weight` and `bias`
    (``d_bias`` is None without a bias). `grad_output` as for
    :func:`cross_entropy_grad`.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> rng = np.random.default_rng(0)
    >>> h, w = rng.standard_normal((4, 3)), rng.standard_normal((10, 3))
    >>> d_h, d_w, d_b = ll.linear_cross_entropy_grad(h, w, np.array([1, 0, 9, 2]))
    >>> g = ll.cross_entropy_grad(h @ w.T, np.array([1, 0, 9, 2]), axis=-1)
    >>> bool(np.allclose(d_h, g @ w) and np.allclose(d_w, g.T @ h)), d_b is None
    (True, True)
    """

_VALUE_AND_GRAD_DOC = """``(loss, (d_hidden, d_weight, d_bias))`` of :func:`linear_cross_entropy`
    in one pass over the chunks: each chunk's logits are formed once.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> rng = np.random.default_rng(0)
    >>> h, w, b = rng.standard_normal((4, 3)), rng.standard_normal((10, 3)), np.zeros(10)
    >>> loss, (d_h, d_w, d_b) = ll.linear_cross_entropy_value_and_grad(h, w, [1, 0, 9, 2], b)
    >>> d_h.shape, d_w.shape, d_b.shape
    ((4, 3), (10, 3), (10,))
    """


def _value(func: str, *args: Any) -> Any:
    return _run(_operands(func, *args), want_loss=True, want_grad=False)[0]


def _grad(func: str, grad_output: Any, *args: Any) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray | None]:
    grads = _run(_operands(func, *args), want_loss=False, want_grad=True,
                 grad_output=grad_output)[1]
    assert grads is not None
    return grads


def _value_and_grad(func: str, *args: Any) -> tuple[Any, tuple[np.ndarray, np.ndarray,
                                                                np.ndarray | None]]:
    value, grads = _run(_operands(func, *args), want_loss=True, want_grad=True)
    assert grads is not None
    return value, grads


#: The trio's parameters (logitloss.dask's follow them too).
PARAMETERS = list(inspect.signature(_linear_cross_entropy).parameters.values())
GRAD_OUTPUT = inspect.Parameter("grad_output", inspect.Parameter.KEYWORD_ONLY, default=None,
                                annotation="Any")


def _trio() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The three public functions, from _linear_cross_entropy's signature
    (make_function: Note [Loss families])."""
    args = ", ".join(p.name for p in PARAMETERS)
    namespace = {**globals()}
    name = "linear_cross_entropy"
    return (
        make_function(name, PARAMETERS, f"_value({name!r}, {args})", namespace,
                      _linear_cross_entropy.__doc__, __name__, "Any"),
        make_function(name + "_grad", [*PARAMETERS, GRAD_OUTPUT],
                      f"_grad({name + '_grad'!r}, grad_output, {args})", namespace, _GRAD_DOC,
                      __name__, "tuple[np.ndarray, np.ndarray, np.ndarray | None]"),
        make_function(name + "_value_and_grad", PARAMETERS,
                      f"_value_and_grad({name + '_value_and_grad'!r}, {args})", namespace,
                      _VALUE_AND_GRAD_DOC, __name__, "tuple[Any, tuple[np.ndarray, ...]]"),
    )


linear_cross_entropy, linear_cross_entropy_grad, linear_cross_entropy_value_and_grad = _trio()
