"""Array inputs beyond ndarrays: PyTorch tensors (with or without
requires_grad, strided, float16/bfloat16), JAX arrays, DLPack exporters,
objects with only __array__, and read-only buffers. Every public entry point
reads them without a copy where the memory allows, never writes to them, and
returns NumPy arrays or NumPy scalars."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll
from logitloss import objectives
from logitloss._validation import as_array


class ArrayOnly:
    """Exposes a NumPy array through __array__ alone."""

    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


class DLPackOnly:
    """Exposes a NumPy array through the DLPack protocol alone."""

    def __init__(self, a, device=(1, 0)):
        self._a, self._device = a, device

    def __dlpack__(self, *args, **kwargs):
        return self._a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._device


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _memoryview(a):
    """A read-only buffer (of bytes) holding a's values."""
    return memoryview(a.tobytes()).cast(a.dtype.char, a.shape)


# kind -> wraps an ndarray; the plain equivalent is np.asarray(as_array(obj)).
WRAPPERS = {
    "array-only": ArrayOnly,
    "dlpack-only": DLPackOnly,
    "read-only ndarray": _readonly,
    "read-only memoryview": _memoryview,
}


def _torch_wrappers():
    torch = pytest.importorskip("torch")

    def tensor(a):
        return torch.from_numpy(a.copy())

    def requires_grad(a):
        t = torch.from_numpy(a.copy())
        return t.requires_grad_() if t.is_floating_point() else t

    def strided(a):
        # The same values every other element of a larger tensor.
        t = torch.from_numpy(np.repeat(a, 2, axis=-1).copy())[..., ::2]
        return t.requires_grad_() if t.is_floating_point() else t

    return {"torch": tensor, "torch requires_grad": requires_grad, "torch strided": strided}


def _wrap(kind):
    if kind.startswith("torch"):
        return _torch_wrappers()[kind]
    if kind == "jax":
        jnp = pytest.importorskip("jax.numpy")
        return jnp.asarray  # float32 and int32 unless jax_enable_x64 is set
    return WRAPPERS[kind]


KINDS = [*WRAPPERS, "torch", "torch requires_grad", "torch strided", "jax"]

rng = np.random.default_rng(18)
X = rng.standard_normal((5, 4)) * 3
T = np.array([0, 3, 1, 2, 3])
W = np.array([0.5, 1.0, 2.0, 1.5])
Y = (rng.random((5, 4)) > 0.5).astype(np.float64)
G = rng.standard_normal((5, 4))

# name -> (function, array arguments, other keyword arguments)
CALLS = {
    "logsumexp": (ll.logsumexp, (X,), {"axis": 1}),
    "logsumexp b": (lambda a, b: ll.logsumexp(a, axis=1, b=b, return_sign=True), (X, G), {}),
    "softmax": (ll.softmax, (X,), {"axis": 0}),
    "log_softmax": (ll.log_softmax, (X,), {"axis": 1}),
    "logsumexp_grad": (lambda a, b, g: ll.logsumexp_grad(a, 1, b, g), (X, G, X[:, 0]), {}),
    "softmax_grad": (ll.softmax_grad, (X, G), {"axis": 1}),
    "log_softmax_grad": (ll.log_softmax_grad, (X, G), {"axis": 1}),
    "cross_entropy": (ll.cross_entropy, (X, T, W), {}),
    "cross_entropy none": (ll.cross_entropy, (X, T), {"reduction": "none"}),
    "cross_entropy probabilities": (ll.cross_entropy, (X, Y / 2), {"label_smoothing": 0.1}),
    "cross_entropy_grad": (lambda x, t, g: ll.cross_entropy_grad(
        x, t, reduction="none", grad_output=g), (X, T, X[:, 1]), {}),
    "cross_entropy_value_and_grad": (ll.cross_entropy_value_and_grad, (X, T), {}),
    "nll_loss": (ll.nll_loss_value_and_grad, (X, T, W), {"reduction": "sum"}),
    "CrossEntropyLoss": (lambda x, t: ll.CrossEntropyLoss().value_and_grad(x, t), (X, T), {}),
    "bce": (ll.binary_cross_entropy_with_logits, (X, Y, G), {"reduction": "none"}),
    "bce pos_weight": (lambda x, y, p: ll.binary_cross_entropy_with_logits_value_and_grad(
        x, y, pos_weight=p), (X, Y, W), {}),
    "bce grad_output": (lambda x, y, g: ll.binary_cross_entropy_with_logits_grad(
        x, y, reduction="none", grad_output=g), (X, Y, G), {}),
    "focal": (ll.sigmoid_focal_loss_value_and_grad, (X, Y), {}),
    "objectives.softmax": (objectives.softmax, (X, T, W[T]), {}),
    "objectives.logistic": (objectives.logistic, (X[:, 0], Y[:, 0], W[T]), {}),
}


