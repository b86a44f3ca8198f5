"""logitloss.dask: lazy Dask versions equal the in-memory functions (to
rounding) for every chunking: several row chunks, uneven chunks, class axes
split across chunks (rechunked) and reductions spanning chunks (combined)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import logitloss as ll  # noqa: E402
import logitloss.dask as lld  # noqa: E402

rng = np.random.default_rng(1)


def compute(*arrays):
    return dask.compute(*arrays, scheduler="sync")


def assert_close(actual, expected, dtype=np.float64, ulps=4):
    """Equal to `ulps` units in the last place of the result's magnitude
    (NaN where the reference is NaN, infinities equal)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(actual[~finite & ~np.isnan(expected)],
                                  expected[~finite & ~np.isnan(expected)])
    eps = np.finfo(dtype).eps
    tol = ulps * eps * np.maximum(np.abs(expected[finite]), 1.0)
    assert np.all(np.abs(actual[finite] - expected[finite]) <= tol), (
        np.max(np.abs(actual[finite] - expected[finite]) / np.maximum(np.abs(expected[finite]), 1))
    )


# Row chunks (several, uneven), class axes split, everything split.
CHUNKINGS = {
    "rows": (25, -1, -1),
    "uneven_rows": ((7, 40, 1, 52), -1, -1),
    "class_split": (50, 3, -1),
    "all_split": ((30, 30, 40), (2, 5), (1, 4)),
}


@pytest.fixture(params=sorted(CHUNKINGS))
def chunked(request):
    x = rng.standard_normal((100, 7, 5)) * 4
    return x, da.from_array(x, chunks=CHUNKINGS[request.param])


AXES = [None, 0, 1, -1, (1, 2), (0, 2)]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_in_memory(chunked, axis, keepdims):
    x, dx = chunked
    res = lld.logsumexp(dx, axis=axis, keepdims=keepdims)
    assert isinstance(res, da.Array)
    want = ll.logsumexp(x, axis=axis, keepdims=keepdims)
    (got,) = compute(res)
    assert type(got) is type(want)  # a NumPy scalar when every axis is reduced
    assert_close(got, want)


@pytest.mark.parametrize("axis", AXES)
def test_logsumexp_with_b_and_sign_matches_in_memory(chunked, axis):
    x, dx = chunked
    b = rng.uniform(0.1, 2.0, x.shape) * np.where(rng.uniform(size=x.shape) < 0.1, -1, 1)
    db = da.from_array(b, chunks=(33, -1, 2))
    lse, sign = lld.logsumexp(dx, axis=axis, b=db, return_sign=True)
    got, got_sign = compute(lse, sign)
    want, want_sign = ll.logsumexp(x, axis=axis, b=b, return_sign=True)
    np.testing.assert_array_equal(got_sign, want_sign)
    # Mixed signs cancel: the partials' rounding is amplified by the
    # condition number sum|b e^x| / |sum b e^x| = exp(lse(|b|) - lse(b)).
    cond = np.exp(ll.logsumexp(x, axis=axis, b=np.abs(b)) - want)
    bound = 8 * np.finfo(float).eps * cond * np.maximum(1, np.abs(want))
    np.testing.assert_array_less(np.abs(got - want), bound)
    # Without return_sign a negative total is NaN, as in memory.
    (plain,) = compute(lld.logsumexp(dx, axis=axis, b=db))
    np.testing.assert_array_equal(np.isnan(plain), np.isnan(ll.logsumexp(x, axis=axis, b=b)))


def test_logsumexp_b_broadcasts_and_float32():
    x = (rng.standard_normal((64, 9)) * 3).astype(np.float32)
    b = rng.uniform(0.5, 1.5, 9).astype(np.float32)
    dx = da.from_array(x, chunks=(10, 4))
    for axis in (None, 0, 1):
        (got,) = compute(lld.logsumexp(dx, axis=axis, b=b))
        assert got.dtype == np.float32
        assert_close(got, ll.logsumexp(x, axis=axis, b=b), np.float32)
        (grad,) = compute(lld.logsumexp_grad(dx, axis=axis, b=b))
        assert grad.dtype == np.float32
        assert grad.shape == x.shape
        assert_close(grad, ll.logsumexp_grad(x, axis=axis, b=b), np.float32)
        # The gradient with respect to a broadcast `a` sums over the broadcast.
        (ga,) = compute(lld.logsumexp_grad(b, axis=axis, b=dx))
        assert_close(ga, ll.logsumexp_grad(b, axis=axis, b=x), np.float32, ulps=64)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_inputs_combine_float32_partials(dtype):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(getattr(ml_dtypes, dtype) if dtype == "bfloat16" else dtype)
    x = (rng.standard_normal((300, 7)) * 3).astype(dt)
    dx = da.from_array(x, chunks=(10, 3))  # class axis split too
    for axis in (None, 0, 1):
        (got,) = compute(lld.logsumexp(dx, axis=axis))
        want = ll.logsumexp(x, axis=axis)
        assert np.asarray(got).dtype == dt
        # float32 partials: the 16-bit result is the in-memory one (at most
        # one 16-bit ulp away in a rare double-rounding case).
        eps = float(ml_dtypes.finfo(dt).eps)
        diff = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
        assert np.all(diff <= eps * np.maximum(1, np.abs(np.asarray(want, np.float64))))
        assert np.mean(diff == 0) > 0.95
    (sm,) = compute(lld.log_softmax(dx, axis=1))
    assert sm.dtype == dt
    np.testing.assert_array_equal(sm.astype(np.float64),
                                  ll.log_softmax(x, axis=1).astype(np.float64))


