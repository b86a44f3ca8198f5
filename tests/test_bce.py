"""binary_cross_entropy_with_logits (+ _grad, _value_and_grad, BCEWithLogitsLoss)."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from logitloss import _core

F32_MAX = float(np.finfo(np.float32).max)
SHAPES = [(7,), (6, 5), (3, 4, 5, 6), (0,), (0, 3), (4, 0, 2, 2)]
DTYPES = ["float32", "float64", "float16"]
WEIGHTS = ["none", "C", "full", "C11"]
REDUCTIONS = ["none", "mean", "sum"]
RTOL = {"float32": 2e-5, "float64": 1e-11, "float16": 2e-2, "bfloat16": 2e-2}


def _weight(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray | None:
    if kind == "none":
        return None
    if kind == "C":
        return rng.uniform(0.2, 2.0, shape[-1:])
    if kind == "full":
        return rng.uniform(0.2, 2.0, shape)
    return rng.uniform(0.2, 2.0, (shape[1], 1, 1))


def _data(shape: tuple[int, ...], dtype: str, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 4).astype(dtype)
    y = rng.uniform(size=shape).astype(dtype)
    y[..., ::3] = np.round(y[..., ::3])  # hard targets mixed with soft ones
    return x, y, rng


def _torch_bce(x, y, w, pw, reduction, g):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    # torch evaluated in float64 on the same (rounded) values: torch's own
    # float32 formula loses digits that ours keeps (e.g. a loss of 2.8e-7
    # computed as 0), so the float64 run is the meaningful reference.
    up = np.float64
    tx = torch.tensor(x.astype(up), requires_grad=True)
    tw = None if w is None else torch.tensor(np.asarray(w, up))
    tpw = None if pw is None else torch.tensor(np.asarray(pw, up))
    loss = F.binary_cross_entropy_with_logits(
        tx, torch.tensor(y.astype(up)), tw, pos_weight=tpw, reduction=reduction
    )
    loss.backward(torch.tensor(np.asarray(g, up)))
    return loss.detach().numpy(), tx.grad.numpy()


def _same(got, want) -> None:  # type: ignore[no-untyped-def]
    """Equal up to a few ULP of the dtype (fused vs separate kernels)."""
    # Absolute part: the gradient is a difference of terms of the size of the
    # largest entry (cancellation), so an ULP of those terms.
    want = np.asarray(want, np.float64)
    eps = float(np.finfo(np.asarray(got).dtype).eps)
    scale = float(np.abs(want).max()) if want.size else 0.0
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=4 * eps,
                               atol=4 * eps * scale)


def _close(got, want, dtype: str, scale: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    rtol = RTOL[dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-2 * scale)


# (C, 1, 1) weights only for (N, C, H, W) inputs.
CASES = [
    (shape, w, pw)
    for shape in SHAPES
    for w in WEIGHTS
    for pw in WEIGHTS
    if len(shape) == 4 or "C11" not in (w, pw)
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "w_kind", "pw_kind"), CASES)
def test_against_torch(shape, dtype, w_kind, pw_kind, reduction) -> None:  # type: ignore[no-untyped-def]
    x, y, rng = _data(shape, dtype)
    w = _weight(w_kind, shape, rng)
    pw = _weight(pw_kind, shape, rng)
    g = rng.uniform(-1, 1, shape).astype(dtype) if reduction == "none" else np.asarray(0.7)
    want_loss, want_grad = _torch_bce(x, y, w, pw, reduction, g)

    loss = ll.binary_cross_entropy_with_logits(x, y, w, pos_weight=pw, reduction=reduction)
    grad = ll.binary_cross_entropy_with_logits_grad(
        x, y, w, pos_weight=pw, reduction=reduction, grad_output=g if reduction == "none" else 0.7
    )
    vloss, vgrad = ll.binary_cross_entropy_with_logits_value_and_grad(
        x, y, w, pos_weight=pw, reduction=reduction
    )
    if reduction == "none":
        assert isinstance(loss, np.ndarray)
        assert loss.shape == shape
    else:
        assert isinstance(loss, np.generic)
        assert loss.shape == ()
    assert loss.dtype == np.dtype(dtype)
    assert grad.dtype == np.dtype(dtype)
    assert grad.shape == shape
    _close(loss, want_loss, dtype, scale=1.0)
    _close(grad, want_grad, dtype, scale=1.0 / max(1, x.size) if reduction == "mean" else 1.0)
    # value_and_grad: the fused pass is a separately compiled kernel, whose
    # FMA contractions may differ from the loss-only / grad-only ones by an
    # ULP or so; the gradient is for grad_output = default.
    _same(vloss, loss)
    _same(vgrad, ll.binary_cross_entropy_with_logits_grad(x, y, w, pos_weight=pw,
                                                          reduction=reduction))


def test_empty_follows_torch() -> None:
    x = np.empty((0, 3), np.float32)
    assert np.isnan(ll.binary_cross_entropy_with_logits(x, x))
    assert ll.binary_cross_entropy_with_logits(x, x, reduction="sum") == 0
    assert ll.binary_cross_entropy_with_logits(x, x, reduction="none").shape == (0, 3)
    assert ll.binary_cross_entropy_with_logits_grad(x, x, pos_weight=np.ones(3)).shape == (0, 3)


def test_scalar_input() -> None:
    torch = pytest.importorskip("torch")
    got = ll.binary_cross_entropy_with_logits(np.float64(1.5), 0.25, reduction="none")
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(1.5, dtype=torch.float64), torch.tensor(0.25, dtype=torch.float64),
        reduction="none")
    assert isinstance(got, np.ndarray)
    assert got.shape == ()
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_finite_logits(dtype: str) -> None:
    torch = pytest.importorskip("torch")
    mpmath = pytest.importorskip("mpmath")
    big = [1e4, 1e30, F32_MAX] if dtype == "float32" else [1e4, 1e30, F32_MAX, 1e300, 1.7e308]
    xs = np.array([s * v for v in big for s in (1, -1)], dtype)
    x = np.repeat(xs, 3)
    y = np.tile(np.array([0.0, 1.0, 0.5], dtype), xs.size)
    for pw in (1.0, 1.5):
        loss = ll.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
        grad = ll.binary_cross_entropy_with_logits_grad(x, y, pos_weight=pw, reduction="none")
        assert not np.isnan(loss).any()
        assert not np.isnan(grad).any()
        # Exact values (mpmath), rounded to the dtype: inf only where the
        # true loss overflows (torch also overflows in between, e.g. it
        # gives inf for x = -FLT_MAX, y = 0.5, pos_weight = 1.5 whose loss
        # is 0.75 * FLT_MAX).
        with mpmath.workdps(60):
            def ref(xi: float, yi: float, pw: float = pw) -> float:
                xm, ym = mpmath.mpf(xi), mpmath.mpf(yi)
                sp = mpmath.log1p(mpmath.exp(-xm)) if xm > -1e3 else -xm
                return float((1 - ym) * xm + (1 + (pw - 1) * ym) * sp)

            with np.errstate(over="ignore"):  # true losses beyond the dtype's max
                want = np.array([ref(float(a), float(b)) for a, b in zip(x, y)]).astype(dtype)
        np.testing.assert_array_equal(loss, want)
        tx = torch.tensor(x, requires_grad=True)
        tl = torch.nn.functional.binary_cross_entropy_with_logits(
            tx, torch.tensor(y), pos_weight=torch.tensor(pw, dtype=tx.dtype), reduction="none")
        tl.sum().backward()
        np.testing.assert_array_equal(grad, tx.grad.numpy())
    # Confident correct predictions are exactly 0 (exp underflows).
    assert ll.binary_cross_entropy_with_logits(xs[::2], np.ones(len(big), dtype),
                                               reduction="sum") == 0


def test_infinite_logits_give_limits() -> None:
    # torch returns NaN for some of these (0 * inf inside its formula); we
    # return the limit of the loss as x -> +-inf (documented in the README).
    x = np.array([np.inf, np.inf, np.inf, -np.inf, -np.inf, -np.inf, np.nan])
    y = np.array([1.0, 0.0, 0.5, 0.0, 1.0, 0.5, 1.0])
    loss, grad = ll.binary_cross_entropy_with_logits_value_and_grad(
        x, y, pos_weight=2.0, reduction="none")
    np.testing.assert_array_equal(loss, [0, np.inf, np.inf, 0, np.inf, np.inf, np.nan])
    # Gradients equal torch's: (1 - y) at +inf, -pw * y at -inf.
    np.testing.assert_array_equal(grad, [0, 1, 0.5, 0, -2, -1, np.nan])


@pytest.mark.parametrize("y_side", [1.0, 0.0])
def test_confident_predictions_ulp_float32(y_side: float) -> None:
    mpmath = pytest.importorskip("mpmath")
    # |x| from 1 to 103 (the loss reaches the float32 subnormals).
    mag = np.linspace(1.0, 103.0, 2001, dtype=np.float32)
    x = mag if y_side == 1.0 else -mag
    y = np.full_like(x, y_side)
    with mpmath.workdps(50):
        want = np.array([float(mpmath.log1p(mpmath.exp(-mpmath.mpf(float(m))))) for m in mag])
    want32 = want.astype(np.float32)
    for level in _core.simd_levels_supported():
        before = _core.simd_level()
        _core.set_simd_level(level)
        try:
            loss = ll.binary_cross_entropy_with_logits(x, y, reduction="none")
        finally:
            _core.set_simd_level(before)
        np.testing.assert_array_max_ulp(loss, want32, maxulp=4)


def test_float64_accuracy_against_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(3)
    x = rng.normal(size=400) * 20
    y = rng.uniform(size=400)
    y[::2] = np.round(y[::2])
    pw = rng.uniform(0.5, 3, 400)
    loss = ll.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    with mpmath.workdps(50):
        def ref(xi: float, yi: float, pi: float) -> float:
            xm, ym, pm = mpmath.mpf(xi), mpmath.mpf(yi), mpmath.mpf(pi)
            sp = mpmath.log1p(mpmath.exp(-xm))  # softplus(-x)
            return float((1 - ym) * xm + (1 + (pm - 1) * ym) * sp)

        want = np.array([ref(*t) for t in zip(x, y, pw)])
    np.testing.assert_allclose(loss, want, rtol=1e-13, atol=1e-300)


def test_finite_difference_gradient_float64() -> None:
    rng = np.random.default_rng(5)
    shape = (4, 3, 5)
    x = rng.normal(size=shape) * 3
    y = rng.uniform(size=shape)
    w = rng.uniform(0.5, 2, (5,))
    pw = rng.uniform(0.5, 2, (3, 1))
    h = 1e-6
    lp = ll.binary_cross_entropy_with_logits(x + h, y, w, pos_weight=pw, reduction="none")
    lm = ll.binary_cross_entropy_with_logits(x - h, y, w, pos_weight=pw, reduction="none")
    fd = (lp - lm) / (2 * h)
    grad = ll.binary_cross_entropy_with_logits_grad(x, y, w, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)
    gsum = ll.binary_cross_entropy_with_logits_grad(x, y, w, pos_weight=pw, reduction="mean")
    np.testing.assert_allclose(gsum * x.size, grad, rtol=1e-14)


@pytest.mark.parametrize("n", [1, 3, 7, 8, 15, 16, 17, 1023, 4099, 12289])
def test_vector_tails_and_blocks(n: int) -> None:
    x, y, _ = _data((n,), "float64", seed=n)
    loss = ll.binary_cross_entropy_with_logits(x, y, reduction="none")
    ref = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    np.testing.assert_allclose(loss, ref, rtol=1e-12)
    total = ll.binary_cross_entropy_with_logits(x, y, reduction="sum")
    np.testing.assert_allclose(total, np.sum(ref), rtol=1e-12)


def test_strided_fortran_readonly_and_transposed() -> None:
    rng = np.random.default_rng(9)
    base = rng.normal(size=(6, 8, 5, 4)) * 3
    y = rng.uniform(size=(6, 8, 5, 4))
    w = np.arange(1, 5.0)
    ref = ll.binary_cross_entropy_with_logits(base, y, w, reduction="none")
    ref_grad = ll.binary_cross_entropy_with_logits_grad(base, y, w, reduction="none")
    xf = np.asfortranarray(base)
    xf.flags.writeable = False
    got, grad = ll.binary_cross_entropy_with_logits_value_and_grad(xf, y, w, reduction="none")
    np.testing.assert_array_equal(got, ref)
    _same(grad, ref_grad)
    assert grad.flags.f_contiguous  # outputs follow the input's memory order
    # A transposed 4-D input.
    xt = base.transpose(2, 0, 3, 1).copy().transpose(1, 3, 0, 2)
    got = ll.binary_cross_entropy_with_logits(xt, y, w, reduction="none")
    np.testing.assert_array_equal(got, ref)
    # Every dimension strided in the target: the contiguous-copy fallback.
    yt = np.zeros((12, 16, 10, 8))[::2, ::2, ::2, ::2]
    yt[...] = y
    got = ll.binary_cross_entropy_with_logits(xt, yt, w, reduction="none")
    np.testing.assert_array_equal(got, ref)
    total = ll.binary_cross_entropy_with_logits(xt, yt, w, reduction="sum")
    np.testing.assert_allclose(total, ref.sum(), rtol=1e-14)
    assert not xf.flags.writeable


def test_zero_stride_input() -> None:
    x = np.broadcast_to(np.array([1.0, -2.0, 3.0]), (4, 3))
    y = np.broadcast_to(np.array([[1.0], [0.0], [0.5], [1.0]]), (4, 3))
    got, grad = ll.binary_cross_entropy_with_logits_value_and_grad(x, y, reduction="none")
    ref = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    np.testing.assert_allclose(got, ref, rtol=1e-15)
    np.testing.assert_allclose(grad, 1 / (1 + np.exp(-x)) - y, rtol=1e-14, atol=1e-16)


def test_negative_strides_and_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    x, y, _ = _data((8, 6), "float64", seed=3)
    w = np.linspace(1, 2, 6)
    ref = ll.binary_cross_entropy_with_logits(x, y, w, reduction="none")
    got = ll.binary_cross_entropy_with_logits(x[::-1, ::-1], y[::-1, ::-1], w[::-1],
                                              reduction="none")
    np.testing.assert_array_equal(got, ref[::-1, ::-1])
    got = ll.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y), torch.tensor(w),
                                              reduction="none")
    np.testing.assert_array_equal(got, ref)


def test_float16_sum_overflows_to_inf() -> None:
    # inf, as a NumPy float16 sum beyond 65504 (with NumPy's overflow
    # warning, which np.errstate governs: tests/test_warnings.py).
    x = np.full(40000, -3.0, np.float16)
    y = np.ones(40000, np.float16)
    with np.errstate(over="ignore"):
        total = ll.binary_cross_entropy_with_logits(x, y, reduction="sum")
    assert total.dtype == np.float16
    assert np.isinf(total)
    assert np.isfinite(ll.binary_cross_entropy_with_logits(x, y))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16bit_input(dtype: str) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(getattr(ml_dtypes, dtype)) if dtype == "bfloat16" else np.dtype(dtype)
    x64, y64, _ = _data((5, 9), "float64")
    x, y = x64.astype(dt), y64.astype(dt)
    loss, grad = ll.binary_cross_entropy_with_logits_value_and_grad(x, y, reduction="none")
    assert loss.dtype == dt
    assert grad.dtype == dt
    xr, yr = x.astype(np.float64), y.astype(np.float64)
    ref = np.maximum(xr, 0) - xr * yr + np.log1p(np.exp(-np.abs(xr)))
    np.testing.assert_allclose(loss.astype(np.float64), ref, rtol=RTOL[dtype], atol=1e-3)
    mean = ll.binary_cross_entropy_with_logits(x, y)
    assert mean.dtype == dt
    np.testing.assert_allclose(float(mean), ref.mean(), rtol=RTOL[dtype])


def test_integer_input_promotes_and_integer_target_casts() -> None:
    got = ll.binary_cross_entropy_with_logits([1, -2, 3], [1, 0, 1], reduction="none")
    assert got.dtype == np.float64
    x32 = np.array([1.0, -2.0], np.float32)
    assert ll.binary_cross_entropy_with_logits(x32, np.array([1, 0])).dtype == np.float32


def test_threads_bitwise_identical() -> None:
    x, y, _ = _data((300, 701), "float32", seed=11)
    pw = np.linspace(0.5, 2, 701, dtype=np.float32)
    before = ll.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            ll.set_num_threads(n)
            results.append(ll.binary_cross_entropy_with_logits_value_and_grad(
                x, y, pos_weight=pw, reduction="mean"))
    finally:
        ll.set_num_threads(before)
    for loss, grad in results[1:]:
        assert loss.tobytes() == results[0][0].tobytes()
        assert grad.tobytes() == results[0][1].tobytes()


def test_simd_levels_agree() -> None:
    x, y, _ = _data((37, 29), "float32", seed=2)
    before = _core.simd_level()
    out = {}
    try:
        for level in _core.simd_levels_supported():
            _core.set_simd_level(level)
            out[level] = ll.binary_cross_entropy_with_logits_value_and_grad(
                x, y, np.arange(29, dtype=np.float32), reduction="none")
    finally:
        _core.set_simd_level(before)
    # FMA contraction differs between levels: a few ULP, scaled by weights <= 28.
    for loss, grad in out.values():
        np.testing.assert_allclose(loss, out["baseline"][0], rtol=1e-6)
        np.testing.assert_allclose(grad, out["baseline"][1], rtol=1e-6, atol=28 * 6e-8)


def test_inputs_not_modified() -> None:
    x, y, _ = _data((4, 5), "float64")
    x0, y0 = x.copy(), y.copy()
    ll.binary_cross_entropy_with_logits_value_and_grad(x, y, np.ones(5), pos_weight=np.ones(5))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_loss_object() -> None:
    x, y, _ = _data((4, 5), "float64")
    pw = np.linspace(1, 2, 5)
    fn = ll.BCEWithLogitsLoss(weight=np.ones(5) * 2, reduction="sum", pos_weight=pw)
    assert fn(x, y) == ll.binary_cross_entropy_with_logits(x, y, np.ones(5) * 2, pos_weight=pw,
                                                           reduction="sum")
    np.testing.assert_array_equal(
        fn.grad(x, y, grad_output=3.0),
        ll.binary_cross_entropy_with_logits_grad(x, y, np.ones(5) * 2, pos_weight=pw,
                                                 reduction="sum", grad_output=3.0))
    v, g = fn.value_and_grad(x, y)
    assert v == fn(x, y)
    np.testing.assert_array_equal(g, fn.grad(x, y))
    assert "BCEWithLogitsLoss" in repr(fn)


# ------------------------------------------------------------------ errors

FUNCS = [
    ll.binary_cross_entropy_with_logits,
    ll.binary_cross_entropy_with_logits_grad,
    ll.binary_cross_entropy_with_logits_value_and_grad,
]


@pytest.mark.parametrize("fn", FUNCS)
def test_errors(fn) -> None:  # type: ignore[no-untyped-def]
    x = np.zeros((2, 3))
    message = r"target with shape \(3, 2\) .* input with shape \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        fn(x, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"weight with shape \(2,\) does not broadcast.*\(2, 3\)"):
        fn(x, x, np.ones(2))
    with pytest.raises(ValueError, match=r"weight with shape \(2, 3, 3\) does not broadcast"):
        fn(x, x, np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"pos_weight with shape \(4,\) does not broadcast"):
        fn(x, x, pos_weight=np.ones(4))
    with pytest.raises(TypeError, match="input has unsupported dtype complex128"):
        fn(x + 0j, x)
    with pytest.raises(TypeError, match="target has unsupported dtype"):
        fn(x, np.array([["a", "b", "c"]] * 2))
    with pytest.raises(TypeError, match="input must be an array, not None"):
        fn(None, x)
    with pytest.raises(TypeError, match="pos_weight has unsupported dtype object"):
        fn(x, x, pos_weight=np.array([None, 1, 2], dtype=object))
    with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum', not 'avg'"):
        fn(x, x, reduction="avg")


def test_grad_output_errors() -> None:
    x = np.zeros((2, 3))
    f = ll.binary_cross_entropy_with_logits_grad
    with pytest.raises(ValueError, match=r"grad_output with shape \(3,\) must have the loss shape"):
        f(x, x, reduction="none", grad_output=np.ones(3))
    with pytest.raises(ValueError, match="grad_output must be a scalar for reduction='mean'"):
        f(x, x, reduction="mean", grad_output=np.ones(3))
    with pytest.raises(TypeError, match="grad_output has unsupported dtype"):
        f(x, x, reduction="sum", grad_output=1j)


def test_value_and_grad_allocates_only_the_gradient() -> None:
    tracemalloc = pytest.importorskip("tracemalloc")
    x, y, _ = _data((1000, 500), "float64", seed=8)
    pw = np.linspace(0.5, 2, 500)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _loss, grad = ll.binary_cross_entropy_with_logits_value_and_grad(x, y, pos_weight=pw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The gradient (traced: NumPy reports its buffers) plus small bookkeeping.
    assert grad.nbytes <= peak < grad.nbytes * 1.1


def test_concurrent_python_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    x, y, _ = _data((200, 333), "float32", seed=12)
    ref = ll.binary_cross_entropy_with_logits_value_and_grad(x, y, reduction="sum")
    with ThreadPoolExecutor(4) as ex:
        results = list(
            ex.map(
                lambda _: ll.binary_cross_entropy_with_logits_value_and_grad(x, y, reduction="sum"),
                range(8),
            )
        )
    for loss, grad in results:
        assert loss.tobytes() == ref[0].tobytes()
        np.testing.assert_array_equal(grad, ref[1])
