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


def training_step_rate(batch: int, steps: int = 5, threads: int = 1) -> float:
    """Pairs per second consumed by one training step of the default model's config
    (content + data-consistency losses, Adam), on random crops of real simulated pairs."""
    from galgen.restoration.networks import RestorerConfig, build_generator
    from galgen.restoration.physics import data_consistency_kernel_fwhm, moffat_kernels
    from galgen.simulate import Regime
    from galgen.train.data import PairBank
    from galgen.train.restoration import _losses, load_config

    torch.set_num_threads(threads)
    cfg = load_config("configs/default_x2.toml", batch=batch)
    regime = Regime(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.regime.items()})
    arch = RestorerConfig(**cfg.architecture)
    gen = build_generator(arch)
    opt = torch.optim.Adam(gen.parameters(), lr=cfg.lr)
    bank = PairBank(64, seed=4242, regime=regime, progress=False)

    def kernels(fwhm: torch.Tensor) -> torch.Tensor:
        k = data_consistency_kernel_fwhm(fwhm, regime.target_psf_fwhm) / regime.out_pixel_scale
        return moffat_kernels(k.float(), cfg.dc_kernel, regime.moffat_beta)

    import numpy as np

    times = []
    for step in range(steps + 1):
        b = bank.batch(np.random.default_rng(step), cfg.batch, cfg.patch)
        t0 = time.perf_counter()
        _, _, _, content, chi2 = _losses(gen, b, cfg, arch, regime, kernels, torch.device("cpu"))
        loss = content + cfg.dc_weight * chi2
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:  # the first step warms up
            times.append(time.perf_counter() - t0)
    return batch / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64, help="pairs to simulate")
    parser.add_argument("--batch", type=int, default=16, help="training batch size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = simulate_rate(args.n)
    print(f"machine: {machine()}")
    print(f"simulation (1 process, 1 thread): {rate:.1f} pairs/s per core "
          f"({1000 / rate:.1f} ms per 64x64 -> 128x128 pair)")
    step = training_step_rate(args.batch)
    print(f"training step of configs/default_x2.toml (batch {args.batch} crops, 1 thread): "
          f"{step:.1f} pairs/s")
    print(f"ratio simulation / training step, one core each: {rate / step:.1f} "
          "(> 1: on-the-fly simulation keeps a training step fed; a crop is drawn per pair here, "
          "while the trainer draws many crops per cached pair)")


if __name__ == "__main__":
    main()