def test_logsumexp_special_values_across_chunks():
    x = rng.standard_normal((12, 6))
    x[0:4, :] = -np.inf  # a whole chunk of -inf rows
    x[5, 2] = np.nan
    x[7, 1] = np.inf
    x[9, :3] = -np.inf
    dx = da.from_array(x, chunks=(4, 3))
    for axis in (None, 0, 1, (0, 1)):
        (got,) = compute(lld.logsumexp(dx, axis=axis))
        assert_close(got, ll.logsumexp(x, axis=axis))
        lse, sign = compute(*lld.logsumexp(dx, axis=axis, return_sign=True))
        _want, want_sign = ll.logsumexp(x, axis=axis, return_sign=True)
        np.testing.assert_array_equal(np.isnan(sign), np.isnan(want_sign))
        np.testing.assert_array_equal(np.nan_to_num(sign), np.nan_to_num(want_sign))
        (grad,) = compute(lld.logsumexp_grad(dx, axis=axis))
        assert_close(grad, ll.logsumexp_grad(x, axis=axis))
    # Every entry -inf: -inf with sign 0, gradient 0.
    dz = da.full((6, 4), -np.inf, chunks=2)
    lse, sign = compute(*lld.logsumexp(dz, return_sign=True))
    assert lse == -np.inf
    assert sign == 0
    np.testing.assert_array_equal(compute(lld.logsumexp_grad(dz))[0], 0.0)


def test_scalars_and_empty_arrays():
    (got,) = compute(lld.logsumexp(da.from_array(np.float64(2.5))))
    assert got == ll.logsumexp(2.5)
    (got,) = compute(lld.softmax(da.from_array(np.float64(2.5))))
    assert got == ll.softmax(2.5)
    empty = np.empty((0, 4))
    de = da.from_array(empty, chunks=(1, 2))
    for axis in (0, 1, None):
        (got,) = compute(lld.logsumexp(de, axis=axis))
        assert_close(got, ll.logsumexp(empty, axis=axis))
    (got,) = compute(lld.softmax(de, axis=1))
    assert got.shape == (0, 4)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", AXES)
def test_softmax_family_matches_in_memory(chunked, func, axis):
    x, dx = chunked
    res = getattr(lld, func)(dx, axis=axis)
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis) % x.ndim
    assert all(res.numblocks[d] == 1 for d in axes), "class axes must be one chunk"
    (got,) = compute(res)
    assert_close(got, getattr(ll, func)(x, axis=axis), ulps=2)


@pytest.mark.parametrize("func", ["softmax_grad", "log_softmax_grad"])
@pytest.mark.parametrize("axis", [None, 1, (1, 2)])
def test_softmax_family_gradients_match_in_memory(chunked, func, axis):
    x, dx = chunked
    g = rng.standard_normal(x.shape)
    dg = da.from_array(g, chunks=(40, 2, 5))  # chunked differently from x
    (got,) = compute(getattr(lld, func)(dx, dg, axis=axis))
    assert_close(got, getattr(ll, func)(x, g, axis=axis), ulps=4)


@pytest.mark.parametrize("axis", [None, 0, (1, 2)])
def test_logsumexp_grad_matches_in_memory(chunked, axis):
    x, dx = chunked
    layout_shape = np.shape(ll.logsumexp(x, axis=axis))
    g = rng.standard_normal(layout_shape)
    (got,) = compute(lld.logsumexp_grad(dx, axis=axis, grad_output=g))
    assert_close(got, ll.logsumexp_grad(x, axis=axis, grad_output=g), ulps=4)
    kept = np.shape(ll.logsumexp(x, axis=axis, keepdims=True))
    gk = g.reshape(kept)
    (got,) = compute(lld.logsumexp_grad(dx, axis=axis, grad_output=da.from_array(gk)))
    assert_close(got, ll.logsumexp_grad(x, axis=axis, grad_output=gk), ulps=4)


def test_results_are_lazy():
    calls = []

    def make():
        calls.append(1)
        return np.zeros((4, 3))

    dx = da.from_delayed(dask.delayed(make)(), shape=(4, 3), dtype=np.float64)
    results = [lld.logsumexp(dx), lld.softmax(dx, axis=1), lld.logsumexp_grad(dx, axis=0),
               lld.log_softmax_grad(dx, dx, axis=1)]
    assert all(isinstance(r, da.Array) for r in results)
    assert calls == []
    compute(*results)
    assert calls


