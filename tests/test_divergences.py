"""softmax_kl_div and generalized_jsd against PyTorch float64 autograd (and
Liger-Kernel's JSD written out in torch), over dtypes, shapes, class axes,
reductions, temperatures, beta and grad_output, on every SIMD level; their
special values, both kernel paths and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll

torch = pytest.importorskip("torch")
ml_dtypes = pytest.importorskip("ml_dtypes")
F = torch.nn.functional

FUNCS = {"kl": ll.softmax_kl_div, "jsd": ll.generalized_jsd}
REDUCTIONS = ["batchmean", "mean", "sum", "none"]


# --------------------------------------------------------------- references


def torch_rows(name, s, t, beta=0.5, temperature=1.0, axis=-1):
    """The per-row divergence in float64 torch; s is a leaf tensor."""
    X = F.log_softmax(s / temperature, dim=axis)  # student: log q
    Y = F.log_softmax(t / temperature, dim=axis)  # teacher: log p
    if name == "kl":
        return F.kl_div(X, Y.exp(), reduction="none").sum(axis)
    # Liger-Kernel's LigerJSD (jsd.py), its beta = 0 and 1 cases included.
    if beta == 0:
        return (Y.exp() * (Y - X)).sum(axis)
    if beta == 1:
        return (X.exp() * (X - Y)).sum(axis)
    P, Q = Y.exp(), X.exp()
    M = beta * P + (1 - beta) * Q
    log_m = M.log()
    return (beta * P * (Y - log_m) + (1 - beta) * Q * (X - log_m)).sum(axis)


def reduce_rows(rows, reduction, numel):
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    den = rows.numel() if reduction == "batchmean" else numel
    return rows.sum() / den


def torch_reference(name, x, y, reduction="batchmean", grad_output=None, **options):
    """(loss, gradient) of float64 torch autograd on the inputs' values."""
    s = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    t = torch.tensor(np.asarray(y, np.float64))
    loss = reduce_rows(torch_rows(name, s, t, **options), reduction, s.numel())
    g = torch.ones_like(loss) if grad_output is None else torch.as_tensor(
        np.array(grad_output, np.float64)).expand_as(loss)
    loss.backward(g)
    return loss.detach().numpy(), s.grad.numpy()


