"""_core.strided_view: the elementwise losses' cheap as_strided. It must give
as_strided's view for every layout the Python layer builds, and refuse any
view that would reach memory outside its array."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from logitloss import _core

BASE = np.arange(60, dtype=np.float32).reshape(3, 4, 5)


@pytest.mark.parametrize(
    ("a", "shape", "strides"),
    [
        (BASE, (1, 1, 60), (0, 0, 4)),  # merged C-contiguous run
        (BASE[:, ::-1, ::2], (3, 4, 3), (80, -20, 8)),  # reversed and stepped
        (BASE[0, 0], (1, 4, 5), (0, 0, 4)),  # broadcast along a dimension
        (BASE.T, (5, 4, 3), (4, 20, 80)),
        (BASE[:, :0], (3, 0, 5), (80, 20, 4)),  # empty
    ],
)
def test_matches_as_strided(a, shape, strides):
    view = _core.strided_view(a, shape, strides)
    np.testing.assert_array_equal(view, as_strided(a, shape, strides))
    assert view.base is not None
    assert view.size == 0 or np.shares_memory(view, a)
    assert view.flags.writeable == a.flags.writeable


def test_view_of_a_writable_array_writes_through():
    a = np.zeros(6)
    _core.strided_view(a, (1, 2, 3), (0, 24, 8))[0, 1, 2] = 1.0
    assert a[5] == 1.0


@pytest.mark.parametrize(
    ("a", "shape", "strides"),
    [
        (BASE, (1, 1, 61), (0, 0, 4)),  # one element past the end
        (BASE[1:], (1, 1, 21), (0, 0, -4)),  # before the start
        (BASE[:, :0], (1, 1, 1), (0, 0, 4)),  # anything from an empty array
    ],
)
def test_refuses_views_outside_the_array(a, shape, strides):
    with pytest.raises(ValueError, match="reaches outside the array"):
        _core.strided_view(a, shape, strides)


def test_refuses_malformed_layouts():
    with pytest.raises(ValueError, match="one stride per dimension"):
        _core.strided_view(BASE, (1, 60), (0, 0, 4))
    with pytest.raises(ValueError, match="negative"):
        _core.strided_view(BASE, (1, -1, 60), (0, 0, 4))
