"""Fuzzing the public API with hypothesis: random shapes (empty and 0-d
included), dtypes, strides, special values, axes and options, valid or not.

A case fails on a crash, on any exception other than TypeError / ValueError /
IndexError (whose message must start with the function's name), on a
modified input, or on a result whose type, dtype or shape breaks the
contract. The number of cases run is printed (pytest -s shows it)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logitloss as ll

ml_dtypes = pytest.importorskip("ml_dtypes")

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.int32, np.bool_]
SPECIALS = [0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e30, -1e30, 3e38, 1e-40]
REDUCTIONS = ["mean", "sum", "none", "bogus"]
CASES = {"count": 0, "errors": 0}


@st.composite
def arrays(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    size = int(np.prod(shape))
    values = draw(
        st.lists(st.sampled_from(SPECIALS) | st.floats(-50, 50), min_size=size, max_size=size)
    )
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.array(values, np.float64).reshape(shape).astype(dtype)
    layout = draw(st.sampled_from(["c", "fortran", "reversed", "strided"]))
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "reversed" and ndim:
        x = x[(slice(None, None, -1),) * ndim]
    elif layout == "strided" and ndim:
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    return x


axes = st.none() | st.integers(-4, 3) | st.tuples(st.integers(-3, 2), st.integers(-3, 2))


def check_call(name, fn, x, *args, **kwargs):
    before = [a.tobytes() for a in (x, *args) if isinstance(a, np.ndarray)]
    CASES["count"] += 1
    try:
        # A result beyond its dtype's range is inf with NumPy's overflow
        # warning (tests/test_warnings.py); any other warning fails here.
        with np.errstate(over="ignore"):
            result = fn(x, *args, **kwargs)
    except (TypeError, ValueError, IndexError) as exc:
        CASES["errors"] += 1
        assert str(exc).startswith(name + ":"), f"{type(exc).__name__}: {exc}"  # noqa: PT017
        return None
    after = [a.tobytes() for a in (x, *args) if isinstance(a, np.ndarray)]
    assert after == before, "an input was modified"  # bitwise, NaN included
    return result


# Examples per family: 1500, or what LOGITLOSS_FUZZ_EXAMPLES says (the
# sanitizer run, ~10x slower per call, uses fewer).
FUZZ_EXAMPLES = int(os.environ.get("LOGITLOSS_FUZZ_EXAMPLES", "1500"))


def float_result_dtype(x):
    return (
        x.dtype
        if x.dtype.name in ("float32", "float64", "float16", "bfloat16")
        else np.dtype(np.float64)
    )


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(arrays(), axes, st.sampled_from(["logsumexp", "softmax", "log_softmax", "logsumexp_grad"]))
def test_log_sum_exp_family(x, axis, name):
    result = check_call(name, getattr(ll, name), x, axis=axis)
    if result is not None:
        assert np.asarray(result).dtype == float_result_dtype(x)
        if name != "logsumexp":
            assert np.shape(result) == x.shape


def class_target(x, kind, rng):
    """A target for `x` with cross-entropy's class axis: class indices (some
    out of range), probabilities or garbage; with the loss shape and the
    number of classes."""
    class_axis = 1 if x.ndim >= 2 else 0
    reduced = x.shape[:class_axis] + x.shape[class_axis + 1 :] if x.ndim else ()
    classes = x.shape[class_axis] if x.ndim else 1
    if kind == "index":
        return rng.integers(-1, classes + 1, reduced), reduced, classes
    if kind == "prob":
        return rng.random(x.shape), reduced, classes
    return np.array(["a"] * 3), reduced, classes


def check_loss_result(name, result, x, reduction, reduced):
    """The types and shapes of a loss function's result."""
    loss = result[0] if isinstance(result, tuple) else result
    if isinstance(result, tuple) or name.endswith("_grad"):
        grad = result[1] if isinstance(result, tuple) else result
        assert grad.shape == x.shape
        assert grad.dtype == float_result_dtype(x)
    if not name.endswith("_grad"):
        if reduction == "none":
            assert np.shape(loss) == reduced
        else:
            assert isinstance(loss, np.generic)
        assert loss.dtype == float_result_dtype(x)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    arrays(),
    st.sampled_from(["index", "prob", "garbage"]),
    st.integers(-3, 8),
    st.sampled_from(REDUCTIONS),
    st.sampled_from([0.0, 0.1, 1.0, -0.5, float("nan")]),
    st.sampled_from(
        [
            "cross_entropy",
            "cross_entropy_grad",
            "cross_entropy_value_and_grad",
            "nll_loss",
            "nll_loss_value_and_grad",
        ]
    ),
    st.sampled_from([None, None, 30.0, 0.5, 1e-30, 0.0, -1.0, float("inf"), "30"]),
    st.sampled_from([0.0, 0.0, 1e-4, 10.0, -1.0, float("nan")]),
)
def test_cross_entropy_family(x, target_kind, ignore_index, reduction, smoothing, name,
                              softcap, z_loss):
    target, reduced, _ = class_target(x, target_kind, np.random.default_rng(x.size))
    kwargs = {"ignore_index": ignore_index, "reduction": reduction}
    if name.startswith("cross"):
        kwargs.update(label_smoothing=smoothing, softcap=softcap, z_loss=z_loss)
    result = check_call(name, getattr(ll, name), x, target, **kwargs)
    if result is not None:
        check_loss_result(name, result, x, reduction, reduced)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    arrays(),
    st.sampled_from(["index", "prob", "garbage"]),
    st.integers(-3, 8),
    st.sampled_from(REDUCTIONS),
    st.sampled_from([0.0, 0.1, 1.0, -0.5, float("nan")]),
    st.sampled_from(
        [
            "poly1_cross_entropy",
            "poly1_cross_entropy_grad",
            "poly1_cross_entropy_value_and_grad",
            "softmax_focal_loss",
            "softmax_focal_loss_grad",
            "softmax_focal_loss_value_and_grad",
        ]
    ),
    st.sampled_from([2.0, 0.0, 0.5, -1.0, 1e30, float("nan"), float("inf"), "2"]),
    st.sampled_from([None, 0.25, "per_class", "bad_shape", -1.0, float("nan"), "x"]),
)
def test_cross_entropy_variants(x, target_kind, ignore_index, reduction, smoothing, name,
                                coefficient, alpha_kind):
    rng = np.random.default_rng(x.size)
    target, reduced, classes = class_target(x, target_kind, rng)
    kwargs: dict = {"ignore_index": ignore_index, "reduction": reduction}
    if name.startswith("poly1"):
        kwargs.update(label_smoothing=smoothing, epsilon=coefficient)
    else:
        alphas = {"per_class": rng.random(classes), "bad_shape": np.ones(classes + 1)}
        alpha = alphas.get(alpha_kind, alpha_kind) if isinstance(alpha_kind, str) else alpha_kind
        kwargs.update(gamma=coefficient, alpha=alpha)
    result = check_call(name, getattr(ll, name), x, target, **kwargs)
    if result is not None:
        check_loss_result(name, result, x, reduction, reduced)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    arrays(),
    st.sampled_from(REDUCTIONS),
    st.sampled_from([None, "last", "full", "bad"]),
    st.sampled_from(
        [
            "binary_cross_entropy_with_logits",
            "binary_cross_entropy_with_logits_value_and_grad",
            "sigmoid_focal_loss",
            "sigmoid_focal_loss_grad",
        ]
    ),
)
def test_binary_family(x, reduction, weight_kind, name):
    y = (np.arange(x.size).reshape(x.shape) % 2).astype(np.float64)
    kwargs: dict = {"reduction": reduction}
    if name.startswith("binary") and weight_kind:
        last = x.shape[-1] if x.ndim else 1
        kwargs["pos_weight"] = {
            "last": np.full(last, 2.0),
            "full": np.ones(x.shape),
            "bad": np.ones(last + 1),
        }[weight_kind]
    result = check_call(name, getattr(ll, name), x, y, **kwargs)
    if result is None:
        return
    for r in result if isinstance(result, tuple) else (result,):
        assert np.asarray(r).dtype == float_result_dtype(x)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    arrays(),
    st.sampled_from(["probabilities", "as drawn"]),
    st.sampled_from([*REDUCTIONS, "batchmean"]),
    st.sampled_from([None, "last", "full", "bad"]),
    st.sampled_from([False, True, "yes"]),
    st.sampled_from(
        [
            "binary_cross_entropy",
            "binary_cross_entropy_grad",
            "binary_cross_entropy_value_and_grad",
            "kl_div",
            "kl_div_grad",
            "kl_div_value_and_grad",
        ]
    ),
)
def test_losses_on_probabilities(x, values, reduction, weight_kind, log_target, name):
    """BCE on probabilities and the KL divergence: inputs in [0, 1] (or as
    drawn: NaN, inf and out-of-range values, which BCE refuses), weights and
    broadcast targets, every reduction and log_target, valid or not."""
    if values == "probabilities" and x.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            x = np.abs(np.sin(x.astype(np.float64))).astype(x.dtype)  # NaN stays NaN
    y = (np.arange(x.size).reshape(x.shape) % 3 / 2).astype(np.float64)
    last = x.shape[-1] if x.ndim else 1
    extra = {"last": np.full(last, 0.5), "full": np.ones(x.shape), "bad": np.ones(last + 1)}
    kwargs: dict = {"reduction": reduction}
    args: tuple = (x, y)
    if name.startswith("kl_div"):
        kwargs["log_target"] = log_target
        if weight_kind:  # a target broadcasting to the input (or not)
            args = (x, extra[weight_kind])
    elif weight_kind:
        args = (x, y, extra[weight_kind])
    result = check_call(name, getattr(ll, name), *args, **kwargs)
    if result is None:
        return
    for r in result if isinstance(result, tuple) else (result,):
        assert np.asarray(r).dtype == float_result_dtype(x)
    if name.endswith("_grad") or isinstance(result, tuple):
        grad = result[1] if isinstance(result, tuple) else result
        assert grad.shape == x.shape


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(arrays(), arrays(), axes, st.sampled_from([np.complex64, np.complex128]),
       st.sampled_from([None, "real", "complex", "bad"]), st.booleans(), st.booleans())
