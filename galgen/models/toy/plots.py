"""Figures of toy-density models: samples, density heat-maps, ODE trajectories, solver comparison."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import torch

from galgen.models.toy.densities import ToyDensity
from galgen.plotting import new_figure, save_figure

__all__ = ["model_panel", "solver_comparison_figure"]

_LIM = 4.5


def _save(fig, path: str | os.PathLike) -> Path:  # noqa: ANN001
    return save_figure(fig, path, dpi=100)


def _scatter(ax, pts: np.ndarray, title: str) -> None:  # noqa: ANN001
    ax.hist2d(pts[:, 0], pts[:, 1], bins=150, range=[[-_LIM, _LIM], [-_LIM, _LIM]], cmap="magma")
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


@torch.no_grad()
def _log_density_grid(model, n: int = 120) -> np.ndarray:  # noqa: ANN001
    g = torch.linspace(-_LIM, _LIM, n)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)
    if hasattr(model, "log_prob"):
        lp = torch.cat([model.log_prob(c) for c in pts.split(4000)])
    else:  # VAE: the ELBO, a lower bound of log p
        lp = torch.cat([model.iwae(c, 16) for c in pts.split(4000)])
    return lp.view(n, n).numpy()


def model_panel(density: ToyDensity, samples: np.ndarray, path: str | os.PathLike, *,
                model=None, title: str = "", trajectories: list[np.ndarray] | None = None,  # noqa: ANN001
                times: list[float] | None = None) -> Path:
    """Data | model samples | model density (| particle trajectories for an ODE flow)."""
    data = density.sample(20_000, np.random.default_rng(1))
    n = 2 + (model is not None) + (trajectories is not None)
    fig, axes = new_figure(1, n, figsize=(3.2 * n, 3.4))
    _scatter(axes[0], data, f"data: {density.name}")
    _scatter(axes[1], samples, "model samples")
    k = 2
    if model is not None:
        lp = _log_density_grid(model)
        axes[k].imshow(np.exp(lp), origin="lower", extent=(-_LIM, _LIM, -_LIM, _LIM), cmap="magma")
        axes[k].set_title("model density", fontsize=10)
        axes[k].set_xticks([])
        axes[k].set_yticks([])
        k += 1
    if trajectories is not None:
        ax = axes[k]
        paths = np.stack(trajectories)  # (T, N, 2), from latent (t=1) back to data (t=0)
        for i in range(min(paths.shape[1], 300)):
            ax.plot(paths[:, i, 0], paths[:, i, 1], color="0.6", lw=0.4, alpha=0.6)
        cmap = matplotlib.colormaps["viridis"]
        for j, t in enumerate(times or range(len(paths))):
            ax.scatter(paths[j, :300, 0], paths[j, :300, 1], s=3, color=cmap(j / max(1, len(paths) - 1)),
                       label=f"t={t:.2f}")
        ax.legend(fontsize=7, markerscale=3, loc="upper right")
        ax.set_xlim(-_LIM, _LIM)
        ax.set_ylim(-_LIM, _LIM)
        ax.set_aspect("equal")
        ax.set_title("ODE trajectories (t=1 -> 0)", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def solver_comparison_figure(results: list[dict], samples: dict[str, np.ndarray],
                             path: str | os.PathLike) -> Path:
    """Samples drawn with each solver at equal function evaluations, and NLL vs NFE.

    ``results`` rows: ``solver``, ``nfe`` (per sample, per integration), ``nll``.
    """
    n = len(samples) + 1
    fig, axes = new_figure(1, n, figsize=(3.2 * n, 3.4))
    for ax, (name, pts) in zip(axes, samples.items(), strict=False):
        _scatter(ax, pts, name)
    ax = axes[-1]
    for solver in sorted({r["solver"] for r in results}):
        rows = sorted((r for r in results if r["solver"] == solver), key=lambda r: r["nfe"])
        ax.plot([r["nfe"] for r in rows], [r["nll"] for r in rows], "o-", label=solver)
    ax.set_xscale("log")
    ax.set_xlabel("function evaluations per integration")
    ax.set_ylabel("test NLL (nats)")
    ax.legend(fontsize=8)
    ax.set_title("Euler vs RK4 at equal NFE", fontsize=10)
    return _save(fig, path)
