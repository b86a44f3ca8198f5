"""Property tests (hypothesis) for the binary losses."""

from __future__ import annotations

import numpy as np
import pytest

import logitloss as ll

hypothesis = pytest.importorskip("hypothesis")
hnp = pytest.importorskip("hypothesis.extra.numpy")
st = hypothesis.strategies


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(
    x=hnp.arrays(np.float64, st.integers(1, 40),
                 elements=st.floats(-1e300, 1e300, allow_nan=False)),
    data=st.data(),
)
def test_property_nonnegative(x: np.ndarray, data) -> None:  # type: ignore[no-untyped-def]
    n = x.shape
    y = data.draw(hnp.arrays(np.float64, n, elements=st.floats(0, 1)))
    pw = data.draw(hnp.arrays(np.float64, n, elements=st.floats(0, 100)))
    loss, grad = ll.binary_cross_entropy_with_logits_value_and_grad(
        x, y, pos_weight=pw, reduction="none")
    assert (loss >= 0).all()
    assert np.isfinite(grad).all()
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    x32[~np.isfinite(x32)] = 0
    l32 = ll.binary_cross_entropy_with_logits(x32, y.astype(np.float32), reduction="none")
    assert (l32 >= 0).all()




@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    x=hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    data=st.data(),
    gamma=st.floats(0, 5),
    alpha=st.floats(-1, 1),
)
def test_property_focal_nonnegative(x: np.ndarray, data, gamma: float, alpha: float) -> None:  # type: ignore[no-untyped-def]
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0, 1)))
    loss, grad = ll.sigmoid_focal_loss_value_and_grad(x, y, alpha, gamma)
    assert (loss >= 0).all()
    assert np.isfinite(grad).all()
