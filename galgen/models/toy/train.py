"""Readable training loops for flows, VAEs and GANs on 2D toy densities, resumable.

Each loop draws batch ``k`` from ``numpy.random.default_rng([seed, k])``, so a
run resumed from a checkpoint sees exactly the data it would have seen.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from galgen.models.checkpoint import load_checkpoint, save_checkpoint
from galgen.models.flows.base import Flow
from galgen.models.gan.objectives import (
    clip_weights,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from galgen.models.toy.densities import ToyDensity
from galgen.models.vae.vae import VAE

__all__ = ["ToyTrainConfig", "train_flow", "train_flow_matching", "train_vae", "train_gan", "held_out_nll",
           "held_out_samples"]

log = logging.getLogger(__name__)


@dataclass
class ToyTrainConfig:
    """Settings of a toy training run.

    Attributes
    ----------
    steps : int
        Optimiser steps (generator steps for GANs).
    batch : int
        Samples per step.
    lr : float
        Adam learning rate (cosine-annealed to 0 for flows and VAEs).
    seed : int
        Data seed.
    checkpoint : str or None
        Checkpoint file: resumed from when it exists, written every ``checkpoint_every`` steps.
    checkpoint_every : int
    progress : bool
        Show a progress bar.
    seconds : float
        When > 0, a wall-clock budget: training stops at the first step past it, and the
        cosine learning-rate schedule runs over the budget instead of over ``steps`` (for
        comparisons at equal time; ``steps`` is then only an upper bound).
    """

    steps: int = 2000
    batch: int = 512
    lr: float = 1e-3
    seed: int = 0
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int = 500
    progress: bool = True
    seconds: float = 0.0


def _batch(density: ToyDensity, cfg: ToyTrainConfig, step: int, dtype=torch.float32) -> torch.Tensor:  # noqa: ANN001
    rng = np.random.default_rng([cfg.seed, step])
    return torch.as_tensor(density.sample(cfg.batch, rng), dtype=dtype)


def held_out_samples(density: ToyDensity, n: int = 10_000, seed: int = 10**6) -> torch.Tensor:
    """Held-out samples (a seed never used for training batches)."""
    return torch.as_tensor(density.sample(n, np.random.default_rng([seed, 999_999])),
                           dtype=torch.float32)


def _loop(cfg: ToyTrainConfig, modules: dict, optimizers: dict, step_fn, schedulers=None) -> list:  # noqa: ANN001
    start, history = 0, []
    # schedulers checkpoint like optimisers (both have state_dict / load_state_dict)
    stateful = dict(optimizers, **{f"sched{i}": s for i, s in enumerate(schedulers or [])})
    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        start, extra = load_checkpoint(cfg.checkpoint, modules, stateful)
        history = list(extra.get("history", []))
        log.info("resumed from %s at step %d", cfg.checkpoint, start)
    bar = tqdm(range(start, cfg.steps), desc="train", disable=not cfg.progress, initial=start,
               total=cfg.steps)
    t0 = time.perf_counter()
    base = [[g["lr"] for g in o.param_groups] for o in optimizers.values()] if cfg.seconds > 0 else []
    for step in bar:
        if cfg.seconds > 0:  # cosine over the time budget
            frac = min(1.0, (time.perf_counter() - t0) / cfg.seconds)
            for o, lrs in zip(optimizers.values(), base, strict=True):
                for g, lr in zip(o.param_groups, lrs, strict=True):
                    g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * frac))
        loss = step_fn(step)
        if cfg.seconds <= 0:
            for s in schedulers or []:
                s.step()
        history.append(float(loss))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss:.3f}")
        over = cfg.seconds > 0 and time.perf_counter() - t0 >= cfg.seconds
        if cfg.checkpoint and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps or over):
            save_checkpoint(cfg.checkpoint, step + 1, modules, stateful, {"history": history})
        if over:
            break
    return history


def _maximise(model: torch.nn.Module, name: str, score, density: ToyDensity,  # noqa: ANN001
              cfg: ToyTrainConfig, clip: float | None) -> list[float]:
    """Adam with a cosine schedule on ``-mean score(x)``; returns the loss history."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    model.train()

    def step_fn(step: int) -> float:
        loss = -score(_batch(density, cfg, step)).mean()
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss.item()

    return _loop(cfg, {name: model}, {"opt": opt}, step_fn, [sched])


