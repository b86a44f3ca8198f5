"""logitloss.objectives.focal and softmax_focal: first and diagonal second
derivatives against PyTorch double-backward (float64), against mpmath at
margins where double-precision autograd cancels, the gamma = 0 reductions
to the logistic and softmax objectives (bit for bit), the Hessian floor,
alpha, layouts, SIMD levels and errors."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss
import logitloss.objectives as obj

rng = np.random.default_rng(7)
GAMMAS = (0.25, 0.5, 1.0, 2.0, 3.7)


# ---------------------------------------------------------------- references


def torch_binary_focal(z, y, alpha, gamma):
    """dL/dz and d2L/dz2 of torchvision's sigmoid focal loss (hard labels),
    by double-backward. Written with logsigmoid and sigmoid(-s), s = z (2y - 1),
    so that autograd itself does not cancel for confident margins."""
    torch = pytest.importorskip("torch")
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float64)
    s = zt * (2 * yt - 1)
    loss = -torch.sigmoid(-s) ** gamma * torch.nn.functional.logsigmoid(s)
    if alpha >= 0:
        loss = (alpha * yt + (1 - alpha) * (1 - yt)) * loss
    (g,) = torch.autograd.grad(loss.sum(), zt, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), zt)  # elementwise loss: the Hessian is diagonal
    return g.detach().numpy(), h.numpy()


def torchvision_focal(z, y, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss's formula as written there (soft labels too)."""
    torch = pytest.importorskip("torch")
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float64)
    p = torch.sigmoid(zt)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(zt, yt, reduction="none")
    p_t = p * yt + (1 - p) * (1 - yt)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * yt + (1 - alpha) * (1 - yt)) * loss
    (g,) = torch.autograd.grad(loss.sum(), zt, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), zt)
    return g.detach().numpy(), h.numpy()


def torch_softmax_focal(z, t, alpha, gamma):
    """dL/dz_k and d2L/dz_k2 of -alpha_t (1 - p_t)**gamma log p_t per row, by
    double-backward (1 - p_t = -expm1(log p_t): no cancellation)."""
    torch = pytest.importorskip("torch")
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor(t)
    log_pt = torch.log_softmax(zt, dim=1)[torch.arange(len(t)), idx]
    a = torch.ones(len(t), dtype=torch.float64)
    if alpha is not None:
        a = torch.tensor(np.broadcast_to(np.asarray(alpha, np.float64), (z.shape[1],)).copy())[idx]
    loss = -a * (-torch.expm1(log_pt)) ** gamma * log_pt
    (g,) = torch.autograd.grad(loss.sum(), zt, create_graph=True)
    hess = []
    for k in range(z.shape[1]):  # rows are independent: column k of d(sum g_k)/dz
        (hk,) = torch.autograd.grad(g[:, k].sum(), zt, retain_graph=True)
        hess.append(hk[:, k])
    return g.detach().numpy(), torch.stack(hess, 1).numpy()


# ------------------------------------------------------------ binary focal


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [-1.0, 0.25, 0.9])
def test_binary_focal_matches_torch_double_backward(gamma, alpha, simd_level):
    # Beyond |z| ~ 36 float64 sigmoid(-s) rounds to 1 and autograd drops the
    # terms of a confidently wrong margin; the mpmath test covers those.
    z = np.concatenate([np.linspace(-30, 30, 241), [-1e-3, 0.0, 1e-3]])
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        g, h = obj.focal(z, y, alpha=alpha, gamma=gamma, hessian="exact")
        tg, th = torch_binary_focal(z, y, alpha, gamma)
        # Float64 autograd is good to a few 1e-15 absolute where terms of
        # size 1 cancel (confidently wrong margins) and loses the relative
        # accuracy of tiny values; the mpmath test below holds those.
        np.testing.assert_allclose(g, tg, rtol=5e-14, atol=1e-15)
        np.testing.assert_allclose(h, th, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 3.0])
def test_binary_focal_soft_labels_match_torchvision_formula(gamma):
    z = np.linspace(-8, 8, 97)
    for label in (0.1, 0.5, 0.7):
        y = np.full_like(z, label)
        g, h = obj.focal(z, y, alpha=0.25, gamma=gamma, hessian="exact")
        tg, th = torchvision_focal(z, y, 0.25, gamma)
        # torchvision's 1 - sigmoid cancels near |z| = 8 (relative 1e-12).
        np.testing.assert_allclose(g, tg, rtol=1e-11, atol=1e-15)
        np.testing.assert_allclose(h, th, rtol=1e-11, atol=1e-15)


