"""``out=`` of every gradient: into a buffer of the caller's (any strides) or
in place (``out is input``), bit for bit the result without ``out``; every
misuse refused before anything is written; and in place, nothing of the
input's size allocated."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import logitloss as ll

ml_dtypes = pytest.importorskip("ml_dtypes")

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]


def logits(rng, shape, dtype, special=True):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    if special and shape[0] > 3:
        x[1] = -np.inf  # a row of -inf, one with +inf, one with NaN: special rows
        x[2].flat[0] = np.inf
        x[3].flat[-1] = np.nan
    return x


def targets(rng, x, axis):
    C = x.shape[axis]
    t = rng.integers(0, C, x.shape[:axis] + x.shape[axis + 1:])
    t.reshape(-1)[0] = -100
    return t


# name -> (function, extra arguments maker, kwargs): each a gradient with out=.
def grad_calls(rng, x, axis):
    t = targets(rng, x, axis)
    probs = rng.dirichlet(np.ones(x.shape[axis]), size=x.shape[:axis] + x.shape[axis + 1:])
    probs = np.moveaxis(probs, -1, axis).astype(x.dtype)
    w = rng.uniform(0.5, 2, x.shape[axis])
    y = (rng.random(x.shape) > 0.5).astype(x.dtype)
    g = rng.standard_normal(x.shape).astype(x.dtype)
    teacher = logits(rng, x.shape, x.dtype, special=False)
    ce = {"axis": axis}
    return {
        "ce_grad": (ll.cross_entropy_grad, (t,), ce),
        "ce_vag": (ll.cross_entropy_value_and_grad, (t,), ce),
        "ce_weighted_smooth": (ll.cross_entropy_value_and_grad, (t, w),
                               {**ce, "label_smoothing": 0.1, "reduction": "sum"}),
        "ce_prob": (ll.cross_entropy_value_and_grad, (probs,), ce),
        "ce_softcap_z": (ll.cross_entropy_value_and_grad, (t,),
                         {**ce, "softcap": 4.0, "z_loss": 1e-2, "reduction": "none"}),
        "ce_grad_output": (ll.cross_entropy_grad, (t,),
                           {**ce, "reduction": "none",
                            "grad_output": np.linspace(0, 1, t.size).reshape(t.shape)}),
        "poly1_vag": (ll.poly1_cross_entropy_value_and_grad, (t, w),
                      {**ce, "label_smoothing": 0.1}),
        "poly1_prob": (ll.poly1_cross_entropy_grad, (probs,), {**ce, "reduction": "sum"}),
        "softmax_focal_vag": (ll.softmax_focal_loss_value_and_grad, (t,), {**ce, "alpha": w}),
        "softmax_focal_grad_output": (ll.softmax_focal_loss_grad, (t,),
                                      {**ce, "gamma": 1.5, "reduction": "none",
                                       "grad_output": np.linspace(0, 1, t.size).reshape(t.shape)}),
        "nll_grad": (ll.nll_loss_grad, (t, w), ce),
        "nll_vag": (ll.nll_loss_value_and_grad, (t,), {**ce, "reduction": "sum"}),
        "bce_vag": (ll.binary_cross_entropy_with_logits_value_and_grad, (y,), {}),
        "bce_grad": (ll.binary_cross_entropy_with_logits_grad, (y,), {"reduction": "sum"}),
        "focal_vag": (ll.sigmoid_focal_loss_value_and_grad, (y,), {}),
        "focal_grad": (ll.sigmoid_focal_loss_grad, (y,), {"reduction": "mean"}),
        "kl_div_vag": (ll.kl_div_value_and_grad, (probs,), {"reduction": "batchmean"}),
        "kl_div_grad": (ll.kl_div_grad, (x,), {"reduction": "none", "log_target": True,
                                               "grad_output": g}),
        "lse_grad": (ll.logsumexp_grad, (), {"axis": axis}),
        "softmax_grad": (ll.softmax_grad, (g,), {"axis": axis}),
        "log_softmax_grad": (ll.log_softmax_grad, (g,), {"axis": axis}),
        "kl_vag": (ll.softmax_kl_div_value_and_grad, (teacher,), {"axis": axis}),
        "kl_grad_none": (ll.softmax_kl_div_grad, (teacher,),
                         {"axis": axis, "reduction": "none", "temperature": 2.0,
                          "grad_output": np.linspace(0, 1, t.size).reshape(t.shape)}),
        "jsd_vag": (ll.generalized_jsd_value_and_grad, (teacher,),
                    {"axis": axis, "beta": 0.3, "reduction": "mean"}),
        "jsd_reverse_grad": (ll.generalized_jsd_grad, (teacher,),
                             {"axis": axis, "beta": 1.0, "reduction": "sum"}),
    }


def gradient_of(result):
    return result[1] if isinstance(result, tuple) else result


def same_bits(a, b):
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


SHAPES = {  # short rows (row blocks) and long ones (contiguous rows), any class axis
    "short_last": ((40, 5), 1),
    "long_last": ((6, 300), 1),
    "middle": ((5, 7, 9), 1),
    "first": ((9, 6), 0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_in_place_gives_the_bits_of_a_new_array(simd_level, rng, dtype, shape):
    dims, axis = SHAPES[shape]
    x = logits(rng, dims, dtype)
    for name, (fn, args, kwargs) in grad_calls(rng, x, axis).items():
        want = fn(x, *args, **kwargs)
        inplace = x.copy()
        got = fn(inplace, *args, **kwargs, out=inplace)
        assert gradient_of(got) is inplace, name
        same_bits(gradient_of(got), gradient_of(want))
        if isinstance(want, tuple):
            same_bits(got[0], want[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_on_probabilities_in_place(simd_level, rng, dtype, reduction):
    # binary_cross_entropy takes probabilities: its own input, 0 and 1 included.
    p = rng.uniform(size=(40, 33)).astype(dtype)
    p[0, :3] = [0, 1, 0.5]
    y = (rng.random(p.shape) > 0.5).astype(dtype)
    w = rng.uniform(0.5, 2, 33)
    for fn in (ll.binary_cross_entropy_grad, ll.binary_cross_entropy_value_and_grad):
        want = fn(p, y, w, reduction=reduction)
        inplace = p.copy()
        got = fn(inplace, y, w, reduction=reduction, out=inplace)
        assert gradient_of(got) is inplace
        same_bits(gradient_of(got), gradient_of(want))
        if isinstance(want, tuple):
            same_bits(got[0], want[0])
        out = np.zeros((33, 40), dtype).T
        assert gradient_of(fn(p, y, w, reduction=reduction, out=out)) is out
        np.testing.assert_array_equal(out, gradient_of(want))


@pytest.mark.parametrize("layout", ["fortran", "strided", "transposed"])
def test_out_of_any_strides(rng, layout):
    x = logits(rng, (12, 8), np.float32)
    for name, (fn, args, kwargs) in grad_calls(rng, x, 1).items():
        want = gradient_of(fn(x, *args, **kwargs))
        if layout == "fortran":
            out = np.asfortranarray(np.zeros_like(x))
        elif layout == "strided":
            out = np.zeros((24, 16), x.dtype)[::2, ::2]
        else:
            out = np.zeros((8, 12), x.dtype).T
        got = gradient_of(fn(x, *args, **kwargs, out=out))
        assert got is out, name
        # Another layout of the gradient may take the kernels' other path
        # (row blocks): the same values, NaN's sign aside.
        np.testing.assert_array_equal(out, want, err_msg=name)


def test_in_place_input_with_strides_that_need_a_copy(rng):
    # A 3-D input whose class view cannot be taken without a copy: the
    # gradient is computed aside, then written into the input.
    base = logits(rng, (6, 4, 10), np.float64, special=False)
    x = base[:, ::2, ::3].transpose(2, 0, 1)  # (4, 6, 2), class axis 1
    t = targets(rng, x, 1)
    want = ll.cross_entropy_grad(x, t)
    got = ll.cross_entropy_grad(x, t, out=x)
    assert got is x
    same_bits(x, want)


def test_the_loss_object_passes_out(rng):
    x = logits(rng, (10, 4), np.float64, special=False)
    t = targets(rng, x, 1)
    want = ll.cross_entropy_grad(x, t)
    fn = ll.CrossEntropyLoss()
    fn.grad(x, t, out=x)
    same_bits(x, want)


# ------------------------------------------------------------------ misuse


def misuse_cases(x, t, g):
    return [
        ("a list", [[0.0] * 4] * 6, TypeError, "out must be a NumPy array, not list"),
        ("wrong dtype", np.zeros((6, 4), np.float32), TypeError,
         "out has dtype float32; the gradient has dtype float64"),
        ("wrong shape", np.zeros((4, 6)), ValueError,
         r"out has shape \(4, 6\); the gradient has shape \(6, 4\)"),
        ("read-only", np.broadcast_to(np.zeros(4), (6, 4)), ValueError, "out is read-only"),
        ("zero stride", np.lib.stride_tricks.as_strided(np.zeros(4), (6, 4), (0, 8)),
         ValueError, "out has a zero stride"),
        ("part of input", x, ValueError, "out partly overlaps input"),
    ]


@pytest.mark.parametrize("func", ["cross_entropy_grad", "cross_entropy_value_and_grad",
                                  "poly1_cross_entropy_grad", "softmax_focal_loss_value_and_grad",
                                  "nll_loss_grad", "binary_cross_entropy_with_logits_grad",
                                  "sigmoid_focal_loss_value_and_grad", "softmax_grad",
                                  "log_softmax_grad", "logsumexp_grad",
                                  "binary_cross_entropy_grad",
                                  "binary_cross_entropy_value_and_grad", "kl_div_grad",
                                  "kl_div_value_and_grad", "softmax_kl_div_grad",
                                  "generalized_jsd_value_and_grad"])
def test_misuse_is_refused_and_nothing_is_written(rng, func):
    base = rng.standard_normal((7, 4))
    x = base[:6]
    fn = getattr(ll, func)
    binary = "binary" in func or "sigmoid_focal" in func or func.startswith("kl_div")
    # a second array shaped like x
    pair = func in ("softmax_grad", "log_softmax_grad") or func.startswith(
        ("softmax_kl", "generalized"))
    second = (x > 0).astype(np.float64) if binary else (
        rng.standard_normal((6, 4)) if pair else None)
    if second is None and func != "logsumexp_grad":
        second = rng.integers(0, 4, 6)
    args = () if second is None else (second,)
    kw = {"axis": 1} if pair or func == "logsumexp_grad" else {}
    cases = misuse_cases(x, second, None)
    cases[-1] = ("part of input", base[1:], ValueError, "out partly overlaps input")
    if isinstance(second, np.ndarray) and second.dtype == np.float64:
        cases.append(("the target", second, ValueError,
                      "out overlaps (target|grad_output)"))
    for what, out, exc, match in cases:
        before = base.copy()
        kept = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
        with pytest.raises(exc, match=f"^{func}: {match}"):
            fn(x, *args, **kw, out=out)
        np.testing.assert_array_equal(base, before, err_msg=what)
        if kept is not None:
            np.testing.assert_array_equal(out, kept, err_msg=what)


def test_an_out_of_range_target_raises_before_anything_is_written(rng):
    x = rng.standard_normal((50, 6))
    before = x.copy()
    t = np.arange(50) % 6
    t[40] = 9
    for reduction in ("none", "sum", "mean"):
        with pytest.raises(IndexError, match="target 9 is out of range for 6 classes"):
            ll.cross_entropy_value_and_grad(x, t, reduction=reduction, out=x)
        with pytest.raises(IndexError, match="target 9 is out of range"):
            ll.nll_loss_grad(x, t, reduction=reduction, out=x)
        with pytest.raises(IndexError, match="target 9 is out of range"):
            ll.poly1_cross_entropy_value_and_grad(x, t, reduction=reduction, out=x)
        with pytest.raises(IndexError, match="target 9 is out of range"):
            ll.softmax_focal_loss_grad(x, t, reduction=reduction, out=x)
        np.testing.assert_array_equal(x, before)


def test_out_overlapping_grad_output_is_refused(rng):
    x = rng.standard_normal((5, 3))
    g = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match=r"^softmax_grad: out overlaps grad_output"):
        ll.softmax_grad(x, g, axis=1, out=g)
    t = np.array([0, 1, 2, 0, 1])
    buffer = np.ones(15)
    with pytest.raises(ValueError, match=r"^cross_entropy_grad: out overlaps grad_output"):
        ll.cross_entropy_grad(x, t, reduction="none", grad_output=buffer[:5],
                              out=buffer.reshape(5, 3))
    probs = np.full((5, 3), 1 / 3)
    with pytest.raises(ValueError, match="out overlaps target"):
        ll.cross_entropy_grad(x, probs, out=probs)


# ------------------------------------------------------------------ memory


def test_in_place_allocates_nothing_of_the_inputs_size(rng):
    rows, classes = 512, 8192  # 16 MiB of float32 logits
    x = rng.standard_normal((rows, classes), dtype=np.float32)
    t = rng.integers(0, classes, rows)
    teacher = rng.standard_normal((rows, classes), dtype=np.float32)
    ll.cross_entropy_value_and_grad(x, t, out=x)  # warm up
    tracemalloc.start()
    try:
        for reduction in ("mean", "sum", "none"):
            tracemalloc.reset_peak()
            ll.cross_entropy_value_and_grad(x, t, reduction=reduction, softcap=30.0, out=x)
            ll.cross_entropy_grad(x, t, reduction=reduction, z_loss=1e-4, out=x)
            ll.softmax_kl_div_value_and_grad(x, teacher, reduction=reduction, out=x)
            ll.generalized_jsd_grad(x, teacher, reduction=reduction, out=x)
            peak = tracemalloc.get_traced_memory()[1]
            # Per-row float64 buffers (loss, weights) and small change: no
            # more than a few kilobytes per row, against 32 KiB of input per row.
            assert peak < 64 * rows + (64 << 10), (reduction, peak)
    finally:
        tracemalloc.stop()
