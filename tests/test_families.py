"""Note [Loss families]: every declared family has its three functions with
the declared signature (plus grad_output / out), its logitloss.dask trio with
the same signature (no out), and its loss object when it declares one."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import logitloss as ll
from logitloss._family import FAMILIES

FAMILY_NAMES = list(FAMILIES)


def parameters(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_the_families_are_declared():
    assert {"cross_entropy", "nll_loss", "binary_cross_entropy_with_logits",
            "sigmoid_focal_loss", "binary_cross_entropy", "kl_div"} <= set(FAMILY_NAMES)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_functions_follow_the_declaration(name):
    family = FAMILIES[name]
    declared = parameters(family.signature)
    value, grad, both = (getattr(ll, name + s) for s in ("", "_grad", "_value_and_grad"))
    kw = inspect.Parameter.KEYWORD_ONLY
    assert parameters(value) == declared
    assert parameters(grad) == [*declared, ("grad_output", kw, None), ("out", kw, None)]
    assert parameters(both) == [*declared, ("out", kw, None)]
    for fn in (value, grad, both):
        assert fn.__doc__
        assert "Examples" in fn.__doc__
        assert fn.__module__.startswith("logitloss.")
        assert fn.__name__ in ll.__all__


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_dask_trio_follows_the_declaration(name):
    pytest.importorskip("dask.array")
    import logitloss.dask as lld
    declared = parameters(FAMILIES[name].signature)
    kw = inspect.Parameter.KEYWORD_ONLY
    assert parameters(getattr(lld, name)) == declared
    assert parameters(getattr(lld, name + "_grad")) == [*declared, ("grad_output", kw, None)]
    assert parameters(getattr(lld, name + "_value_and_grad")) == declared
    for suffix in ("", "_grad", "_value_and_grad"):
        assert name + suffix in lld.__all__


@pytest.mark.parametrize("name", [n for n in FAMILY_NAMES if FAMILIES[n].loss_object])
def test_loss_object_follows_the_declaration(name):
    family = FAMILIES[name]
    cls = getattr(ll, family.loss_object)
    defaults = {p.name: p.default for p in family.parameters}
    got = parameters(cls.__init__)[1:]  # without self
    assert [(n, d) for n, _, d in got] == [(n, defaults[n]) for n in family.loss_object_options]
    # Positional options bind in the declared order, as torch.nn's do.
    first = family.loss_object_options[0]
    obj = cls(np.ones(3)) if first == "weight" else cls("sum")
    assert getattr(obj, first) is not None
    with pytest.raises(TypeError):
        cls(bogus=1)


def test_linear_cross_entropy_trios_share_one_signature():
    pytest.importorskip("dask.array")
    import logitloss.dask as lld
    for suffix in ("", "_grad", "_value_and_grad"):
        name = "linear_cross_entropy" + suffix
        assert parameters(getattr(ll, name)) == parameters(getattr(lld, name))
        assert name in ll.__all__
        assert name in lld.__all__
