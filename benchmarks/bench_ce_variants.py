"""Speed of poly1_cross_entropy and softmax_focal_loss (value and gradient)
against cross_entropy_value_and_grad on the same array, and against their
PyTorch compositions (when torch is installed).

The goal (issue 16): one fused pass, at cross-entropy's cost. Calls are
interleaved (one of each per round) and each figure is the median of the
rounds, so the ratios compare like with like on a shared machine.

    python benchmarks/bench_ce_variants.py            # 4096x32000 and 65536x10
    python benchmarks/bench_ce_variants.py --quick    # small shapes (smoke run)
    python benchmarks/bench_ce_variants.py --baseline-core OLD/_core...so
        # also times the cross-entropy kernel of another build of logitloss._core
        # in this process (the before/after check of a kernel change)
"""

from __future__ import annotations

import argparse
import functools
import importlib.machinery
import importlib.util
import time
from typing import Any, Callable

import numpy as np

import logitloss as ll
from logitloss import _core

Fn = Callable[[], object]


def interleaved_times(fns: dict[str, Fn], rounds: int) -> dict[str, np.ndarray]:
    """Seconds of each call, each function called once per round in turn."""
    for fn in fns.values():
        fn()  # warm-up: page faults of the outputs
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: np.array(t) for name, t in times.items()}


def load_core(path: str) -> Any:
    """Another build's extension module, loaded under another package name
    (its init function is PyInit__core, found from the name's last part)."""
    loader = importlib.machinery.ExtensionFileLoader("logitloss_baseline._core", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def kernel_call(core: Any, x: np.ndarray, t: np.ndarray) -> Fn:
    """The cross-entropy kernel of `core` for value and gradient ('sum'),
    without the Python layer."""
    rows, classes = x.shape
    x3 = x.reshape(rows, classes, 1)
    loss, grad = np.empty(rows), np.empty_like(x)
    g3 = grad.reshape(rows, classes, 1)
    return lambda: core.cross_entropy(x3, t, None, None, -100, True, 0.0, 0.0, 0.0, loss, None,
                                      g3, None, 1.0, False)


def torch_calls(x: np.ndarray, t: np.ndarray, epsilon: float, gamma: float) -> dict[str, Fn]:
    try:
        import torch
    except ImportError:
        return {}
    F = torch.nn.functional
    tt = torch.from_numpy(t)

    def poly1() -> object:
        tx = torch.from_numpy(x).requires_grad_()
        logp = F.log_softmax(tx, dim=-1)
        p_t = logp.gather(1, tt[:, None])[:, 0].exp()
        (F.nll_loss(logp, tt, reduction="none") + epsilon * (1 - p_t)).mean().backward()
        return tx.grad

    def focal() -> object:
        tx = torch.from_numpy(x).requires_grad_()
        logp_t = F.log_softmax(tx, dim=-1).gather(1, tt[:, None])[:, 0]
        (-((1 - logp_t.exp()) ** gamma) * logp_t).mean().backward()
        return tx.grad

    return {"torch poly-1": poly1, "torch focal": focal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, few rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--baseline-core", default=None,
                        help="path of another build's _core extension to time alongside")
    parser.add_argument("--threads", type=int, default=None, help="kernel threads")
    args = parser.parse_args()
    if args.threads:
        ll.set_num_threads(args.threads)
    shapes = [(256, 4000), (4096, 10)] if args.quick else [(4096, 32000), (65536, 10)]
    rounds = args.rounds or (3 if args.quick else 21)
    baseline = load_core(args.baseline_core) if args.baseline_core else None
    if baseline is not None:
        baseline.set_num_threads(ll.get_num_threads())
    print(f"logitloss {ll.__version__}, SIMD {_core.simd_level()}, "
          f"{ll.get_num_threads()} threads; {rounds} interleaved rounds: median and minimum, "
          "and the median of the per-round ratios to cross_entropy_value_and_grad")
    rng = np.random.default_rng(0)
    for rows, classes in shapes:
        x = rng.standard_normal((rows, classes), dtype=np.float32) * 3
        t = rng.integers(0, classes, rows)
        q = ll.softmax(rng.standard_normal((rows, classes), dtype=np.float32), axis=1)
        fns: dict[str, Fn] = {
            "cross_entropy_value_and_grad":
                functools.partial(ll.cross_entropy_value_and_grad, x, t),
            "poly1_cross_entropy_value_and_grad":
                functools.partial(ll.poly1_cross_entropy_value_and_grad, x, t),
            "softmax_focal_loss_value_and_grad":
                functools.partial(ll.softmax_focal_loss_value_and_grad, x, t),
            "softmax_focal_loss_value_and_grad gamma=1.5":
                functools.partial(ll.softmax_focal_loss_value_and_grad, x, t, gamma=1.5),
            "cross_entropy_value_and_grad, probabilities":
                functools.partial(ll.cross_entropy_value_and_grad, x, q),
            "poly1_cross_entropy_value_and_grad, probabilities":
                functools.partial(ll.poly1_cross_entropy_value_and_grad, x, q),
        }
        if baseline is not None:
            fns["kernel: this build"] = kernel_call(_core, x, t)
            fns["kernel: baseline build"] = kernel_call(baseline, x, t)
        fns.update(torch_calls(x, t, 2.0, 2.0))
        times = interleaved_times(fns, rounds)
        ref = times["cross_entropy_value_and_grad"]
        print(f"\n{rows} x {classes} float32, 'mean' (index targets unless said):")
        print(f"  {'':<46} {'median':>10} {'min':>10}   ratio to cross_entropy")
        for name, t in times.items():
            print(f"  {name:<46} {1e3 * np.median(t):7.3f} ms {1e3 * t.min():7.3f} ms"
                  f"   {np.median(t / ref):5.2f}")
        if baseline is not None:
            new, old = times["kernel: this build"], times["kernel: baseline build"]
            print(f"  kernel, this build / baseline build: median of per-round ratios "
                  f"{np.median(new / old):.3f}, of minima {new.min() / old.min():.3f}")


if __name__ == "__main__":
    main()
