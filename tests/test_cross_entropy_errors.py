"""One test per error of the cross-entropy family: type, message naming the
argument (and the offending value or shapes)."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll

X = np.zeros((4, 5), np.float32)
T = np.array([0, 1, 2, 3])

CE_FUNCS = [ll.cross_entropy, ll.cross_entropy_grad, ll.cross_entropy_value_and_grad]
NLL_FUNCS = [ll.nll_loss, ll.nll_loss_grad, ll.nll_loss_value_and_grad]
ALL_FUNCS = CE_FUNCS + NLL_FUNCS


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [7, 5, -1, -101])
def test_out_of_range_target_names_value_and_class_count(fn, bad):
    t = np.array([0, bad, 1, 2])
    with pytest.raises(
        IndexError, match=rf"^{fn.__name__}: target {bad} is out of range for 5 classes$"
    ):
        fn(X, t)


def test_out_of_range_reports_the_first_offending_target():
    t = np.arange(2000) % 9  # first bad value (5) at row 5; others follow
    x = np.zeros((2000, 5))
    with pytest.raises(IndexError, match="target 5 is out of range for 5 classes"):
        ll.cross_entropy(x, t, reduction="sum")
    with pytest.raises(IndexError, match="target 5 is out of range for 5 classes"):
        ll.cross_entropy(np.ascontiguousarray(x.T), t, axis=0)


def test_out_of_range_target_is_not_ignored_by_ignore_index_elsewhere():
    with pytest.raises(IndexError, match="target -100 is out of range for 5 classes"):
        ll.cross_entropy(X, np.array([0, -100, 1, 2]), ignore_index=3)


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
def test_index_target_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"target has shape \(3,\) but input has shape \(4, 5\)"):
        fn(X, T[:3])


def test_probability_target_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"target has shape \(4, 4\) but input has shape \(4, 5\)"):
        ll.cross_entropy(X, np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
def test_weight_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"weight has shape \(4,\) but input has shape \(4, 5\)"):
        fn(X, T, np.ones(4))


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("reduction", ["avg", "", None, "MEAN"])
def test_bad_reduction(fn, reduction):
    with pytest.raises(
        ValueError, match=rf"^{fn.__name__}: reduction must be 'none', 'mean' or 'sum'"
    ):
        fn(X, T, reduction=reduction)


@pytest.mark.parametrize("fn", CE_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), float("inf")])
def test_label_smoothing_outside_unit_interval(fn, eps):
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: label_smoothing must be in \[0, 1\]"):
        fn(X, T, label_smoothing=eps)


def test_label_smoothing_not_a_number_type():
    with pytest.raises(TypeError, match="label_smoothing must be a real number"):
        ll.cross_entropy(X, T, label_smoothing="0.1x")


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [2, -3])
def test_bad_axis(fn, axis):
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: axis {axis} is out of bounds"):
        fn(X, T, axis=axis)


def test_axis_of_wrong_type():
    with pytest.raises(TypeError, match="axis must be an int"):
        ll.cross_entropy(X, T, axis=1.0)


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "target",
    [
        np.array(["a", "b", "c", "d"]),
        np.zeros(4, complex),
        np.array([0, 1, 2, 3], object),
        np.zeros(4, bool),
    ],
    ids=["str", "complex", "object", "bool"],
)
def test_non_numeric_target(fn, target):
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: target has unsupported dtype"):
        fn(X, target)


@pytest.mark.parametrize("fn", ALL_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "x",
    [np.zeros((4, 5), complex), np.zeros((4, 5), object), np.full((4, 5), "a")],
    ids=["complex", "object", "str"],
)
def test_non_numeric_input(fn, x):
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: input has unsupported dtype"):
        fn(x, T)


def test_none_input_or_target():
    with pytest.raises(TypeError, match="input must be an array"):
        ll.cross_entropy(None, T)
    with pytest.raises(TypeError, match="target must be an array"):
        ll.cross_entropy(X, None)


def test_zero_dimensional_input():
    with pytest.raises(ValueError, match="cross_entropy: input must have a class axis"):
        ll.cross_entropy(np.float32(1.0), 0)


@pytest.mark.parametrize("fn", NLL_FUNCS, ids=lambda f: f.__name__)
def test_nll_rejects_probability_targets(fn):
    with pytest.raises(
        TypeError,
        match=rf"^{fn.__name__}: target has unsupported dtype float32; "
        r"expected integer class indices$",
    ):
        fn(X, np.zeros((4, 5), np.float32))


@pytest.mark.parametrize("ignore_index", [1.5, "x", None, True])
def test_ignore_index_must_be_an_integer(ignore_index):
    with pytest.raises(TypeError, match="cross_entropy: ignore_index must be an integer"):
        ll.cross_entropy(X, T, ignore_index=ignore_index)


def test_weight_non_numeric():
    with pytest.raises(TypeError, match="cross_entropy: weight has unsupported dtype"):
        ll.cross_entropy(X, T, np.array(["a"] * 5))


@pytest.mark.parametrize("fn", [ll.cross_entropy_grad, ll.nll_loss_grad], ids=lambda f: f.__name__)
def test_grad_output_shape(fn):
    with pytest.raises(
        ValueError, match=r"grad_output has shape \(3,\); expected the loss shape \(4,\)"
    ):
        fn(X, T, reduction="none", grad_output=np.ones(3))
    with pytest.raises(
        ValueError, match=r"grad_output has shape \(4,\); expected a scalar for reduction='mean'"
    ):
        fn(X, T, grad_output=np.ones(4))
    with pytest.raises(TypeError, match="grad_output has unsupported dtype"):
        fn(X, T, grad_output="x")


def test_loss_object_errors_surface_on_call():
    fn = ll.CrossEntropyLoss(reduction="bogus")
    with pytest.raises(ValueError, match="reduction must be"):
        fn(X, T)
    with pytest.raises(AttributeError):
        fn.nonexistent


def test_first_out_of_range_target_across_thread_chunks():
    """Rows are split into chunks run by several threads; the error still
    names the first offending target in row order."""
    before = ll.get_num_threads()
    x = np.zeros((100_000, 2), np.float32)
    t = np.zeros(100_000, np.int64)
    t[[20_000, 50_000, 90_000]] = [11, 12, 13]
    try:
        ll.set_num_threads(2)
        for fn in ALL_FUNCS:
            with pytest.raises(IndexError, match="target 11 is out of range for 2 classes"):
                fn(x, t)
            with pytest.raises(IndexError, match="target 11 is out of range for 2 classes"):
                fn(x, t, reduction="none")
    finally:
        ll.set_num_threads(before)
