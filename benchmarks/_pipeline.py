"""Shared by the batch benchmarks: a timed pipeline run, and a Dask cluster warmed up for steady state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from galgen.batch import BatchItem, BatchOptions, local_cluster, run_batch


def pipeline_rate(items: list[BatchItem], options: BatchOptions, outdir: Path, **run_options) -> float:
    """Stamps/s of ``run_batch`` over ``items`` into ``outdir`` (every item must succeed)."""
    t0 = time.perf_counter()
    table = run_batch(items, options, outdir, progress=False, **run_options)
    rate = len(items) / (time.perf_counter() - t0)
    assert np.all(table["status"] == "ok")
    return rate


@contextmanager
def warm_local_cluster(workers: int, items: list[BatchItem], options: BatchOptions,
                       tmp: Path) -> Iterator[tuple[str, float, float]]:
    """``(scheduler address, start-up seconds, warm-up seconds)`` of a ``local_cluster`` whose
    workers have each restored a stamp (imports, CUDA, model loaded); closed on exit."""
    t0 = time.perf_counter()
    cluster = local_cluster(workers)
    startup = time.perf_counter() - t0
    try:
        address = cluster.scheduler_address
        t0 = time.perf_counter()
        run_batch(items[:2 * workers], options, tmp / "warm_dask", dask_scheduler=address, chunk_size=1,
                  progress=False)
        yield address, startup, time.perf_counter() - t0
    finally:
        cluster.close()