def test_argument_errors_are_raised_when_building():
    dx = da.zeros((4, 3), chunks=2)
    with pytest.raises(ValueError, match=r"logsumexp: axis 2 is out of bounds"):
        lld.logsumexp(dx, axis=2)
    with pytest.raises(ValueError, match=r"softmax: axis \(1, 1\) has repeated axes"):
        lld.softmax(dx, axis=(1, 1))
    with pytest.raises(TypeError, match=r"logsumexp: a has unsupported dtype timedelta64"):
        lld.logsumexp(da.zeros((4, 3), dtype="timedelta64[s]"))
    with pytest.raises(TypeError, match=r"logsumexp_grad: a has unsupported dtype complex128"):
        lld.logsumexp_grad(da.zeros((4, 3), dtype=complex))
    with pytest.raises(ValueError, match=r"logsumexp: b with shape \(2,\) does not broadcast"):
        lld.logsumexp(dx, b=np.ones(2))
    with pytest.raises(ValueError, match=r"softmax_grad: grad_output has shape \(4,\)"):
        lld.softmax_grad(dx, da.zeros(4))
    with pytest.raises(ValueError, match=r"logsumexp_grad: grad_output has shape \(5,\)"):
        lld.logsumexp_grad(dx, axis=1, grad_output=np.ones(5))
    with pytest.raises(TypeError, match=r"softmax: x must be an array, not None"):
        lld.softmax(None)


def test_numpy_inputs_are_accepted():
    x = rng.standard_normal((6, 4))
    (got,) = compute(lld.softmax(x, axis=1))
    np.testing.assert_array_equal(got, ll.softmax(x, axis=1))


def test_import_logitloss_never_imports_dask():
    code = "import sys, logitloss, logitloss.objectives; assert 'dask' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_without_dask_names_the_extra():
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None\n"
        "try:\n    import logitloss.dask\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "pip install 'logitloss[dask]'" in out


def test_on_a_local_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    x = rng.standard_normal((300, 10)).astype(np.float32)
    dx = da.from_array(x, chunks=(70, 4))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lazy = [lld.logsumexp(dx, axis=None), lld.softmax(dx, axis=1)]
        lse, sm = client.compute(lazy, sync=True)
    assert_close(lse, ll.logsumexp(x), np.float32)
    assert_close(sm, ll.softmax(x, axis=1), np.float32, ulps=2)


# ------------------------------------------------ cross-entropy and NLL

CE_CHUNKINGS = {
    "rows": ((25, -1, -1), (25, -1)),
    "uneven_rows": (((7, 40, 1, 55), -1, (3, 1)), ((50, 53), (1, 3))),
    "class_split": ((50, 3, 2), (10, -1)),  # class axis split: rechunked
}


@pytest.fixture(params=sorted(CE_CHUNKINGS))
def ce_data(request):
    x_chunks, t_chunks = CE_CHUNKINGS[request.param]
    x = rng.standard_normal((103, 7, 4)) * 3
    t = rng.integers(0, 7, (103, 4))
    t[rng.uniform(size=t.shape) < 0.2] = -100
    return x, t, da.from_array(x, chunks=x_chunks), da.from_array(t, chunks=t_chunks)


CE_OPTIONS = [{}, {"weight": np.linspace(0.5, 2.0, 7)},
              {"weight": np.linspace(0.5, 2.0, 7), "label_smoothing": 0.2, "ignore_index": 3},
              {"weight": np.linspace(0.5, 2.0, 7), "softcap": 2.5, "z_loss": 1e-2}]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", range(len(CE_OPTIONS)))