def _assert_same(got, want):
    """Same types (ndarray or NumPy scalar), dtypes and bits."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w)
        return
    assert type(got) is type(want)
    assert isinstance(got, (np.ndarray, np.generic))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", CALLS)
def test_every_entry_point_takes_array_objects(name, kind):
    fn, arrays, kwargs = CALLS[name]
    wrap = _wrap(kind)
    wrapped = [wrap(a) for a in arrays]
    plain = [np.array(as_array(w, "test", "w")) for w in wrapped]  # copies, for reference
    before = [p.copy() for p in plain]
    got = fn(*wrapped, **kwargs)
    _assert_same(got, fn(*plain, **kwargs))
    for w, b in zip(wrapped, before):  # nothing written to the caller's memory
        np.testing.assert_array_equal(np.array(as_array(w, "test", "w")), b)


@pytest.mark.parametrize("kind", KINDS)
def test_dask_wraps_array_objects(kind):
    pytest.importorskip("dask.array")
    import logitloss.dask as lld
    wrapped = _wrap(kind)(X)
    plain = np.array(as_array(wrapped, "test", "w"))
    got = lld.softmax(wrapped, axis=1).compute()
    np.testing.assert_array_equal(got, ll.softmax(plain, axis=1))
    lse = lld.logsumexp(wrapped, axis=None).compute()
    np.testing.assert_array_equal(lse, ll.logsumexp(plain, axis=None))


@pytest.mark.parametrize("kind", ["array-only", "dlpack-only"])
def test_protocol_objects_are_read_in_place(kind):
    base = np.arange(12.0).reshape(3, 4)[:, ::2]  # strided
    view = as_array(WRAPPERS[kind](base), "f", "x")
    assert np.shares_memory(view, base)
    assert view.strides == base.strides


def test_read_only_inputs_are_read_in_place():
    base = _readonly(X)
    assert as_array(base, "f", "x") is base
    data = X.tobytes()
    view = as_array(memoryview(data).cast("d", X.shape), "f", "x")
    assert np.shares_memory(view, np.frombuffer(data, np.uint8))
    assert not view.flags.writeable
    # A memoryview of bytes is uint8 data: promoted to float64 as integers are.
    got = ll.softmax(memoryview(b"\x00\x01\x02"))
    np.testing.assert_array_equal(got, ll.softmax(np.array([0.0, 1.0, 2.0])))


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("strided", [False, True])
def test_torch_tensors_are_read_in_place(requires_grad, strided):
    torch = pytest.importorskip("torch")
    t = torch.randn(6, 8, dtype=torch.float64)
    t = t[:, ::2] if strided else t
    t.requires_grad_(requires_grad)
    view = as_array(t, "f", "x")
    assert view.__array_interface__["data"][0] == t.data_ptr()
    assert view.strides == tuple(8 * s for s in t.stride())
    assert not view.flags.writeable  # the caller's memory: reads only
    assert t.requires_grad is requires_grad
    assert t.grad is None
    if requires_grad:  # the graph is untouched: backward still works
        t.sum().backward()
        assert t.grad is not None


def test_torch_parameter_and_non_leaf_tensors():
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.randn(4, 3))
    t = torch.tensor([0, 2, 1, 1])
    logits = p * 2  # not a leaf: has a grad_fn
    want = torch.nn.functional.cross_entropy(logits, t).item()
    np.testing.assert_allclose(ll.cross_entropy(logits, t), want, rtol=1e-6)
    np.testing.assert_allclose(ll.cross_entropy(p, t),
                               torch.nn.functional.cross_entropy(p, t).item(), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torch_16_bit_tensors(dtype):
    torch = pytest.importorskip("torch")
    t = torch.randn(5, 7).to(getattr(torch, dtype)).requires_grad_()
    if dtype == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        want_dtype = np.dtype(ml_dtypes.bfloat16)
        plain = t.detach().view(torch.int16).numpy().view(want_dtype)
    else:
        want_dtype = np.dtype(np.float16)
        plain = t.detach().numpy()
    view = as_array(t, "f", "x")
    assert view.dtype == want_dtype
    assert view.__array_interface__["data"][0] == t.data_ptr()
    got = ll.softmax(t, axis=1)
    assert type(got) is np.ndarray
    assert got.dtype == want_dtype
    np.testing.assert_array_equal(got, ll.softmax(plain, axis=1))
    tg = torch.tensor([0, 6, 3, 2, 1])
    _assert_same(ll.cross_entropy_value_and_grad(t, tg),
                 ll.cross_entropy_value_and_grad(plain, tg.numpy()))


def test_jax_arrays_are_read_in_place():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(12.0).reshape(3, 4)
    view = as_array(j, "f", "x")
    assert view.__array_interface__["data"][0] == j.unsafe_buffer_pointer()
    got = ll.log_softmax(j, axis=1)
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, ll.log_softmax(np.asarray(j), axis=1))
    # bfloat16 has no DLPack import in NumPy: __array__ reads it instead.
    jb = jnp.ones((2, 3), jnp.bfloat16)
    assert as_array(jb, "f", "x").dtype.name == "bfloat16"
    assert ll.logsumexp(jb).dtype.name == "bfloat16"


class OnAnotherDevice(DLPackOnly):
    """A DLPack exporter whose memory NumPy cannot read (a GPU array)."""

    def __dlpack__(self, *args, **kwargs):
        raise BufferError("the array lives on cuda:0")

    def __dlpack_device__(self):
        return (2, 0)


def test_arrays_numpy_cannot_read_are_a_clear_type_error():
    with pytest.raises(TypeError, match=r"^cross_entropy: input is not a valid numeric array "
                                        r"\(the array lives on cuda:0\)"):
        ll.cross_entropy(OnAnotherDevice(np.zeros((2, 3))), [0, 1])
    with pytest.raises(TypeError, match=r"^logsumexp: b is not a valid numeric array"):
        ll.logsumexp(np.zeros(3), b=OnAnotherDevice(np.ones(3)))


def test_torch_bfloat16_without_ml_dtypes_is_a_clear_type_error(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setitem(__import__("sys").modules, "ml_dtypes", None)
    t = torch.zeros(2, 3, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"^softmax: x .*torch.bfloat16 needs ml_dtypes"):
        ll.softmax(t)
