"""linear_cross_entropy (Note [Linear cross-entropy]): equal to the unfused
``cross_entropy(hidden @ weight.T + bias, ...)`` and its gradients through the
two products, within the products' rounding, for every option; against
PyTorch float64 autograd (F.linear, soft-capping and z-loss written out);
every bad argument refused before any work; memory bounded by the chunk."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import logitloss as ll

ml_dtypes = pytest.importorskip("ml_dtypes")


def problem(rng, lead=(23,), features=8, vocab=40, dtype=np.float64, ignored=True):
    h = rng.standard_normal((*lead, features)).astype(dtype)
    w = (rng.standard_normal((vocab, features)) * 0.7).astype(dtype)
    b = rng.standard_normal(vocab).astype(dtype)
    t = rng.integers(0, vocab, lead)
    if ignored:
        t.reshape(-1)[::4] = -100
    return h, w, b, t


def unfused(h, w, b, t, grad_output=None, **kw):
    """The computation linear_cross_entropy replaces, in the inputs' dtype
    (products in float64, to be the reference)."""
    cw = kw.pop("class_weight", None)
    h64, w64 = h.astype(np.float64), w.astype(np.float64)
    logits = h64 @ w64.T + (0 if b is None else b.astype(np.float64))
    loss = ll.cross_entropy(logits, t, cw, axis=-1, **kw)
    g = ll.cross_entropy_grad(logits, t, cw, axis=-1, grad_output=grad_output, **kw)
    g2 = g.reshape(-1, w.shape[0])
    return loss, (g @ w64, g2.T @ h64.reshape(-1, h.shape[-1]), None if b is None else g2.sum(0))


OPTIONS = [
    {},
    {"class_weight": "w"},
    {"label_smoothing": 0.1, "class_weight": "w"},
    {"softcap": 3.0, "z_loss": 1e-3},
    {"softcap": 2.0, "z_loss": 0.05, "label_smoothing": 0.2, "class_weight": "w",
     "ignore_index": 5},
]


@pytest.mark.parametrize("options", range(len(OPTIONS)))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk_size", [None, 1, 5, 1000])
@pytest.mark.parametrize("with_bias", [True, False])
def test_equals_the_unfused_computation(rng, options, reduction, chunk_size, with_bias):
    h, w, b, t = problem(rng, lead=(3, 7))
    b = b if with_bias else None
    kw = dict(OPTIONS[options], reduction=reduction)
    if kw.get("class_weight") == "w":
        kw["class_weight"] = rng.uniform(0.5, 2.0, w.shape[0])
    if "ignore_index" in kw:  # ignore class 5 instead of -100
        t = np.where(t < 0, kw["ignore_index"], t)
    g_out = rng.standard_normal(t.shape) if reduction == "none" else 1.7
    want_loss, _ = unfused(h, w, b, t, **kw)
    _, want = unfused(h, w, b, t, grad_output=g_out, **kw)
    _, want1 = unfused(h, w, b, t, **kw)
    loss, grads = ll.linear_cross_entropy_value_and_grad(h, w, t, b, chunk_size=chunk_size, **kw)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ll.linear_cross_entropy(h, w, t, b, chunk_size=chunk_size, **kw),
                               want_loss, rtol=1e-13, atol=1e-15)
    got = ll.linear_cross_entropy_grad(h, w, t, b, chunk_size=chunk_size, grad_output=g_out, **kw)
    for g, wg, g1, w1 in zip(got, want, grads, want1):
        if wg is None:
            assert g is None
            assert g1 is None
            continue
        np.testing.assert_allclose(g, wg, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g1, w1, rtol=1e-12, atol=1e-14)
    assert grads[0].shape == h.shape
    assert grads[1].shape == w.shape


def test_chunking_does_not_change_the_loss(rng):
    # Every chunk's rows see the same products: the loss has the same bits
    # whatever the chunk size, and equals cross_entropy of the formed logits.
    h, w, b, t = problem(rng, lead=(50,), dtype=np.float32)
    logits = h @ w.T + b
    want = ll.cross_entropy(logits, t, axis=-1, reduction="none")
    for chunk_size in (1, 3, 16, None):
        got = ll.linear_cross_entropy(h, w, t, b, reduction="none", chunk_size=chunk_size)
        np.testing.assert_allclose(got, want, rtol=2e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
def test_narrow_inputs_multiply_in_float32_and_return_their_dtypes(rng, dtype):
    h, w, b, t = problem(rng, dtype=dtype)
    loss, (d_h, d_w, d_b) = ll.linear_cross_entropy_value_and_grad(h, w, t, b)
    assert loss.dtype == dtype
    assert d_h.dtype == dtype
    assert d_w.dtype == dtype
    assert d_b.dtype == dtype
    # The reference: the same inputs, exactly widened, in float64.
    want_loss, (w_h, w_w, w_b) = unfused(h, w, b, t)
    rtol = 2e-6 if dtype == np.float32 else 2e-2
    np.testing.assert_allclose(np.float64(loss), want_loss, rtol=rtol)
    for g, wg in ((d_h, w_h), (d_w, w_w), (d_b, w_b)):
        np.testing.assert_allclose(g.astype(np.float64), wg, rtol=rtol,
                                   atol=rtol * np.abs(wg).max())


def test_mixed_dtypes_promote(rng):
    h, w, b, t = problem(rng, dtype=np.float32)
    loss, (d_h, d_w, d_b) = ll.linear_cross_entropy_value_and_grad(h, w.astype(np.float64), t, b)
    assert loss.dtype == np.float64
    assert d_h.dtype == np.float32
    assert d_w.dtype == np.float64
    assert d_b.dtype == np.float32


def test_all_ignored(rng):
    h, w, b, t = problem(rng)
    t[:] = -100
    loss, (d_h, d_w, d_b) = ll.linear_cross_entropy_value_and_grad(h, w, t, b)
    assert np.isnan(loss)  # 0 / 0, as cross_entropy and PyTorch
    assert not d_h.any()
    assert not d_w.any()
    assert not d_b.any()
    assert ll.linear_cross_entropy(h, w, t, b, reduction="sum") == 0


def test_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    h, w, b, t = problem(rng, lead=(4, 6))
    cw = rng.uniform(0.5, 2.0, w.shape[0])
    c, z = 4.0, 1e-2
    H, W, B = (torch.tensor(a, requires_grad=True) for a in (h, w, b))
    logits = F.linear(H, W, B)
    logits = c * torch.tanh(logits / c)
    T, CW = torch.tensor(t), torch.tensor(cw)
    ce = F.cross_entropy(logits.reshape(-1, w.shape[0]), T.reshape(-1), weight=CW,
                         reduction="none", label_smoothing=0.1)
    keep = T.reshape(-1) != -100
    wt = torch.where(keep, CW[torch.where(keep, T.reshape(-1), 0)], torch.zeros(()))
    lse = torch.logsumexp(logits.reshape(-1, w.shape[0]), dim=1)
    want = (ce + z * wt * lse**2).sum() / wt.sum()
    want.backward()
    loss, (d_h, d_w, d_b) = ll.linear_cross_entropy_value_and_grad(
        h, w, t, b, class_weight=cw, label_smoothing=0.1, softcap=c, z_loss=z, chunk_size=5)
    np.testing.assert_allclose(loss, want.item(), rtol=1e-12)
    for got, ref in ((d_h, H.grad), (d_w, W.grad), (d_b, B.grad)):
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-11, atol=1e-14)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("change", "exc", "match"), [
    ({"weight": np.ones((40, 9))}, ValueError,
     r"weight has shape \(40, 9\) but hidden has shape \(23, 8\): D = 8 features"),
    ({"weight": np.ones(8)}, ValueError, r"weight must be 2-D, \(V, D\); got shape \(8,\)"),
    ({"target": np.zeros(22, np.int64)}, ValueError,
     r"target has shape \(22,\) but hidden has shape \(23, 8\); expected \(23,\)"),
    ({"target": np.zeros(23)}, TypeError,
     "target has unsupported dtype float64; expected integer class indices"),
    ({"target": np.full(23, 40)}, IndexError, "target 40 is out of range for 40 classes"),
    ({"bias": np.ones(39)}, ValueError, r"bias has shape \(39,\); expected \(40,\)"),
    ({"class_weight": np.ones(41)}, ValueError, r"class_weight has shape \(41,\)"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be >= 1, got 0"),
    ({"chunk_size": 2.0}, TypeError, "chunk_size must be an integer or None, not float"),
    ({"chunk_size": True}, TypeError, "chunk_size must be an integer or None, not bool"),
    ({"hidden": np.float64(1.0)}, ValueError, "hidden must have shape"),
    ({"hidden": np.ones((23, 8), complex)}, TypeError, "hidden has unsupported dtype"),
    ({"softcap": -1.0}, ValueError, "softcap must be a finite number > 0"),
    ({"reduction": "avg"}, ValueError, "reduction must be"),
])
def test_bad_arguments(rng, change, exc, match):
    h, w, b, t = problem(rng)
    args = {"hidden": h, "weight": w, "target": t, "bias": b, **change}
    positional = [args.pop(k) for k in ("hidden", "weight", "target", "bias")]
    for fn in (ll.linear_cross_entropy, ll.linear_cross_entropy_grad,
               ll.linear_cross_entropy_value_and_grad):
        with pytest.raises(exc, match=f"^{fn.__name__}: {match}"):
            fn(*positional, **args)


def test_grad_output_shapes(rng):
    h, w, _b, t = problem(rng, lead=(3, 7))
    with pytest.raises(ValueError, match=r"grad_output has shape \(2,\); expected a scalar"):
        ll.linear_cross_entropy_grad(h, w, t, grad_output=np.ones(2))
    with pytest.raises(ValueError, match=r"grad_output has shape \(4,\); expected the loss"):
        ll.linear_cross_entropy_grad(h, w, t, reduction="none", grad_output=np.ones(4))


# ------------------------------------------------------------------ memory


def test_extra_memory_is_bounded_by_the_chunk(rng):
    # 2048 x 16384 float32 logits would take 128 MiB; chunks of 256 rows 16.
    rows, features, vocab, chunk = 2048, 64, 16384, 256
    h = rng.standard_normal((rows, features), dtype=np.float32)
    w = rng.standard_normal((vocab, features), dtype=np.float32) * 0.1
    t = rng.integers(0, vocab, rows)
    t[::3] = -100  # skipped rows: gathered chunks of hidden
    returned = h.nbytes + w.nbytes
    ll.linear_cross_entropy_value_and_grad(h, w, t, chunk_size=chunk)  # warm up
    tracemalloc.start()
    try:
        ll.linear_cross_entropy_value_and_grad(h, w, t, chunk_size=chunk, softcap=30.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    chunk_logits = chunk * vocab * 4
    assert peak - returned < chunk_logits + (8 << 20), (peak - returned) / 2**20
