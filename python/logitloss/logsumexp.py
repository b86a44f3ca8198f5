"""The log-sum-exp family, with ``scipy.special`` semantics.

``logsumexp``, ``softmax`` and ``log_softmax`` give SciPy's values for every
real input (+-inf, NaN, negative ``b``, ``return_sign``); the ``*_grad``
functions are their derivatives (vector-Jacobian products for the softmaxes).
Every axis is computed in place through an (outer, classes, inner) view: no
transposed copy for a single class axis or adjacent class axes.
"""

from __future__ import annotations

from typing import Any, Literal, cast, overload

import numpy as np

from . import _complex_lse, _core
from ._outputs import checked_out, into
from ._typing import ArrayLike, Axis, FloatArray, FloatResult, FloatScalar, ScalarLike
from ._validation import (
    ClassLayout,
    as_array,
    as_float,
    broadcast_shape,
    broadcast_to_shape,
    class_layout,
    compute_dtype,
    normalize_axes,
    reduction_layout,
    result_float,
)

__all__ = [
    "logsumexp",
    "log_softmax",
    "softmax",
    "logsumexp_grad",
    "log_softmax_grad",
    "softmax_grad",
]


def _scalar_or_array(out: np.ndarray) -> FloatResult:
    return cast("FloatScalar", out[()]) if out.ndim == 0 else out


def _lse_operands(
    func: str, a: object, axis: object, b: object
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, ClassLayout]:
    """a (and b) as arrays of their common kernel dtype, broadcast together,
    at least 1-D as in SciPy; returns them with a in that dtype as given
    (its shape, not broadcast)."""
    x = as_array(a, func, "a")
    if b is None:
        x = a_float = as_float(x, func, "a")
        bb = None
    else:
        barr = b if isinstance(b, np.ndarray) else as_array(b, func, "b")
        dtype = result_float(x.dtype, barr.dtype, func=func, args=("a", "b"))
        shape = broadcast_shape(func, x, barr)
        a_float = as_float(x, func, "a", dtype)
        x = broadcast_to_shape(a_float, shape)
        bb = broadcast_to_shape(as_float(barr, func, "b", dtype), shape)
    x, bb, layout = reduction_layout(func, x, bb, axis)
    return x, bb, a_float, layout


