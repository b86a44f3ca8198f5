"""64-bit sizes: arrays of more than 2**31 elements, and rows whose offsets
pass 2**31, give exact answers (all index arithmetic is 64-bit).

The inputs are zeros with a few marked entries placed beyond element 2**31,
so the exact result is known in closed form and a 32-bit offset anywhere
would read the wrong element. Each test needs ~8.6 GB; it is skipped, saying
so, when the machine has less memory available."""

from __future__ import annotations

import math

import numpy as np
import pytest

import logitloss as ll

BIG = 2**31


def available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def needs(gigabytes: float):
    have = available_bytes() / 2**30
    return pytest.mark.skipif(
        have < gigabytes, reason=f"needs {gigabytes:.0f} GiB of available memory, {have:.1f} GiB here"
    )


@needs(12)
def test_logsumexp_over_more_than_2_31_elements():
    n = BIG + 64
    x = np.zeros(n, np.float32)
    x[BIG + 3] = 5.0  # beyond any 32-bit index
    x[-1] = 2.0
    got = ll.logsumexp(x)
    want = math.log((n - 2) + math.exp(5.0) + math.exp(2.0))
    assert got == np.float32(want)
    grad_top = ll.softmax(x[BIG:])  # a view starting past 2**31 elements
    assert grad_top[3] == pytest.approx(math.exp(5.0) / (64 - 2 + math.exp(5) + math.exp(2)), rel=1e-6)


@needs(12)
def test_rows_whose_offsets_pass_2_31():
    rows, classes = 3, 2**30 + 5  # row 2 starts at element 2**31 + 10
    x = np.zeros((rows, classes), np.float32)
    x[2, -1] = 7.0
    x[1, 0] = -3.0
    got = ll.logsumexp(x, axis=1)
    want = [
        math.log(classes),
        math.log((classes - 1) + math.exp(-3.0)),
        math.log((classes - 1) + math.exp(7.0)),
    ]
    np.testing.assert_array_equal(got, np.float32(want))


@needs(12)
def test_cross_entropy_with_more_than_2_31_logits():
    rows, classes = 2**16 + 3, 2**15 + 1  # 2.1e9 logits
    x = np.zeros((rows, classes), np.float32)
    target = np.arange(rows) % classes
    x[-1, target[-1]] = 4.0  # the last row sits beyond 2**31 elements
    got = ll.cross_entropy(x, target, reduction="none")
    assert got[0] == np.float32(math.log(classes))
    assert got[-1] == np.float32(math.log((classes - 1) + math.exp(4.0)) - 4.0)
    mean = ll.cross_entropy(x, target)
    want = ((rows - 1) * math.log(classes) + math.log((classes - 1) + math.exp(4.0)) - 4.0) / rows
    assert mean == pytest.approx(want, rel=1e-6)


@needs(20)
def test_binary_cross_entropy_over_more_than_2_31_elements():
    n = BIG + 64
    x = np.zeros(n, np.float32)
    y = np.zeros(n, np.float32)
    x[BIG + 3] = 30.0  # target 0: loss 30 + log1p(exp(-30))
    got = ll.binary_cross_entropy_with_logits(x, y, reduction="sum")
    want = (n - 1) * math.log(2.0) + 30.0 + math.log1p(math.exp(-30.0))
    assert got == pytest.approx(want, rel=1e-6)
    per_element = ll.binary_cross_entropy_with_logits(x[BIG:], y[BIG:], reduction="none")
    assert per_element[3] == np.float32(30.0 + math.log1p(math.exp(-30.0)))
