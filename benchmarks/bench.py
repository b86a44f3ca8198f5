"""Reproducible speed comparison: logitloss against NumPy, SciPy, PyTorch (CPU)
and jax.jit, each when installed, on the workloads of the speed issue.

Every number is the median of repeated calls measured in this process, so
the ratios compare like with like. The limits (np.copyto, x.sum) show what
the memory bus allows on this machine.

    python benchmarks/bench.py                 # full table + docs/benchmark.png
    python benchmarks/bench.py --quick         # small shapes, a smoke run (CI)
    python benchmarks/bench.py --json out.json # raw numbers too
    python benchmarks/bench.py --simd all      # every SIMD level the CPU runs
    python benchmarks/bench.py --simd avx2     # one level (default: the best)

16-bit rows time float16 / bfloat16 (ml_dtypes) inputs; their 'limit' is
the same call on float32, so 'logitloss / limit' is the 16-bit time over
the float32 time.
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
from logitloss import _core

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


def small_workload(func: str, shape, rng) -> dict[str, Fn]:
    """softmax, log_softmax or logsumexp over the last axis of a small
    array: per-call and per-row costs, against NumPy/SciPy and PyTorch."""
    x = rng.standard_normal(shape, dtype=np.float32)
    ours = getattr(ll, func)
    fns: dict[str, Fn] = {
        "limit": lambda: x.sum(),
        "logitloss": lambda: ours(x, axis=1),
    }
    if func == "logsumexp":
        fns["numpy"] = lambda: np_logsumexp(x)
    if scipy_special is not None:
        ref = getattr(scipy_special, func)
        fns["scipy"] = lambda: ref(x, axis=1)
    if torch is not None:
        tx = torch.from_numpy(x)
        tf = getattr(torch, func)
        fns["torch"] = lambda: tf(tx, 1)
    if jax is not None:
        jx = jnp.asarray(x)
        jf = jax.nn.logsumexp if func == "logsumexp" else getattr(jax.nn, func)
        f = jax.jit(lambda a: jf(a, axis=1))
        fns["jax.jit"] = lambda: jax.block_until_ready(f(jx))
    return fns


def dtype16(name: str):
    if name == "float16":
        return np.float16
    try:
        import ml_dtypes
    except ImportError:
        return None
    return ml_dtypes.bfloat16


def half_workload(func: str, dtype_name: str, shape, rng) -> dict[str, Fn]:
    """A 16-bit input against the same call on float32 (the 'limit')."""
    dtype = dtype16(dtype_name)
    if dtype is None:
        return {}
    x32 = rng.standard_normal(shape, dtype=np.float32)
    x16 = x32.astype(dtype)
    t = rng.integers(0, shape[-1], shape[0])
    calls: dict[str, Callable[[np.ndarray], object]] = {
        "ce": lambda x: ll.cross_entropy_value_and_grad(x, t),
        "logsumexp": lambda x: ll.logsumexp(x, axis=1),
        "softmax": lambda x: ll.softmax(x, axis=1),
    }
    call = calls[func]
    return {"limit": lambda: call(x32), "logitloss": lambda: call(x16)}


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
        ("softmax 256x1000", lambda r: small_workload("softmax", (256, 1000), r), "x.sum"),
        ("log_softmax 256x1000", lambda r: small_workload("log_softmax", (256, 1000), r),
         "x.sum"),
        ("logsumexp 256x1000", lambda r: small_workload("logsumexp", (256, 1000), r), "x.sum"),
        ("logsumexp 65536x10", lambda r: small_workload("logsumexp", (65536 // s, 10), r),
         "x.sum"),
        *[(f"{dt} {label} 2048x32000", half_maker(func, dt, (2048 // s, 32000 // s)), "float32")
          for dt in ("float16", "bfloat16")
          for func, label in (("ce", "CE fwd+bwd"), ("logsumexp", "logsumexp"),
                              ("softmax", "softmax"))],
        ("CE fwd 2x3 (call latency)", tiny_workload, None),
    ]


def half_maker(func: str, dtype_name: str, shape):
    return lambda r: half_workload(func, dtype_name, shape, r)


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


def simd_levels(choice: str) -> list[str]:
    """The levels to run: '' (the one in use), 'all', or a comma list."""
    supported = list(_core.simd_levels_supported())
    if not choice:
        return [_core.simd_level()]
    levels = supported if choice == "all" else choice.split(",")
    for level in levels:
        if level not in supported:
            raise SystemExit(f"--simd: {level!r} is not supported here (supported: {supported})")
    return levels


def run(quick: bool, repeat: int, levels: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    all_threads = ll.runtime._default_threads()
    before = _core.simd_level()
    for level in levels:
        _core.set_simd_level(level)
        rng = np.random.default_rng(0)
        for name, make, _ in workloads(quick):
            fns = make(rng)
            if not fns:
                continue  # an optional dtype (bfloat16) missing
            key = name if len(levels) == 1 else f"{name} [{level}]"
            results[key] = {}
            for threads in sorted({1, all_threads}):
                set_threads(threads)
                results[key][str(threads)] = {k: median_ms(f, repeat) for k, f in fns.items()}
            del fns
    _core.set_simd_level(before)
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
            limit_name = limits[name.split(" [")[0]]
            lim = f"{times['limit']:.2f} ms ({limit_name})" if "limit" in times else "–"
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
    contenders = ["logitloss", "numpy", "scipy", "torch", "jax.jit"]
    # float32 rows with other contenders (not the 16-bit rows, timed alone).
    names = [n for n in results if any(c in results[n]["1"] for c in contenders[1:])]
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
    parser.add_argument("--simd", default="",
                        help="SIMD level(s): 'all', or e.g. 'avx2' or 'avx2,avx512' "
                             "(default: the level in use)")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)
    results = run(args.quick, repeat, simd_levels(args.simd))
    print(table(results, args.quick))
    if args.out and not args.quick:
        written = chart(results, args.out)
        print(f"\nchart: {written}" if written else "\nchart: matplotlib not installed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
