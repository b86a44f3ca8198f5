"""Whether this build's cross-entropy kernel gives another build's bits.

Loads the other build's extension (e.g. main's, saved before a kernel change)
beside this one and runs both kernels on the same inputs: every dtype, class
layout (contiguous, strided, Fortran, short rows), target kind, weights,
smoothing, softcap, z_loss and NLL, value and value-and-gradient, at every SIMD
level. Prints the configurations whose outputs differ in any bit.

    python benchmarks/compare_ce_builds.py OTHER/_core.cpython-311-x86_64-linux-gnu.so
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from bench_ce_variants import load_core

from logitloss import _core

DTYPES = [np.float32, np.float64, np.float16]
try:
    import ml_dtypes

    DTYPES.append(ml_dtypes.bfloat16)
except ImportError:
    pass
# (outer, classes, inner), Fortran order of the 2-D view
SHAPES = [((200, 10, 1), False), ((50, 300, 1), False), ((20, 7, 9), False),
          ((30, 40, 1), True), ((9, 33, 5), False),
          ((3, 32767, 1), False)]  # just below the blocked sums (Note [Blocked row sums])


def outputs(core, x, target, prob, weight, smoothing, softcap, z_loss, nll) -> tuple:
    rows = x.shape[0] * x.shape[2]
    loss, target_weight, value = np.empty(rows), np.empty(rows), np.empty(rows)
    grad = np.empty_like(x)
    args = (target, prob, weight, -100, True, smoothing, softcap, z_loss)
    bad = core.cross_entropy(x, *args, loss, target_weight, grad, None, 0.5, nll)
    bad_value = core.cross_entropy(x, *args, value, None, None, None, 1.0, nll)
    weights = target_weight.tobytes() if target is not None else b""
    return bad, bad_value, loss.tobytes(), weights, grad.tobytes(), value.tobytes()


def main() -> None:
    other = load_core(sys.argv[1])
    rng = np.random.default_rng(0)
    checked = differ = 0
    for level in _core.simd_levels_supported():
        if not (_core.set_simd_level(level) and other.set_simd_level(level)):
            raise SystemExit(f"SIMD level {level} is not available in both builds")
        for dtype, (shape, fortran), kind, weighted, smoothing, softcap, z_loss, nll in (
                itertools.product(DTYPES, SHAPES, ["index", "prob"], [False, True], [0.0, 0.1],
                                  [0.0, 5.0], [0.0, 1e-3], [False, True])):
            if nll and (kind == "prob" or smoothing or softcap or z_loss):
                continue
            x = (rng.standard_normal(shape) * 4).astype(dtype)
            if fortran:
                x = np.asfortranarray(x[:, :, 0])[:, :, None]
            x[0, 0, 0] = np.inf  # a special row
            x.reshape(-1)[7] = -np.inf
            outer, classes, inner = shape
            target = rng.integers(0, classes, outer * inner)
            target[::5] = -100
            prob = rng.dirichlet(np.ones(classes), (outer, inner)).transpose(0, 2, 1).astype(dtype)
            weight = rng.uniform(0.3, 2, classes) if weighted else None
            args = (target if kind == "index" else None, prob if kind == "prob" else None,
                    weight, smoothing, softcap, z_loss, nll)
            checked += 1
            if outputs(_core, x, *args) != outputs(other, x, *args):
                differ += 1
                print("differs:", level, np.dtype(dtype).name, shape, "fortran" * fortran, kind,
                      f"weighted={weighted} smoothing={smoothing} softcap={softcap} "
                      f"z_loss={z_loss} nll={nll}")
    print(f"{differ} of {checked} configurations differ (value and value_and_grad each), "
          f"SIMD levels {_core.simd_levels_supported()}")


if __name__ == "__main__":
    main()