@overload
def logsumexp(
    a: ArrayLike,
    axis: None = None,
    b: ArrayLike | None = None,
    keepdims: Literal[False] = False,
    return_sign: Literal[False] = False,
) -> FloatScalar: ...
@overload
def logsumexp(
    a: ArrayLike,
    axis: None = None,
    b: ArrayLike | None = None,
    keepdims: Literal[False] = False,
    *,
    return_sign: Literal[True],
) -> tuple[FloatScalar, FloatScalar]: ...
@overload
def logsumexp(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: Literal[False] = False,
) -> FloatResult: ...
@overload
def logsumexp(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    *,
    return_sign: Literal[True],
) -> tuple[FloatResult, FloatResult]: ...
@overload
def logsumexp(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: bool = False,
) -> FloatResult | tuple[FloatResult, FloatResult]: ...
def logsumexp(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: bool = False,
) -> FloatResult | tuple[FloatResult, FloatResult]:
    """Log of the sum of exponentials, ``log(sum(b * exp(a), axis))``.

    Same semantics as :func:`scipy.special.logsumexp`, computed in one stable
    pass per row (the maximum is separated out and ``log1p`` keeps every digit
    when one term dominates).

    Complex input (complex64, complex128; or a complex `b`) gives SciPy's
    complex result: ``log(sum(b * exp(a)))`` on the principal branch, its
    imaginary part in (-pi, pi]; with ``return_sign`` the real
    ``log|sum|`` and the complex unit ``sum / |sum|``. It is computed in
    double precision with the entry of largest real part factored out (see
    the user guide for its accuracy). The gradients and losses refuse
    complex input.

    Parameters
    ----------
    a : array_like
        Input values (float32, float64, float16, bfloat16, complex64,
        complex128; integers and bool are promoted to float64).
    axis : None or int or tuple of ints, optional
        Axes to reduce; None reduces all of them.
    b : array_like, optional
        Scale factors broadcast against `a`; may be negative (subtraction).
        Entries with ``b == 0`` are ignored, even where `a` is inf or NaN.
    keepdims : bool, optional
        Keep the reduced axes with size one.
    return_sign : bool, optional
        Also return the sign of the sum; otherwise a negative sum gives NaN.

    Returns
    -------
    res : ndarray or scalar
        ``log|sum(b * exp(a))|`` in the result dtype (complex input: the
        complex log, or its real part with ``return_sign``).
    sgn : ndarray or scalar
        With ``return_sign``: +1, -1, or 0 for a zero sum (complex input:
        the complex unit ``sum / |sum|``, 0 for a zero sum).

    Raises
    ------
    TypeError
        For object, string, longdouble or other non-numeric dtypes.
    ValueError
        For an axis out of range or repeated, or `b` not broadcastable.

    Examples
    --------
    >>> import numpy as np
    >>> import logitloss as ll
    >>> float(ll.logsumexp(np.array([1000.0, 1000.0])))
    1000.6931471805599
    >>> ll.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    >>> ll.logsumexp([0.0, 3.141592653589793j])  # log(1 + exp(i pi)) = log(0 + 1.2e-16j)
    np.complex128(-36.63870901270898+1.5707963267948966j)
    """
    func = "logsumexp"
    x = as_array(a, func, "a")
    barr = None if b is None else as_array(b, func, "b")
    if _complex_lse.is_complex(x, barr):
        # Complex results; the annotations (for the common real input) say floating.
        return cast("FloatResult", _complex_lse.logsumexp(func, x, barr, axis, keepdims,
                                                          return_sign))
    x, bb, _, layout = _lse_operands(func, x, axis, barr)
    lse = np.empty(layout.reduced_shape, x.dtype)
    sign = np.empty(layout.reduced_shape, x.dtype) if return_sign else None
    _core.logsumexp(layout.view3(x), None if bb is None else layout.view3(bb), lse, sign)
    shape = layout.kept_shape if keepdims else layout.reduced_shape
    out = _scalar_or_array(lse.reshape(shape))
    if return_sign:
        assert sign is not None
        return out, _scalar_or_array(sign.reshape(shape))
    return out


def _softmax(func: str, x: ArrayLike, axis: Axis, log: bool) -> FloatResult:
    arr = as_float(x, func, "x")
    shape = arr.shape
    arr = arr.reshape(1) if arr.ndim == 0 else arr
    layout = class_layout(arr.shape, normalize_axes(axis, arr.ndim, func))
    out, out3 = layout.new_output(arr.dtype)
    _core.softmax(layout.view3(arr), out3, log)
    return _scalar_or_array(out.reshape(shape))