def test_cross_entropy_matches_in_memory(ce_data, reduction, options):
    x, t, dx, dt = ce_data
    kw = dict(CE_OPTIONS[options], reduction=reduction)
    if "ignore_index" in kw:  # ignore class 3 instead of -100
        t, dt = np.where(t < 0, 3, t), da.where(dt < 0, 3, dt)
    loss = lld.cross_entropy(dx, dt, **kw)
    grad = lld.cross_entropy_grad(dx, dt, **kw)
    value, vgrad = lld.cross_entropy_value_and_grad(dx, dt, **kw)
    assert all(isinstance(r, da.Array) for r in (loss, grad, value, vgrad))
    got = compute(loss, grad, value, vgrad)
    want = ll.cross_entropy(x, t, **kw)
    want_grad = ll.cross_entropy_grad(x, t, **kw)
    assert type(got[0]) is type(want)  # np.float64(...) for 'mean'/'sum', as in memory
    for g, w in zip(got, (want, want_grad, want, want_grad)):
        assert_close(g, w, ulps=4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_in_memory(ce_data, reduction):
    x, t, dx, dt = ce_data
    logp = ll.log_softmax(x, axis=1)
    dlogp = da.from_array(logp, chunks=dx.chunks)
    w = np.linspace(2.0, 0.5, 7)
    g_out = 1.5 if reduction != "none" else rng.standard_normal(t.shape)
    got = compute(lld.nll_loss(dlogp, dt, w, reduction=reduction),
                  lld.nll_loss_grad(dlogp, dt, w, reduction=reduction, grad_output=g_out),
                  *lld.nll_loss_value_and_grad(dlogp, dt, w, reduction=reduction))
    want = (ll.nll_loss(logp, t, w, reduction=reduction),
            ll.nll_loss_grad(logp, t, w, reduction=reduction, grad_output=g_out),
            *ll.nll_loss_value_and_grad(logp, t, w, reduction=reduction))
    for g, wv in zip(got, want):
        assert_close(g, wv, ulps=4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_probability_targets_channels_last_and_float32(dtype):
    x = (rng.standard_normal((8, 30, 11)) * 2).astype(dtype)  # (batch, seq, vocab)
    p = ll.softmax(rng.standard_normal(x.shape), axis=-1).astype(dtype)
    dx = da.from_array(x, chunks=(3, 7, 4))
    dp = da.from_array(p, chunks=(5, 30, 11))
    for reduction in ("mean", "sum", "none"):
        got = compute(lld.cross_entropy(dx, dp, reduction=reduction, axis=-1),
                      lld.cross_entropy_grad(dx, dp, reduction=reduction, axis=-1))
        want = (ll.cross_entropy(x, p, reduction=reduction, axis=-1),
                ll.cross_entropy_grad(x, p, reduction=reduction, axis=-1))
        for g, w in zip(got, want):
            assert np.asarray(g).dtype == dtype
            assert_close(g, w, dtype, ulps=4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_cross_entropy_reductions_of_narrow_types_match_in_memory(dtype):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(getattr(ml_dtypes, dtype) if dtype == "bfloat16" else dtype)
    x = (rng.standard_normal((3000, 7)) * 3).astype(dt)
    t = rng.integers(0, 7, 3000)
    dx, dtg = da.from_array(x, chunks=(500, 3)), da.from_array(t, chunks=700)
    for reduction in ("mean", "sum"):
        kw = {"weight": np.linspace(0.3, 2.0, 7), "label_smoothing": 0.1, "reduction": reduction}
        got = compute(lld.cross_entropy(dx, dtg, **kw), lld.cross_entropy_grad(dx, dtg, **kw))
        want = (ll.cross_entropy(x, t, **kw), ll.cross_entropy_grad(x, t, **kw))
        for g, w in zip(got, want):
            assert np.asarray(g).dtype == dt
            # float32 partial sums for 16-bit input: equal to the in-memory value
            # (up to one ulp of a rare double rounding).
            eps = float(ml_dtypes.finfo(dt).eps)
            g64, w64 = np.asarray(g, np.float64), np.asarray(w, np.float64)
            assert np.all(np.abs(g64 - w64) <= eps * np.maximum(1, np.abs(w64)))


def test_cross_entropy_mean_is_not_a_mean_of_means():
    # Chunks with very different weight sums: a mean of chunk means is wrong.
    x = rng.standard_normal((40, 3))
    t = np.zeros(40, np.int64)
    t[:10] = 2
    x[:10, 2] = -5.0  # heavy chunk: large losses
    x[10:, 0] = 5.0  # light chunks: small losses
    w = np.array([0.1, 1.0, 10.0])
    dx, dt = da.from_array(x, chunks=10), da.from_array(t, chunks=10)
    (got,) = compute(lld.cross_entropy(dx, dt, w))
    chunk_means = [ll.cross_entropy(x[i:i + 10], t[i:i + 10], w) for i in range(0, 40, 10)]
    assert_close(got, ll.cross_entropy(x, t, w), ulps=2)
    assert abs(got - np.mean(chunk_means)) > 1.0


def test_cross_entropy_edge_cases():
    x = rng.standard_normal((12, 5))
    ignored = np.full(12, -100)
    dx = da.from_array(x, chunks=4)
    with np.errstate(invalid="ignore"):
        want = ll.cross_entropy(x, ignored)
    (got,) = compute(lld.cross_entropy(dx, da.from_array(ignored, chunks=5)))
    assert np.isnan(got)
    assert np.isnan(want)
    (grad,) = compute(lld.cross_entropy_grad(dx, ignored))
    assert_close(grad, ll.cross_entropy_grad(x, ignored))
    v = rng.standard_normal(5)  # 1-D input: the class axis is 0
    (got,) = compute(lld.cross_entropy(da.from_array(v, chunks=2), np.int64(3)))
    assert_close(got, ll.cross_entropy(v, np.int64(3)))
    g = da.from_array(np.float64(2.0))  # a lazy scalar grad_output
    t = np.arange(12) % 5
    (grad,) = compute(lld.cross_entropy_grad(dx, t, reduction="sum", grad_output=g))
    assert_close(grad, ll.cross_entropy_grad(x, t, reduction="sum", grad_output=2.0))


def test_cross_entropy_errors():
    dx = da.zeros((6, 4), chunks=2)
    good = np.zeros(6, np.int64)
    with pytest.raises(ValueError, match=r"cross_entropy: reduction must be 'none', 'mean' or"):
        lld.cross_entropy(dx, good, reduction="avg")
    with pytest.raises(ValueError, match=r"cross_entropy: target has shape \(5,\)"):
        lld.cross_entropy(dx, np.zeros(5, np.int64))
    with pytest.raises(TypeError, match=r"cross_entropy: target has unsupported dtype"):
        lld.cross_entropy(dx, np.zeros(6, complex))
    with pytest.raises(TypeError, match=r"nll_loss: target has unsupported dtype"):
        lld.nll_loss(dx, np.zeros(6))
    with pytest.raises(ValueError, match=r"cross_entropy: weight has shape \(3,\)"):
        lld.cross_entropy(dx, good, np.ones(3))
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be in \[0, 1\]"):
        lld.cross_entropy(dx, good, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: softcap must be a finite number > 0"):
        lld.cross_entropy(dx, good, softcap=-2.0)
    with pytest.raises(ValueError, match=r"cross_entropy_grad: z_loss must be a finite number"):
        lld.cross_entropy_grad(dx, good, z_loss=-1.0)
    with pytest.raises(ValueError, match=r"cross_entropy: weight has shape \(3,\) but input "
                                         r"has shape \(6, 4\)"):
        lld.cross_entropy(dx, good, np.ones(3))
    with pytest.raises(TypeError, match=r"cross_entropy: ignore_index must be an int"):
        lld.cross_entropy(dx, good, ignore_index=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: axis 2 is out of bounds"):
        lld.cross_entropy(dx, good, axis=2)
    with pytest.raises(ValueError, match=r"cross_entropy_grad: grad_output has shape \(6,\); "
                                         r"expected a scalar"):
        lld.cross_entropy_grad(dx, good, grad_output=np.ones(6))
    with pytest.raises(ValueError, match=r"cross_entropy: input must have a class axis"):
        lld.cross_entropy(da.from_array(np.float64(1.0)), np.int64(0))
    # Out-of-range targets need the data: raised by compute, with the in-memory message.
    lazy = lld.cross_entropy(dx, np.array([0, 1, 2, 3, 9, 0]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 9 is out of range for 4 classes"):
        compute(lazy)
    lazy = lld.cross_entropy_grad(dx, np.array([0, 1, -2, 3, 0, 0]), np.ones(4))
    with pytest.raises(IndexError, match=r"cross_entropy_grad: target -2 is out of range for 4"):
        compute(lazy)


def test_cross_entropy_on_a_local_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    x = rng.standard_normal((500, 10)).astype(np.float32)
    t = rng.integers(0, 10, 500)
    dx, dt = da.from_array(x, chunks=(90, 5)), da.from_array(t, chunks=120)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        loss, grad = client.compute(list(lld.cross_entropy_value_and_grad(dx, dt)), sync=True)
    assert_close(loss, ll.cross_entropy(x, t), np.float32, ulps=2)
    assert_close(grad, ll.cross_entropy_grad(x, t), np.float32, ulps=2)


# ------------------------------------- elementwise losses: BCE and focal

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_matches_in_memory(reduction, dtype):
    x = (rng.standard_normal((50, 6, 3)) * 4).astype(dtype)
    t = (rng.uniform(size=x.shape) < 0.3).astype(dtype)
    w = rng.uniform(0.5, 1.5, (6, 1)).astype(dtype)  # broadcasts over (50, 6, 3)
    pw = rng.uniform(1.0, 3.0, 3).astype(dtype)  # along the last axis
    dx = da.from_array(x, chunks=((7, 13, 30), 4, 2))
    dt = da.from_array(t, chunks=(25, 6, 3))
    g_out = 0.5 if reduction != "none" else rng.standard_normal(x.shape).astype(dtype)
    for kw in ({}, {"weight": w, "pos_weight": pw}):
        got = compute(
            lld.binary_cross_entropy_with_logits(dx, dt, reduction=reduction, **kw),
            lld.binary_cross_entropy_with_logits_grad(dx, dt, reduction=reduction,
                                                      grad_output=g_out, **kw),
            *lld.binary_cross_entropy_with_logits_value_and_grad(dx, dt, reduction=reduction,
                                                                 **kw))
        want = (
            ll.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw),
            ll.binary_cross_entropy_with_logits_grad(x, t, reduction=reduction,
                                                      grad_output=g_out, **kw),
            ll.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw),
            ll.binary_cross_entropy_with_logits_grad(x, t, reduction=reduction, **kw))
        for g, wv in zip(got, want):
            assert_close(g, wv, dtype, ulps=8)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sigmoid_focal_loss_matches_in_memory(reduction):
    x = rng.standard_normal((40, 5)) * 3
    t = (rng.uniform(size=x.shape) < 0.2).astype(np.float64)
    dx, dt = da.from_array(x, chunks=(9, 2)), da.from_array(t, chunks=(20, 5))
    for alpha, gamma in ((0.25, 2.0), (-1.0, 0.5)):
        got = compute(lld.sigmoid_focal_loss(dx, dt, alpha, gamma, reduction),
                      lld.sigmoid_focal_loss_grad(dx, dt, alpha, gamma, reduction),
                      *lld.sigmoid_focal_loss_value_and_grad(dx, dt, alpha, gamma, reduction))
        want = (ll.sigmoid_focal_loss(x, t, alpha, gamma, reduction),
                ll.sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction),
                ll.sigmoid_focal_loss(x, t, alpha, gamma, reduction),
                ll.sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction))
        for g, wv in zip(got, want):
            assert_close(g, wv, ulps=8)


def test_elementwise_loss_errors():
    dx = da.zeros((6, 4), chunks=2)
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target has shape "
                                         r"\(6,\) but input has shape \(6, 4\)"):
        lld.binary_cross_entropy_with_logits(dx, np.zeros(6))
    with pytest.raises(ValueError, match=r"pos_weight with shape \(3,\) does not broadcast"):
        lld.binary_cross_entropy_with_logits(dx, dx, pos_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"weight with shape \(2, 6, 4\) does not broadcast"):
        lld.binary_cross_entropy_with_logits(dx, dx, np.ones((2, 6, 4)))
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: reduction must be"):
        lld.sigmoid_focal_loss(dx, dx, reduction="batchmean")
    with pytest.raises(TypeError, match=r"sigmoid_focal_loss: target has unsupported dtype"):
        lld.sigmoid_focal_loss(dx, da.zeros((6, 4), dtype=complex))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_on_probabilities_matches_in_memory(reduction, dtype):
    p = rng.uniform(size=(50, 6, 3)).astype(dtype)
    p[0, 0] = [0, 1, 0.5]
    t = rng.uniform(size=p.shape).astype(dtype)
    w = rng.uniform(0.5, 1.5, (6, 1)).astype(dtype)
    dp = da.from_array(p, chunks=((7, 13, 30), 4, 2))
    g_out = 0.5 if reduction != "none" else rng.standard_normal(p.shape).astype(dtype)
    got = compute(lld.binary_cross_entropy(dp, t, w, reduction=reduction),
                  lld.binary_cross_entropy_grad(dp, t, w, reduction=reduction, grad_output=g_out),
                  *lld.binary_cross_entropy_value_and_grad(dp, t, w, reduction=reduction))
    want = (ll.binary_cross_entropy(p, t, w, reduction=reduction),
            ll.binary_cross_entropy_grad(p, t, w, reduction=reduction, grad_output=g_out),
            ll.binary_cross_entropy(p, t, w, reduction=reduction),
            ll.binary_cross_entropy_grad(p, t, w, reduction=reduction))
    for g, wv in zip(got, want):
        assert_close(g, wv, dtype, ulps=8)
    # Out-of-range probabilities: the in-memory error, raised by compute().
    p[49, 5, 2] = 1.5
    lazy = lld.binary_cross_entropy(da.from_array(p, chunks=10), t, reduction=reduction)
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: all elements of input should "
                                         r"be between 0 and 1 .*found 1.5"):
        compute(lazy)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("target_shape", [(40, 5), (5,), (40, 1)])
def test_kl_div_matches_in_memory(reduction, log_target, target_shape):
    x = np.log(rng.dirichlet(np.ones(5), 40))
    t = rng.uniform(0.01, 1, target_shape)
    t = np.log(t) if log_target else t
    dx = da.from_array(x, chunks=(9, 2))  # rows split: 'batchmean' is over all 40
    g_out = 0.5 if reduction != "none" else rng.standard_normal(x.shape)
    kw = {"reduction": reduction, "log_target": log_target}
    got = compute(lld.kl_div(dx, t, **kw), lld.kl_div_grad(dx, t, **kw, grad_output=g_out),
                  *lld.kl_div_value_and_grad(dx, da.from_array(t), **kw))
    want = (ll.kl_div(x, t, **kw), ll.kl_div_grad(x, t, **kw, grad_output=g_out),
            ll.kl_div(x, t, **kw), ll.kl_div_grad(x, t, **kw))
    for g, wv in zip(got, want):
        assert_close(g, wv, ulps=8)
    if reduction != "none":
        assert isinstance(got[0], np.float64)


def test_kl_div_batchmean_of_zero_dimensional_input():
    got = compute(*lld.kl_div_value_and_grad(da.from_array(np.float64(-1.0)), 0.5,
                                             reduction="batchmean"))
    want = ll.kl_div_value_and_grad(-1.0, 0.5, reduction="batchmean")
    assert_close(got[0], want[0])
    assert_close(got[1], want[1])


def test_probability_loss_errors():
    dx = da.zeros((6, 4), chunks=2)
    with pytest.raises(ValueError, match=r"^kl_div: target with shape \(2, 6, 4\) does not "
                                         r"broadcast to the input's shape \(6, 4\)"):
        lld.kl_div(dx, np.ones((2, 6, 4)))
    with pytest.raises(ValueError, match=r"^kl_div_grad: reduction must be 'none', 'batchmean', "
                                         "'sum' or 'mean', not 'avg'"):
        lld.kl_div_grad(dx, dx, reduction="avg")
    with pytest.raises(TypeError, match=r"^kl_div: log_target must be a bool"):
        lld.kl_div(dx, dx, log_target="yes")
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: reduction must be 'none', "
                                         "'mean' or 'sum', not 'batchmean'"):
        lld.binary_cross_entropy(dx, dx, reduction="batchmean")
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: target has shape \(4,\)"):
        lld.binary_cross_entropy(dx, np.zeros(4))


