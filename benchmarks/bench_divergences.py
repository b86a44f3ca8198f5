"""softmax_kl_div and generalized_jsd: speed of value and gradient against
PyTorch's composition (forward + backward) and jax.jit, and accuracy on close
rows against mpmath.

Speed: every contender is called once per round, the rounds interleave the
contenders (so a change in the machine's load hits them alike), and each
figure is the median over the rounds, measured in this process. PyTorch and
logitloss run on 1 and 2 threads; jax.jit sizes its own thread pool (every
core) in every row.

    python benchmarks/bench_divergences.py             # 4096 x 32000 float32
    python benchmarks/bench_divergences.py --quick     # 256 x 2000: a smoke run
    python benchmarks/bench_divergences.py --accuracy  # errors against mpmath
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Callable

import numpy as np

import logitloss as ll

Fn = Callable[[], object]

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - torch is optional here
    torch = None  # type: ignore[assignment]
try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - jax is optional here
    jax = None  # type: ignore[assignment]

TEMPERATURE = 2.0
BETA = 0.5


# ------------------------------------------------------------- contenders


def torch_kl(s: np.ndarray, t: np.ndarray) -> Fn:
    tt = torch.from_numpy(t)

    def run() -> object:
        x = torch.from_numpy(s).requires_grad_()
        loss = F.kl_div(F.log_softmax(x / TEMPERATURE, -1), F.softmax(tt / TEMPERATURE, -1),
                        reduction="batchmean")
        loss.backward()
        return loss.item(), x.grad

    return run


def torch_jsd(s: np.ndarray, t: np.ndarray) -> Fn:
    """Liger-Kernel's LigerJSD written out in torch (as tests/test_divergences.py)."""
    tt = torch.from_numpy(t)

    def run() -> object:
        x = torch.from_numpy(s).requires_grad_()
        log_q = F.log_softmax(x / TEMPERATURE, -1)
        log_p = F.log_softmax(tt / TEMPERATURE, -1)
        p, q = log_p.exp(), log_q.exp()
        m = BETA * p + (1 - BETA) * q
        log_m = m.log()
        loss = (BETA * p * (log_p - log_m) + (1 - BETA) * q * (log_q - log_m)).sum() / len(s)
        loss.backward()
        return loss.item(), x.grad

    return run


def jax_fn(loss: Callable[..., object], s: np.ndarray, t: np.ndarray) -> Fn:
    f = jax.jit(jax.value_and_grad(loss))
    js, jt = jnp.asarray(s), jnp.asarray(t)
    return lambda: jax.block_until_ready(f(js, jt))


def jax_kl_loss(s: object, t: object) -> object:
    log_q = jax.nn.log_softmax(s / TEMPERATURE, -1)
    log_p = jax.nn.log_softmax(t / TEMPERATURE, -1)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q)) / s.shape[0]


def jax_jsd_loss(s: object, t: object) -> object:
    log_q = jax.nn.log_softmax(s / TEMPERATURE, -1)
    log_p = jax.nn.log_softmax(t / TEMPERATURE, -1)
    p, q = jnp.exp(log_p), jnp.exp(log_q)
    m = BETA * p + (1 - BETA) * q
    log_m = jnp.log(m)
    return jnp.sum(BETA * p * (log_p - log_m) + (1 - BETA) * q * (log_q - log_m)) / s.shape[0]


def contenders(name: str, s: np.ndarray, t: np.ndarray) -> dict[str, Fn]:
    g = np.empty_like(s)
    fns: dict[str, Fn] = {
        # One sweep's memory traffic: read both arrays, write one.
        "limit (s + t)": lambda: np.add(s, t, out=g),
    }
    if name == "softmax_kl_div":
        fns["logitloss"] = lambda: ll.softmax_kl_div_value_and_grad(s, t, temperature=TEMPERATURE)
    else:
        fns["logitloss"] = lambda: ll.generalized_jsd_value_and_grad(
            s, t, beta=BETA, temperature=TEMPERATURE)
    if torch is not None:
        fns["torch"] = (torch_kl if name == "softmax_kl_div" else torch_jsd)(s, t)
    if jax is not None:
        fns["jax.jit"] = jax_fn(jax_kl_loss if name == "softmax_kl_div" else jax_jsd_loss, s, t)
    return fns


