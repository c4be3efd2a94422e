# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 05 - Train your own: another instrument
#
# Simulate pairs for a different pixel scale and PSF (here 0.263"/px, as DECam, with
# 0.9-1.5" seeing), fine-tune the default model on them, and compare on held-out pairs.
# `GALGEN_FAST=1` runs a handful of steps: real fine-tuning wants thousands.

# %%
import os
from pathlib import Path

import numpy as np

from galgen.evaluation import restore_pair
from galgen.metrics import psnr
from galgen.restoration.model import LearnedRestorer
from galgen.restoration.registry import shipped_models
from galgen.simulate import PairDataset, Regime
from galgen.train.restoration import TrainConfig, export, train

FAST = os.environ.get("GALGEN_FAST", "0") == "1"
OUT = Path(os.environ.get("GALGEN_OUT", "my_instrument"))
regime = Regime(in_pixel_scale=0.263, psf_fwhm_range=(0.9, 1.5), snr_range=(20.0, 200.0))
base = shipped_models().get("default_x2")
cfg = TrainConfig(name="decam_x2", out_dir=str(OUT / "run"), train_pairs=16 if FAST else 2000,
                  val_pairs=4 if FAST else 48, steps=4 if FAST else 3000, batch=4 if FAST else 16,
                  patch=32, regime=regime.to_dict(), lr=1e-4,
                  architecture={k: v for k, v in LearnedRestorer(base).config.to_dict().items()
                                if k != "scale"} if base else {"channels": 16, "blocks": 2})

# %% [markdown]
# Start from the shipped weights: write them as the run's first checkpoint, then train.

# %%
if base is not None:
    import torch

    from galgen.models.checkpoint import save_checkpoint

    gen = LearnedRestorer(base).generator
    (OUT / "run").mkdir(parents=True, exist_ok=True)
    if not (OUT / "run" / "checkpoint.pt").exists():
        opt = torch.optim.Adam(gen.parameters(), lr=cfg.lr)
        save_checkpoint(OUT / "run" / "checkpoint.pt", 0, {"generator": gen}, {"opt": opt})
train(cfg, progress=False)
export(cfg, OUT / "decam_x2")

# %%
model = LearnedRestorer(OUT / "decam_x2")
pairs = [PairDataset(8, seed=777, regime=regime).pair(i) for i in range(8)]
scores = [psnr(restore_pair(model, p).data, p.target) for p in pairs]  # the engine galgen.restore uses
print(f"held-out median PSNR after fine-tuning: {np.median(scores):.2f} dB")