# ------------------------------------------------------ complex logsumexp

COMPLEX_AXES = [None, 0, 1, (0, 2)]


@pytest.mark.parametrize("axis", COMPLEX_AXES)
@pytest.mark.parametrize("return_sign", [False, True])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_logsumexp_matches_in_memory(axis, return_sign, keepdims, dtype):
    z = (rng.standard_normal((12, 7, 5)) * 3 + 1j * rng.uniform(-9, 9, (12, 7, 5))).astype(dtype)
    dz = da.from_array(z, chunks=(5, 3, 2))  # every axis split: per-chunk parts combined
    got = lld.logsumexp(dz, axis=axis, keepdims=keepdims, return_sign=return_sign)
    want = ll.logsumexp(z, axis=axis, keepdims=keepdims, return_sign=return_sign)
    got = compute(*got) if return_sign else compute(got)
    for g, w in zip(got, want if return_sign else (want,)):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        assert type(g) is type(w)
        real = np.finfo(dtype).dtype
        np.testing.assert_allclose(g, w, rtol=16 * np.finfo(real).eps, atol=16 * np.finfo(real).eps)


def test_complex_logsumexp_with_b_and_special_values_across_chunks():
    z = rng.standard_normal((6, 8)) + 1j * rng.uniform(-3, 3, (6, 8))
    z[1, 6] = np.inf + 0.5j  # an infinite entry in the second chunk
    z[2, 1] = np.nan  # NaN
    z[3, :] = -np.inf  # a row of zeros
    z[4, 7] = -np.inf + 1j  # an entry that adds nothing
    b = rng.uniform(-1, 2, (8,)) + 0.5j
    b[0] = 0  # left out
    dz = da.from_array(z, chunks=(3, 3))
    for bb in (None, b):
        got = lld.logsumexp(dz, axis=1, b=bb)
        np.testing.assert_allclose(compute(got)[0], ll.logsumexp(z, axis=1, b=bb), rtol=1e-13,
                                   atol=1e-15)
        value, sign = compute(*lld.logsumexp(dz, axis=1, b=bb, return_sign=True))
        want_value, want_sign = ll.logsumexp(z, axis=1, b=bb, return_sign=True)
        np.testing.assert_allclose(sign, want_sign, rtol=1e-13, atol=1e-15)
        if bb is None:
            np.testing.assert_allclose(value, want_value, rtol=1e-13, atol=1e-15)
        else:
            # An infinite entry times a weight is NaN + inf j (NumPy's
            # complex product): in memory log|.| is inf, but the chunk's
            # complex log-sum is NaN (SciPy: a NaN phase makes it NaN), so
            # the combined value is NaN there (documented).
            keep = np.arange(6) != 1
            np.testing.assert_allclose(value[keep], want_value[keep], rtol=1e-13, atol=1e-15)
            assert want_value[1] == np.inf
            assert np.isnan(value[1])


