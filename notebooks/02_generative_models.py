# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 02 - Generative models on 2D densities
#
# The chessboard density with a coupling flow and a continuous-time flow (Euler vs RK4),
# a VAE's ELBO, and GAN objectives on 8 Gaussians. `GALGEN_FAST=1` (the test suite) trains
# for a few hundred steps only; unset it for results worth looking at.

# %%
import math
import os

import torch

from galgen.models.toy.run import run_toy_flow, run_toy_gan, run_toy_vae

FAST = os.environ.get("GALGEN_FAST", "0") == "1"
OUT = os.environ.get("GALGEN_OUT", ".")
torch.set_num_threads(2)

# %%
coupling = run_toy_flow("chessboard", "coupling", steps=100 if FAST else 3000, outdir=OUT, progress=False)
print(f"coupling flow: NLL {coupling['nll']:.3f} nats, limit ln 32 = {math.log(32):.3f}")

# %% [markdown]
# The continuous flow integrates $\dot z = f(z, t)$. It is trained by flow matching: the
# network regresses the velocity of straight paths from data to noise, with no ODE solved in
# training; sampling and the exact log-density then use the solvers. The solver comparison
# figure shows Euler and RK4 at equal numbers of function evaluations.

# %%
ode = run_toy_flow("chessboard", "ode", "rk4", steps=10 if FAST else 12000, outdir=OUT, progress=False,
                   flow_kwargs={"hidden": (32, 32)} if FAST else None)
for row in ode["solver_comparison"]:
    print(row)

# %%
vae = run_toy_vae("chessboard", steps=100 if FAST else 3000, outdir=OUT, progress=False)
print(f"VAE: -ELBO {vae['neg_elbo']:.3f}, -IWAE(64) {vae['neg_iwae64']:.3f} nats (IWAE is tighter)")

# %%
for loss in ("nonsaturating", "wgan-gp"):
    gan = run_toy_gan("8gaussians", loss, steps=50 if FAST else 3000, outdir=OUT, progress=False)
    print(loss, {k: gan[k] for k in ("high_quality", "modes_covered")})