@overload
def softmax(x: ScalarLike, axis: Axis = None) -> FloatScalar: ...
@overload
def softmax(x: ArrayLike, axis: Axis = None) -> FloatArray: ...
def softmax(x: ArrayLike, axis: Axis = None) -> FloatArray | FloatScalar:
    """Softmax, ``exp(x) / sum(exp(x), axis)``, as :func:`scipy.special.softmax`.

    Parameters
    ----------
    x : array_like
        Input values.
    axis : None or int or tuple of ints, optional
        Axes to normalise over; None normalises over the whole array.

    Returns
    -------
    ndarray
        Same shape and dtype as `x`; sums to 1 along `axis`. Rows holding
        NaN, +inf, or only -inf are NaN, as in SciPy. An empty `x` gives an
        empty result (SciPy raises).

    Raises
    ------
    TypeError
        For a non-real dtype.
    ValueError
        For an axis out of range or repeated.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.softmax([[0.0, 0.0], [1000.0, 0.0]], axis=1)
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    return _softmax("softmax", x, axis, log=False)


@overload
def log_softmax(x: ScalarLike, axis: Axis = None) -> FloatScalar: ...
@overload
def log_softmax(x: ArrayLike, axis: Axis = None) -> FloatArray: ...
def log_softmax(x: ArrayLike, axis: Axis = None) -> FloatArray | FloatScalar:
    """Logarithm of the softmax, ``x - logsumexp(x, axis)``, as
    :func:`scipy.special.log_softmax`.

    Parameters
    ----------
    x : array_like
        Input values.
    axis : None or int or tuple of ints, optional
        Axes to normalise over; None normalises over the whole array.

    Returns
    -------
    ndarray
        Same shape and dtype as `x`. Rows with NaN are NaN; a row whose
        maximum is +inf is NaN at the +inf entries and -inf elsewhere; an
        all -inf row is NaN (all as in SciPy).

    Raises
    ------
    TypeError
        For a non-real dtype.
    ValueError
        For an axis out of range or repeated.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.log_softmax([1000.0, 1.0])
    array([   0., -999.])
    """
    return _softmax("log_softmax", x, axis, log=True)


def _row_grad_output(
    func: str, grad_output: Any, layout: ClassLayout, dtype: np.dtype
) -> np.ndarray:
    """grad_output of a reduction as a contiguous buffer of one value per row."""
    if grad_output is None:
        return np.ones(layout.outer * layout.inner, dtype)
    g = as_float(grad_output, func, "grad_output", dtype)
    if g.shape not in (layout.reduced_shape, layout.kept_shape):
        raise ValueError(
            f"{func}: grad_output has shape {g.shape}; expected {layout.reduced_shape} "
            f"or {layout.kept_shape} (the shape of the result, without or with keepdims)"
        )
    return np.ascontiguousarray(g).reshape(-1)


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sums a gradient over the axes along which an input was broadcast."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + d for d, n in enumerate(shape) if n == 1 and grad.shape[lead + d] != 1
    )
    summed: np.ndarray = grad.sum(axis=axes).reshape(shape).astype(grad.dtype, copy=False)
    return summed


@overload
def logsumexp_grad(
    a: ScalarLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    grad_output: ArrayLike | None = None,
    out: np.ndarray | None = None,
) -> FloatScalar: ...
@overload
def logsumexp_grad(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    grad_output: ArrayLike | None = None,
    out: np.ndarray | None = None,
) -> FloatArray: ...
def logsumexp_grad(
    a: ArrayLike,
    axis: Axis = None,
    b: ArrayLike | None = None,
    grad_output: ArrayLike | None = None,
    out: np.ndarray | None = None,
) -> FloatArray | FloatScalar:
    """Gradient of :func:`logsumexp` with respect to `a`.

    ``grad_output * b * exp(a - logsumexp(a))``: the softmax weighted by `b`
    (for a negative sum, the derivative of ``log|sum|``).

    Parameters
    ----------
    a, axis, b
        As for :func:`logsumexp`.
    grad_output : array_like, optional
        Upstream gradient shaped like logsumexp's result, with or without the
        reduced axes kept; default ones.
    out : ndarray, optional
        Where to write the gradient: an array of `a`'s shape and result dtype
        (any strides), or `a` itself (in place).

    Returns
    -------
    ndarray
        Shaped and typed like `a` (`out` when given). Rows that are -inf
        throughout (or whose every `b` is 0) have gradient 0, not NaN.

    Raises
    ------
    TypeError
        For a non-real dtype.
    ValueError
        For a bad axis, `b` not broadcastable, or a misshapen grad_output.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.logsumexp_grad([0.0, 0.0, float("-inf")])
    array([0.5, 0.5, 0. ])
    """
    func = "logsumexp_grad"
    x, bb, a_float, layout = _lse_operands(func, a, axis, b)
    shape_a = a_float.shape
    g = _row_grad_output(func, grad_output, layout, x.dtype)
    if out is not None:
        out = checked_out(func, out, a_float, shape_a, x.dtype, [("b", bb), ("grad_output", g)])
    direct = out if x.shape == shape_a else None  # a broadcast a sums its gradient
    grad, grad3 = layout.output(direct, x.dtype)
    _core.logsumexp_grad(layout.view3(x), None if bb is None else layout.view3(bb), g, grad3)
    if grad.ndim != len(shape_a) or grad.shape != shape_a:
        grad = _unbroadcast(grad, shape_a) if len(shape_a) else grad.reshape(())
    grad = into(out, grad)
    return _scalar_or_array(grad) if grad.ndim == 0 else grad


def _softmax_grad(
    func: str, x: ArrayLike, grad_output: ArrayLike, axis: Axis, log: bool,
    out: np.ndarray | None,
) -> FloatResult:
    arr = as_float(x, func, "x")
    g = as_array(grad_output, func, "grad_output")
    compute_dtype(g.dtype, func, "grad_output")
    g = as_float(g, func, "grad_output", arr.dtype)
    if g.shape != arr.shape:
        raise ValueError(
            f"{func}: grad_output has shape {g.shape}; expected the shape of x, {arr.shape}"
        )
    shape = arr.shape
    if out is not None:
        out = checked_out(func, out, arr, shape, arr.dtype, [("grad_output", g)])
    if arr.ndim == 0:
        arr, g = arr.reshape(1), g.reshape(1)
    layout = class_layout(arr.shape, normalize_axes(axis, arr.ndim, func))
    grad, grad3 = layout.output(out if out is not None and out.ndim else None, arr.dtype)
    _core.softmax_grad(layout.view3(arr), layout.view3(g), grad3, log)
    return _scalar_or_array(into(out, grad.reshape(shape)))


@overload
def softmax_grad(
    x: ScalarLike, grad_output: ArrayLike, axis: Axis = None, out: np.ndarray | None = None
) -> FloatScalar: ...
@overload
def softmax_grad(
    x: ArrayLike, grad_output: ArrayLike, axis: Axis = None, out: np.ndarray | None = None
) -> FloatArray: ...
def softmax_grad(
    x: ArrayLike, grad_output: ArrayLike, axis: Axis = None, out: np.ndarray | None = None
) -> FloatArray | FloatScalar:
    """Vector-Jacobian product of :func:`softmax`: ``y * (g - sum(g * y))``
    with ``y = softmax(x)`` and ``g = grad_output``.

    Parameters
    ----------
    x : array_like
        The softmax input.
    grad_output : array_like
        Upstream gradient, shaped like `x`.
    axis : None or int or tuple of ints, optional
        As for :func:`softmax`.
    out : ndarray, optional
        Where to write the result: an array of `x`'s shape and result dtype
        (any strides), or `x` itself (in place).

    Returns
    -------
    ndarray
        Shaped and typed like `x` (`out` when given); zero on rows that are
        -inf throughout.

    Raises
    ------
    TypeError
        For a non-real dtype.
    ValueError
        For a bad axis or a grad_output not shaped like `x`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.softmax_grad([0.0, 0.0], [1.0, 0.0])
    array([ 0.25, -0.25])
    """
    return _softmax_grad("softmax_grad", x, grad_output, axis, log=False, out=out)


@overload
def log_softmax_grad(
    x: ScalarLike, grad_output: ArrayLike, axis: Axis = None, out: np.ndarray | None = None
) -> FloatScalar: ...
@overload
def log_softmax_grad(
    x: ArrayLike, grad_output: ArrayLike, axis: Axis = None, out: np.ndarray | None = None
) -> FloatArray: ...
def log_softmax_grad(
    x: ArrayLike, grad_output: ArrayLike, axis: Axis = None, out: np.ndarray | None = None
) -> FloatArray | FloatScalar:
    """Vector-Jacobian product of :func:`log_softmax`: ``g - softmax(x) * sum(g)``.

    Parameters
    ----------
    x : array_like
        The log_softmax input.
    grad_output : array_like
        Upstream gradient, shaped like `x`.
    axis : None or int or tuple of ints, optional
        As for :func:`log_softmax`.
    out : ndarray, optional
        Where to write the result: an array of `x`'s shape and result dtype
        (any strides), or `x` itself (in place).

    Returns
    -------
    ndarray
        Shaped and typed like `x` (`out` when given); zero on rows that are
        -inf throughout.

    Raises
    ------
    TypeError
        For a non-real dtype.
    ValueError
        For a bad axis or a grad_output not shaped like `x`.

    Examples
    --------
    >>> import logitloss as ll
    >>> ll.log_softmax_grad([0.0, 0.0], [1.0, 0.0])
    array([ 0.5, -0.5])
    """
    return _softmax_grad("log_softmax_grad", x, grad_output, axis, log=True, out=out)
