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
        np.max(np.abs(actual[finite] - expected[finite]) / np.maximum(np.abs(expected[finite]), 1)))


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
    np.testing.assert_array_less(np.abs(got - want), 8 * np.finfo(float).eps * cond * np.maximum(1, np.abs(want)))
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
        assert grad.dtype == np.float32 and grad.shape == x.shape
        assert_close(grad, ll.logsumexp_grad(x, axis=axis, b=b), np.float32)
        # The gradient with respect to a broadcast `a` sums over the broadcast.
        (ga,) = compute(lld.logsumexp_grad(b, axis=axis, b=dx))
        assert_close(ga, ll.logsumexp_grad(b, axis=axis, b=x), np.float32, ulps=64)


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
        want, want_sign = ll.logsumexp(x, axis=axis, return_sign=True)
        np.testing.assert_array_equal(np.isnan(sign), np.isnan(want_sign))
        np.testing.assert_array_equal(np.nan_to_num(sign), np.nan_to_num(want_sign))
        (grad,) = compute(lld.logsumexp_grad(dx, axis=axis))
        assert_close(grad, ll.logsumexp_grad(x, axis=axis))
    # Every entry -inf: -inf with sign 0, gradient 0.
    dz = da.full((6, 4), -np.inf, chunks=2)
    lse, sign = compute(*lld.logsumexp(dz, return_sign=True))
    assert lse == -np.inf and sign == 0
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
    with pytest.raises(TypeError, match=r"logsumexp: a has unsupported dtype complex128"):
        lld.logsumexp(da.zeros((4, 3), dtype=complex))
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
        lse, sm = client.compute([lld.logsumexp(dx, axis=None), lld.softmax(dx, axis=1)], sync=True)
    assert_close(lse, ll.logsumexp(x), np.float32)
    assert_close(sm, ll.softmax(x, axis=1), np.float32, ulps=2)