def test_complex_logsumexp(re, im, axis, dtype, b_kind, keepdims, return_sign):
    """Complex logsumexp with any shape, layout, special values, axis and b:
    a result of the right dtypes (complex, or real with a complex sign), or a
    clear error; inputs untouched."""
    with np.errstate(invalid="ignore", over="ignore"):
        z = re.astype(dtype)
        if im.shape == re.shape:
            # cast back: NumPy 1's value-based casting makes a 0-d sum complex128
            z = (z + 1j * im.astype(np.float64).astype(dtype)).astype(dtype)
    b = {None: None, "real": np.linspace(-1, 2, z.shape[-1]) if z.ndim else 2.0,
         "complex": (1 - 2j) * np.ones(z.shape), "bad": np.ones(z.shape[-1] + 1 if z.ndim else 2)
         }[b_kind]
    result = check_call("logsumexp", ll.logsumexp, z, axis=axis, b=b, keepdims=keepdims,
                        return_sign=return_sign)
    if result is None:
        return
    out_dtype = np.result_type(dtype, np.asarray(b).dtype) if b is not None else np.dtype(dtype)
    if return_sign:
        value, sign = result
        assert np.asarray(value).dtype == np.finfo(out_dtype).dtype
        assert np.asarray(sign).dtype == out_dtype
        assert np.shape(value) == np.shape(sign)
    else:
        assert np.asarray(result).dtype == out_dtype
        imag = np.imag(result)
        assert np.all((np.abs(imag) <= np.pi) | np.isnan(imag))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    arrays(),
    st.sampled_from(["same", "same", "other shape", "garbage"]),
    st.sampled_from([*REDUCTIONS, "batchmean"]),
    st.sampled_from([0.0, 0.5, 1.0, 1e-300, -0.1, 1.5, float("nan"), "0.5"]),
    st.sampled_from([1.0, 1.0, 0.5, 1e-30, 1e30, 0.0, -1.0, float("inf"), float("nan")]),
    st.sampled_from([-1, -1, 0, 1, 2, 5, None]),
    st.sampled_from(["softmax_kl_div", "softmax_kl_div_grad", "softmax_kl_div_value_and_grad",
                     "generalized_jsd", "generalized_jsd_grad",
                     "generalized_jsd_value_and_grad"]),
)
def test_divergence_family(x, target_kind, reduction, beta, temperature, axis, name):
    rng = np.random.default_rng(x.size)
    if target_kind == "same":
        target = (rng.standard_normal(x.shape) * 5).astype(x.dtype)
    elif target_kind == "other shape":
        target = rng.standard_normal((*x.shape, 2))
    else:
        target = np.array(["a"] * 3)
    kwargs: dict = {"reduction": reduction, "temperature": temperature, "axis": axis}
    if name.startswith("generalized_jsd"):
        kwargs["beta"] = beta
    result = check_call(name, getattr(ll, name), x, target, **kwargs)
    if result is None:
        return
    loss = result[0] if isinstance(result, tuple) else result
    if isinstance(result, tuple) or name.endswith("_grad"):
        grad = result[1] if isinstance(result, tuple) else result
        assert grad.shape == x.shape
        assert grad.dtype == float_result_dtype(x)
    if not name.endswith("_grad"):
        assert np.asarray(loss).dtype == float_result_dtype(x)
        if reduction != "none":
            assert isinstance(loss, np.generic)
        with np.errstate(invalid="ignore"):
            assert not (np.asarray(loss) < 0).any(), "a negative divergence"


