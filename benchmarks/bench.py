"""Reproducible speed comparison: logitloss against NumPy, SciPy, PyTorch (CPU)
and jax.jit, each when installed, on the workloads of the speed issue.

Every number is the median of repeated calls measured in this process, so
the ratios compare like with like. The limits (np.copyto, x.sum) show what
the memory bus allows on this machine.

    python benchmarks/bench.py                 # full table + docs/benchmark.png
    python benchmarks/bench.py --quick         # small shapes, a smoke run (CI)
    python benchmarks/bench.py --json out.json # raw numbers too
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Callable

import numpy as np

import logitloss as ll

Fn = Callable[[], object]


def median_ms(fn: Fn, repeat: int) -> float:
    fn()  # warm-up (JIT compilation for JAX, page faults for outputs)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


torch = optional("torch")
jax = optional("jax")
scipy_special = None
try:
    import scipy.special as scipy_special  # type: ignore[no-redef]
except ImportError:
    pass
if jax is not None:
    import jax.numpy as jnp


def set_threads(n: int) -> None:
    ll.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


# ------------------------------------------------------------ NumPy baselines


def np_logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.exp(x - m).sum(axis=-1))


def np_ce_value_and_grad(x: np.ndarray, t: np.ndarray):
    logp = x - np_logsumexp(x)[..., None]
    rows = np.arange(len(t))
    grad = np.exp(logp)
    grad[rows, t] -= 1
    return -logp[rows, t].mean(), grad / len(t)


def np_bce_value_and_grad(x: np.ndarray, y: np.ndarray):
    loss = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    sig = 1 / (1 + np.exp(-x))
    return loss.mean(), (sig - y) / x.size


# ------------------------------------------------------------ torch / jax


def torch_ce_fwd_bwd(x: np.ndarray, t: np.ndarray) -> Fn:
    tt = torch.from_numpy(t)

    def run():
        tx = torch.from_numpy(x).requires_grad_()
        torch.nn.functional.cross_entropy(tx.view(-1, x.shape[-1]), tt.view(-1)).backward()
        return tx.grad

    return run


def torch_bce_fwd_bwd(x: np.ndarray, y: np.ndarray) -> Fn:
    ty = torch.from_numpy(y)

    def run():
        tx = torch.from_numpy(x).requires_grad_()
        torch.nn.functional.binary_cross_entropy_with_logits(tx, ty).backward()
        return tx.grad

    return run


def jax_ce_fwd_bwd(x: np.ndarray, t: np.ndarray) -> Fn:
    jx, jt = jnp.asarray(x), jnp.asarray(t)

    def loss(a, b):
        logp = jax.nn.log_softmax(a, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, b[..., None], axis=-1))

    f = jax.jit(jax.value_and_grad(loss))
    return lambda: jax.block_until_ready(f(jx, jt))


def jax_bce_fwd_bwd(x: np.ndarray, y: np.ndarray) -> Fn:
    jx, jy = jnp.asarray(x), jnp.asarray(y)

    def loss(a, b):
        return jnp.mean(jnp.maximum(a, 0) - a * b + jnp.log1p(jnp.exp(-jnp.abs(a))))

    f = jax.jit(jax.value_and_grad(loss))
    return lambda: jax.block_until_ready(f(jx, jy))


# ------------------------------------------------------------ workloads


def ce_workload(shape, rng, classes_last=True) -> dict[str, Fn]:
    x = rng.standard_normal(shape, dtype=np.float32)
    t = rng.integers(0, shape[-1], shape[:-1])
    flat_x, flat_t = x.reshape(-1, shape[-1]), t.reshape(-1)
    out = np.empty_like(x)
    fns: dict[str, Fn] = {
        "limit": lambda: np.copyto(out, x),
        "logitloss": lambda: ll.cross_entropy_value_and_grad(x, t, axis=-1),
        "numpy": lambda: np_ce_value_and_grad(flat_x, flat_t),
    }
    if torch is not None:
        fns["torch"] = torch_ce_fwd_bwd(x, t)
    if jax is not None:
        fns["jax.jit"] = jax_ce_fwd_bwd(flat_x, flat_t)
    return fns


def lse_workload(shape, rng) -> dict[str, Fn]:
    x = rng.standard_normal(shape, dtype=np.float32)
    fns: dict[str, Fn] = {
        "limit": lambda: x.sum(),
        "logitloss": lambda: ll.logsumexp(x, axis=1),
        "numpy": lambda: np_logsumexp(x),
    }
    if scipy_special is not None:
        fns["scipy"] = lambda: scipy_special.logsumexp(x, axis=1)
    if torch is not None:
        tx = torch.from_numpy(x)
        fns["torch"] = lambda: torch.logsumexp(tx, dim=1)
    if jax is not None:
        jx = jnp.asarray(x)
        f = jax.jit(lambda a: jax.scipy.special.logsumexp(a, axis=1))
        fns["jax.jit"] = lambda: jax.block_until_ready(f(jx))
    return fns


def bce_workload(n, rng) -> dict[str, Fn]:
    x = rng.standard_normal(n, dtype=np.float32)
    y = (rng.random(n) < 0.3).astype(np.float32)
    out = np.empty_like(x)
    fns: dict[str, Fn] = {
        "limit": lambda: np.copyto(out, x),
        "logitloss": lambda: ll.binary_cross_entropy_with_logits_value_and_grad(x, y),
        "numpy": lambda: np_bce_value_and_grad(x, y),
    }
    if torch is not None:
        fns["torch"] = torch_bce_fwd_bwd(x, y)
    if jax is not None:
        fns["jax.jit"] = jax_bce_fwd_bwd(x, y)
    return fns


def tiny_workload(rng) -> dict[str, Fn]:
    x = rng.standard_normal((2, 3), dtype=np.float32)
    t = np.array([0, 2])
    fns: dict[str, Fn] = {"logitloss": lambda: ll.cross_entropy(x, t)}
    if torch is not None:
        tx, tt = torch.from_numpy(x), torch.from_numpy(t)
        fns["torch"] = lambda: torch.nn.functional.cross_entropy(tx, tt)
    return fns


def workloads(quick: bool) -> list[tuple]:
    s = 16 if quick else 1
    return [
        ("CE fwd+bwd 4096x32000", lambda r: ce_workload((4096 // s, 32000 // s), r), "copyto"),
        ("logsumexp axis=1 4096x32000", lambda r: lse_workload((4096 // s, 32000 // s), r),
         "x.sum"),
        ("CE fwd+bwd 65536x10", lambda r: ce_workload((65536 // s, 10), r), "copyto"),
        ("CE fwd+bwd 256x1000", lambda r: ce_workload((256, 1000), r), "copyto"),
        ("CE fwd+bwd (8,512,8192) axis=-1",
         lambda r: ce_workload((8 // min(s, 8), 512, 8192 // s), r), "copyto"),
        ("BCE fwd+bwd 16.8M", lambda r: bce_workload((1 << 24) // s, r), "copyto"),
        ("CE fwd 2x3 (call latency)", tiny_workload, None),
    ]


# ------------------------------------------------------------ reporting


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = ll.build_info()
    versions = [f"logitloss {ll.__version__} ({info['simd']})", f"numpy {np.__version__}"]
    if torch is not None:
        versions.append(f"torch {torch.__version__}")
    if jax is not None:
        versions.append(f"jax {jax.__version__}")
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)


def run(quick: bool, repeat: int) -> dict[str, dict[str, dict[str, float]]]:
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, dict[str, float]]] = {}
    all_threads = ll.runtime._default_threads()
    for name, make, _ in workloads(quick):
        fns = make(rng)
        results[name] = {}
        for threads in sorted({1, all_threads}):
            set_threads(threads)
            results[name][str(threads)] = {k: median_ms(f, repeat) for k, f in fns.items()}
        del fns
    set_threads(all_threads)
    return results


def table(results, quick: bool) -> str:
    contenders = ["logitloss", "numpy", "scipy", "torch", "jax.jit"]
    lines = [
        f"Machine: {machine()}",
        "",
        "| workload | threads | limit | " + " | ".join(contenders)
        + " | logitloss / limit | speed-up vs torch | vs jax.jit |",
        "|---|---|---|" + "---|" * len(contenders) + "---|---|---|",
    ]
    limits = {name: lim for name, _, lim in workloads(quick)}
    for name, per_threads in results.items():
        for threads, times in per_threads.items():
            cells = [f"{times[c]:.3f} ms" if c in times else "–" for c in contenders]
            lim = f"{times['limit']:.2f} ms ({limits[name]})" if "limit" in times else "–"
            ratio = f"{times['logitloss'] / times['limit']:.2f}x" if "limit" in times else "–"
            vs_torch = f"{times['torch'] / times['logitloss']:.1f}x" if "torch" in times else "–"
            vs_jax = f"{times['jax.jit'] / times['logitloss']:.1f}x" if "jax.jit" in times else "–"
            lines.append(
                f"| {name} | {threads} | {lim} | " + " | ".join(cells)
                + f" | {ratio} | {vs_torch} | {vs_jax} |"
            )
    lines.append("")
    lines.append("jax.jit uses its own thread pool in every row (its thread count is not set).")
    return "\n".join(lines)


def chart(results, path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = list(results)
    contenders = ["logitloss", "numpy", "scipy", "torch", "jax.jit"]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.16
    for i, c in enumerate(contenders):
        speeds = []
        for n in names:
            times = results[n]["1"]
            speeds.append(times["logitloss"] / times[c] if c in times else 0.0)
        # jax.jit's thread pool is not ours to size: it uses every core.
        label = "jax.jit (all cores)" if c == "jax.jit" else c
        ax.bar(np.arange(len(names)) + (i - 2) * width, speeds, width, label=label)
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels([n.replace(" ", "\n", 2) for n in names], fontsize=8)
    ax.set_ylabel("speed relative to logitloss (higher is faster)")
    ax.set_title("1 thread, float32, median time; logitloss = 1")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes: a smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="calls per median")
    parser.add_argument("--out", default="docs/benchmark.png", help="chart path ('' for none)")
    parser.add_argument("--json", default="", help="also write raw numbers here")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)
    results = run(args.quick, repeat)
    print(table(results, args.quick))
    if args.out and not args.quick:
        written = chart(results, args.out)
        print(f"\nchart: {written}" if written else "\nchart: matplotlib not installed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