def test_complex_input_is_refused_by_the_gradients():
    with pytest.raises(TypeError, match=r"^softmax: x has unsupported dtype complex128"):
        lld.softmax(da.zeros((4, 3), dtype=complex))
    with pytest.raises(TypeError, match=r"^kl_div: input has unsupported dtype complex128"):
        lld.kl_div(da.zeros((4, 3), dtype=complex), np.zeros((4, 3)))


# ------------------------------------ divergences: two arrays of one shape


@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize(("name", "options"), [("softmax_kl_div", {"temperature": 2.0}),
                                               ("generalized_jsd", {"beta": 0.3}),
                                               ("generalized_jsd", {"beta": 1.0})])
def test_divergences_match_in_memory(reduction, name, options):
    x = rng.standard_normal((30, 7, 5)) * 3
    y = rng.standard_normal((30, 7, 5)) * 3
    dx = da.from_array(x, chunks=((7, 13, 10), 3, 2))  # the class axis (1) split
    dy = da.from_array(y, chunks=(15, 7, 5))
    g_out = 0.5 if reduction != "none" else rng.standard_normal((30, 5))
    fn, grad_fn, both = (getattr(lld, name + s) for s in ("", "_grad", "_value_and_grad"))
    got = compute(fn(dx, dy, axis=1, reduction=reduction, **options),
                  grad_fn(dx, dy, axis=1, reduction=reduction, grad_output=g_out, **options),
                  *both(dx, dy, axis=1, reduction=reduction, **options))
    mem = getattr(ll, name)
    mem_grad = getattr(ll, name + "_grad")
    want = (mem(x, y, axis=1, reduction=reduction, **options),
            mem_grad(x, y, axis=1, reduction=reduction, grad_output=g_out, **options),
            mem(x, y, axis=1, reduction=reduction, **options),
            mem_grad(x, y, axis=1, reduction=reduction, **options))
    for g, w in zip(got, want):
        assert_close(g, w, ulps=8)
    # Rows never span chunks: per-row values and every gradient are the
    # in-memory bits.
    for i in ((0, 1, 2, 3) if reduction == "none" else (1, 3)):
        np.testing.assert_array_equal(got[i], want[i])
    if reduction != "none":
        assert isinstance(got[0], np.generic)