def _mp_binary_loss(mpmath, label, gamma, a):
    def loss(v):
        s = v if label else -v
        return -a * (1 / (1 + mpmath.exp(s))) ** gamma * mpmath.log(1 / (1 + mpmath.exp(-s)))

    return loss


def test_binary_focal_is_exact_where_float64_autograd_is_not(simd_level):
    """Confident margins, right and wrong: mpmath differentiates the loss
    numerically in 60 digits (|z| <= 50), and evaluates the Note's closed
    forms in 60 digits where numerical differentiation gives out (|z| = 300,
    700); the results keep their relative accuracy down to 1e-300."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    z = np.array([-700.0, -300.0, -50.0, -30.0, -12.0, 12.0, 30.0, 50.0, 300.0, 700.0])
    for label in (0.0, 1.0):
        for gamma in (0.25, 2.0, 3.7):
            g, h = obj.focal(z, np.full_like(z, label), alpha=0.25, gamma=gamma,
                             hessian="exact")
            a = 0.25 if label else 0.75
            loss = _mp_binary_loss(mpmath, label, gamma, a)
            for zi, gi, hi in zip(z, g, h):
                x = mpmath.mpf(zi)
                if abs(zi) <= 50:
                    want_g, want_h = mpmath.diff(loss, x, 1), mpmath.diff(loss, x, 2)
                else:  # u = p_t, v = 1 - p_t, ce = -log u, s = z (2y - 1)
                    sign = 1 if label else -1
                    u, v = 1 / (1 + mpmath.exp(-sign * x)), 1 / (1 + mpmath.exp(sign * x))
                    ce = mpmath.log1p(mpmath.exp(-sign * x))
                    want_g = -sign * a * v**gamma * (v + gamma * u * ce)
                    want_h = a * u * v**gamma * ((2 * gamma + 1) * v + gamma * ce * (gamma * u - v))
                assert gi == pytest.approx(float(want_g), rel=1e-13, abs=1e-300)
                assert hi == pytest.approx(float(want_h), rel=1e-12, abs=1e-300)


def test_binary_focal_gamma_zero_is_the_logistic_objective_bit_for_bit():
    z = np.concatenate([rng.standard_normal(1001) * 6, [-800.0, -40.0, 0.0, 40.0, 800.0]])
    y = (rng.uniform(size=z.size) < 0.3).astype(np.float64)
    w = rng.uniform(0, 2, z.size)
    for dtype in (np.float32, np.float64):
        zd = z.astype(dtype)
        for weight in (None, w):
            g, h = obj.focal(zd, y, weight, alpha=-1.0, gamma=0.0)
            gl, hl = obj.logistic(zd, y, weight)
            np.testing.assert_array_equal(g, gl)
            np.testing.assert_array_equal(h, hl)
        # with alpha: a_t times the logistic objective (one rounding); 'exact'
        # has no floor
        g, h = obj.focal(zd, y, alpha=0.25, gamma=0.0, hessian="exact")
        a = np.where(y == 1, 0.25, 0.75)
        gl, hl = obj.logistic(zd, y)
        np.testing.assert_array_max_ulp(g, (a * gl).astype(dtype), maxulp=1)
        big = np.abs(zd) < 30
        np.testing.assert_array_max_ulp(h[big], (a * hl)[big].astype(dtype), maxulp=1)
        assert (h[np.abs(zd) > 40] < 1e-16).all()


def test_binary_focal_floor():
    z = np.array([-30.0, -5.0, 0.0, 5.0, 30.0])
    y = np.array([1.0, 1.0, 1.0, 0.0, 0.0])  # the outer ones are confidently wrong
    _, exact = obj.focal(z, y, hessian="exact")
    assert exact[0] < 0
    assert exact[-1] < 0
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    g, floored = obj.focal(z, y, w)
    np.testing.assert_array_equal(floored, np.maximum(exact, 1e-16) * w)
    np.testing.assert_array_equal(g, obj.focal(z, y, hessian="exact")[0] * w)
    assert (floored > 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 17, 1023])
def test_binary_focal_float32_agrees_with_float64(dtype, n):
    z = rng.standard_normal(n) * 4
    y = rng.integers(0, 2, n)
    g64, h64 = obj.focal(z, y, hessian="exact")
    g, h = obj.focal(z.astype(dtype), y, hessian="exact")
    assert g.dtype == dtype
    assert g.shape == (n,)
    tol = 1e-15 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(g, g64, rtol=tol * 100, atol=tol)
    np.testing.assert_allclose(h, h64, rtol=tol * 100, atol=tol)


# ----------------------------------------------------------- softmax focal


# Short rows (transposes), one vector, long rows (lanes along the classes);
# the 70-class case (70 backward passes per Hessian) with two gammas only.
SOFTMAX_CASES = [(n, k, g) for n, k in [(64, 2), (64, 3), (200, 10), (40, 17)] for g in GAMMAS]
SOFTMAX_CASES += [(16, 70, 0.5), (16, 70, 2.0)]


@pytest.mark.parametrize(("n", "k", "gamma"), SOFTMAX_CASES)
def test_softmax_focal_matches_torch_double_backward(n, k, gamma):
    z = rng.standard_normal((n, k)) * 4
    t = rng.integers(0, k, n)
    for alpha in (None, 0.6, np.linspace(0.2, 1.0, k)):
        g, h = obj.softmax_focal(z, t, alpha=alpha, gamma=gamma, hessian="exact")
        tg, th = torch_softmax_focal(z, t, alpha, gamma)
        # log_softmax's backward forms 1 - p_t by cancellation: autograd is
        # good to ~1e-16 absolute; confident rows are held by mpmath below.
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h, th, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_softmax_focal_confident_rows_against_mpmath(gamma, simd_level):
    """Rows whose label (or another class) leads by 20-40: every derivative
    keeps its relative accuracy (mpmath differentiates in 50 digits)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    z = np.array([[30.0, 0.0, -3.0], [0.0, 40.0, 1.0], [25.0, 25.0, -10.0], [1.0, -2.0, 22.0]])
    t = np.array([0, 0, 1, 2])
    g, h = obj.softmax_focal(z, t, alpha=[0.5, 1.0, 2.0], gamma=gamma, hessian="exact")
    alpha = [0.5, 1.0, 2.0]
    for i, row in enumerate(z):
        for k in range(3):
            def loss(v, i=i, k=k, row=row):
                x = [mpmath.mpf(c) for c in row]
                x[k] = v
                log_p = x[t[i]] - mpmath.log(sum(mpmath.exp(c) for c in x))
                return -alpha[t[i]] * (1 - mpmath.exp(log_p)) ** gamma * log_p

            x0 = mpmath.mpf(row[k])
            assert g[i, k] == pytest.approx(float(mpmath.diff(loss, x0, 1)), rel=1e-13)
            assert h[i, k] == pytest.approx(float(mpmath.diff(loss, x0, 2)), rel=1e-11)


