"""Cross-entropy value and gradient on long rows: this build against another.

Times a kernel (cross-entropy's value and gradient, its value alone, or
logsumexp: --kernel) of this build and, with --baseline-core, of another build
(e.g. main's extension, saved before a kernel change) on the same arrays,
interleaved in one process, with np.copyto of the logits (the memory-bus
reference of benchmarks/bench.py) alongside. Prints medians and the median
of the per-round ratios, which the machine's load drifts less than times;
with 1 thread, in the calling thread's CPU time (preemption does not count).

    python benchmarks/bench_long_rows.py --baseline-core OTHER/_core...so \
        --shapes 4096x32000 256x262144 64x1048576 --threads 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_ce_variants import load_core

from logitloss import _core

Fn = Callable[[], object]


def shape_of(text: str) -> tuple[int, int]:
    rows, classes = text.split("x")
    return int(rows), int(classes)


def dtype_of(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def timed(fn: Fn, clock: Callable[[], float]) -> float:
    start = clock()
    fn()
    return clock() - start


class Buffers:
    """Outputs shared by every build's call: the same pages for each (in
    separate buffers, one build ran 2-3% slower than the same code in
    another: their pages, not their code)."""

    def __init__(self, x: np.ndarray) -> None:
        rows, classes = x.shape
        self.x3 = x.reshape(rows, classes, 1)
        self.loss = np.empty(rows)
        self.grad = np.empty_like(self.x3)
        self.lse = np.empty(rows, x.dtype)


def grad_call(core: Any, t: np.ndarray, b: Buffers) -> Fn:
    """The cross-entropy kernel of `core` for value and gradient ('sum')."""
    return lambda: core.cross_entropy(b.x3, t, None, None, -100, True, 0.0, 0.0, 0.0, b.loss,
                                      None, b.grad, None, 1.0, False)


def value_call(core: Any, t: np.ndarray, b: Buffers) -> Fn:
    """The cross-entropy kernel of `core` for the value alone ('none')."""
    return lambda: core.cross_entropy(b.x3, t, None, None, -100, True, 0.0, 0.0, 0.0, b.loss,
                                      None, None, None, 1.0, False)


def logsumexp_call(core: Any, t: np.ndarray, b: Buffers) -> Fn:
    """The logsumexp kernel of `core` along the rows."""
    return lambda: core.logsumexp(b.x3, None, b.lse, None)


def softmax_call(core: Any, t: np.ndarray, b: Buffers) -> Fn:
    """The softmax kernel of `core` along the rows (two-pass: a control)."""
    return lambda: core.softmax(b.x3, b.grad, False)


KERNELS = {"value_and_grad": grad_call, "value": value_call, "logsumexp": logsumexp_call,
           "softmax": softmax_call}


def run(shape: tuple[int, int], dtype: Any, threads: int, rounds: int,
        baseline: Any | None, kernel: str) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape, dtype=np.float32) * 3).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    out = np.empty_like(x)
    call, buffers = KERNELS[kernel], Buffers(x)
    fns: dict[str, Fn] = {"this build": call(_core, t, buffers)}
    if baseline is not None:
        fns["baseline"] = call(baseline, t, buffers)
    fns["np.copyto"] = lambda: np.copyto(out, x)
    for core in (_core, baseline):
        if core is not None:
            core.set_num_threads(threads)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm up: pages faulted in, caches set
    # One thread: the calling thread's CPU time, which preemption by the
    # machine's other jobs does not inflate; more: wall-clock time.
    clock = time.thread_time if threads == 1 else time.perf_counter
    names = list(fns)
    for i in range(rounds):  # each round in another order: no contender always runs first
        for name in names[i % len(names):] + names[:i % len(names)]:
            times[name].append(timed(fns[name], clock))
    ref = times["this build"]
    cells = []
    for name, ts in times.items():
        ratio = statistics.median(a / b for a, b in zip(ts, ref))
        per_element = statistics.median(ts) / x.size * 1e9
        cells.append(f"{name} {statistics.median(ts) * 1e3:8.3f} ms {per_element:.3f} ns/el "
                     f"({ratio:.2f}x)")
    print(f"{kernel} {shape[0]}x{shape[1]} {np.dtype(dtype).name} {threads}t: " + "  ".join(cells),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-core", default=None)
    parser.add_argument("--shapes", nargs="+", default=["4096x32000", "256x262144", "64x1048576"])
    parser.add_argument("--dtypes", nargs="+", default=["float32"],
                        help="NumPy names, or bfloat16 (ml_dtypes)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--kernel", choices=sorted(KERNELS), default="value_and_grad",
                        help="cross-entropy value and gradient, its value alone, logsumexp, "
                        "or softmax")
    args = parser.parse_args()
    baseline = load_core(args.baseline_core) if args.baseline_core else None
    print(f"SIMD {_core.simd_level()}; {args.rounds} interleaved rounds; median time and "
          "median ratio to this build")
    for shape in map(shape_of, args.shapes):
        for dtype in args.dtypes:
            for threads in args.threads:
                run(shape, dtype_of(dtype), threads, args.rounds, baseline, args.kernel)


if __name__ == "__main__":
    main()
