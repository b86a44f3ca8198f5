"""Time logitloss's native boosting objectives against the NumPy
implementations users typically write as custom objectives.

Run:  python benchmarks/bench_objectives.py [--repeat 15] [--threads 1]

Each row times the same (margins, labels, weights) in the same process and
reports the median of `--repeat` runs; the NumPy versions are the vectorised
ones of XGBoost's custom-objective demo and LightGBM's examples (a row-wise
softmax with the max subtracted, one-hot, then the Hessian convention).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import logitloss
import logitloss.objectives as objectives


def numpy_softprob(margins, labels, weight):
    """XGBoost's multi:softprob, as typically written in NumPy."""
    e = np.exp(margins - margins.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    grad = p.copy()
    grad[np.arange(len(labels)), labels.astype(np.int64)] -= 1.0
    hess = np.maximum(2.0 * p * (1.0 - p) * weight[:, None], 1e-16)
    return grad * weight[:, None], hess


def numpy_lightgbm_multiclass(margins, labels, weight):
    k = margins.shape[1]
    e = np.exp(margins - margins.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    grad = p.copy()
    grad[np.arange(len(labels)), labels.astype(np.int64)] -= 1.0
    return grad * weight[:, None], k / (k - 1.0) * p * (1.0 - p) * weight[:, None]


def numpy_logistic(margins, labels, weight):
    p = 1.0 / (1.0 + np.exp(-margins))
    return (p - labels) * weight, np.maximum(p * (1.0 - p), 1e-16) * weight


def median_seconds(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None,
                        help="logitloss threads (default: all cores; NumPy uses one)")
    args = parser.parse_args()
    if args.threads is not None:
        logitloss.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cases = []
    for dtype in (np.float32, np.float64):
        for n, k in ((100_000, 10), (20_000, 100)):
            x = (rng.standard_normal((n, k)) * 2).astype(dtype)
            y = rng.integers(0, k, n).astype(np.float32)
            w = rng.uniform(0.5, 1.5, n).astype(dtype)
            cases.append(("softmax xgboost", x, y, w, numpy_softprob,
                          lambda x=x, y=y, w=w: objectives.softmax(x, y, w)))
            cases.append(("softmax lightgbm", x, y, w, numpy_lightgbm_multiclass,
                          lambda x=x, y=y, w=w: objectives.softmax(x, y, w, hessian="lightgbm")))
        n = 1_000_000
        x = (rng.standard_normal(n) * 3).astype(dtype)
        y = rng.integers(0, 2, n).astype(dtype)
        w = rng.uniform(0.5, 1.5, n).astype(dtype)
        cases.append(("logistic", x, y, w, numpy_logistic,
                      lambda x=x, y=y, w=w: objectives.logistic(x, y, w)))

    print(f"logitloss {logitloss.__version__}, simd {logitloss.build_info()['simd']}, "
          f"threads {logitloss.get_num_threads()}, numpy {np.__version__}, "
          f"median of {args.repeat}")
    print(f"{'objective':<17} {'dtype':<8} {'shape':<14} {'numpy ms':>9} {'logitloss ms':>13} "
          f"{'speed-up':>9}")
    for name, x, y, w, numpy_fn, native_fn in cases:
        t_np = median_seconds(lambda f=numpy_fn, a=x, b=y, c=w: f(a, b, c), args.repeat)
        t_ll = median_seconds(native_fn, args.repeat)
        shape = "x".join(map(str, x.shape))
        print(f"{name:<17} {x.dtype.name:<8} {shape:<14} {t_np * 1e3:9.2f} {t_ll * 1e3:13.2f} "
              f"{t_np / t_ll:8.1f}x")


if __name__ == "__main__":
    main()