GRADIENTS = ["cross_entropy_grad", "cross_entropy_value_and_grad", "nll_loss_grad",
             "poly1_cross_entropy_grad", "softmax_focal_loss_value_and_grad",
             "binary_cross_entropy_with_logits_value_and_grad", "sigmoid_focal_loss_grad",
             "logsumexp_grad", "softmax_grad", "log_softmax_grad",
             "binary_cross_entropy_value_and_grad", "kl_div_grad",
             "softmax_kl_div_grad", "generalized_jsd_value_and_grad"]


def assert_same(actual, desired):
    """Equal arrays, NaN where NaN: bfloat16 compared through float32 (exact),
    since some NumPy and ml_dtypes pairs cannot find a bfloat16 NaN."""
    if getattr(desired, "dtype", None) == ml_dtypes.bfloat16:
        actual, desired = np.asarray(actual, np.float32), np.asarray(desired, np.float32)
    np.testing.assert_array_equal(actual, desired)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(arrays(), st.sampled_from(GRADIENTS),
       st.sampled_from(["new", "in place", "fortran", "wrong shape", "float32", "read-only",
                        "list", "overlapping"]))
def test_out_argument(x, name, kind):
    """out= of every gradient: the result without out, or a clear error with
    nothing written."""
    fn = getattr(ll, name)
    if name.startswith(("cross", "nll", "poly1", "softmax_focal")):
        axis = 1 if x.ndim >= 2 else 0
        reduced = x.shape[:axis] + x.shape[axis + 1:] if x.ndim else ()
        args: tuple = (np.zeros(reduced, np.int64),)
    elif name.startswith(("binary", "sigmoid", "kl_div", "softmax_kl", "generalized")):
        args = (np.zeros(x.shape),)
    elif name == "logsumexp_grad":
        args = ()
    else:
        args = (np.ones(x.shape),)
    want = check_call(name, fn, x, *args)
    if want is None:
        return
    grad = want[1] if isinstance(want, tuple) else want
    if kind == "in place":
        x = x.astype(grad.dtype)  # a copy of the input's type: the one that may be out
    out = {
        "new": lambda: np.empty_like(grad),
        "in place": lambda: x,
        "fortran": lambda: np.asfortranarray(np.empty_like(grad)),
        "wrong shape": lambda: np.empty((*grad.shape, 1), grad.dtype),
        "float32": lambda: np.empty(grad.shape, np.float32 if grad.dtype != np.float32
                                    else np.float64),
        "read-only": lambda: np.broadcast_to(np.zeros((), grad.dtype), grad.shape),
        "list": lambda: grad.tolist(),
        "overlapping": lambda: args[0] if args and args[0].shape == grad.shape
        and args[0].dtype == grad.dtype else np.empty_like(grad),
    }[kind]()
    before = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
    CASES["count"] += 1
    try:
        got = fn(x, *args, out=out)
    except (TypeError, ValueError) as exc:
        CASES["errors"] += 1
        assert str(exc).startswith(name + ":"), f"{type(exc).__name__}: {exc}"  # noqa: PT017
        if before is not None:
            assert_same(out, before)  # nothing written
        return
    assert kind in ("new", "in place", "fortran", "overlapping") or grad.size == 0, kind
    got_grad = got[1] if isinstance(got, tuple) else got
    if x.ndim:
        assert got_grad is out
    assert_same(got_grad, grad)