def test_divergences_of_narrow_types_and_defaults():
    x = (rng.standard_normal((40, 9)) * 2).astype(np.float32)
    y = (rng.standard_normal((40, 9)) * 2).astype(np.float32)
    dx = da.from_array(x, chunks=(7, 4))
    loss, grad = compute(*lld.softmax_kl_div_value_and_grad(dx, y))  # axis -1, batchmean
    assert loss.dtype == np.float32
    assert_close(loss, ll.softmax_kl_div(x, y), np.float32, ulps=2)
    assert_close(grad, ll.softmax_kl_div_grad(x, y), np.float32, ulps=2)


def test_divergence_errors():
    dx = da.zeros((6, 4), chunks=2)
    with pytest.raises(ValueError, match=r"^softmax_kl_div: target has shape \(6,\) but input "
                                         r"has shape \(6, 4\); they must be equal"):
        lld.softmax_kl_div(dx, np.zeros(6))
    with pytest.raises(ValueError, match=r"^generalized_jsd_grad: beta must be in \[0, 1\]"):
        lld.generalized_jsd_grad(dx, dx, beta=2.0)
    with pytest.raises(ValueError, match=r"^softmax_kl_div: temperature must be"):
        lld.softmax_kl_div(dx, dx, temperature=0.0)
    with pytest.raises(ValueError, match=r"^softmax_kl_div: reduction must be 'none', 'mean', "
                                         "'sum' or 'batchmean'"):
        lld.softmax_kl_div(dx, dx, reduction="max")
    with pytest.raises(ValueError, match=r"^generalized_jsd: axis 2 is out of bounds"):
        lld.generalized_jsd(dx, dx, axis=2)
    with pytest.raises(TypeError, match=r"^softmax_kl_div: axis must be an int, not None"):
        lld.softmax_kl_div(dx, dx, axis=None)


