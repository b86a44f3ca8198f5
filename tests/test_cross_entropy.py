"""cross_entropy family: layouts, dtypes, special values, finite differences,
loss objects and threads, against the float64 reference (no torch needed)."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from reference import cross_entropy_grad_ref, cross_entropy_ref

REDUCTIONS = ("none", "sum", "mean")


def _problem(rng, shape, axis, kind, dtype=np.float64):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    ax = axis % len(shape)
    C = shape[ax]
    tshape = tuple(n for d, n in enumerate(shape) if d != ax)
    if kind == "index":
        t = rng.integers(0, C, size=tshape)
        t.flat[1::5] = -100
    else:
        p = rng.random(shape)
        t = (p / p.sum(axis=ax, keepdims=True)).astype(dtype)
    return x, t, rng.uniform(0.5, 2, C).astype(dtype)


def _all_results(x, t, w, **kw):
    v, g = ll.cross_entropy_value_and_grad(x, t, w, **kw)
    return ll.cross_entropy(x, t, w, **kw), ll.cross_entropy_grad(x, t, w, **kw), v, g


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("shape", "axis"),
    [((7, 5), 1), ((7, 5), 0), ((7, 5), -1), ((3, 4, 6), -1), ((3, 4, 6), 1), ((3, 4, 6), 0),
     ((2, 3, 17, 2), 2), ((9,), 0), ((2, 1030), 1), ((1030, 3), 0)],
)
def test_matches_reference_on_any_axis(kind, reduction, shape, axis):
    rng = np.random.default_rng(len(shape) * 10 + axis)
    x, t, w = _problem(rng, shape, axis, kind)
    kw = dict(reduction=reduction, label_smoothing=0.1, axis=axis)
    ref = cross_entropy_ref(x, t, w, **kw)
    gref = cross_entropy_grad_ref(x, t, w, **kw)
    value, grad, v2, g2 = _all_results(x, t, w, **kw)
    np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, gref, rtol=1e-11, atol=1e-14)
    np.testing.assert_array_equal(v2, value)
    np.testing.assert_array_equal(g2, grad)


LAYOUTS = {
    # name: (view of x / probabilities, matching view of the index target)
    "strided": (lambda a: a[:, :, ::2], lambda t: t[:, ::2]),
    "fortran": (np.asfortranarray, np.asfortranarray),
    "negative-strides": (lambda a: a[::-1, :, ::-1], lambda t: t[::-1, ::-1]),
    "classes-last-in-memory": (
        lambda a: np.moveaxis(np.moveaxis(a, 1, -1).copy(), -1, 1), lambda t: t),
}


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_memory_layouts_and_inputs_untouched(kind, layout):
    rng = np.random.default_rng(1)
    x, t, w = _problem(rng, (6, 10, 4), 1, kind, np.float32)
    fx, ft = LAYOUTS[layout]
    xv = fx(x)
    tv = fx(t) if kind == "prob" else ft(t)
    # the expected result is that of contiguous copies of the same values
    xs, ts = np.ascontiguousarray(xv), np.ascontiguousarray(tv)
    before = (xv.copy(), tv.copy(), w.copy())
    xv.setflags(write=False)
    for reduction in REDUCTIONS:
        kw = dict(reduction=reduction, label_smoothing=0.2)
        got = _all_results(xv, tv, w, **kw)
        want = _all_results(xs, ts, w, **kw)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(xv, before[0])
    np.testing.assert_array_equal(tv, before[1])
    np.testing.assert_array_equal(w, before[2])


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("shape", "axis"), [((4, 6), 1), ((3, 5, 4), 1), ((2, 3, 7), -1)])
def test_finite_differences_float64(kind, reduction, shape, axis):
    rng = np.random.default_rng(4)
    x, t, w = _problem(rng, shape, axis, kind)
    ax = axis % len(shape)
    loss_shape = tuple(n for d, n in enumerate(shape) if d != ax)
    go = rng.uniform(-1, 1, loss_shape) if reduction == "none" else 1.3
    kw = dict(reduction=reduction, label_smoothing=0.15, axis=axis)

    def f(xx):
        return float(np.sum(np.asarray(ll.cross_entropy(xx, t, w, **kw)) * go))

    grad = ll.cross_entropy_grad(x, t, w, grad_output=go, **kw)
    h = 1e-6
    num = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = (f(xp) - f(xm)) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_one_dimensional_input_with_scalar_target():
    x = np.array([1.0, 2.0, 0.5])
    loss = ll.cross_entropy(x, 1, reduction="none")
    assert isinstance(loss, np.ndarray)
    assert loss.shape == ()
    np.testing.assert_allclose(loss, cross_entropy_ref(x, np.array(1), reduction="none"))
    assert ll.cross_entropy(x, np.int8(1)) == ll.cross_entropy(x, 1, reduction="sum")
    np.testing.assert_allclose(
        ll.cross_entropy_grad(x, 1), cross_entropy_grad_ref(x, np.array(1)), rtol=1e-14)
    p = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(ll.cross_entropy(x, p), cross_entropy_ref(x, p), rtol=1e-14)


def test_empty_batches():
    x = np.empty((0, 4), np.float32)
    t = np.empty(0, np.int64)
    assert np.isnan(ll.cross_entropy(x, t))
    assert ll.cross_entropy(x, t, reduction="sum") == 0
    assert ll.cross_entropy(
        x, t, reduction="sum").dtype == np.float32
    assert ll.cross_entropy(x, t, reduction="none").shape == (0,)
    v, g = ll.cross_entropy_value_and_grad(x, t)
    assert np.isnan(v)
    assert g.shape == (0, 4)
    assert g.dtype == np.float32
    assert ll.cross_entropy_grad(x, np.empty((0, 4), np.float32)).shape == (0, 4)
    empty_rows = ll.cross_entropy(np.empty((2, 3, 0)), np.empty((2, 0), np.int64), reduction="none")
    assert empty_rows.shape == (2, 0)


def test_all_ignored_mean_is_nan_and_gradient_zero():
    x = np.random.default_rng(0).standard_normal((4, 3))
    t = np.full(4, -100)
    assert np.isnan(ll.cross_entropy(x, t))
    assert ll.cross_entropy(x, t, reduction="sum") == 0
    g = ll.cross_entropy_grad(x, t)
    np.testing.assert_array_equal(g, np.zeros_like(x))
    v, g2 = ll.cross_entropy_value_and_grad(x, t, label_smoothing=0.3)
    assert np.isnan(v)
    np.testing.assert_array_equal(g2, np.zeros_like(x))


def test_ignore_index_any_integer():
    x = np.random.default_rng(0).standard_normal((5, 3))
    t = np.array([0, 2**40, 1, 2**40, 2])
    kept = np.array([0, 2, 4])
    for dtype in (np.int64, np.uint64):
        got = ll.cross_entropy(x, t.astype(dtype), ignore_index=2**40)
        np.testing.assert_allclose(got, ll.cross_entropy(x[kept], t[kept]), rtol=1e-15)
    # beyond int64: only uint64 targets can hold it
    tu = np.array([0, 2**64 - 1, 1], np.uint64)
    got = ll.cross_entropy(x[:3], tu, ignore_index=2**64 - 1)
    np.testing.assert_allclose(got, ll.cross_entropy(x[[0, 2]], [0, 1]), rtol=1e-15)
    for ignore in (-100, 2**64 - 2, 2**70):
        with pytest.raises(IndexError, match="target 18446744073709551615 is out of range for 3"):
            ll.cross_entropy(x[:3], tu, ignore_index=ignore)
    # an ignore index that matches nothing changes nothing
    assert ll.cross_entropy(x, t % 3, ignore_index=-(2**70)) == ll.cross_entropy(x, t % 3)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64])
def test_any_integer_target_dtype(dtype):
    x = np.random.default_rng(0).standard_normal((6, 4))
    t = np.array([0, 1, 2, 3, 1, 0])
    assert ll.cross_entropy(x, t.astype(dtype)) == ll.cross_entropy(x, t)


def test_integer_and_bool_input_promote_to_float64():
    v = ll.cross_entropy([[1, 2, 3]], [2])
    assert type(v) is np.float64
    np.testing.assert_allclose(v, cross_entropy_ref(np.array([[1.0, 2, 3]]), np.array([2])))
    g = ll.cross_entropy_grad(np.array([[True, False]]), [0])
    assert g.dtype == np.float64


def test_special_values():
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [inf, 0.0, 1.0],
            [-inf, -inf, -inf],
            [nan, 0.0, 1.0],
            [-inf, 0.0, 1.0],
            [-inf, 0.0, 1.0],
            [nan, 1.0, 2.0],
        ]
    )
    t = np.array([1, 0, 1, 0, 1, -100])
    loss = ll.cross_entropy(x, t, reduction="none")
    assert np.isnan(loss[:3]).all()  # as torch: log_softmax is NaN on these rows
    assert loss[3] == inf  # target at -inf
    np.testing.assert_allclose(loss[4], np.log1p(np.exp(-1.0)) + 1.0)
    assert loss[5] == 0  # ignored rows add nothing, whatever they hold
    g = ll.cross_entropy_grad(x, t, reduction="none")
    assert np.isnan(g[:3]).all()
    np.testing.assert_allclose(g[3], [-1.0, 1 / (1 + np.e), np.e / (1 + np.e)])
    np.testing.assert_array_equal(g[5], 0.0)
    # the strided path agrees
    gs = ll.cross_entropy_grad(np.ascontiguousarray(x.T), t, reduction="none", axis=0)
    np.testing.assert_array_equal(gs.T, g)
    np.testing.assert_array_equal(
        ll.cross_entropy(np.ascontiguousarray(x.T), t, reduction="none", axis=0), loss
    )


def test_single_class():
    x = np.array([[3.0], [-1.0]])
    np.testing.assert_array_equal(ll.cross_entropy(x, [0, 0], reduction="none"), [0.0, 0.0])
    np.testing.assert_array_equal(ll.cross_entropy_grad(x, [0, 0]), [[0.0], [0.0]])


def test_grad_output_forms():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    t = np.array([0, 1, 2, 1])
    base = ll.cross_entropy_grad(x, t, reduction="sum")
    np.testing.assert_allclose(
        ll.cross_entropy_grad(x, t, reduction="sum", grad_output=2.5), 2.5 * base
    )
    np.testing.assert_allclose(
        ll.cross_entropy_grad(x, t, reduction="sum", grad_output=np.float32(2.5)), 2.5 * base
    )
    go = np.array([1.0, -2.0, 0.0, 3.0])
    g = ll.cross_entropy_grad(x, t, reduction="none", grad_output=go)
    np.testing.assert_allclose(g, base * go[:, None], rtol=1e-15)
    # a scalar broadcasts to the loss shape
    np.testing.assert_allclose(
        ll.cross_entropy_grad(x, t, reduction="none", grad_output=2.0), 2 * base
    )


def test_loss_objects():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    t = np.array([0, 3, -1, 2, 1])
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    fn = ll.CrossEntropyLoss(weight=w, ignore_index=-1, label_smoothing=0.1)
    kw = dict(ignore_index=-1, label_smoothing=0.1)
    assert fn(x, t) == ll.cross_entropy(x, t, w, **kw)
    np.testing.assert_array_equal(
        fn.grad(x, t, 2.0), ll.cross_entropy_grad(x, t, w, grad_output=2.0, **kw)
    )
    v, g = fn.value_and_grad(x, t)
    assert v == fn(x, t)
    np.testing.assert_array_equal(g, fn.grad(x, t))
    assert fn.reduction == "mean"
    assert fn.label_smoothing == 0.1
    assert fn.ignore_index == -1
    assert "label_smoothing=0.1" in repr(fn)
    nll = ll.NLLLoss(reduction="sum", axis=0)
    lp = ll.log_softmax(x.T, axis=0)
    tt = np.array([0, 3, 1, 2, 1])
    assert nll(lp, tt) == ll.nll_loss(lp, tt, reduction="sum", axis=0)
    np.testing.assert_array_equal(nll.value_and_grad(lp, tt)[1], nll.grad(lp, tt))


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 40)).astype(np.float32)
    t = rng.integers(0, 40, 3000)
    xs = np.ascontiguousarray(np.moveaxis(x.reshape(30, 100, 40), 2, 1))  # strided path
    before = ll.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            ll.set_num_threads(n)
            results.append(
                (
                    ll.cross_entropy_value_and_grad(x, t, label_smoothing=0.1),
                    ll.cross_entropy_value_and_grad(xs, t.reshape(30, 100)),
                )
            )
    finally:
        ll.set_num_threads(before)
    for a, b in results[1:]:
        for got, want in zip(a + b, results[0][0] + results[0][1]):
            np.testing.assert_array_equal(got, want)


def test_concurrent_python_threads():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((500, 30)) for _ in range(8)]
    ts = [rng.integers(0, 30, 500) for _ in range(8)]
    want = [ll.cross_entropy_value_and_grad(x, t) for x, t in zip(xs, ts)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda a: ll.cross_entropy_value_and_grad(*a), zip(xs, ts)))
    for (v1, g1), (v2, g2) in zip(got, want):
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 0])
    np.testing.assert_allclose(
        ll.cross_entropy(x, t), torch.nn.functional.cross_entropy(x, t).item(), rtol=1e-14
    )


@pytest.mark.parametrize("C", [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 1023, 4099])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_vector_tails(C, dtype, kind):
    """Class counts around every lane width, on the contiguous path (axis -1)
    and the strided path (classes along axis 0)."""
    rng = np.random.default_rng(C)
    x, t, w = _problem(rng, (5, C), 1, kind, dtype)
    kw = dict(reduction="none", label_smoothing=0.05)
    ref = cross_entropy_ref(x, t, w, **kw)
    gref = cross_entropy_grad_ref(x, t, w, **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for xin, tin, axis in (
        (x, t, 1),
        (np.ascontiguousarray(x.T), t if kind == "index" else np.ascontiguousarray(t.T), 0),
    ):
        v, g = ll.cross_entropy_value_and_grad(xin, tin, w, axis=axis, **kw)
        np.testing.assert_allclose(v, ref, **tol)
        np.testing.assert_allclose(g if axis == 1 else g.T, gref, **tol)


def test_mixed_layouts_of_input_and_probabilities():
    rng = np.random.default_rng(8)
    x, p, w = _problem(rng, (9, 12), 1, "prob")
    ref = ll.cross_entropy_value_and_grad(x, p, w, reduction="none")
    for xv, pv in ((x, np.asfortranarray(p)), (np.asfortranarray(x), p), (x, p[:, ::-1][:, ::-1])):
        v, g = ll.cross_entropy_value_and_grad(xv, pv, w, reduction="none")
        np.testing.assert_allclose(v, ref[0], rtol=1e-14)
        np.testing.assert_allclose(g, ref[1], rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_against_reference(dtype):
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((6, 9, 3)) * 2).astype(dtype)
    t = rng.integers(0, 9, (6, 3))
    x64 = x.astype(np.float64)
    eps_rel = 2.0**-10 if dtype == "float16" else 2.0**-7
    for reduction in REDUCTIONS:
        v, g = ll.cross_entropy_value_and_grad(x, t, reduction=reduction, label_smoothing=0.1)
        assert g.dtype == np.dtype(dtype)
        ref = cross_entropy_ref(x64, t, reduction=reduction, label_smoothing=0.1)
        np.testing.assert_allclose(np.asarray(v, np.float64), ref, rtol=eps_rel)
        gref = cross_entropy_grad_ref(x64, t, reduction=reduction, label_smoothing=0.1)
        np.testing.assert_allclose(g.astype(np.float64), gref, rtol=eps_rel, atol=eps_rel * 1e-2)


@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 4), (2, 0, 3, 4), (0, 3)])
def test_single_axis_layout_is_class_layout(shape):
    from logitloss._validation import class_layout
    from logitloss.cross_entropy import _single_axis_layout

    for ax in range(len(shape)):
        assert _single_axis_layout(shape, ax) == class_layout(shape, (ax,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (37, 10), (513, 40), (3000, 7)])
def test_fast_path_equals_the_general_path_bit_for_bit(rng, dtype, reduction, shape):
    # A plain (N, C) array with int64 targets takes a shortcut past the
    # generic argument handling; axis=1 spelled out takes the generic path.
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    t[::5] = -100
    fast = ll.cross_entropy(x, t, reduction=reduction)
    general = ll.cross_entropy(x, t, reduction=reduction, axis=1)
    assert type(fast) is type(general)
    assert fast.dtype == dtype
    fused, grad = ll.cross_entropy_value_and_grad(x, t, reduction=reduction)
    fused_general, grad_general = ll.cross_entropy_value_and_grad(x, t, reduction=reduction, axis=1)
    assert type(fused) is type(general)
    np.testing.assert_array_equal([fast, fused, fused_general], [general] * 3)  # NaN == NaN here
    assert grad.dtype == dtype
    assert grad.flags.c_contiguous
    np.testing.assert_array_equal(grad, grad_general)
    grad_only = ll.cross_entropy_grad(x, t, reduction=reduction)
    assert grad_only.dtype == dtype
    np.testing.assert_array_equal(grad_only, grad_general)
    grad_only_general = ll.cross_entropy_grad(x, t, reduction=reduction, axis=1)
    np.testing.assert_array_equal(grad_only, grad_only_general)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (37, 10), (3000, 7)])
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # the inf loss
def test_unreduced_fast_path_equals_the_general_path_bit_for_bit(rng, dtype, shape):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    x[0, 0], x[0, -1] = np.finfo(dtype).max, -np.finfo(dtype).max
    t = rng.integers(0, shape[1], shape[0])
    t[::5] = -100
    t[0] = shape[1] - 1  # a loss of 2 * max: inf in float32 (when there are 2 classes or more)
    fast = ll.cross_entropy(x, t, reduction="none")
    general = ll.cross_entropy(x, t, reduction="none", axis=1)
    assert fast.dtype == general.dtype == dtype
    assert fast.shape == general.shape == (shape[0],)
    np.testing.assert_array_equal(fast, general)
    fused, grad = ll.cross_entropy_value_and_grad(x, t, reduction="none")
    fused_general, grad_general = ll.cross_entropy_value_and_grad(x, t, reduction="none", axis=1)
    assert fused.dtype == grad.dtype == dtype
    np.testing.assert_array_equal(fused, general)
    np.testing.assert_array_equal(fused_general, general)
    np.testing.assert_array_equal(grad, grad_general)
    np.testing.assert_array_equal(ll.cross_entropy_grad(x, t, reduction="none"), grad_general)
    zeros, bad = np.zeros((2, 1), dtype), np.array([0, 9])
    for func in (ll.cross_entropy, ll.cross_entropy_grad, ll.cross_entropy_value_and_grad):
        with pytest.raises(IndexError, match=f"{func.__name__}: target 9 is out of range for 1"):
            func(zeros, bad, reduction="none")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fast_path_reports_out_of_range_targets_like_the_general_path(reduction):
    x = np.zeros((3, 4), np.float32)
    t = np.array([0, 9, 1])
    with pytest.raises(IndexError, match="cross_entropy: target 9 is out of range for 4 classes"):
        ll.cross_entropy(x, t, reduction=reduction)
    with pytest.raises(
        IndexError, match="cross_entropy_value_and_grad: target 9 is out of range for 4 classes"
    ):
        ll.cross_entropy_value_and_grad(x, t, reduction=reduction)
    with pytest.raises(
        IndexError, match="cross_entropy_grad: target 9 is out of range for 4 classes"
    ):
        ll.cross_entropy_grad(x, t, reduction=reduction)


def test_fast_path_on_a_strided_input_and_all_targets_ignored():
    x = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]  # not contiguous
    t = np.array([0, -100, 2, 1])
    for got, want in zip(ll.cross_entropy_value_and_grad(x, t),
                         ll.cross_entropy_value_and_grad(x, t, axis=1)):
        np.testing.assert_array_equal(got, want)
    loss, grad = ll.cross_entropy_value_and_grad(x, np.full(4, -100))
    assert np.isnan(loss)  # 0 / 0, as PyTorch
    np.testing.assert_array_equal(grad, ll.cross_entropy_grad(x, np.full(4, -100), axis=1))
    np.testing.assert_array_equal(ll.cross_entropy_grad(x, t), ll.cross_entropy_grad(x, t, axis=1))


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("reduction", ["none", "sum"])  # 'mean' halves it back into range
def test_losses_beyond_the_dtype_range_are_inf(dtype, reduction):
    # The float64 per-row loss exceeds the result dtype: its rounding is inf
    # (with the warning NumPy's cast gives, which np.errstate governs:
    # tests/test_warnings.py).
    big = float(np.finfo(dtype).max)
    x = np.array([[big, -big], [1.0, 2.0]], dtype)
    with np.errstate(over="ignore"):
        got = ll.cross_entropy(x, np.array([1, 0]), reduction=reduction)
    assert np.isinf(np.asarray(got)[..., 0] if reduction == "none" else got)