@settings(max_examples=FUZZ_EXAMPLES // 3, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(arrays(), st.integers(0, 6), st.integers(0, 5),
       st.sampled_from(["int", "float", "wrong shape"]),
       st.sampled_from([None, "ok", "short"]),
       st.sampled_from([None, 1, 3, 0, -2, 2.5]),
       st.sampled_from(REDUCTIONS),
       st.sampled_from([{}, {"softcap": 2.0, "z_loss": 1e-3}, {"label_smoothing": 0.2},
                        {"class_weight": "ok"}, {"softcap": 0.0}]),
       st.sampled_from(["linear_cross_entropy", "linear_cross_entropy_grad",
                        "linear_cross_entropy_value_and_grad"]))
def test_linear_cross_entropy(hidden, vocab, features, target_kind, bias_kind, chunk_size,
                              reduction, options, name):
    """Random hidden states against a (vocab, features) weight: a result of
    the right shapes and dtypes, or a clear error; never a crash."""
    rng = np.random.default_rng(hidden.size)
    weight = rng.standard_normal((vocab, hidden.shape[-1] if hidden.ndim and features % 3
                                  else features))
    lead = hidden.shape[:-1] if hidden.ndim else ()
    target = {
        "int": rng.integers(-1, vocab + 1, lead),
        "float": rng.random(lead),
        "wrong shape": rng.integers(0, max(vocab, 1), (*lead, 2)),
    }[target_kind]
    bias = None if bias_kind is None else np.ones(vocab + (bias_kind == "short"))
    kwargs = dict(options, reduction=reduction, chunk_size=chunk_size)
    if kwargs.get("class_weight") == "ok":
        kwargs["class_weight"] = np.ones(vocab)
    result = check_call(name, getattr(ll, name), hidden, weight, target, bias, **kwargs)
    if result is None:
        return
    grads = result[1] if isinstance(result, tuple) and len(result) == 2 else result
    if name != "linear_cross_entropy":
        assert grads[0].shape == hidden.shape
        assert grads[1].shape == weight.shape
        assert (grads[2] is None) == (bias is None)


def test_report_the_number_of_cases():
    # Runs last in this file: says how much fuzzing the three tests did.
    print(f"\nfuzz: {CASES['count']} calls, {CASES['errors']} rejected with a clear error")
    assert CASES["count"] > 0
