"""Threads: results are bitwise identical for every thread count, concurrent
Python threads get the same answers, and changing the count mid-flight is safe."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import logitloss as ll


def big_inputs():
    rng = np.random.default_rng(3)
    return rng.standard_normal((512, 1000)).astype(np.float32), rng.standard_normal((300, 64, 40))


def all_results(x32, x64):
    return [
        ll.logsumexp(x32, axis=1),
        ll.softmax(x32, axis=1),
        ll.log_softmax_grad(x32, x32, axis=1),
        ll.logsumexp(x64, axis=1),
        ll.softmax_grad(x64, x64, axis=1),
        ll.logsumexp(x32),
    ]


@pytest.mark.usefixtures("threads")
def test_bitwise_identical_for_every_thread_count():
    x32, x64 = big_inputs()
    ll.set_num_threads(1)
    want = all_results(x32, x64)
    for n in (2, 3, 8):
        ll.set_num_threads(n)
        for got, w in zip(all_results(x32, x64), want):
            np.testing.assert_array_equal(got, w)


@pytest.mark.usefixtures("threads")
def test_concurrent_python_threads_and_thread_count_changes():
    x32, x64 = big_inputs()
    want = all_results(x32, x64)
    errors = []

    def worker():
        try:
            for _ in range(3):
                for got, w in zip(all_results(x32, x64), want):
                    np.testing.assert_array_equal(got, w)
        except Exception as exc:  # reported below
            errors.append(exc)

    def resizer():
        for n in (1, 3, 2, 4, 1, 2):
            ll.set_num_threads(n)

    pool = [threading.Thread(target=worker) for _ in range(6)] + [threading.Thread(target=resizer)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in pool), "a thread hung"
    assert not errors, errors[0]


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize(
    ("bad", "exc"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_set_num_threads_rejects_bad_counts(bad, exc):
    with pytest.raises(exc, match="set_num_threads: n must be"):
        ll.set_num_threads(bad)
