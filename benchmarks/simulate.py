"""Simulation throughput: pairs per second per core, beside a training step on the same batch.

Run: ``python benchmarks/simulate.py [--n 64] [--batch 32]``. Prints what it measured
and on which machine; paste the result into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from galgen.simulate import PairDataset


def machine() -> str:
    return f"{platform.node()} {platform.processor() or platform.machine()}, " \
           f"{os.cpu_count()} cores, torch {torch.__version__}"


def simulate_rate(n: int) -> float:
    ds = PairDataset(n, seed=999)
    t0 = time.perf_counter()
    for i in range(n):
        ds[i]
    return n / (time.perf_counter() - t0)


def training_step_rate(batch: int, steps: int = 5) -> float | None:
    """Pairs per second consumed by the restoration network's training step, if it exists."""
    try:
        from galgen.train.benchmark import time_training_step
    except ImportError:
        return None
    return time_training_step(batch, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64, help="pairs to simulate")
    parser.add_argument("--batch", type=int, default=32, help="training batch size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = simulate_rate(args.n)
    print(f"machine: {machine()}")
    print(f"simulation (1 process, 1 thread): {rate:.1f} pairs/s per core "
          f"({1000 / rate:.1f} ms per 64x64 -> 128x128 pair)")
    step = training_step_rate(args.batch)
    if step is None:
        print("training step: no restoration network installed yet")
    else:
        print(f"training step (batch {args.batch}, all threads): {step:.1f} pairs/s")
        print(f"ratio simulation/training per core: {rate / step:.2f} "
              f"(>= 1/ncores means DataLoader workers on every core keep up)")


if __name__ == "__main__":
    main()
