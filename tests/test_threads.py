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
        *ll.softmax_kl_div_value_and_grad(x32, x32[::-1], reduction="none"),
        *ll.generalized_jsd_value_and_grad(x64, x64[::-1], axis=1, beta=0.3, reduction="sum"),
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


def _child_results(conn):
    x32, x64 = big_inputs()
    conn.send([np.asarray(r) for r in all_results(x32, x64)])
    conn.close()


@pytest.mark.usefixtures("threads")
# JAX, once a test has used it (test_array_inputs.py), warns at every fork
# about its own threads; the child never touches JAX.
@pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")
def test_a_forked_child_computes_with_a_fresh_pool():
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    ll.set_num_threads(2)
    x32, x64 = big_inputs()
    want = all_results(x32, x64)  # the pool's workers are running now
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child_results, args=(child,))
    with pytest.warns(DeprecationWarning, match="fork") if _fork_warns() else _no_warning():
        proc.start()
    got = parent.recv() if parent.poll(120) else None
    proc.join(120)
    assert proc.exitcode == 0, "the forked child failed"
    assert got is not None, "the forked child hung"
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _fork_warns() -> bool:
    # Python 3.12+ warns when forking a process that has other threads.
    import sys

    return sys.version_info >= (3, 12)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_RESIZE_STRESS = """
import numpy as np, logitloss as ll
x = np.random.default_rng(0).standard_normal((512, 1000)).astype(np.float32)
t = np.arange(512) % 1000
want = ll.cross_entropy_value_and_grad(x, t)[1]
for i in range(300):
    ll.set_num_threads(1 + i % 3)  # new workers join a pool that has run jobs
    got = ll.cross_entropy_value_and_grad(x, t)[1]
    assert np.array_equal(got, want), i
print("ok")
"""


def test_resizing_the_pool_between_calls_never_hangs():
    # Workers created after earlier jobs once took the last finished job for a
    # new one and counted themselves done twice: run() then waited forever
    # (or returned while a worker still ran). A subprocess turns a hang into
    # a timeout instead of a stuck suite.
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _RESIZE_STRESS], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