def interleaved_medians(fns: dict[str, Fn], rounds: int) -> dict[str, float]:
    for f in fns.values():  # warm-up: JIT compilation, page faults
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def speed(rows: int, classes: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    s = (rng.standard_normal((rows, classes)) * 2).astype(np.float32)
    t = (s + 0.5 * rng.standard_normal((rows, classes))).astype(np.float32)
    print(f"SIMD {ll.build_info()['simd']}; float32 {rows} x {classes}; T = {TEMPERATURE}, "
          f"beta = {BETA}; medians of {rounds} interleaved rounds; jax.jit on all cores")
    print("| function | threads | limit (s + t) | logitloss | torch | jax.jit "
          "| vs torch | vs jax.jit | logitloss / limit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("softmax_kl_div", "generalized_jsd"):
        fns = contenders(name, s, t)
        for threads in (1, 2):
            ll.set_num_threads(threads)
            if torch is not None:
                torch.set_num_threads(threads)
            m = interleaved_medians(fns, rounds)
            cell = {k: f"{1e3 * m[k]:.1f} ms" if k in m else "–"
                    for k in ("limit (s + t)", "logitloss", "torch", "jax.jit")}
            ratio = {k: f"{m[k] / m['logitloss']:.1f}x" if k in m else "–"
                     for k in ("torch", "jax.jit")}
            print(f"| {name} | {threads} | {cell['limit (s + t)']} | {cell['logitloss']} | "
                  f"{cell['torch']} | {cell['jax.jit']} | {ratio['torch']} | "
                  f"{ratio['jax.jit']} | {m['logitloss'] / m['limit (s + t)']:.1f}x |", flush=True)
        del fns
        gc.collect()


# ------------------------------------------------------------- accuracy


def accuracy(rows: int, classes: int) -> None:
    """Relative errors against 50-digit mpmath on float32 rows whose
    student differs from the teacher by ~1e-4 (KL ~ 1e-9)."""
    import mpmath

    mpmath.mp.dps = 50
    rng = np.random.default_rng(1)
    t = (rng.standard_normal((rows, classes)) * 2).astype(np.float32)
    s = (t + 1e-4 * rng.standard_normal((rows, classes))).astype(np.float32)

    def exact(beta: float | None) -> np.ndarray:
        out = []
        for sr, tr in zip(s.astype(np.float64), t.astype(np.float64)):
            a = [mpmath.mpf(float(v)) for v in sr]
            b = [mpmath.mpf(float(v)) for v in tr]
            la = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in a))
            lb = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in b))
            lq, lp = [v - la for v in a], [v - lb for v in b]
            p, q = [mpmath.exp(v) for v in lp], [mpmath.exp(v) for v in lq]
            if beta is None:
                out.append(float(mpmath.fsum(pc * (x - y) for pc, x, y in zip(p, lp, lq))))
                continue
            b = mpmath.mpf(beta)  # 1 - beta exactly, not rounded to a float
            m = [b * pc + (1 - b) * qc for pc, qc in zip(p, q)]
            out.append(float(mpmath.fsum(
                b * pc * (x - mpmath.log(mc)) + (1 - b) * qc * (y - mpmath.log(mc))
                for pc, qc, x, y, mc in zip(p, q, lp, lq, m))))
        return np.array(out)

    print(f"float32, {rows} rows x {classes} classes, student = teacher + 1e-4 noise; "
          "max |relative error| against mpmath (50 digits)")
    print("| function | exact value (median) | logitloss | PyTorch float32 composition |")
    print("|---|---|---|---|")
    want = exact(None)
    ours = ll.softmax_kl_div(s, t, reduction="none")
    line = f"| softmax_kl_div | {np.median(want):.3g} | {np.abs(ours / want - 1).max():.2g} |"
    if torch is not None:
        theirs = F.kl_div(torch.log_softmax(torch.from_numpy(s), -1),
                          torch.softmax(torch.from_numpy(t), -1),
                          reduction="none").sum(-1).numpy()
        line += f" {np.abs(theirs / want - 1).max():.2g} (min value {theirs.min():.2g}) |"
    print(line)
    want = exact(BETA)
    ours = ll.generalized_jsd(s, t, beta=BETA, reduction="none")
    line = f"| generalized_jsd (beta {BETA}) | {np.median(want):.3g} | " \
           f"{np.abs(ours / want - 1).max():.2g} |"
    if torch is not None:
        lq = torch.log_softmax(torch.from_numpy(s), -1)
        lp = torch.log_softmax(torch.from_numpy(t), -1)
        m = BETA * lp.exp() + (1 - BETA) * lq.exp()
        theirs = (BETA * lp.exp() * (lp - m.log()) + (1 - BETA) * lq.exp() * (lq - m.log())
                  ).sum(-1).numpy()
        line += f" {np.abs(theirs / want - 1).max():.2g} (min value {theirs.min():.2g}) |"
    print(line)