def train_flow(flow: Flow, density: ToyDensity, cfg: ToyTrainConfig) -> list[float]:
    """Maximum likelihood: minimise ``-mean log p(x)``. Returns the loss history (nats)."""
    return _maximise(flow, "flow", flow.log_prob, density, cfg, clip=10.0)


def train_flow_matching(flow: Flow, density: ToyDensity, cfg: ToyTrainConfig,
                        coupling: str = "independent", time_power: float = 1.0) -> list[float]:
    """Flow matching for a continuous-time flow (``flow.transform`` an
    :class:`~galgen.models.flows.ODEFlowTransform`): Adam with a cosine schedule on
    :meth:`~galgen.models.flows.ODEFlowTransform.flow_matching_loss`, no ODE solves. Returns
    the loss history."""
    transform = flow.transform
    opt = torch.optim.Adam(flow.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    flow.train()

    def step_fn(step: int) -> float:
        seed = int(np.random.SeedSequence([cfg.seed, step, 1]).generate_state(1)[0])
        noise = torch.Generator().manual_seed(seed)  # the step's noise and times: resumable
        loss = transform.flow_matching_loss(_batch(density, cfg, step), generator=noise, coupling=coupling,
                                            time_power=time_power)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return _loop(cfg, {"flow": flow}, {"opt": opt}, step_fn, [sched])


def train_vae(vae: VAE, density: ToyDensity, cfg: ToyTrainConfig) -> list[float]:
    """Maximise the ELBO; returns the history of ``-ELBO`` (nats)."""
    return _maximise(vae, "vae", vae.elbo, density, cfg, clip=None)


def train_gan(generator: torch.nn.Module, discriminator: torch.nn.Module, density: ToyDensity,
              cfg: ToyTrainConfig, loss: str = "nonsaturating", n_critic: int | None = None,
              gp_weight: float = 0.1, clip: float = 0.01) -> list[float]:
    """Alternate discriminator and generator steps; returns the discriminator-loss history.

    ``n_critic`` discriminator steps per generator step (default 5 for WGANs, 1
    otherwise); ``wgan-gp`` adds ``gp_weight`` times the gradient penalty,
    ``wgan`` clips the critic's weights to ``[-clip, clip]``.
    """
    wasserstein = loss in ("wgan", "wgan-gp")
    n_critic = n_critic or (5 if wasserstein else 1)
    betas = (0.5, 0.9) if wasserstein else (0.5, 0.999)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr, betas=betas)
    gen = torch.Generator().manual_seed(cfg.seed)

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, generator.latent, generator=gen)

    def step_fn(step: int) -> float:
        for k in range(n_critic):
            real = _batch(density, cfg, step * n_critic + k)
            fake = generator(noise(cfg.batch)).detach()
            d_loss = discriminator_loss(discriminator(real), discriminator(fake), loss)
            if loss == "wgan-gp":
                d_loss = d_loss + gp_weight * gradient_penalty(discriminator, real, fake, gen)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            if loss == "wgan":
                clip_weights(discriminator, clip)
        fake = generator(noise(cfg.batch))
        real_out = discriminator(real).detach() if loss == "relativistic" else None
        g_loss = generator_loss(discriminator(fake), loss, real_out)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item()

    return _loop(cfg, {"generator": generator, "discriminator": discriminator},
                 {"opt_g": opt_g, "opt_d": opt_d}, step_fn)


@torch.no_grad()
def held_out_nll(model: Flow | VAE, density: ToyDensity, n: int = 10_000, iwae_k: int = 0) -> float:
    """Held-out NLL in nats: ``-mean log p`` for flows, ``-mean ELBO`` (or IWAE_k) for VAEs."""
    x = held_out_samples(density, n)
    model.eval()
    if isinstance(model, VAE):
        values = [(model.iwae(c, iwae_k) if iwae_k else model.elbo(c)) for c in x.split(2000)]
    else:
        values = [model.log_prob(c) for c in x.split(2000)]
    return float(-torch.cat(values).mean())
