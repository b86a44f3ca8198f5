"""The ratios of issue 17's table, each from two calls interleaved in this
process: medians of the calling thread's CPU time (1 thread: every call
runs on it), which a shared machine's preemption does not inflate, and of
wall-clock time.

    python benchmarks/ratios.py            # every row, 11 repeats (51 for small shapes)
    python benchmarks/ratios.py --repeat 21 --rows 16bit,small,large

To compare two builds, run it in each build's environment, alternating.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import Callable

import numpy as np

import logitloss as ll
from logitloss import _core

Fn = Callable[[], object]


def interleaved(fa: Fn, fb: Fn, repeat: int) -> tuple[float, float, float, float]:
    """(CPU-time ratio a/b, a's and b's CPU ms, wall-clock ratio)."""
    fa()
    fb()
    cpu: dict[int, list[float]] = {0: [], 1: []}
    wall: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(repeat):
        for i, f in enumerate((fa, fb)):
            c0, w0 = time.thread_time(), time.perf_counter()
            f()
            cpu[i].append(time.thread_time() - c0)
            wall[i].append(time.perf_counter() - w0)
    a, b = float(np.median(cpu[0])), float(np.median(cpu[1]))
    return a / b, 1e3 * a, 1e3 * b, float(np.median(wall[0]) / np.median(wall[1]))


def show(name: str, r: tuple[float, float, float, float]) -> None:
    print(f"{name:50s} {r[0]:6.2f}x cpu ({r[1]:8.3f} / {r[2]:8.3f} ms)   wall {r[3]:5.2f}x",
          flush=True)


def rows_16bit(rng: np.random.Generator, repeat: int) -> None:
    try:
        import ml_dtypes
    except ImportError:
        ml_dtypes = None
    x32 = rng.standard_normal((2048, 32000), dtype=np.float32)
    t = rng.integers(0, 32000, 2048)
    calls: dict[str, Callable[[np.ndarray], object]] = {
        "CE v&g": lambda x: ll.cross_entropy_value_and_grad(x, t),
        "logsumexp": lambda x: ll.logsumexp(x, axis=1),
        "softmax": lambda x: ll.softmax(x, axis=1),
    }
    dtypes = [("float16", np.dtype(np.float16))]
    if ml_dtypes is not None:
        dtypes.append(("bfloat16", np.dtype(ml_dtypes.bfloat16)))
    for name, dtype in dtypes:
        x16 = x32.astype(dtype)
        for label, call in calls.items():
            show(f"{name} {label} 2048x32000 / float32",
                 interleaved(partial(call, x16), partial(call, x32), repeat))


def rows_small(rng: np.random.Generator, repeat: int) -> None:
    try:
        import torch
    except ImportError:
        print("small shapes: torch not installed")
        return
    torch.set_num_threads(1)
    repeat = max(repeat, 51)
    for func, shape in (("softmax", (256, 1000)), ("log_softmax", (256, 1000)),
                        ("logsumexp", (256, 1000)), ("logsumexp", (65536, 10))):
        x = rng.standard_normal(shape, dtype=np.float32)
        tx = torch.from_numpy(x)
        ours, theirs = getattr(ll, func), getattr(torch, func)
        show(f"{func} {shape[0]}x{shape[1]}: torch / logitloss (speed-up)",
             interleaved(partial(theirs, tx, 1), partial(ours, x, axis=1), repeat))
    for shape in ((256, 1000), (65536, 10)):  # what the short-row paths share
        x = rng.standard_normal(shape, dtype=np.float32)
        t = rng.integers(0, shape[1], shape[0])
        show(f"cross_entropy {shape[0]}x{shape[1]}: torch / logitloss",
             interleaved(partial(torch.nn.functional.cross_entropy, torch.from_numpy(x),
                                 torch.from_numpy(t)),
                         partial(ll.cross_entropy, x, t), repeat))


def rows_large(rng: np.random.Generator, repeat: int) -> None:
    x = rng.standard_normal((4096, 32000), dtype=np.float32)
    t = rng.integers(0, 32000, 4096)
    out = np.empty_like(x)
    before = _core.simd_level()
    for level in [lv for lv in ("avx512", "avx2") if lv in _core.simd_levels_supported()]:
        _core.set_simd_level(level)
        show(f"CE v&g 4096x32000 {level} / np.copyto",
             interleaved(lambda: ll.cross_entropy_value_and_grad(x, t),
                         lambda: np.copyto(out, x), repeat))
        show(f"logsumexp 4096x32000 {level} / x.sum()",
             interleaved(lambda: ll.logsumexp(x, axis=1), lambda: x.sum(), repeat))
    _core.set_simd_level(before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=11, help="interleaved pairs per median")
    parser.add_argument("--rows", default="16bit,small,large", help="which groups of rows")
    args = parser.parse_args()
    ll.set_num_threads(1)
    print(f"logitloss {ll.__version__}, SIMD level {_core.simd_level()}, 1 thread")
    rng = np.random.default_rng(0)
    groups = {"16bit": rows_16bit, "small": rows_small, "large": rows_large}
    for name in args.rows.split(","):
        groups[name](rng, args.repeat)


if __name__ == "__main__":
    main()
