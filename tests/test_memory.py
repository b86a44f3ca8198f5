"""Memory: no growth over 2*10**4 calls, and value_and_grad's peak extra memory
is the gradient plus O(rows) (NumPy reports its allocations to tracemalloc)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import logitloss as ll


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.fixture
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


def small_calls():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 7)).astype(np.float32)
    t = np.array([0, 3, 6, 1])
    y = (x > 0).astype(np.float32)
    return [
        lambda: ll.cross_entropy(x, t),
        lambda: ll.cross_entropy_value_and_grad(x, t, label_smoothing=0.1),
        lambda: ll.logsumexp(x, axis=1, b=x),
        lambda: ll.softmax_grad(x, x, axis=0),
        lambda: ll.binary_cross_entropy_with_logits_value_and_grad(x, y, pos_weight=np.ones(7)),
        lambda: ll.sigmoid_focal_loss_grad(x, y, reduction="sum"),
    ]


def test_no_growth_over_many_calls():
    calls = small_calls()

    def run(n):
        for i in range(n):
            calls[i % len(calls)]()

    # NumPy keeps bounded caches (as_strided's, about 1-2 MB) that fill over
    # the first tens of thousands of calls: a leak is growth that goes on, so
    # after an untraced warm-up, a traced 20 000-call window must not grow
    # (64 KiB over it: a leak of 4 bytes a call shows).
    run(20_000)
    tracemalloc.start()
    try:
        run(1_000)  # tracemalloc's own first allocations
        before_traced = tracemalloc.get_traced_memory()[0]
        before = tracemalloc.take_snapshot()
        before_rss = rss_bytes()
        run(20_000)
        grown = tracemalloc.get_traced_memory()[0] - before_traced
        top = tracemalloc.take_snapshot().compare_to(before, "lineno")[:3]
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes still allocated after 2e4 more calls: {top}"
    assert rss_bytes() - before_rss < 16 * 2**20


@pytest.mark.usefixtures("traced")
@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy_with_logits"])
def test_value_and_grad_peak_is_the_gradient_plus_rows(name):
    rng = np.random.default_rng(2)
    rows, classes = 2048, 2000
    x = rng.standard_normal((rows, classes), dtype=np.float32)
    if name == "cross_entropy":
        target = rng.integers(0, classes, rows)
    else:
        target = (x > 0).astype(np.float32)
    fn = getattr(ll, name + "_value_and_grad")
    fn(x[:4], target[:4])  # warm-up
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    _, grad = fn(x, target)
    peak = tracemalloc.get_traced_memory()[1] - base
    slack = 64 * rows + 256 * 1024  # O(rows) buffers and bookkeeping
    assert grad.nbytes <= peak <= grad.nbytes + slack, (peak, grad.nbytes)
