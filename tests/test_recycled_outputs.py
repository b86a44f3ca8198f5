"""Large outputs on recycled buffers (Note [Recycled outputs] in
csrc/runtime/buffer_cache.h): reuse must never alias a live array, never
change a result, stay bounded and stay visible to tracemalloc."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import logitloss as ll
from logitloss import _core, _outputs

pytestmark = pytest.mark.skipif(
    not _core.buffer_recycling_supported or not _outputs._RECYCLING,
    reason="output recycling is Linux-only and can be turned off",
)

ROWS, CLASSES = 1100, 8192  # 36 MB of float32: above RECYCLE_MIN_BYTES
assert ROWS * CLASSES * 4 >= _outputs.RECYCLE_MIN_BYTES


@pytest.fixture
def big():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((ROWS, CLASSES), dtype=np.float32)
    t = rng.integers(0, CLASSES, ROWS)
    y = (rng.random((ROWS, CLASSES)) < 0.3).astype(np.float32)
    _core.release_cached_buffers()
    yield x, t, y
    _core.release_cached_buffers()


# One large-output call per allocation site of the Python layer.
CALLS = {
    "cross_entropy_value_and_grad": lambda x, t, y: ll.cross_entropy_value_and_grad(x, t)[1],
    "cross_entropy_grad smoothing": lambda x, t, y: ll.cross_entropy_grad(
        x, t, label_smoothing=0.1
    ),
    "softmax": lambda x, t, y: ll.softmax(x, axis=1),
    "log_softmax axis 0": lambda x, t, y: ll.log_softmax(x, axis=0),
    "logsumexp_grad": lambda x, t, y: ll.logsumexp_grad(x, axis=1),
    "bce value_and_grad": lambda x, t, y: ll.binary_cross_entropy_with_logits_value_and_grad(x, y)[
        1
    ],
    "bce none": lambda x, t, y: ll.binary_cross_entropy_with_logits(x, y, reduction="none"),
}


def recycled(a: np.ndarray) -> bool:
    """Whether a's memory is a recycled buffer (owned by a capsule)."""
    owner = a
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return type(owner).__name__ == "PyCapsule"


def fresh(fn, *args):
    """fn's result with recycling off: NumPy-allocated output."""
    _outputs._RECYCLING = False
    try:
        return fn(*args)
    finally:
        _outputs._RECYCLING = True


@pytest.mark.parametrize("name", CALLS)
def test_reused_buffer_gives_the_same_result(big, name):
    x, t, y = big
    fn = CALLS[name]
    first = fn(-x, t, 1 - y)  # fills a buffer with other values
    assert recycled(first)
    assert first.nbytes >= _outputs.RECYCLE_MIN_BYTES
    address = first.__array_interface__["data"][0]
    del first
    assert _core.buffer_cache_info()[0] == 1
    again = fn(x, t, y)
    assert again.__array_interface__["data"][0] == address  # the buffer was reused
    expected = fresh(fn, x, t, y)
    assert not recycled(expected)
    np.testing.assert_array_equal(again, expected)
    assert again.flags.writeable
    assert again.flags.c_contiguous == expected.flags.c_contiguous


def test_live_results_are_never_reused(big):
    x, t, _ = big
    _, g1 = ll.cross_entropy_value_and_grad(x, t)
    kept = g1.copy()
    view = g1[5:]
    _, g2 = ll.cross_entropy_value_and_grad(2 * x, t)
    assert not np.shares_memory(g1, g2)
    del g1  # the view still holds the buffer
    _, g3 = ll.cross_entropy_value_and_grad(3 * x, t)
    assert not np.shares_memory(view, g3)
    assert not np.shares_memory(g2, g3)
    np.testing.assert_array_equal(view, kept[5:])


def test_the_cache_is_bounded_and_can_be_emptied(big):
    x, _t, _ = big
    outs = [ll.softmax(x[: ROWS - 64 * k], axis=1) for k in range(4)]  # 4 size classes
    sizes = {o.nbytes for o in outs}
    assert len(sizes) == 4
    del outs
    buffers, nbytes = _core.buffer_cache_info()
    assert buffers == 2
    assert nbytes >= 2 * _outputs.RECYCLE_MIN_BYTES
    _core.release_cached_buffers()
    assert _core.buffer_cache_info() == (0, 0)


def test_small_outputs_stay_numpy_arrays():
    g = ll.softmax(np.zeros((64, 64), np.float32), axis=1)
    assert not recycled(g)


def test_tracemalloc_sees_recycled_outputs(big):
    x, t, _ = big
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        _, g = ll.cross_entropy_value_and_grad(x, t)
        assert tracemalloc.get_traced_memory()[0] - base >= g.nbytes
        del g
        assert tracemalloc.get_traced_memory()[0] - base < 2**20
    finally:
        tracemalloc.stop()


def test_environment_variable_turns_recycling_off():
    code = (
        "import numpy as np, logitloss as ll\n"
        f"g = ll.softmax(np.zeros(({ROWS}, {CLASSES}), np.float32), axis=1)\n"
        'while getattr(g, "base", None) is not None:\n'
        "    g = g.base\n"
        "print(type(g).__name__)\n"
    )
    env = dict(os.environ, LOGITLOSS_RECYCLE_OUTPUTS="0")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["ndarray"]


@pytest.mark.parametrize(
    ("shape", "message"),
    [((-1, 4), "shape is negative"), ((2**40, 2**40), "shape is too large")],
)
def test_recycled_empty_rejects_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        _core.recycled_empty(shape, np.dtype(np.float32))


def test_recycled_empty_rejects_object_dtypes():
    with pytest.raises(TypeError, match="no object dtype"):
        _core.recycled_empty((2,), np.dtype(object))


def test_recycled_empty_of_zero_bytes():
    a = _core.recycled_empty((0, 3), np.dtype(np.float64))
    assert a.shape == (0, 3)
    assert a.dtype == np.float64


def test_concurrent_calls_never_share_a_buffer(big):
    """Python threads (the kernels release the GIL) taking and returning
    recycled buffers at once: every result stays its own."""
    from concurrent.futures import ThreadPoolExecutor

    x, t, _ = big
    scales = [1.0, -1.0, 2.0, 0.5]
    expected = [fresh(ll.cross_entropy_grad, s * x, t) for s in scales]

    def work(i: int) -> bool:
        ok = True
        for _ in range(3):
            _, g = ll.cross_entropy_value_and_grad(scales[i] * x, t)
            ok &= recycled(g) and bool(np.array_equal(g, expected[i]))
        return ok

    with ThreadPoolExecutor(len(scales)) as pool:
        assert all(pool.map(work, range(len(scales))))
    assert _core.buffer_cache_info()[0] <= 2
