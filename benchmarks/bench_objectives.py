"""Time logitloss's native boosting objectives against scikit-learn's Cython
losses (``sklearn._loss``) and the NumPy objectives users typically write.

Run:  python benchmarks/bench_objectives.py [--repeat 31] [--threads 1] [--quick]

Every contender of a case runs in the same process on the same arrays,
interleaved (one call of each per round), and the table shows medians, so
the ratios hold on a shared, noisy machine. Columns:

  logitloss   the objective (``objectives.softmax`` / ``logistic`` / focal)
  softmax     ``logitloss.softmax(margins, axis=1)`` on the same array: the
              floor the objective is held to (goal: objective <= 1.3x)
  sklearn     ``HalfMultinomialLoss`` / ``HalfBinomialLoss``
              ``.gradient_hessian(..., n_threads=1)`` with preallocated outputs
              (its fastest form; goal: >= 5x slower than logitloss)
  numpy       the vectorised NumPy objective of XGBoost's and LightGBM's demos

Labels are float32, as XGBoost and LightGBM hand them out (scikit-learn
gets them in the margins' dtype, which it requires).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any, Callable

import numpy as np

import logitloss
import logitloss.objectives as objectives


def numpy_softprob(margins: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> Any:
    """XGBoost's multi:softprob, as typically written in NumPy."""
    e = np.exp(margins - margins.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    grad = p.copy()
    grad[np.arange(len(labels)), labels.astype(np.int64)] -= 1.0
    hess = np.maximum(2.0 * p * (1.0 - p) * weight[:, None], 1e-16)
    return grad * weight[:, None], hess


def numpy_logistic(margins: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> Any:
    p = 1.0 / (1.0 + np.exp(-margins))
    return (p - labels) * weight, np.maximum(p * (1.0 - p), 1e-16) * weight


def interleaved_medians(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each function, one call of each per round."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def sklearn_losses() -> tuple[Any, Any] | None:
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
    except ImportError:
        return None
    return HalfMultinomialLoss, HalfBinomialLoss


def softmax_case(n: int, k: int, dtype: Any, rng: np.random.Generator) -> dict[str, Any]:
    x = (rng.standard_normal((n, k)) * 2).astype(dtype)
    y = rng.integers(0, k, n).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n).astype(dtype)
    fns: dict[str, Callable[[], object]] = {
        "logitloss": lambda: objectives.softmax(x, y, w),
        "softmax": lambda: logitloss.softmax(x, axis=1),
        "numpy": lambda: numpy_softprob(x, y, w),
    }
    losses = sklearn_losses()
    if losses is not None:
        loss = losses[0](n_classes=k)
        ys, g, h = y.astype(dtype), np.empty_like(x), np.empty_like(x)
        fns["sklearn"] = lambda: loss.gradient_hessian(ys, x, w, g, h, n_threads=1)
    fns["focal"] = lambda: objectives.softmax_focal(x, y, w)
    return {"name": "softmax", "shape": f"{n}x{k}", "dtype": x.dtype.name, "fns": fns}


def logistic_case(n: int, dtype: Any, rng: np.random.Generator) -> dict[str, Any]:
    x = (rng.standard_normal(n) * 3).astype(dtype)
    y = rng.integers(0, 2, n).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n).astype(dtype)
    fns: dict[str, Callable[[], object]] = {
        "logitloss": lambda: objectives.logistic(x, y, w),
        "numpy": lambda: numpy_logistic(x, y, w),
    }
    losses = sklearn_losses()
    if losses is not None:
        loss = losses[1]()
        ys, g, h = y.astype(dtype), np.empty_like(x), np.empty_like(x)
        fns["sklearn"] = lambda: loss.gradient_hessian(ys, x, w, g, h, n_threads=1)
    fns["focal"] = lambda: objectives.focal(x, y, w)
    return {"name": "logistic", "shape": str(n), "dtype": x.dtype.name, "fns": fns}


def cpu_name() -> str:
    """The CPU model (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--threads", type=int, default=1,
                        help="logitloss threads (default 1: scikit-learn and NumPy use one)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    logitloss.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    scale = 100 if args.quick else 1
    cases = []
    for dtype in (np.float64, np.float32):
        cases.append(softmax_case(100_000 // scale, 10, dtype, rng))
        cases.append(softmax_case(20_000 // scale, 100, dtype, rng))
        cases.append(logistic_case(1_000_000 // scale, dtype, rng))

    info = logitloss.build_info()
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"{cpu_name()} ({os.cpu_count()} cores{load}), logitloss {logitloss.__version__}, "
          f"simd {info['simd']}, threads {logitloss.get_num_threads()}, numpy {np.__version__}, "
          f"median of {args.repeat} interleaved")
    print(f"{'objective':<9} {'dtype':<8} {'shape':<10} {'logitloss':>9} {'softmax':>8} "
          f"{'sklearn':>8} {'numpy':>8} {'focal':>8} {'/softmax':>9} {'sklearn/':>9}")
    for case in cases:
        t = interleaved_medians(case["fns"], args.repeat)
        ms = {name: f"{v * 1e3:8.2f}" for name, v in t.items()}
        vs_softmax = f"{t['logitloss'] / t['softmax']:8.2f}x" if "softmax" in t else "        -"
        vs_sklearn = f"{t['sklearn'] / t['logitloss']:8.1f}x" if "sklearn" in t else "        -"
        print(f"{case['name']:<9} {case['dtype']:<8} {case['shape']:<10} {ms['logitloss']:>9} "
              f"{ms.get('softmax', '       -'):>8} {ms.get('sklearn', '       -'):>8} "
              f"{ms['numpy']:>8} {ms['focal']:>8} {vs_softmax:>9} {vs_sklearn:>9}")
    print("times in ms; /softmax = logitloss / logitloss.softmax (goal <= 1.3x), "
          "sklearn/ = sklearn / logitloss (goal >= 5x)")


if __name__ == "__main__":
    main()
