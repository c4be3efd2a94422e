"""A convolutional VAE and a multi-scale flow on 32x32 simulated galaxy stamps.

Stamps: truths of the default regime's galaxies drawn at 0.2 arcsec/pixel (32x32) with a
0.3" Gaussian PSF, scaled to unit peak, asinh-stretched ``y = asinh(x / 0.05)``, plus
Gaussian noise of 0.02 in the stretched units (so that the density is continuous and
well defined: noise-free sky pixels would make it degenerate). Reports
held-out bits/dim of each model in that stretched space (a continuous density, so
bits/dim can be negative; lower is better) and writes a PNG of data and samples.

Run: ``python benchmarks/galaxy_stamps.py [--steps 1500] [--out benchmarks/results]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import galsim
import numpy as np
import torch

from galgen.models.flows import image_flow
from galgen.models.vae import conv_vae
from galgen.simulate import random_galaxy

SOFT = 0.05
NOISE = 0.02


def stamps(n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = np.empty((n, 1, 32, 32), np.float32)
    psf = galsim.Gaussian(fwhm=0.3)
    for i in range(n):
        gal, _ = random_galaxy(rng)
        img = galsim.Convolve(gal, psf).drawImage(nx=32, ny=32, scale=0.2).array
        out[i, 0] = np.arcsinh(img / img.max() / SOFT) + NOISE * rng.normal(size=(32, 32))
    return torch.from_numpy(out)


def bits_per_dim(nll_nats: float, dims: int) -> float:
    return nll_nats / (dims * math.log(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train, test = stamps(args.train, 1), stamps(args.test, 2)
    sim_s = time.perf_counter() - t0
    dims = 32 * 32
    results = {"machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
                          f"torch {torch.__version__}, {args.threads} thread(s)",
               "train_stamps": args.train, "test_stamps": args.test, "simulation_s": sim_s}
    models = {"vae": conv_vae(channels=1, size=32, latent=32, width=32, learn_variance=True,
                              fixed_std=0.1),
              "flow": image_flow((1, 32, 32), scales=3, depth=4, hidden=64)}
    samples = {}
    for name, model in models.items():
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        model.train()
        for _ in range(args.steps):
            idx = torch.randint(0, len(train), (64,), generator=g)
            x = train[idx]
            loss = -(model.elbo(x) if name == "vae" else model.log_prob(x)).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 50.0)
            opt.step()
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            if name == "vae":
                nll = float(-torch.cat([model.iwae(c, 32) for c in test.split(64)]).mean())
                samples[name] = model.sample(8, generator=torch.Generator().manual_seed(1)).numpy()
            else:
                nll = float(-torch.cat([model.log_prob(c) for c in test.split(64)]).mean())
                samples[name] = model.sample(8, generator=torch.Generator().manual_seed(1)).view(
                    8, 1, 32, 32).numpy()
        results[name] = {"steps": args.steps, "train_s": seconds, "test_nll_nats": nll,
                         "bits_per_dim": bits_per_dim(nll, dims),
                         "bound": "IWAE k=32" if name == "vae" else "exact"}
        print(f"{name}: held-out {bits_per_dim(nll, dims):.3f} bits/dim "
              f"({results[name]['bound']}), {args.steps} steps, {seconds:.0f} s", flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 8, figsize=(12, 4.8))
    rows = {"data": test[:8].numpy(), "VAE samples": samples["vae"], "flow samples": samples["flow"]}
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(8):
            axes[r, c].imshow(imgs[c, 0], origin="lower", cmap="magma", vmin=-0.5, vmax=3.7)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label)
    fig.suptitle(f"32x32 galaxy stamps (asinh stretch): VAE {results['vae']['bits_per_dim']:.2f}, "
                 f"flow {results['flow']['bits_per_dim']:.2f} bits/dim")
    fig.savefig(out / "galaxy_stamps.png", dpi=90, bbox_inches="tight")
    (out / "galaxy_stamps.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
