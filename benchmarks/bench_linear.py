"""linear_cross_entropy against the pipelines it replaces: time and peak memory.

At N x D hidden states and a (V, D) output layer (float32), one training
step's loss and gradients (d_hidden, d_weight, d_bias) three ways, all in
this process, medians of repeated interleaved calls, 1 and 2 threads:

* logitloss.linear_cross_entropy_value_and_grad (the logits never formed);
* the unfused NumPy pipeline it replaces: ``h @ W.T + b``, then
  ``cross_entropy_value_and_grad``, then ``G @ W``, ``G.T @ h``, ``G.sum(0)``;
* PyTorch: ``F.linear`` + ``F.cross_entropy`` + ``backward()``.

NumPy's BLAS is limited to the thread count with threadpoolctl (logitloss
does the same inside linear_cross_entropy). Peak memory is tracemalloc's (NumPy
and logitloss report their allocations to it; PyTorch does not, so its
column is left empty), above the inputs.

    python benchmarks/bench_linear.py                      # N=4096, D=256, V=32768
    python benchmarks/bench_linear.py --large              # + N=16384, V=131072 (fused only)
    python benchmarks/bench_linear.py --quick              # a smoke run (CI)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
from typing import Any, Callable

import numpy as np

import logitloss as ll

try:
    import torch
except ImportError:
    torch = None
try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


def fused(h: np.ndarray, w: np.ndarray, b: np.ndarray, t: np.ndarray) -> Any:
    return ll.linear_cross_entropy_value_and_grad(h, w, t, b)


def unfused(h: np.ndarray, w: np.ndarray, b: np.ndarray, t: np.ndarray) -> Any:
    logits = h @ w.T + b
    loss, g = ll.cross_entropy_value_and_grad(logits, t, axis=-1)
    return loss, (g @ w, g.T @ h, g.sum(axis=0))


def torch_step(h: np.ndarray, w: np.ndarray, b: np.ndarray, t: np.ndarray) -> Callable[[], Any]:
    assert torch is not None
    th, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (h, w, b))
    tt = torch.from_numpy(t)

    def step() -> Any:
        for p in (th, tw, tb):
            p.grad = None
        loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(th, tw, tb), tt)
        loss.backward()
        return loss

    return step


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak / 2**20


def medians(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):  # interleaved: load drifts hit every contender alike
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def problem(n: int, d: int, v: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal((v, d), dtype=np.float32) * np.float32(d**-0.5)
    b = rng.standard_normal(v, dtype=np.float32) * np.float32(0.1)
    return h, w, b, rng.integers(0, v, n)


def run(n: int, d: int, v: int, threads: int, repeat: int) -> dict[str, Any]:
    ll.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    h, w, b, t = problem(n, d, v)
    limit = threadpool_limits(threads, user_api="blas") if threadpool_limits else None
    try:
        fns: dict[str, Callable[[], Any]] = {
            "linear_cross_entropy": lambda: fused(h, w, b, t),
            "unfused numpy": lambda: unfused(h, w, b, t),
        }
        if torch is not None:
            fns["torch"] = torch_step(h, w, b, t)
        secs = medians(fns, repeat)
        mem = {k: peak_mib(fns[k]) for k in ("linear_cross_entropy", "unfused numpy")}
    finally:
        if limit is not None:
            limit.restore_original_limits()
    grads = (h.nbytes + w.nbytes + b.nbytes) / 2**20
    return {"shape": (n, d, v), "threads": threads, "seconds": secs,
            "peak_mib": mem, "gradients_mib": grads, "logits_mib": n * v * 4 / 2**20}


def report(row: dict[str, Any]) -> str:
    n, d, v = row["shape"]
    s, m = row["seconds"], row["peak_mib"]
    fused_s = s["linear_cross_entropy"]
    line = (f"| {n}x{d}, V={v} | {row['threads']} | {1e3 * fused_s:.0f} ms | "
            f"{1e3 * s['unfused numpy']:.0f} ms ({fused_s / s['unfused numpy']:.2f}x) | ")
    line += (f"{1e3 * s['torch']:.0f} ms ({s['torch'] / fused_s:.2f}x the fused time) | "
             if "torch" in s else "- | ")
    extra_f = m["linear_cross_entropy"] - row["gradients_mib"]
    extra_u = m["unfused numpy"] - row["gradients_mib"]
    return line + f"{extra_f:.0f} MiB | {extra_u:.0f} MiB |"


def large(repeat: int) -> str:
    """N=16384, V=131072: 8 GiB of logits, twice that with their gradient:
    only the fused call runs; its extra memory must stay under 1 GiB."""
    n, d, v = 16384, 256, 131072
    h, w, b, t = problem(n, d, v)
    ll.set_num_threads(2)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        peak = peak_mib(lambda: fused(h, w, b, t))
        times.append(time.perf_counter() - t0)
    extra = peak - (h.nbytes + w.nbytes + b.nbytes) / 2**20
    return (f"| {n}x{d}, V={v} (8 GiB of logits) | 2 | {np.median(times):.1f} s | "
            f"extra peak {extra:.0f} MiB (goal < 1024) |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (CI smoke run)")
    parser.add_argument("--large", action="store_true", help="also N=16384, V=131072")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="write the raw numbers here")
    args = parser.parse_args()
    shape = (256, 64, 4096) if args.quick else (4096, 256, 32768)
    repeat = 2 if args.quick else args.repeat
    print(f"host: {platform.processor() or platform.machine()}, "
          f"SIMD {ll.build_info()['simd']}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else '-'}, "
          f"threadpoolctl {'yes' if threadpool_limits else 'no'}")
    print("| N x D, V | threads | linear_cross_entropy | unfused NumPy (ratio) | torch | "
          "extra peak, fused | extra peak, unfused |")
    print("|---|---|---|---|---|---|---|")
    rows = [run(*shape, threads, repeat) for threads in (1, 2)]
    for row in rows:
        print(report(row))
    if args.large and not args.quick:
        print(large(1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
