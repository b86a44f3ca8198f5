"""binary_cross_entropy and kl_div, value and gradient, against the PyTorch
compositions (forward + backward) and against the memory bus, one thread;
and complex logsumexp against SciPy's.

Every contender runs once per round, the rounds interleave them (a shared,
loaded machine drifts between minutes), and each reported ratio is the
median over the rounds of that round's ratio, all in this one process.
"limit" is ``np.add(a, b, out=c)``: the same memory traffic as a fused
value-and-gradient pass (two arrays read, one written); for the gradient
alone of kl_div (which never reads the input) it is ``np.negative(t,
out=c)`` (one read, one write).

    python benchmarks/bench_probability_losses.py                  # 4096 x 32000 float32
    python benchmarks/bench_probability_losses.py --rows 256 --rounds 3   # a smoke run

The complex logsumexp rows (1000 x 1000, axis=1) have no memory limit: the
kernel is scalar code, compute-bound by design (complex input is rare).
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Callable

import numpy as np

import logitloss as ll

Fn = Callable[[], object]


def once(fn: Fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def workloads(rows: int, cols: int) -> dict[str, dict[str, Fn]]:
    rng = np.random.default_rng(0)
    shape = (rows, cols)
    p = rng.uniform(1e-6, 1 - 1e-6, shape).astype(np.float32)
    y = (rng.random(shape) < 0.3).astype(np.float32)
    x = rng.standard_normal(shape, dtype=np.float32)
    x -= ll.logsumexp(x, axis=1, keepdims=True)  # log-probabilities
    t = rng.dirichlet(np.ones(cols), rows).astype(np.float32)
    labels = rng.integers(0, cols, rows)
    out = np.empty_like(p)
    work: dict[str, dict[str, Fn]] = {
        "binary_cross_entropy value+grad": {
            "limit": lambda: np.add(p, y, out=out),
            "logitloss": lambda: ll.binary_cross_entropy_value_and_grad(p, y),
        },
        "kl_div value+grad (batchmean)": {
            "limit": lambda: np.add(x, t, out=out),
            "logitloss": lambda: ll.kl_div_value_and_grad(x, t, reduction="batchmean"),
        },
        "kl_div grad only (batchmean)": {
            "limit": lambda: np.negative(t, out=out),
            "logitloss": lambda: ll.kl_div_grad(x, t, reduction="batchmean"),
        },
        # For calibration: the existing kernels against the same limits.
        "calibration: bce_with_logits value+grad": {
            "limit": lambda: np.add(x, y, out=out),
            "logitloss": lambda: ll.binary_cross_entropy_with_logits_value_and_grad(x, y),
        },
        "calibration: cross_entropy value+grad": {
            "limit": lambda: np.negative(x, out=out),
            "logitloss": lambda: ll.cross_entropy_value_and_grad(x, labels),
        },
    }
    try:
        import torch
    except ImportError:
        return work
    torch.set_num_threads(1)
    F = torch.nn.functional
    tp, ty, tx, tt = (torch.from_numpy(a) for a in (p, y, x, t))

    def torch_bce() -> object:
        leaf = tp.detach().requires_grad_()
        F.binary_cross_entropy(leaf, ty).backward()
        return leaf.grad

    def torch_kl() -> object:
        leaf = tx.detach().requires_grad_()
        F.kl_div(leaf, tt, reduction="batchmean").backward()
        return leaf.grad

    work["binary_cross_entropy value+grad"]["reference"] = torch_bce
    work["kl_div value+grad (batchmean)"]["reference"] = torch_kl
    work["kl_div grad only (batchmean)"]["reference"] = torch_kl  # autograd needs the forward
    return work


def complex_workloads(rows: int) -> dict[str, dict[str, Fn]]:
    try:
        import scipy.special as sp
    except ImportError:
        return {}
    rng = np.random.default_rng(1)
    work: dict[str, dict[str, Fn]] = {}
    for dtype in (np.complex128, np.complex64):
        z = (rng.normal(size=(rows, 1000)) * 3 + 1j * rng.uniform(-9, 9, (rows, 1000)))
        z = z.astype(dtype)
        work[f"logsumexp {np.dtype(dtype).name} {rows}x1000 axis=1 (vs SciPy)"] = {
            "logitloss": lambda z=z: ll.logsumexp(z, axis=1),
            "reference": lambda z=z: sp.logsumexp(z, axis=1),
        }
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--cols", type=int, default=32000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    ll.set_num_threads(1)
    warnings.simplefilter("ignore")
    info = ll.build_info()
    print(f"{args.rows} x {args.cols} float32, 1 thread, SIMD level {info['simd']}, "
          f"{args.rounds} interleaved rounds; medians")
    print("| workload | logitloss | limit | torch / SciPy | logitloss / limit "
          "| torch or SciPy / logitloss |")
    print("|---|---|---|---|---|---|")
    work = {**workloads(args.rows, args.cols), **complex_workloads(min(args.rows, 1000))}
    for name, fns in work.items():
        for fn in fns.values():  # warm-up: page faults, recycled buffers
            fn()
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.rounds):
            for k, fn in fns.items():
                times[k].append(once(fn))
        ll_t = np.array(times["logitloss"])
        cells = [f"{1e3 * np.median(times[k]):.1f} ms" if k in times else "-"
                 for k in ("logitloss", "limit", "reference")]
        vs_limit = (f"{np.median(ll_t / np.array(times['limit'])):.2f}x" if "limit" in times
                    else "-")
        vs_ref = (f"{np.median(np.array(times['reference']) / ll_t):.1f}x"
                  if "reference" in times else "-")
        print(f"| {name} | " + " | ".join(cells) + f" | {vs_limit} | {vs_ref} |")


if __name__ == "__main__":
    main()
