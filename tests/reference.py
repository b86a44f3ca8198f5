"""Float64 NumPy references for the tests.

Each family has its own section. References are written for clarity, not
speed, and are evaluated in float64 (or exactly, with mpmath, where a test
needs the correctly rounded value).
"""

from __future__ import annotations

import numpy as np

# --- log-sum-exp family ---------------------------------------------------


def log_total_ref(x: np.ndarray, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """(m, log sum exp(x - m)) in float64, keepdims, for finite inputs.

    The sum is split as 1 + (the others) with log1p, so that a dominant
    entry keeps every digit (log(1 + tiny) would round the tiny away).
    """
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    ties = np.sum(x == m, axis=axis, keepdims=True)
    rest = np.sum(np.where(x == m, 0.0, e), axis=axis, keepdims=True)
    return m, np.log(ties) + np.log1p(rest / ties)


def lse_ref(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """logsumexp in float64 (finite inputs)."""
    m, log_total = log_total_ref(x, axis)
    out = m + log_total
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax_ref(x: np.ndarray, axis=None) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.exp(x - lse_ref(x, axis, keepdims=True))


def log_softmax_ref(x: np.ndarray, axis=None) -> np.ndarray:
    x = np.asarray(x, np.float64)
    m, log_total = log_total_ref(x, axis)
    return (x - m) - log_total


def softmax_vjp_ref(x: np.ndarray, g: np.ndarray, axis) -> np.ndarray:
    y = softmax_ref(x, axis)
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def log_softmax_vjp_ref(x: np.ndarray, g: np.ndarray, axis) -> np.ndarray:
    return g - softmax_ref(x, axis) * np.sum(g, axis=axis, keepdims=True)


def central_difference(f, x: np.ndarray, g: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d <g, f(x)> / dx by central differences, one coordinate at a time."""
    x = np.array(x, np.float64)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = np.sum(g * f(x))
        x[i] = old - h
        down = np.sum(g * f(x))
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


# --- cross-entropy family ---
# Straightforward float64 formulas of torch.nn.functional.cross_entropy /
# nll_loss (class axis moved last), used where torch is not needed or not
# installed. Not accurate for confident rows: the mpmath tests cover those.


def _class_last(x: np.ndarray, axis: int | None) -> np.ndarray:
    ax = (1 if x.ndim >= 2 else 0) if axis is None else axis % x.ndim
    return np.moveaxis(np.asarray(x, np.float64), ax, -1)


def _log_softmax_last(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True) if x.shape[-1] else np.zeros((*x.shape[:-1], 1))
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def _index_coefficients(
    target: np.ndarray, C: int, weight: np.ndarray | None, ignore_index: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample coefficients k[..., c] with loss = -sum_c k_c log p_c, and
    the per-sample target weight (0 where ignored)."""
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    t = np.asarray(target).astype(np.int64)
    valid = t != ignore_index
    tc = np.where(valid, t, 0)
    onehot = np.zeros((*t.shape, C))
    np.put_along_axis(onehot, tc[..., None], 1.0, axis=-1)
    wt = np.where(valid, w[tc] if C else 0.0, 0.0)
    k = (1 - eps) * onehot * wt[..., None] + (eps / C if C else 0.0) * w * valid[..., None]
    return k, wt


def _reduce_ref(loss: np.ndarray, reduction: str, den: float) -> np.ndarray | float:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return float(np.sum(loss))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(np.sum(loss)) / np.float64(den))


def cross_entropy_ref(
    x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
    axis=None, nll=False,
):
    """Loss (per sample for 'none') in float64."""
    xl = _class_last(np.asarray(x), axis)
    C = xl.shape[-1]
    lp = xl if nll else _log_softmax_last(xl)
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        k, wt = _index_coefficients(t, C, weight, ignore_index, label_smoothing)
        den = float(np.sum(wt))
    else:
        w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
        q = _class_last(t, axis) * (1 - label_smoothing) + label_smoothing / C
        k = q * w
        den = float(np.prod(xl.shape[:-1]))
    with np.errstate(invalid="ignore"):
        loss = -np.sum(np.where(k != 0, k * lp, 0.0), axis=-1)
    return _reduce_ref(loss, reduction, den)


def cross_entropy_grad_ref(
    x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
    axis=None, grad_output=None, nll=False,
):
    """d loss / d x in float64 (shaped like x)."""
    x = np.asarray(x)
    ax = (1 if x.ndim >= 2 else 0) if axis is None else axis % x.ndim
    xl = _class_last(x, ax)
    C = xl.shape[-1]
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        k, wt = _index_coefficients(t, C, weight, ignore_index, label_smoothing)
        den = float(np.sum(wt))
    else:
        w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
        k = (_class_last(t, ax) * (1 - label_smoothing) + label_smoothing / C) * w
        den = float(np.prod(xl.shape[:-1]))
    g = np.ones(xl.shape[:-1]) if grad_output is None else np.asarray(grad_output, np.float64)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            g = g / np.float64(den)
    g = np.broadcast_to(g, xl.shape[:-1])[..., None]
    if nll:
        grad = -k * g
    else:
        p = np.exp(_log_softmax_last(xl))
        grad = (p * np.sum(k, axis=-1, keepdims=True) - k) * g
    return np.moveaxis(grad, -1, ax)


# --- end cross-entropy family ---


# --- mpmath helpers (exact references) ---------------------------------------


def mp_row(v):
    """(softmax, -log_softmax) of a row of mpmath numbers at the current
    precision (-log p_c as (m - x_c) + log sum exp(x - m): no cancellation)."""
    import mpmath

    m = max(v)
    e = [mpmath.exp(a - m) for a in v]
    total = mpmath.fsum(e)
    log_total = mpmath.log(total)
    return [a / total for a in e], [(m - a) + log_total for a in v]


def ulp_error(got, exact, dtype) -> float:
    """|got - exact| in units of the last place of `exact` in `dtype`."""
    import mpmath

    unit = float(np.spacing(np.abs(np.dtype(dtype).type(float(exact)))))
    return float(abs(mpmath.mpf(float(got)) - exact)) / unit


def assert_close_scaled(ours, theirs, rtol: float, *, scaled: float = 1.0,
                        absolute: float = 0.0, what: str = "") -> None:
    """Each entry within rtol, or within rtol * `scaled` times the largest
    reference magnitude (entries that cancel, such as p_c - q_c, carry
    errors of that size in any implementation), or within `absolute`
    (16-bit results in the subnormal range)."""
    theirs = np.asarray(theirs, np.float64)
    ours = np.asarray(ours, np.float64)
    scale = float(np.max(np.abs(theirs), initial=0.0)) if np.isfinite(theirs).all() else 0.0
    atol = max(rtol * scaled * scale, absolute)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def bitwise_equal(a, b, what: str = "") -> None:
    """Same dtype, shape and bits (NaN payloads included)."""
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    assert a.dtype == b.dtype, what
    assert a.shape == b.shape, what
    assert a.tobytes() == b.tobytes(), what


# --- differential grids of the loss families ---------------------------------

LOSS_REDUCTIONS = ("none", "sum", "mean")
# (shape, class axis): 1-D, first, middle and last axes; short rows (the row
# blocks) and long ones (the contiguous path).
CLASS_AXIS_LAYOUTS = [((7,), 0), ((6, 5), 1), ((6, 5), 0), ((3, 5, 4), 1), ((3, 4, 5), -1),
                      ((4, 40), 1), ((2, 3, 40), -1), ((40, 3), 0)]


def without_axis(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    ax = axis % len(shape)
    return shape[:ax] + shape[ax + 1:]


def check_loss_functions(fns, args, kwargs, reference, loss_shape, dtype, close, rng) -> None:
    """A loss's (value, grad, value_and_grad) against reference(reduction,
    grad_output) -> (loss, gradient), for every reduction: result types and
    shapes, the gradient with a random grad_output, the fused pair with the
    default one. close(ours, theirs, what) compares."""
    value_fn, grad_fn, both_fn = fns
    shape = np.shape(args[0])
    for reduction in LOSS_REDUCTIONS:
        none = reduction == "none"
        go = rng.uniform(-2, 2, loss_shape) if none else np.float64(rng.uniform(0.5, 2))
        want, want_grad = reference(reduction, go)
        _, want_grad1 = reference(reduction, np.ones(loss_shape) if none else 1.0)
        value = value_fn(*args, reduction=reduction, **kwargs)
        grad = grad_fn(*args, reduction=reduction, grad_output=go, **kwargs)
        both = both_fn(*args, reduction=reduction, **kwargs)
        if none:
            assert value.shape == loss_shape
            assert value.dtype == dtype
        else:
            assert type(value) is np.dtype(dtype).type
        assert grad.dtype == dtype
        assert grad.shape == shape
        close(value, want, f"value {reduction}")
        close(grad, want_grad, f"grad {reduction}")
        close(both[0], want, f"fused value {reduction}")
        close(both[1], want_grad1, f"fused grad {reduction}")
