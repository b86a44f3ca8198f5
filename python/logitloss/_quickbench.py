"""The short timing table printed by ``python -m logitloss``.

Medians of repeated calls, all measured in this process; PyTorch and JAX
columns appear when they are importable. For the full, reproducible
comparison see benchmarks/ in the source tree.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

import logitloss as ll


def median_seconds(fn: Callable[[], object], repeat: int = 7) -> float:
    fn()  # warm-up (and JIT compilation for JAX)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _numpy_logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    lse: np.ndarray = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
    return lse


def _contenders(x: np.ndarray) -> dict[str, Callable[[], object]]:
    fns: dict[str, Callable[[], object]] = {
        "logitloss": lambda: ll.logsumexp(x, axis=1),
        "numpy": lambda: _numpy_logsumexp(x),
    }
    try:
        import torch

        t = torch.from_numpy(x)
        fns["torch"] = lambda: torch.logsumexp(t, dim=1)
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        jx = jnp.asarray(x)
        f = jax.jit(lambda a: jax.scipy.special.logsumexp(a, axis=1))
        fns["jax.jit"] = lambda: f(jx).block_until_ready()
    except ImportError:
        pass
    return fns


def _numpy_ce_value_and_grad(x: np.ndarray, t: np.ndarray) -> tuple[object, np.ndarray]:
    logp = x - _numpy_logsumexp(x)[:, None]
    rows = np.arange(len(t))
    grad = np.exp(logp)
    grad[rows, t] -= 1
    return -logp[rows, t].mean(), grad / len(t)


def _ce_contenders(x: np.ndarray, t: np.ndarray) -> dict[str, Callable[[], object]]:
    fns: dict[str, Callable[[], object]] = {
        "logitloss": lambda: ll.cross_entropy_value_and_grad(x, t),
        "numpy": lambda: _numpy_ce_value_and_grad(x, t),
    }
    try:
        import torch

        tt = torch.from_numpy(t)

        def torch_fwd_bwd() -> object:
            tx = torch.from_numpy(x).requires_grad_()
            torch.nn.functional.cross_entropy(tx, tt).backward()
            return tx.grad

        fns["torch"] = torch_fwd_bwd
    except ImportError:
        pass
    return fns


def _linear_contenders(n: int, d: int, v: int) -> dict[str, Callable[[], object]]:
    """One training step's loss and gradients of a linear output layer: the
    fused call, the unfused NumPy pipeline it replaces (and torch)."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal((v, d), dtype=np.float32) * np.float32(d**-0.5)
    t = rng.integers(0, v, n)

    def unfused() -> object:
        loss, g = ll.cross_entropy_value_and_grad(h @ w.T, t, axis=-1)
        return loss, g @ w, g.T @ h

    fns: dict[str, Callable[[], object]] = {
        "logitloss": lambda: ll.linear_cross_entropy_value_and_grad(h, w, t),
        "numpy": unfused,
    }
    try:
        import torch

        th, tw = torch.from_numpy(h).requires_grad_(), torch.from_numpy(w).requires_grad_()
        tt = torch.from_numpy(t)

        def torch_step() -> object:
            th.grad = tw.grad = None
            torch.nn.functional.cross_entropy(th @ tw.T, tt).backward()
            return tw.grad

        fns["torch"] = torch_step
    except ImportError:
        pass
    return fns


def _row(label: str, fns: dict[str, Callable[[], object]]) -> str:
    times = {name: median_seconds(fn) for name, fn in fns.items()}
    cells = "  ".join(f"{name} {1e3 * t:8.3f} ms" for name, t in times.items())
    return f"{label}:  {cells}"


def table(shapes: list[tuple[int, int]] | None = None) -> str:
    """Milliseconds per call on float32 inputs: logsumexp(axis=1) and
    cross-entropy loss + gradient against NumPy (and torch / JAX)."""
    shapes = shapes or [(256, 1000), (4096, 4096)]
    rng = np.random.default_rng(0)
    lines = []
    for shape in shapes:
        x = rng.standard_normal(shape, dtype=np.float32)
        t = rng.integers(0, shape[1], shape[0])
        lines.append(_row(f"logsumexp axis=1 {shape}", _contenders(x)))
        lines.append(_row(f"cross-entropy value+grad {shape}", _ce_contenders(x, t)))
    n, d, v = 1024, 128, 8192
    lines.append(_row(f"linear cross-entropy value+grads N={n} D={d} V={v}",
                      _linear_contenders(n, d, v)))
    return "\n".join(lines)
