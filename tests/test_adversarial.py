"""Every public function against malformed input: each case raises a
TypeError, ValueError or IndexError whose message names the function and the
argument, or gives the same result as a clean call. Inputs are never modified.

The table is the single place to add a function: FUNCS says how to call it on
a valid input, and the case lists below apply to every entry that takes the
argument concerned."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import logitloss as ll

X = np.random.default_rng(5).standard_normal((4, 5))
T = np.array([0, 4, 2, 1])
Y = (X > 0).astype(np.float64)
G = np.ones_like(X)


class Fn:
    """How to call one public function: its input argument's name and a
    callable taking the input (and keyword overrides)."""

    def __init__(self, name: str, arg: str, call: Callable[..., Any], kind: str):
        self.name, self.arg, self.call, self.kind = name, arg, call, kind


def _fn(name: str, arg: str, kind: str, **fixed: Any) -> Fn:
    f = getattr(ll, name)
    if kind == "lse":
        return Fn(name, arg, lambda x, **kw: f(x, **{**fixed, **kw}), kind)
    if kind == "vjp":
        return Fn(name, arg, lambda x, **kw: f(x, kw.pop("grad_output", G), **kw), kind)
    if kind == "ce":
        return Fn(name, arg, lambda x, **kw: f(x, kw.pop("target", T), **{**fixed, **kw}), kind)
    return Fn(name, arg, lambda x, **kw: f(x, kw.pop("target", Y), **{**fixed, **kw}), kind)


FUNCS = [
    _fn("logsumexp", "a", "lse"),
    _fn("softmax", "x", "lse"),
    _fn("log_softmax", "x", "lse"),
    _fn("logsumexp_grad", "a", "lse"),
    _fn("softmax_grad", "x", "vjp"),
    _fn("log_softmax_grad", "x", "vjp"),
    _fn("cross_entropy", "input", "ce"),
    _fn("cross_entropy_grad", "input", "ce"),
    _fn("cross_entropy_value_and_grad", "input", "ce"),
    _fn("nll_loss", "input", "ce"),
    _fn("nll_loss_grad", "input", "ce"),
    _fn("nll_loss_value_and_grad", "input", "ce"),
    _fn("binary_cross_entropy_with_logits", "input", "bin"),
    _fn("binary_cross_entropy_with_logits_grad", "input", "bin"),
    _fn("binary_cross_entropy_with_logits_value_and_grad", "input", "bin"),
    _fn("sigmoid_focal_loss", "input", "bin"),
    _fn("sigmoid_focal_loss_grad", "input", "bin"),
    _fn("sigmoid_focal_loss_value_and_grad", "input", "bin"),
]
IDS = [f.name for f in FUNCS]
LOSSES = [f for f in FUNCS if f.kind in ("ce", "bin")]
CE = [f for f in FUNCS if f.kind == "ce"]
AXIS = [f for f in FUNCS if f.kind in ("lse", "vjp", "ce")]

BAD_DTYPES = {
    "object": np.array([[1.0, "a"]], dtype=object),
    "str": np.array([["a", "b"]]),
    "bytes": np.array([[b"a", b"b"]]),
    "complex": np.ones((2, 2), np.complex128),
    "structured": np.zeros((2, 2), dtype=[("a", "f8"), ("b", "i4")]),
    "datetime": np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]"),
    "timedelta": np.ones((2, 2), dtype="timedelta64[s]"),
    "longdouble": np.ones((2, 2), np.longdouble),
}


def message(f: Fn, arg: str) -> str:
    return rf"^{f.name}: {arg}\b"


def as_tuple(result: Any) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def assert_same(got: Any, want: Any) -> None:
    """Equal up to summation order: a reduction over another memory layout
    adds in another order (last-bit differences), and an exactly-zero VJP
    (softmax_grad with g = 1) is rounding noise at the 1e-17 level."""
    for g, w in zip(as_tuple(got), as_tuple(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    ("f", "dtype"),
    # logsumexp takes complex input (SciPy's semantics: test_logsumexp_complex.py).
    [(f, d) for f in FUNCS for d in BAD_DTYPES if (f.name, d) != ("logsumexp", "complex")],
    ids=lambda v: v.name if isinstance(v, Fn) else v,
)
def test_unsupported_input_dtypes_are_type_errors(f, dtype):
    bad = BAD_DTYPES[dtype]
    if dtype == "longdouble" and np.dtype(np.longdouble) == np.dtype(np.float64):
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match=message(f, f.arg)):
        f.call(bad)


@pytest.mark.parametrize("f", FUNCS, ids=IDS)
@pytest.mark.parametrize("bad", [None, [[1.0, 2.0], [3.0]]], ids=["None", "ragged"])
def test_none_and_ragged_input_are_type_errors(f, bad):
    with pytest.raises(TypeError, match=message(f, f.arg)):
        f.call(bad)


@pytest.mark.parametrize("f", FUNCS, ids=IDS)
@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.astype(a.dtype.newbyteorder(">")),
        lambda a: a[::-1, ::-1].copy()[::-1, ::-1],
        np.asfortranarray,
        lambda a: np.array(a, copy=True, order="C")[:, ::1],
    ],
    ids=["big-endian", "negative-strides", "fortran", "plain-copy"],
)
def test_other_memory_layouts_give_the_clean_result(f, make):
    clean = f.call(X.copy())
    x = make(X)
    before = x.copy()
    assert_same(f.call(x), clean)
    np.testing.assert_array_equal(x, before)


def test_negative_stride_views_give_the_clean_result():
    rev = X[::-1, ::-1]
    clean = np.ascontiguousarray(rev)
    for f in FUNCS:
        kw = (
            {"target": T[::-1]}
            if f.kind == "ce"
            else {"target": Y[::-1, ::-1]}
            if f.kind == "bin"
            else {}
        )
        kw_clean = (
            {"target": np.ascontiguousarray(T[::-1])}
            if f.kind == "ce"
            else ({"target": np.ascontiguousarray(Y[::-1, ::-1])} if f.kind == "bin" else {})
        )
        assert_same(f.call(rev, **kw), f.call(clean, **kw_clean))


@pytest.mark.parametrize("f", AXIS, ids=[f.name for f in AXIS])
@pytest.mark.parametrize(
    ("axis", "exc"),
    [(2, ValueError), (-3, ValueError), (1.5, TypeError), ("1", TypeError)],
    ids=["too-big", "too-small", "float", "str"],
)
def test_bad_axes(f, axis, exc):
    with pytest.raises(exc, match=message(f, "axis")):
        f.call(X, axis=axis)


@pytest.mark.parametrize("f", [f for f in FUNCS if f.kind in ("lse", "vjp")], ids=lambda f: f.name)
def test_repeated_axes(f):
    with pytest.raises(ValueError, match=message(f, "axis")):
        f.call(X, axis=(0, 0))


@pytest.mark.parametrize("f", LOSSES, ids=[f.name for f in LOSSES])
@pytest.mark.parametrize("reduction", ["avg", "Mean", "", None, 1])
def test_reduction_typos(f, reduction):
    with pytest.raises(ValueError, match=message(f, "reduction")):
        f.call(X, reduction=reduction)


@pytest.mark.parametrize("f", [f for f in CE if f.name.startswith("cross")], ids=lambda f: f.name)
@pytest.mark.parametrize(
    ("eps", "exc"),
    [
        (float("nan"), ValueError),
        (-0.1, ValueError),
        (1.5, ValueError),
        ("0.1", TypeError),
        (None, TypeError),
    ],
)
def test_bad_label_smoothing(f, eps, exc):
    with pytest.raises(exc, match=message(f, "label_smoothing")):
        f.call(X, label_smoothing=eps)


@pytest.mark.parametrize("f", CE, ids=[f.name for f in CE])
@pytest.mark.parametrize(
    ("target", "value"), [([0, 5, 1, 2], 5), ([0, -1, 1, 2], -1), ([0, 1, 2, 2**40], 2**40)]
)
def test_out_of_range_targets_are_index_errors(f, target, value):
    with pytest.raises(
        IndexError, match=rf"^{f.name}: target {value} is out of range for 5 classes"
    ):
        f.call(X, target=np.array(target))


@pytest.mark.parametrize("f", CE, ids=[f.name for f in CE])
@pytest.mark.parametrize("ignore", [2**40, -(2**62), 2**70])
def test_ignore_index_beyond_int32_and_int64(f, ignore):
    target = T.copy()
    target[1] = ignore if ignore < 2**63 else 0
    got = f.call(X, target=target, ignore_index=ignore)
    assert np.all(np.isfinite(np.concatenate([np.ravel(g) for g in as_tuple(got)])))


@pytest.mark.parametrize("f", CE, ids=[f.name for f in CE])
@pytest.mark.parametrize(
    ("weight", "exc"),
    [
        (np.ones(4), ValueError),
        (np.ones((5, 1)), ValueError),
        (np.ones(5, np.complex64), TypeError),
        (["a"] * 5, TypeError),
    ],
    ids=["short", "2-D", "complex", "str"],
)
def test_bad_weights(f, weight, exc):
    with pytest.raises(exc, match=message(f, "weight")):
        f.call(X, weight=weight)


@pytest.mark.parametrize("f", CE, ids=[f.name for f in CE])
@pytest.mark.parametrize(
    ("target", "exc"),
    [
        (np.zeros(3, np.int64), ValueError),
        (np.array(["a"] * 4), TypeError),
        (np.ones(4, bool), TypeError),
        (None, TypeError),
    ],
    ids=["wrong-shape", "str", "bool", "None"],
)
def test_bad_class_targets(f, target, exc):
    with pytest.raises(exc, match=message(f, "target")):
        f.call(X, target=target)


@pytest.mark.parametrize("f", [f for f in LOSSES if f.kind == "bin"], ids=lambda f: f.name)
@pytest.mark.parametrize(
    ("target", "exc"),
    [(np.zeros((4, 4)), ValueError), (np.array([["a"] * 5] * 4), TypeError)],
    ids=["wrong-shape", "str"],
)
def test_bad_binary_targets(f, target, exc):
    with pytest.raises(exc, match=message(f, "target")):
        f.call(X, target=target)


@pytest.mark.parametrize(
    "name", ["binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad"]
)
@pytest.mark.parametrize("arg", ["weight", "pos_weight"])
def test_binary_weights_that_do_not_broadcast(name, arg):
    with pytest.raises(ValueError, match=rf"^{name}: {arg}\b"):
        getattr(ll, name)(X, Y, **{arg: np.ones(3)})


@pytest.mark.parametrize("name", ["sigmoid_focal_loss", "sigmoid_focal_loss_grad"])
@pytest.mark.parametrize(("arg", "value"), [("alpha", "0.25"), ("gamma", None), ("gamma", [2.0])])
def test_focal_parameters_of_the_wrong_type(name, arg, value):
    with pytest.raises(TypeError, match=rf"^{name}: {arg}\b"):
        getattr(ll, name)(X, Y, **{arg: value})


@pytest.mark.parametrize(
    "call",
    [
        lambda: ll.logsumexp_grad(X, axis=1, grad_output=np.ones(5)),
        lambda: ll.softmax_grad(X, np.ones(5), axis=1),
        lambda: ll.cross_entropy_grad(X, T, reduction="none", grad_output=np.ones(5)),
        lambda: ll.cross_entropy_grad(X, T, reduction="mean", grad_output=np.ones(4)),
        lambda: ll.binary_cross_entropy_with_logits_grad(
            X, Y, reduction="none", grad_output=np.ones(3)
        ),
        lambda: ll.sigmoid_focal_loss_grad(X, Y, grad_output=np.ones(3)),
    ],
)
def test_grad_output_of_the_wrong_shape(call):
    with pytest.raises(ValueError, match=r"^\w+: grad_output\b"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: ll.logsumexp_grad(X, axis=1, grad_output=np.ones(4, np.complex128)),
        lambda: ll.softmax_grad(X, np.array([["a"] * 5] * 4), axis=1),
        lambda: ll.cross_entropy_grad(X, T, grad_output="1"),
        lambda: ll.binary_cross_entropy_with_logits_grad(X, Y, grad_output=object()),
    ],
)
def test_grad_output_of_the_wrong_dtype(call):
    with pytest.raises(TypeError, match=r"^\w+: grad_output\b"):
        call()


@pytest.mark.parametrize("f", FUNCS, ids=IDS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e308, -1e308])
def test_special_and_huge_values_never_raise(f, value):
    x = X.copy()
    x[1, 2] = value
    result = f.call(x)
    for r in as_tuple(result):
        assert np.asarray(r).shape in ((), x.shape, x.shape[:1], (x.shape[1],))


@pytest.mark.parametrize("f", FUNCS, ids=IDS)
def test_zero_dimensional_and_empty_inputs(f):
    for x in (np.zeros((0, 5)), np.zeros((4, 0)) if f.kind != "ce" else np.zeros((0, 5))):
        kw = {"target": np.zeros(x.shape[0], np.int64)} if f.kind == "ce" else {}
        kw = {"target": np.zeros(x.shape)} if f.kind == "bin" else kw
        try:
            f.call(x, **kw)
        except (TypeError, ValueError, IndexError) as exc:
            assert str(exc).startswith(f.name + ":")  # noqa: PT017 - either outcome is fine
    try:
        f.call(np.float64(1.0), **({"target": np.array(0)} if f.kind == "ce" else {}))
    except (TypeError, ValueError, IndexError) as exc:
        assert str(exc).startswith(f.name + ":")  # noqa: PT017 - either outcome is fine