def test_zarr_example_runs_and_matches_in_memory():
    pytest.importorskip("zarr")
    import pathlib

    script = pathlib.Path(__file__).parents[1] / "examples" / "dask_zarr_eval.py"
    proc = subprocess.run([sys.executable, str(script), "--rows", "60000", "--chunk-rows",
                           "16000"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: chunked mean equals the in-memory mean" in proc.stdout


# ------------------------------------------------- linear cross-entropy


def linear_problem(lead=(30, 4), features=6, vocab=25):
    h = rng.standard_normal((*lead, features))
    w = rng.standard_normal((vocab, features)) * 0.5
    b = rng.standard_normal(vocab)
    t = rng.integers(0, vocab, lead)
    t.reshape(-1)[::7] = -100
    return h, w, b, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_cross_entropy_matches_in_memory(reduction, with_bias):
    h, w, b, t = linear_problem()
    b = b if with_bias else None
    kw = dict(reduction=reduction, class_weight=np.linspace(0.5, 2, 25), softcap=3.0,
              z_loss=1e-3, label_smoothing=0.1)
    dh = da.from_array(h, chunks=(7, 2, 6))  # rows split unevenly, D whole
    dt = da.from_array(t, chunks=(13, 4))
    g_out = rng.standard_normal(t.shape) if reduction == "none" else 0.5
    lazy_value, lazy_grads = lld.linear_cross_entropy_value_and_grad(dh, w, dt, b, **kw)
    lazy_grad = lld.linear_cross_entropy_grad(dh, w, dt, b, grad_output=g_out, **kw)
    value, grads, grad = compute(lazy_value, lazy_grads, lazy_grad)
    assert_close(value, ll.linear_cross_entropy(h, w, t, b, **kw), ulps=8)
    for got, want in zip(grads, ll.linear_cross_entropy_grad(h, w, t, b, **kw)):
        assert (got is None) == (want is None)
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    want = ll.linear_cross_entropy_grad(h, w, t, b, grad_output=g_out, **kw)
    for got, wg in zip(grad, want):
        if wg is not None:
            np.testing.assert_allclose(got, wg, rtol=1e-12, atol=1e-15)


def test_linear_cross_entropy_errors_and_targets():
    h, w, _b, t = linear_problem()
    dh = da.from_array(h, chunks=(10, 4, 6))
    with pytest.raises(ValueError, match=r"linear_cross_entropy: weight has shape \(25, 5\)"):
        lld.linear_cross_entropy(dh, w[:, :5], t)
    with pytest.raises(ValueError, match=r"linear_cross_entropy_grad: target has shape"):
        lld.linear_cross_entropy_grad(dh, w, t[:3])
    with pytest.raises(ValueError, match=r"linear_cross_entropy: chunk_size must be >= 1"):
        lld.linear_cross_entropy(dh, w, t, chunk_size=0)
    bad = t.copy()
    bad[5, 1] = 99
    with pytest.raises(IndexError, match="target 99 is out of range for 25 classes"):
        compute(lld.linear_cross_entropy(dh, w, bad))


def test_linear_cross_entropy_on_a_local_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    h, w, b, t = linear_problem(lead=(200,), features=8, vocab=60)
    dh, dt = da.from_array(h, chunks=(45, 8)), da.from_array(t, chunks=45)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        loss, (d_h, d_w, d_b) = client.compute(
            lld.linear_cross_entropy_value_and_grad(dh, w, dt, b), sync=True)
    want, (w_h, w_w, w_b) = ll.linear_cross_entropy_value_and_grad(h, w, t, b)
    assert_close(loss, want, ulps=8)
    for got, ref in ((d_h, w_h), (d_w, w_w), (d_b, w_b)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