def accuracy_sweep() -> None:
    """Worst errors against mpmath over close and distant rows (1e-6 .. 3
    apart), T = 1 and 2, several beta, both kernel paths and every SIMD
    level: float32 in ulps, float64 relative (tests/test_divergence_accuracy.py
    asserts the bounds)."""
    import sys

    sys.path.insert(0, "tests")
    from logitloss import _core
    from test_divergence_accuracy import close_rows, exact_rows, ulps  # type: ignore[import-not-found]

    rng = np.random.default_rng(11)
    worst: dict[tuple[str, str], float] = {}
    before = _core.simd_level()
    for level in _core.simd_levels_supported():
        _core.set_simd_level(level)
        for dtype in (np.float32, np.float64):
            for delta in (1e-6, 1e-4, 1e-2, 1.0, 3.0):
                for temperature in (1.0, 2.0):
                    for beta in (None, 0.05, 0.5, 0.95, 1.0):
                        for classes in (7, 100):
                            x, y = close_rows(rng, 4, classes, delta, dtype)
                            want, _ = exact_rows(x, y, beta, temperature)
                            if beta is None:
                                got = ll.softmax_kl_div(x, y, temperature=temperature,
                                                        reduction="none")
                            else:
                                got = ll.generalized_jsd(x, y, beta=beta,
                                                         temperature=temperature,
                                                         reduction="none")
                            err = (ulps(got, want, dtype).max() if dtype == np.float32
                                   else float(np.abs(got / want - 1).max()))
                            key = (np.dtype(dtype).name, "softmax_kl_div" if beta is None
                                   else f"generalized_jsd beta={beta}")
                            worst[key] = max(worst.get(key, 0.0), float(err))
    _core.set_simd_level(before)
    print("\nworst error over rows 1e-6 .. 3 apart, T = 1, 2, 7 and 100 classes, every SIMD "
          "level (float32: ulps; float64: relative)")
    for (dtype_name, name), err in sorted(worst.items()):
        print(f"  {dtype_name:8s} {name:32s} {err:.4g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 x 2000: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--accuracy", action="store_true", help="errors on close rows")
    args = parser.parse_args()
    if args.accuracy:
        accuracy(16, 1000)
        accuracy_sweep()
        return
    rows, classes = (256, 2000) if args.quick else (4096, 32000)
    speed(rows, classes, args.rounds or (3 if args.quick else 5))


if __name__ == "__main__":
    main()
