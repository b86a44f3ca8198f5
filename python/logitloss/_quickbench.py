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


def table(shapes: list[tuple[int, int]] | None = None) -> str:
    """Milliseconds per logsumexp(axis=1) call on float32 inputs."""
    shapes = shapes or [(256, 1000), (4096, 4096)]
    rng = np.random.default_rng(0)
    lines = []
    for shape in shapes:
        x = rng.standard_normal(shape, dtype=np.float32)
        times = {name: median_seconds(fn) for name, fn in _contenders(x).items()}
        cells = "  ".join(f"{name} {1e3 * t:8.3f} ms" for name, t in times.items())
        lines.append(f"logsumexp axis=1 float32 {shape}:  {cells}")
    return "\n".join(lines)
