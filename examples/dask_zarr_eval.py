"""Evaluate mean cross-entropy and accuracy of logits stored in Zarr, out of core.
===============================================================================

Writes a synthetic (N, C) float32 logits array and its labels to a Zarr store
in a temporary directory, chunked along the rows (several chunks), then
evaluates them lazily with logitloss.dask: the mean cross-entropy combines the
chunks' loss sums and target counts exactly, so it equals the in-memory value
(checked at the end on the same data, which this example is small enough to
load). Pass --cluster to run on a dask.distributed LocalCluster.

:Run:  python examples/dask_zarr_eval.py [--rows 400000] [--classes 50] [--cluster]
:Needs: pip install "logitloss[dask]"  (dask[array], distributed, zarr)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time

import dask
import dask.array as da
import dask.base
import numpy as np
import zarr

import logitloss
import logitloss.dask as lld


def write_synthetic(path: str, rows: int, classes: int, chunk_rows: int) -> None:
    """Logits that favour the true class by a margin, written chunk by chunk."""
    rs = da.random.RandomState(0)
    labels = rs.randint(0, classes, size=rows, chunks=chunk_rows)
    noise = rs.standard_normal((rows, classes), chunks=(chunk_rows, classes))
    logits = (noise * 1.5 + 4.0 * (da.arange(classes) == labels[:, None])).astype(np.float32)
    # Some rows are unlabelled (PyTorch's ignore_index): excluded from the mean.
    labels = da.where(rs.random_sample(rows, chunks=chunk_rows) < 0.05, -100, labels)
    da.to_zarr(logits, os.path.join(path, "logits.zarr"))
    da.to_zarr(labels.astype(np.int64), os.path.join(path, "labels.zarr"))


def evaluate(path: str) -> tuple[float, float, da.Array]:
    logits = da.from_zarr(os.path.join(path, "logits.zarr"))
    labels = da.from_zarr(os.path.join(path, "labels.zarr"))
    loss = lld.cross_entropy(logits, labels)  # lazy 'mean' over labelled rows
    labelled = labels != -100
    correct = (logits.argmax(axis=1) == labels) & labelled
    accuracy = correct.sum() / labelled.sum()
    loss_value, accuracy_value = dask.base.compute(loss, accuracy)
    return float(loss_value), float(accuracy_value), logits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--cluster", action="store_true", help="use a distributed LocalCluster")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.cluster:
            from distributed import Client, LocalCluster

            cluster = stack.enter_context(LocalCluster(n_workers=1, threads_per_worker=2,
                                                       processes=False, dashboard_address=None))
            stack.enter_context(Client(cluster))
        write_synthetic(tmp, args.rows, args.classes, args.chunk_rows)
        stored = zarr.open_array(os.path.join(tmp, "logits.zarr"), mode="r")
        print(f"zarr logits {stored.shape} {stored.dtype}, chunks {stored.chunks} "
              f"({stored.nbytes / 2**20:.0f} MiB, {args.rows // args.chunk_rows} row chunks)")

        t0 = time.perf_counter()
        loss, accuracy, logits = evaluate(tmp)
        elapsed = time.perf_counter() - t0
        print(f"logitloss.dask: mean cross-entropy {loss:.9g}, accuracy {accuracy:.4%} "
              f"({elapsed:.2f} s, {logits.numblocks[0]} chunks)")

        # The same numbers in memory, to show the chunked mean is exact.
        x = stored[:]
        y = zarr.open_array(os.path.join(tmp, "labels.zarr"), mode="r")[:]
        in_memory = float(logitloss.cross_entropy(x, y))
        print(f"in memory:      mean cross-entropy {in_memory:.9g}")
        assert abs(loss - in_memory) <= 4 * np.finfo(np.float32).eps * in_memory, (loss, in_memory)
        print("OK: chunked mean equals the in-memory mean to float32 rounding")


if __name__ == "__main__":
    main()
