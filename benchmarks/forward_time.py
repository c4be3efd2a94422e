"""CPU inference time of the shipped models, measured side by side in one run.

For each model: the network input (stretch, and for PSF-aware models the classical
deconvolution with the PSF image) plus the forward pass, on ``n`` simulated 64 x 64 stamps in
batches of 4 (``LearnedRestorer.predict_many``, no flux calibration), interleaved over
``repeats`` rounds so that machine drift hits every model alike; and Richardson-Lucy
(20 iterations) for scale. Prints stamps per second and ratios to the first model.

Run: ``python benchmarks/forward_time.py [--models default_x2 survey_x2] [-n 64] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from galgen.restoration.baselines import richardson_lucy
from galgen.restoration.registry import load_model
from galgen.simulate import DEFAULT_REGIME, PairDataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["default_x2", "survey_x2"])
    parser.add_argument("-n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = [PairDataset(args.n, 123, DEFAULT_REGIME).pair(i) for i in range(args.n)]
    obs = [p.observation.astype(np.float64) for p in pairs]
    noise = [p.noise_rms for p in pairs]
    fwhm = [p.psf_fwhm for p in pairs]
    psfs = [p.psf for p in pairs]
    models = {m: load_model(m, batch_size=4) for m in args.models}
    times: dict[str, list[float]] = {m: [] for m in [*models, "richardson_lucy_20"]}
    for m in models.values():  # warm-up
        m.predict_many(obs[:4], noise[:4], fwhm[:4], 0.2, psfs=psfs[:4])
    for _ in range(args.repeats):
        for name, m in models.items():
            t0 = time.perf_counter()
            m.predict_many(obs, noise, fwhm, 0.2, psfs=psfs)
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for o, p, s in zip(obs, psfs, noise, strict=True):
            richardson_lucy(o, p, 2, s, iterations=20)
        times["richardson_lucy_20"].append(time.perf_counter() - t0)
    machine = (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
               f"{args.threads} threads")
    print(f"\n{args.n} stamps of 64 x 64, batches of 4, best of {args.repeats} interleaved rounds, "
          f"{machine}\n")
    print("| method | stamps / s | time relative to the first model |")
    print("| --- | --- | --- |")
    first = min(times[args.models[0]])
    for name, t in times.items():
        print(f"| {name} | {args.n / min(t):.1f} | {min(t) / first:.2f} |")


if __name__ == "__main__":
    main()
