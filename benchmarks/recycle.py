"""Fresh vs recycled large outputs (README: "Large outputs are recycled").

Each workload runs alternately with output recycling off (NumPy allocates,
the kernel faults in and zeroes fresh pages) and on, in one process, 1 thread;
prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import logitloss as ll
from logitloss import _outputs


def workloads(scale: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096 // scale, 32000), dtype=np.float32)
    t = rng.integers(0, 32000, x.shape[0])
    xc = rng.standard_normal((8, 512 // scale, 8192), dtype=np.float32)
    tc = rng.integers(0, 8192, xc.shape[:2])
    n = (1 << 24) // scale
    xb = rng.standard_normal(n, dtype=np.float32)
    yb = (rng.random(n) < 0.5).astype(np.float32)
    return {
        f"CE value_and_grad {x.shape}": lambda: ll.cross_entropy_value_and_grad(x, t),
        f"CE value_and_grad {xc.shape}, axis=-1": lambda: ll.cross_entropy_value_and_grad(
            xc, tc, axis=-1
        ),
        f"BCE value_and_grad {n}": lambda: ll.binary_cross_entropy_with_logits_value_and_grad(
            xb, yb
        ),
        f"softmax {x.shape}": lambda: ll.softmax(x, axis=1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1/8 of the sizes, 3 repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    ll.set_num_threads(1)
    for name, fn in workloads(8 if args.quick else 1).items():
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeat):
            for recycling in (False, True):
                _outputs._RECYCLING = recycling
                fn()  # the other mode's output is freed before timing
                t0 = time.perf_counter()
                fn()
                times[recycling].append(time.perf_counter() - t0)
        fresh, recycled = (float(np.median(times[k])) * 1e3 for k in (False, True))
        ratio = fresh / recycled
        print(f"{name:45s} fresh {fresh:8.1f} ms  recycled {recycled:8.1f} ms  ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