def test_softmax_focal_with_two_classes_equals_binary_focal():
    z = rng.standard_normal(300) * 10
    y = rng.integers(0, 2, 300)
    for gamma in (0.5, 2.0):
        g, h = obj.focal(z, y, alpha=-1, gamma=gamma, hessian="exact")
        g2, h2 = obj.softmax_focal(np.stack([np.zeros_like(z), z], 1), y, gamma=gamma,
                                   hessian="exact")
        np.testing.assert_allclose(g2[:, 1], g, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(g2[:, 0], -g, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(h2[:, 1], h, rtol=1e-11, atol=1e-300)
        np.testing.assert_allclose(h2[:, 0], h, rtol=1e-11, atol=1e-300)


def test_softmax_focal_gamma_zero_is_the_softmax_objective_bit_for_bit():
    for shape in [(513, 10), (99, 3), (40, 37), (30, 200)]:
        for dtype in (np.float32, np.float64):
            z = (rng.standard_normal(shape) * 5).astype(dtype)
            t = rng.integers(0, shape[1], shape[0])
            w = rng.uniform(0, 2, shape[0])
            for weight in (None, w):
                g, h = obj.softmax_focal(z, t, weight, gamma=0.0, hessian="exact")
                gs, hs = obj.softmax(z, t, weight, hessian="exact")
                np.testing.assert_array_equal(g, gs)
                np.testing.assert_array_equal(h, hs)
            _, hf = obj.softmax_focal(z, t, gamma=0.0)  # floored
            np.testing.assert_array_equal(hf, np.maximum(hs if weight is None else
                                                         obj.softmax(z, t, hessian="exact")[1],
                                                         dtype(1e-16)))


def test_softmax_focal_rows_and_floor():
    z = rng.standard_normal((500, 6)) * 8
    t = rng.integers(0, 6, 500)
    w = rng.uniform(0, 2, 500)
    g, h = obj.softmax_focal(z, t, w, alpha=np.arange(1, 7) / 6)
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-14)  # gradient rows sum to 0
    ge, he = obj.softmax_focal(z, t, w, alpha=np.arange(1, 7) / 6, hessian="exact")
    np.testing.assert_array_equal(g, ge)
    assert (he < 0).any()  # not convex
    np.testing.assert_allclose(h, np.maximum(he / w[:, None], 1e-16) * w[:, None], rtol=1e-15)


@pytest.mark.parametrize("layout", ["fortran", "strided_rows", "transposed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_focal_any_layout_and_path(layout, dtype):
    base = (rng.standard_normal((90, 80)) * 3).astype(dtype)
    for k in (5, 11, 40, 80):  # short rows (transposes), long rows, row blocks
        if layout == "fortran":
            x = np.asfortranarray(base[:45, :k])
        elif layout == "strided_rows":
            x = base[::2, :k]
        else:
            x = base[:k, :45].T
        t = rng.integers(0, k, x.shape[0])
        g, h = obj.softmax_focal(x, t, hessian="exact")
        gc, hc = obj.softmax_focal(np.ascontiguousarray(x, np.float64), t, hessian="exact")
        tol = dict(rtol=1e-12, atol=1e-15) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(g, gc, **tol)
        np.testing.assert_allclose(h, hc, **tol)


def test_focal_results_do_not_depend_on_thread_count():
    z = rng.standard_normal((20000, 7)).astype(np.float32)
    t = rng.integers(0, 7, 20000)
    before = logitloss.get_num_threads()
    try:
        logitloss.set_num_threads(1)
        one = obj.softmax_focal(z, t) + obj.focal(z[:, 0], t > 3)
        logitloss.set_num_threads(2)
        two = obj.softmax_focal(z, t) + obj.focal(z[:, 0], t > 3)
    finally:
        logitloss.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_focal_non_finite_margins():
    g, h = obj.softmax_focal([[np.nan, 0.0], [np.inf, 0.0], [0.0, 1.0]], [0, 1, 1])
    assert np.isnan(g[:2]).all()
    assert np.isnan(h[:2]).all()
    assert np.isfinite(g[2]).all()
    g, h = obj.focal([np.inf, -np.inf, np.nan], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(g[:2], [0.75, 0.0])  # +inf, y=0: a_t (limit); -inf: right
    assert np.isnan(g[2])


# ------------------------------------------------------------------- errors


def test_focal_argument_errors():
    with pytest.raises(ValueError, match=r"objectives.focal: hessian must be one of \['exact', "
                                         r"'floored'\], not 'xgboost'"):
        obj.focal([0.0], [1.0], hessian="xgboost")
    with pytest.raises(ValueError, match=r"gamma must be >= 0, not -1.0"):
        obj.focal([0.0], [1.0], gamma=-1)
    with pytest.raises(ValueError, match=r"gamma must be finite"):
        obj.softmax_focal([[0.0, 1.0]], [1], gamma=np.inf)
    with pytest.raises(TypeError, match=r"objectives.focal: alpha must be a real number, not str"):
        obj.focal([0.0], [1.0], alpha="a")
    with pytest.raises(TypeError, match=r"gamma must be a real number, not NoneType"):
        obj.softmax_focal([[0.0, 1.0]], [1], gamma=None)
    with pytest.raises(ValueError, match=r"alpha must be None, a real number or \(2,\) per class"):
        obj.softmax_focal([[0.0, 1.0]], [1], alpha=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"alpha must be finite"):
        obj.softmax_focal([[0.0, 1.0]], [1], alpha=[0.5, np.nan])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        obj.focal([0.0, 1.0], [0.0, 2.0])
    with pytest.raises(IndexError, match=r"objectives.softmax_focal: label 2 is out of range"):
        obj.softmax_focal([[0.0, 1.0]], [2])
    with pytest.raises(ValueError, match=r"sample_weight must be finite and non-negative"):
        obj.softmax_focal([[0.0, 1.0]], [1], [-1.0])
    with pytest.raises(ValueError, match=r"margins has shape \(2,\); expected \(N, K\)"):
        obj.softmax_focal([0.0, 1.0], [1, 0])
    with pytest.raises(ValueError, match=r"margins has shape \(1, 2\); expected \(N,\)"):
        obj.focal([[0.0, 1.0]], [1])