def check_close(got, want, dtype, what):
    """Within a few ulps of the result dtype (float32 and 16-bit storage
    compute in float32, Note [Stable divergences]) relative to each value,
    plus a few ulps of the largest (gradient entries that nearly vanish), or
    1e-12 for float64 (the float64 reference's own rounding); subnormal
    16-bit results have absolute spacing."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    dtype = np.dtype(dtype)
    eps = 1e-12 if dtype == np.float64 else float(ml_dtypes.finfo(dtype).eps)
    scale = np.max(np.abs(want), initial=0.0)
    subnormal = float(ml_dtypes.finfo(dtype).smallest_subnormal)
    np.testing.assert_allclose(got, want, rtol=8 * eps, atol=max(16 * eps * scale, subnormal),
                               err_msg=what)


# ------------------------------------------------------------------ matches


DTYPES = [np.float64, np.float32, np.float16, ml_dtypes.bfloat16]
SHAPES = [  # (shape, axis): last / middle / first axis, long rows, 1-D
    ((5, 7), -1), ((3, 4, 5), 1), ((6, 4), 0), ((4, 300), -1), ((2, 3, 37), 1), ((9,), 0),
]


def pair(rng, shape, dtype, scale=2.0):
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    y = (rng.standard_normal(shape) * scale).astype(dtype)
    return x, y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "axis"), SHAPES)
@pytest.mark.parametrize("name", ["kl", "jsd"])
def test_values_and_gradients_match_torch(simd_level, rng, dtype, shape, axis, name):
    x, y = pair(rng, shape, dtype)
    fn, grad_fn, both = (getattr(ll, FUNCS[name].__name__ + s)
                         for s in ("", "_grad", "_value_and_grad"))
    for reduction in REDUCTIONS:
        options = {"temperature": 1.5, "axis": axis, "reduction": reduction}
        betas = [0.5] if name == "kl" else [0.0, 0.3, 0.5, 1.0]
        for beta in betas:
            if name == "jsd":
                options["beta"] = beta
            ref_opts = {k: v for k, v in options.items() if k != "reduction"}
            want, want_grad = torch_reference(name, x, y, reduction, **ref_opts)
            loss = fn(x, y, **options)
            what = f"{name} {reduction} beta={beta}"
            check_close(loss, want, dtype, what)
            assert np.asarray(loss).dtype == x.dtype
            if reduction == "none":
                assert loss.shape == want.shape
            else:
                assert isinstance(loss, np.generic)
            got_loss, got_grad = both(x, y, **options)
            np.testing.assert_array_equal(got_loss, loss)  # the same bits as the value alone
            assert got_grad.dtype == x.dtype
            assert got_grad.shape == x.shape
            check_close(got_grad, want_grad, dtype, what + " grad")
            np.testing.assert_array_equal(grad_fn(x, y, **options), got_grad)


@pytest.mark.parametrize("name", ["kl", "jsd"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_grad_output_matches_torch(rng, name, reduction):
    x, y = pair(rng, (4, 3, 6), np.float64)
    go = rng.standard_normal((4, 6)) if reduction == "none" else 2.5
    options = {"axis": 1, "temperature": 0.7}
    if name == "jsd":
        options["beta"] = 0.2
    _, want = torch_reference(name, x, y, reduction, grad_output=go, **options)
    got = getattr(ll, FUNCS[name].__name__ + "_grad")(x, y, reduction=reduction, grad_output=go,
                                                      **options)
    check_close(got, want, np.float64, "grad_output")
    if reduction == "none":  # broadcasting grad_output, as cross_entropy_grad does
        got = ll.softmax_kl_div_grad(x, y, axis=1, reduction="none", grad_output=go[0])
        _, want = torch_reference("kl", x, y, "none", grad_output=np.broadcast_to(go[0], (4, 6)),
                                  axis=1)
        check_close(got, want, np.float64, "broadcast grad_output")


def test_defaults_follow_the_contract(rng):
    x, y = pair(rng, (3, 4), np.float64)
    want, _ = torch_reference("kl", x, y, "batchmean")
    check_close(ll.softmax_kl_div(x, y), want, np.float64, "defaults")
    want, _ = torch_reference("jsd", x, y, "batchmean", beta=0.5)
    check_close(ll.generalized_jsd(x, y), want, np.float64, "defaults")
    # 'batchmean' divides by the rows (every non-class dimension), not shape[0].
    x3, y3 = pair(rng, (2, 3, 4), np.float64)
    rows = ll.softmax_kl_div(x3, y3, reduction="none")
    assert rows.shape == (2, 3)
    np.testing.assert_allclose(ll.softmax_kl_div(x3, y3), rows.sum() / 6, rtol=1e-15)
    np.testing.assert_allclose(ll.softmax_kl_div(x3, y3, reduction="mean"), rows.sum() / 24,
                               rtol=1e-15)


def test_temperature_is_not_squared(rng):
    x, y = pair(rng, (3, 5), np.float64)
    want, _ = torch_reference("kl", x / 4, y / 4, "sum")
    check_close(ll.softmax_kl_div(x, y, temperature=4.0, reduction="sum"), want, np.float64, "T")


def test_lists_ints_and_mixed_dtypes(rng):
    got = ll.softmax_kl_div([[1, 2, 3]], [[3, 2, 1]])
    assert got.dtype == np.float64
    want, _ = torch_reference("kl", [[1.0, 2, 3]], [[3.0, 2, 1]])
    check_close(got, want, np.float64, "ints")
    x, y = pair(rng, (3, 4), np.float32)
    # A float64 target is read in the input's dtype (float32).
    assert ll.softmax_kl_div(x, y.astype(np.float64)) == ll.softmax_kl_div(x, y)
    assert ll.softmax_kl_div(x, y).dtype == np.float32


def test_strided_and_read_only_inputs_are_not_modified(rng):
    base_x, base_y = pair(rng, (8, 12), np.float64)
    x, y = base_x[::2, ::3], np.asfortranarray(base_y[1::2, 1::3])
    x.flags.writeable = False
    keep = (base_x.copy(), base_y.copy())
    want = ll.softmax_kl_div_value_and_grad(np.ascontiguousarray(x), np.ascontiguousarray(y),
                                            reduction="none")
    got = ll.softmax_kl_div_value_and_grad(x, y, reduction="none")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(base_x, keep[0])
    np.testing.assert_array_equal(base_y, keep[1])


# ------------------------------------------------------- the kernel's paths


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("kind", [("kl", {}), ("jsd", {"beta": 0.3}), ("jsd", {"beta": 1.0})])
def test_both_paths_give_the_same_bits(simd_level, rng, dtype, kind):
    """Contiguous rows (lanes along the classes) and row blocks (one row per
    lane, for strided classes) add the terms in the same order."""
    name, options = kind
    for classes in (1, 3, 8, 17, 40, 129):
        x, y = pair(rng, (11, classes), dtype)
        x[3, 0] = -np.inf
        y[4, -1] = -np.inf
        fn = getattr(ll, FUNCS[name].__name__ + "_value_and_grad")
        want = fn(x, y, reduction="none", **options)
        xt, yt = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)  # classes strided
        got = fn(xt, yt, axis=0, reduction="none", **options)
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"{classes} classes")
        np.testing.assert_array_equal(got[1].T, want[1], err_msg=f"{classes} classes")
        out = np.asfortranarray(np.empty_like(x))  # contiguous inputs, strided gradient
        got = fn(x, y, reduction="none", out=out, **options)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(out, want[1])


# ----------------------------------------------------------- special values


def test_zero_probabilities_take_their_limits():
    x = np.array([[0.0, 1.0, -np.inf, 2.0], [0.5, -np.inf, -np.inf, 0.0]])
    y = np.array([[1.0, -np.inf, 0.5, 0.0], [0.0, 1.0, -np.inf, 2.0]])
    loss, grad = ll.softmax_kl_div_value_and_grad(x, y, reduction="none")
    # Row 0: y has -inf (p = 0, term 0) and x has -inf where p > 0: +inf.
    assert loss[0] == np.inf
    want_loss, want_grad = torch_reference("kl", x, y, "none")
    assert want_loss[0] == np.inf
    check_close(grad, want_grad, np.float64, "forward gradient with an infinite loss")
    # Row 1: x = -inf where p > 0 again (inf); its gradient is still q - p.
    assert loss[1] == np.inf
    # Zero target probabilities alone: finite, as torch's kl_div.
    xf = np.array([[0.0, 1.0, 2.0]])
    yf = np.array([[1.0, -np.inf, 0.5]])
    got_loss, got_grad = ll.softmax_kl_div_value_and_grad(xf, yf, reduction="none")
    want_loss, want_grad = torch_reference("kl", xf, yf, "none")
    check_close(got_loss, want_loss, np.float64, "p = 0")
    check_close(got_grad, want_grad, np.float64, "p = 0")
    # -inf in both at the same class: the class is absent from both (0 log 0 = 0).
    both = ll.softmax_kl_div_value_and_grad([[0.0, -np.inf, 1.0]], [[1.0, -np.inf, 0.0]])
    want = ll.softmax_kl_div_value_and_grad([[0.0, 1.0]], [[1.0, 0.0]])
    np.testing.assert_allclose(both[0], want[0], rtol=1e-15)
    np.testing.assert_allclose(both[1][:, [0, 2]], want[1], rtol=1e-15)
    assert both[1][0, 1] == 0


@pytest.mark.parametrize("beta", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_jsd_with_zero_probabilities(beta):
    x = np.array([[0.0, 1.0, -np.inf, 2.0, 0.5]])
    y = np.array([[1.0, -np.inf, 0.5, 0.0, -np.inf]])
    loss, grad = ll.generalized_jsd_value_and_grad(x, y, beta=beta, reduction="none")
    s = torch.tensor(x, requires_grad=True)
    q, p = torch.softmax(s, -1), torch.softmax(torch.tensor(y), -1)
    if beta == 0:  # KL(P || Q) with q = 0 where p > 0: infinite
        assert loss[0] == np.inf
        return
    if beta == 1:  # KL(Q || P) with p = 0 where q > 0: infinite, NaN gradient
        assert loss[0] == np.inf
        assert np.isnan(grad).all()
        return
    m = beta * p + (1 - beta) * q

    def xlogx_over_m(v):  # v log(v / m), 0 where v = 0, with a gradient there too
        present = v > 0
        safe = torch.where(present, v, torch.ones_like(v))
        safe_m = torch.where(present, m, torch.ones_like(m))
        return torch.where(present, safe * torch.log(safe / safe_m), torch.zeros_like(v))

    row = beta * xlogx_over_m(p).sum() + (1 - beta) * xlogx_over_m(q).sum()
    row.backward()
    assert np.isfinite(loss[0])
    np.testing.assert_allclose(loss[0], row.item(), rtol=1e-13)
    np.testing.assert_allclose(grad, s.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["kl", "jsd"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_rows_are_nan(simd_level, name, bad):
    for classes in (3, 40):  # both paths
        x = np.zeros((4, classes))
        y = np.ones((4, classes))
        y[:, 0] = 2.0
        x[1, 2] = bad
        y[2, 1] = bad
        x[3] = -np.inf  # no softmax at all
        loss, grad = getattr(ll, FUNCS[name].__name__ + "_value_and_grad")(
            x, y, reduction="none")
        assert np.isfinite(loss[0])
        assert np.isnan(loss[1:]).all()
        assert np.isfinite(grad[0]).all()
        assert np.isnan(grad[1:]).all()
        # As PyTorch: its softmax is NaN on those rows, so is its loss.
        want, _ = torch_reference(name, x, y, "none")
        assert np.isnan(want[1:]).all()


def test_empty_arrays():
    for name, fn in FUNCS.items():
        x = np.zeros((0, 5), np.float32)
        assert np.isnan(fn(x, x))  # 'batchmean' of no rows: 0 / 0
        assert fn(x, x, reduction="sum") == 0
        assert fn(x, x, reduction="none").shape == (0,)
        assert getattr(ll, fn.__name__ + "_grad")(x, x).shape == (0, 5)
        z = np.zeros((3, 0))  # rows of no classes: empty sums
        np.testing.assert_array_equal(fn(z, z, reduction="none"), np.zeros(3))
        assert fn(z, z) == 0
        assert np.isnan(fn(z, z, reduction="mean"))  # 0 / 0 elements
        assert getattr(ll, fn.__name__ + "_grad")(z, z).shape == (3, 0), name


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_tiny_beta_with_narrow_inputs(rng, dtype):
    """A beta that float32 cannot hold (nor (1 - beta) / beta): computed on
    float64 copies, so still the float64 result, rounded, and never negative."""
    x, y = pair(rng, (5, 40), dtype)
    x[:, 3] = -95.0 if dtype == np.float32 else -40.0  # q / p ~ e^-95: the far branch
    for beta in (1e-20, 1e-29, 1e-31, 1e-40, 1e-300):
        loss, grad = ll.generalized_jsd_value_and_grad(x, y, beta=beta, reduction="none")
        want, want_grad = ll.generalized_jsd_value_and_grad(
            x.astype(np.float64), y.astype(np.float64), beta=beta, reduction="none")
        assert (loss >= 0).all()
        assert np.isfinite(grad).all()
        check_close(loss, want, dtype, f"beta={beta}")
        check_close(grad, want_grad, dtype, f"beta={beta} grad")
        inplace = x.copy()
        ll.generalized_jsd_grad(inplace, y, beta=beta, reduction="none", out=inplace)
        np.testing.assert_array_equal(inplace, grad)


def test_identical_rows_give_exactly_zero(simd_level, rng):
    for dtype in (np.float32, np.float64, np.float16):
        x, _ = pair(rng, (7, 33), dtype)
        for fn in FUNCS.values():
            loss, grad = getattr(ll, fn.__name__ + "_value_and_grad")(x, x, reduction="none")
            assert (loss == 0).all()
            assert (grad == 0).all()


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("name", ["softmax_kl_div", "generalized_jsd"])
def test_errors_name_the_argument(name):
    x = np.zeros((2, 3))
    cases = [
        ((x, np.zeros((2, 4))), {}, ValueError,
         r"target has shape \(2, 4\) but input has shape \(2, 3\); they must be equal"),
        ((x, x), {"reduction": "bogus"}, ValueError,
         "reduction must be 'none', 'mean', 'sum' or 'batchmean', not 'bogus'"),
        ((x, x), {"temperature": 0.0}, ValueError, "temperature must be a finite number > 0"),
        ((x, x), {"temperature": -1.0}, ValueError, "temperature must be a finite number > 0"),
        ((x, x), {"temperature": np.inf}, ValueError, "temperature must be a finite number > 0"),
        ((x, x), {"temperature": np.nan}, ValueError, "temperature must be a finite number > 0"),
        ((x, x), {"temperature": 5e-324}, ValueError, "temperature 5e-324 is too small"),
        ((x, x), {"temperature": "2"}, TypeError, "temperature must be a real number, not str"),
        ((x, x), {"axis": 2}, ValueError, "axis 2 is out of bounds for an array of dimension 2"),
        ((x, x), {"axis": 1.0}, TypeError, "axis must be an int"),
        ((x, x), {"axis": None}, TypeError, "axis must be an int, not None"),
        ((np.float64(1.0), np.float64(1.0)), {}, ValueError, "input must have a class axis"),
        ((x + 0j, x), {}, TypeError, "input has unsupported dtype complex128"),
        ((x, x.astype(object)), {}, TypeError, "target has unsupported dtype object"),
        ((x, None), {}, TypeError, "target must be an array, not None"),
    ]
    if name == "generalized_jsd":
        cases += [
            ((x, x), {"beta": -0.1}, ValueError, r"beta must be in \[0, 1\], got -0.1"),
            ((x, x), {"beta": 1.5}, ValueError, r"beta must be in \[0, 1\], got 1.5"),
            ((x, x), {"beta": np.nan}, ValueError, r"beta must be in \[0, 1\], got nan"),
            ((x, x), {"beta": "0.5"}, TypeError, "beta must be a real number, not str"),
        ]
    for suffix in ("", "_grad", "_value_and_grad"):
        for args, kwargs, exc, match in cases:
            with pytest.raises(exc, match=f"^{name}{suffix}: {match}"):
                getattr(ll, name + suffix)(*args, **kwargs)


def test_grad_output_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"^softmax_kl_div_grad: grad_output has shape \(3,\); "
                                         r"expected the loss shape \(2,\)"):
        ll.softmax_kl_div_grad(x, x, reduction="none", grad_output=np.ones(3))
    with pytest.raises(ValueError, match=r"^generalized_jsd_grad: grad_output has shape \(2,\); "
                                         "expected a scalar for reduction='batchmean'"):
        ll.generalized_jsd_grad(x, x, grad_output=np.ones(2))
