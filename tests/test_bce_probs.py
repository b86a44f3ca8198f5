"""binary_cross_entropy on probabilities (+ _grad, _value_and_grad, BCELoss):
torch.nn.functional.binary_cross_entropy's values, gradients, log clamp,
range errors and weight broadcasting."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import logitloss as ll
from logitloss import _core

ml_dtypes = pytest.importorskip("ml_dtypes")
try:
    import torch

    F = torch.nn.functional
except ImportError:  # the comparisons with torch skip; every other test runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
# Relative tolerance against torch's float64 run on the same rounded values.
RTOL = {"float32": 1e-5, "float64": 1e-12, "float16": 4e-3, "bfloat16": 3e-2}
REDUCTIONS = ["none", "mean", "sum"]
FUNCS = [ll.binary_cross_entropy, ll.binary_cross_entropy_grad,
         ll.binary_cross_entropy_value_and_grad]


def probabilities(rng, shape, dtype):
    """Probabilities in [0, 1]: exact 0 and 1, values near both, soft ones."""
    p = rng.uniform(size=shape)
    flat = p.reshape(-1)
    special = [0.0, 1.0, 1e-30, 1 - 1e-7, 1e-6, 0.5]
    flat[: min(len(special), flat.size)] = special[: flat.size]
    return p.astype(dtype)


def targets(rng, shape, dtype):
    y = rng.uniform(size=shape)
    y.reshape(-1)[::3] = np.round(y.reshape(-1)[::3])  # hard targets among soft ones
    return y.astype(dtype)


def weight(kind, shape, rng):
    return {
        "none": None,
        "last": rng.uniform(0.2, 2.0, shape[-1:]) if shape else None,
        "full": rng.uniform(0.2, 2.0, shape),
        "column": rng.uniform(0.2, 2.0, (shape[0], 1)) if len(shape) == 2 else None,
        "scalar": np.float64(1.5),
    }[kind]


def torch_bce(p, y, w, reduction, g):
    """torch float64 autograd on the same (rounded) values."""
    tp = torch.tensor(np.asarray(p, np.float64), requires_grad=True)
    tw = None if w is None else torch.tensor(np.asarray(w, np.float64))
    loss = F.binary_cross_entropy(tp, torch.tensor(np.asarray(y, np.float64)), tw,
                                  reduction=reduction)
    loss.backward(torch.tensor(np.asarray(g, np.float64)))
    return loss.detach().numpy(), tp.grad.numpy()


def close(got, want, dtype):
    rtol = RTOL[np.dtype(dtype).name]
    with np.errstate(over="ignore"):  # beyond float16's range the result is inf, rounded
        want = np.asarray(want, np.float64).astype(dtype).astype(np.float64)
    # A gradient's entries reach 1e12 at p = 0 and 1: tolerances relative to
    # each entry, with an absolute floor for the entries near zero.
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=rtol * 1e-3)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(7,), (6, 5), (3, 4, 5), (0,), (0, 3), ()])
@pytest.mark.parametrize("w_kind", ["none", "last", "full", "column", "scalar"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_against_torch_float64_autograd(dtype, shape, w_kind, reduction):
    rng = np.random.default_rng(len(shape) + 7 * len(w_kind))
    p, y = probabilities(rng, shape, dtype), targets(rng, shape, dtype)
    w = weight(w_kind, shape, rng)
    g = rng.uniform(-1, 1, shape).astype(dtype) if reduction == "none" else np.float64(0.7)
    # The weight as the kernel sees it: rounded to the input's dtype.
    w_used = None if w is None else np.asarray(w).astype(dtype)
    want_loss, want_grad = torch_bce(p, y, w_used, reduction, g)
    loss = ll.binary_cross_entropy(p, y, w, reduction=reduction)
    grad = ll.binary_cross_entropy_grad(p, y, w, reduction=reduction, grad_output=g)
    vloss, vgrad = ll.binary_cross_entropy_value_and_grad(p, y, w, reduction=reduction)
    assert np.asarray(loss).dtype == np.dtype(dtype)
    assert grad.dtype == np.dtype(dtype)
    assert grad.shape == shape
    if reduction == "none":
        assert isinstance(loss, np.ndarray)
        assert loss.shape == shape
    else:
        assert isinstance(loss, np.generic)
    close(loss, want_loss, dtype)
    close(grad, want_grad, dtype)
    # The fused pass: the same values (FMA contraction may differ by an ULP).
    close(vloss, loss, dtype)
    close(vgrad, ll.binary_cross_entropy_grad(p, y, w, reduction=reduction), dtype)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_endpoints_and_the_clamp_equal_torch_bit_for_bit(dtype):
    # p = 0 and p = 1 against every kind of target: loss 100 per unit of
    # target on the wrong side (the clamped log), gradient (p - y) / 1e-12f.
    p = np.repeat(np.array([0.0, 1.0], dtype), 4)
    y = np.tile(np.array([0.0, 0.25, 0.5, 1.0], dtype), 2)
    loss, grad = ll.binary_cross_entropy_value_and_grad(p, y, reduction="none")
    tp = torch.tensor(p, requires_grad=True)
    tl = F.binary_cross_entropy(tp, torch.tensor(y), reduction="none")
    tl.backward(torch.ones_like(tl))
    np.testing.assert_array_equal(loss, tl.detach().numpy())
    np.testing.assert_array_equal(grad, tp.grad.numpy())
    assert np.all(np.isfinite(loss))
    assert np.all(np.isfinite(grad))
    eps = dtype(np.float32(1e-12))  # torch's float constant, in either precision
    assert grad[1] == dtype(-0.25) / eps  # y = 0.25 at p = 0


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16], ids=["float16", "bfloat16"])
def test_16_bit_endpoints_are_computed_in_float32(dtype):
    # torch's float16 kernel rounds its 1e-12 to 0 and returns NaN (0/0) and
    # inf here; computed in float32 the gradient is 0 where p == y and the
    # float32 value rounded (to +-inf in float16, about 1e12 in bfloat16).
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype)
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype)
    loss, grad = ll.binary_cross_entropy_value_and_grad(p, y, reduction="none")
    np.testing.assert_array_equal(loss.astype(np.float64), [0, 0, 100, 100])
    with np.errstate(over="ignore"):
        want = (np.float32([-1, 1]) / np.float32(1e-12)).astype(dtype)
    np.testing.assert_array_equal(grad, np.concatenate([np.zeros(2, dtype), want]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("y0", [0.0, 1.0, 0.3, 0.99, 1e-3])
def test_accuracy_near_0_and_1_against_mpmath(simd_level, dtype, y0):
    """log(p) and log1p(-p) without cancellation: the loss keeps its digits
    near p = 0 and p = 1 (measured max 1.7 ULP float32, 2.0 ULP float64)."""
    mpmath = pytest.importorskip("mpmath")
    tiny = float(np.finfo(dtype).smallest_subnormal)
    near0 = np.geomspace(tiny * 4, 0.5, 300).astype(dtype)
    near1 = (1 - np.geomspace(float(np.finfo(dtype).epsneg), 0.5, 300)).astype(dtype)
    p = np.concatenate([near0, near1])
    y = np.full_like(p, y0)
    with mpmath.workdps(60):
        def exact(pi, yi):
            pm, ym = mpmath.mpf(float(pi)), mpmath.mpf(float(yi))
            log_p = max(mpmath.log(pm), -100)
            log_q = max(mpmath.log1p(-pm), -100) if pm < 1 else mpmath.mpf(-100)
            return float(-(ym * log_p + (1 - ym) * log_q))

        want = np.array([exact(a, b) for a, b in zip(p, y)])
    got = ll.binary_cross_entropy(p, y, reduction="none")
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    err = np.abs(got.astype(np.float64) - want) / ulp
    assert err.max() <= 2.5, (simd_level, float(err.max()))


def test_finite_difference_gradient_float64():
    rng = np.random.default_rng(5)
    shape = (4, 3, 5)
    p = rng.uniform(0.05, 0.95, shape)
    y = rng.uniform(size=shape)
    w = rng.uniform(0.5, 2, (5,))
    h = 1e-7
    fd = (ll.binary_cross_entropy(p + h, y, w, reduction="none")
          - ll.binary_cross_entropy(p - h, y, w, reduction="none")) / (2 * h)
    grad = ll.binary_cross_entropy_grad(p, y, w, reduction="none")
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    mean = ll.binary_cross_entropy_grad(p, y, w, reduction="mean")
    np.testing.assert_allclose(mean * p.size, grad, rtol=1e-14)


unit = st.floats(0, 1)


@given(st.lists(st.tuples(unit, unit, st.floats(0.01, 10)), min_size=1, max_size=40))
def test_properties(rows):
    """Cross-entropy is at least the target's entropy (the loss at p = y),
    and >= 0; the gradient has the sign of p - y (positive weights); on
    probabilities from a sigmoid it is BCE-with-logits (before the clamp)."""
    p, y, w = (np.array(c) for c in zip(*rows))
    loss, grad = ll.binary_cross_entropy_value_and_grad(p, y, w, reduction="none")
    entropy = ll.binary_cross_entropy(y, y, w, reduction="none")
    assert np.all(loss >= 0)
    assert np.all(loss >= entropy - 1e-12 * (1 + entropy))
    assert np.all(np.sign(grad) == np.sign(p - y))
    inner = (p > 1e-30) & (p < 1 - 1e-12)
    with np.errstate(divide="ignore"):
        x = np.log(p) - np.log1p(-p)  # logit(p)
    with_logits = ll.binary_cross_entropy_with_logits(x, y, w, reduction="none")
    np.testing.assert_allclose(loss[inner], with_logits[inner], rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ range


BAD_VALUES = [np.nan, -0.1, 1.5, np.inf, -np.inf]


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("which", ["input", "target"])
@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probabilities_outside_0_1_raise_as_torch(fn, which, bad, reduction):
    p = np.full((3, 4), 0.5)
    y = np.full((3, 4), 0.25)
    (p if which == "input" else y)[2, 1] = bad
    if torch is not None:
        with pytest.raises(RuntimeError, match=f"all elements of {which} should be between 0 "
                                               "and 1"):
            F.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction=reduction)
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: all elements of {which} should be "
                                         rf"between 0 and 1 .*found {bad}"):
        fn(p, y, reduction=reduction)


def test_range_is_checked_in_every_block_and_thread(threads):
    # The bad element last of a multi-block, multi-threaded call.
    p = np.full(100_003, 0.5, np.float32)
    p[-1] = 1.0000001
    y = np.zeros_like(p)
    for n in (1, 2):
        ll.set_num_threads(n)
        with pytest.raises(ValueError, match="all elements of input"):
            ll.binary_cross_entropy_value_and_grad(p, y)
    p[-1] = 1.0
    y[50_000] = -1e-30
    with pytest.raises(ValueError, match=r"all elements of target.*found -1e-30"):
        ll.binary_cross_entropy_grad(p, y)


def test_refused_call_writes_nothing_into_out():
    p = np.full((50, 300), 0.5)
    p[-1, -1] = np.nan  # in the last block: a fused pass would have written the rest
    y = np.zeros_like(p)
    before = p.copy()
    with pytest.raises(ValueError, match="all elements of input"):
        ll.binary_cross_entropy_value_and_grad(p, y, out=p)  # in place
    np.testing.assert_array_equal(p, before)
    out = np.full_like(p, 7.0)
    with pytest.raises(ValueError, match="all elements of input"):
        ll.binary_cross_entropy_grad(p, y, reduction="none", out=out)
    assert np.all(out == 7.0)


def test_in_place_and_out():
    rng = np.random.default_rng(3)
    p, y = probabilities(rng, (40, 33), np.float32), targets(rng, (40, 33), np.float32)
    want_loss, want_grad = ll.binary_cross_entropy_value_and_grad(p, y)
    inplace = p.copy()
    loss, grad = ll.binary_cross_entropy_value_and_grad(inplace, y, out=inplace)
    assert grad is inplace
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad)
    out = np.zeros((33, 40), np.float32).T
    assert ll.binary_cross_entropy_grad(p, y, out=out) is out
    np.testing.assert_array_equal(out, ll.binary_cross_entropy_grad(p, y))


# ------------------------------------------------------ layouts and types


@needs_torch
def test_weight_broadcasting_follows_torch():
    rng = np.random.default_rng(1)
    p, y = probabilities(rng, (4, 3), np.float64), targets(rng, (4, 3), np.float64)
    for w in (np.arange(1.0, 4.0), np.arange(1.0, 5.0)[:, None], np.float64(2.0),
              np.ones((1, 3))):
        want, _ = torch_bce(p, y, w, "none", np.ones((4, 3)))
        np.testing.assert_allclose(ll.binary_cross_entropy(p, y, w, reduction="none"), want,
                                   rtol=1e-14)
    # torch refuses a weight that broadcasts beyond the input's shape; so do we.
    with pytest.raises(RuntimeError):
        torch_bce(p[0], y[0], np.ones((2, 3)), "none", np.ones(3))
    with pytest.raises(ValueError, match=r"weight with shape \(2, 3\) does not broadcast to "
                                         r"the input shape \(3,\)"):
        ll.binary_cross_entropy(p[0], y[0], np.ones((2, 3)))


def test_strided_fortran_readonly_and_broadcast_inputs():
    rng = np.random.default_rng(2)
    p, y = probabilities(rng, (6, 8, 5), np.float64), targets(rng, (6, 8, 5), np.float64)
    w = rng.uniform(0.5, 2, (8, 1))
    ref_loss, ref_grad = ll.binary_cross_entropy_value_and_grad(p, y, w, reduction="none")
    pf = np.asfortranarray(p)
    pf.flags.writeable = False
    loss, grad = ll.binary_cross_entropy_value_and_grad(pf, y, w, reduction="none")
    np.testing.assert_array_equal(loss, ref_loss)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-15)
    got = ll.binary_cross_entropy(p[::-1, :, ::2], y[::-1, :, ::2], w, reduction="none")
    np.testing.assert_array_equal(got, ref_loss[::-1, :, ::2])
    # A broadcast (zero-stride) input and torch tensors.
    pb = np.broadcast_to(p[0, 0], (3, 5))
    np.testing.assert_array_equal(ll.binary_cross_entropy(pb, y[0, :3], reduction="none"),
                                  ll.binary_cross_entropy(pb.copy(), y[0, :3], reduction="none"))
    if torch is not None:
        assert ll.binary_cross_entropy(torch.tensor(p), torch.tensor(y)) == (
            ll.binary_cross_entropy(p, y))
    assert not pf.flags.writeable


@pytest.mark.parametrize("n", [1, 3, 7, 8, 15, 16, 17, 1023, 4099, 12289])
def test_vector_tails_and_blocks(n):
    rng = np.random.default_rng(n)
    p, y = rng.uniform(0.01, 0.99, n), rng.uniform(size=n)
    ref = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    np.testing.assert_allclose(ll.binary_cross_entropy(p, y, reduction="none"), ref, rtol=1e-13)
    np.testing.assert_allclose(ll.binary_cross_entropy(p, y, reduction="sum"), ref.sum(),
                               rtol=1e-13)


def test_empty_and_zero_dimensional_follow_torch():
    e = np.empty((0, 3))
    assert np.isnan(ll.binary_cross_entropy(e, e))
    assert ll.binary_cross_entropy(e, e, reduction="sum") == 0
    assert ll.binary_cross_entropy_grad(e, e, np.ones(3)).shape == (0, 3)
    got = ll.binary_cross_entropy(np.float64(0.3), 1.0, reduction="none")
    assert isinstance(got, np.ndarray)
    assert got.shape == ()
    np.testing.assert_allclose(got, -np.log(0.3), rtol=1e-15)  # torch: 1.2040


def test_integer_and_bool_input_promote_to_float64():
    got = ll.binary_cross_entropy([0, 1, 1], [0, 1, 0], reduction="none")
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [0, 0, 100])
    assert ll.binary_cross_entropy(np.array([True]), np.array([1.0])).dtype == np.float64


def test_threads_and_simd_levels(threads):
    rng = np.random.default_rng(11)
    p, y = probabilities(rng, (300, 701), np.float32), targets(rng, (300, 701), np.float32)
    results = []
    for n in (1, 2, 3):
        ll.set_num_threads(n)
        results.append(ll.binary_cross_entropy_value_and_grad(p, y))
    for loss, grad in results[1:]:
        assert loss.tobytes() == results[0][0].tobytes()
        assert grad.tobytes() == results[0][1].tobytes()
    before = _core.simd_level()
    per_level = {}
    try:
        for level in _core.simd_levels_supported():
            _core.set_simd_level(level)
            per_level[level] = ll.binary_cross_entropy_value_and_grad(p, y, reduction="none")
    finally:
        _core.set_simd_level(before)
    base_loss, base_grad = per_level["baseline"]
    for loss, grad in per_level.values():  # FMA contraction differs: an ULP or two
        close(loss, base_loss, np.float32)
        close(grad, base_grad, np.float32)


def test_value_and_grad_allocates_only_the_gradient():
    rng = np.random.default_rng(8)
    p, y = probabilities(rng, (1000, 500), np.float64), targets(rng, (1000, 500), np.float64)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _loss, grad = ll.binary_cross_entropy_value_and_grad(p, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grad.nbytes <= peak < grad.nbytes * 1.1


def test_loss_object():
    rng = np.random.default_rng(4)
    p, y = probabilities(rng, (4, 5), np.float64), targets(rng, (4, 5), np.float64)
    w = np.linspace(1, 2, 5)
    fn = ll.BCELoss(w, reduction="sum")
    assert fn(p, y) == ll.binary_cross_entropy(p, y, w, reduction="sum")
    np.testing.assert_array_equal(fn.grad(p, y, grad_output=3.0), ll.binary_cross_entropy_grad(
        p, y, w, reduction="sum", grad_output=3.0))
    loss, grad = fn.value_and_grad(p, y)
    assert loss == fn(p, y)
    np.testing.assert_array_equal(grad, fn.grad(p, y))
    assert repr(ll.BCELoss()) == "BCELoss(reduction='mean')"
    assert ll.BCELoss().weight is None


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_errors_name_the_argument(fn):
    x = np.full((2, 3), 0.5)
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"^{name}: target with shape \(3, 2\) must have the "
                                         r"same shape as input with shape \(2, 3\)"):
        fn(x, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=rf"^{name}: weight with shape \(2,\) does not broadcast"):
        fn(x, x, np.ones(2))
    with pytest.raises(TypeError, match=rf"^{name}: input has unsupported dtype complex128"):
        fn(x + 0j, x)
    with pytest.raises(TypeError, match=rf"^{name}: target has unsupported dtype"):
        fn(x, np.array([["a", "b", "c"]] * 2))
    with pytest.raises(TypeError, match=rf"^{name}: weight has unsupported dtype object"):
        fn(x, x, np.array([None, 1, 2], dtype=object))
    with pytest.raises(TypeError, match=rf"^{name}: input must be an array, not None"):
        fn(None, x)
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be 'none', 'mean' or 'sum', "
                                         "not 'batchmean'"):
        fn(x, x, reduction="batchmean")
    with pytest.raises(TypeError):
        fn(x, x, pos_weight=np.ones(3))  # BCE on probabilities has no pos_weight (as torch)


def test_grad_output_errors():
    x = np.full((2, 3), 0.5)
    f = ll.binary_cross_entropy_grad
    with pytest.raises(ValueError, match=r"grad_output with shape \(3,\) must have the loss shape"):
        f(x, x, reduction="none", grad_output=np.ones(3))
    with pytest.raises(ValueError, match="grad_output must be a scalar for reduction='sum'"):
        f(x, x, reduction="sum", grad_output=np.ones(3))
