"""``galgen toy``: train a flow, VAE or GAN on a 2D density, report its score, draw it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from galgen.models.flows.factories import make_flow
from galgen.models.gan.networks import MLPDiscriminator, MLPGenerator
from galgen.models.serialization import save_module
from galgen.models.toy.densities import eight_gaussians_coverage, get_density
from galgen.models.toy.plots import model_panel, solver_comparison_figure
from galgen.models.toy.train import (
    ToyTrainConfig,
    held_out_nll,
    held_out_samples,
    train_flow,
    train_flow_matching,
    train_gan,
    train_vae,
)
from galgen.models.vae.vae import mlp_vae

__all__ = ["run_toy_flow", "run_toy_vae", "run_toy_gan", "compare_solvers", "DEFAULT_STEPS"]

log = logging.getLogger(__name__)

#: training steps that give a fair result in a few CPU minutes (``ode``: flow matching;
#: ``ode-likelihood``: maximum likelihood through the solver)
DEFAULT_STEPS = {"coupling": 3000, "spline": 3000, "ode": 30000, "ode-likelihood": 1500, "vae": 3000,
                 "gan": 3000}
#: the continuous flow trained by flow matching: a wider smooth MLP with time features (the best of
#: the configurations in docs/benchmarks.md, ~5 CPU minutes at the default length)
FLOW_MATCHING_ODE = {"hidden": (256, 256, 256), "activation": "silu", "time_features": 4,
                     "fourier_features": 64, "fourier_scale": 1.0}
#: flow-matching times ``U(0, 1) ** 2``: more of them near the data, where the chessboard's field is sharp
FLOW_MATCHING_TIME_POWER = 2.0


def _draw(model, n: int = 20_000, seed: int = 0) -> np.ndarray:  # noqa: ANN001
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return torch.cat([model.sample(5000, generator=g) for _ in range(n // 5000)]).numpy()


def compare_solvers(flow, density, budgets=(8, 16, 32, 64), n: int = 2000) -> tuple[list, dict]:  # noqa: ANN001
    """Test NLL of a trained ODE flow integrated by Euler and by RK4 at equal function evaluations.

    Euler spends one evaluation per step and RK4 four, so at a budget of ``N``
    evaluations Euler takes ``N`` steps and RK4 ``N/4``.
    """
    t = flow.transform
    saved = (t.solver, t.steps)
    x = held_out_samples(density, n)
    rows, samples = [], {}
    for solver, per_step in (("euler", 1), ("rk4", 4)):
        for nfe in budgets:
            t.solver, t.steps = solver, max(1, nfe // per_step)
            with torch.no_grad():
                nll = float(-flow.log_prob(x).mean())
            rows.append({"solver": solver, "nfe": nfe, "nll": nll})
            if nfe == 16:
                samples[f"{solver}, {nfe} NFE"] = _draw(flow, 10_000, seed=1)
    t.solver, t.steps = saved
    return rows, samples


def _seeded(function):  # noqa: ANN001, ANN202
    """Run a toy experiment inside ``torch.random.fork_rng``: it seeds torch's global RNG (module
    initialisation draws from it) without changing the caller's."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with torch.random.fork_rng(devices=[]):
            return function(*args, **kwargs)

    return wrapper


@_seeded
def run_toy_flow(density_name: str = "chessboard", flow: str = "spline", solver: str = "rk4",
                 steps: int | None = None, outdir: str | Path = ".", seed: int = 0,
                 progress: bool = True, ode_steps: int | None = None, batch: int | None = None,
                 lr: float | None = None, flow_kwargs: dict | None = None,
                 checkpoint: str | Path | None = None, objective: str = "flow-matching",
                 coupling: str = "independent") -> dict:
    """Train a flow on a toy density; write its panel (and for ODE flows the solver figure).

    ``batch`` and ``lr`` override the defaults (512 and 1e-3; for ODE flows 512 and 2e-3
    with flow matching, 256 and 2e-3 with likelihood), ``flow_kwargs`` go to the flow's
    factory (e.g. ``bins``, ``layers``, ``hidden`` of :func:`~galgen.models.flows.spline_flow`),
    and ``checkpoint`` makes the run resumable. ODE flows train by ``objective``:
    ``"flow-matching"`` (:func:`~galgen.models.toy.train.train_flow_matching`, with
    ``coupling`` ``"independent"`` or ``"ot"``) or ``"likelihood"`` (through the solver).
    ``ode_steps`` (fixed-step solvers) defaults to 16 with flow matching (the reported NLL is
    then converged to ~0.005 nats: its field is sharp) and 8 with likelihood training (every
    training step integrates it).

    Returns
    -------
    dict
        ``nll`` (held-out, nats), ``entropy`` (analytic limit when known),
        ``seconds``, ``nfe`` (ODE function evaluations per sample and direction),
        and the paths written.
    """
    density = get_density(density_name)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # inside _seeded: the caller's RNG state is restored after
    if objective not in ("flow-matching", "likelihood"):
        from galgen.errors import GalgenValueError

        msg = f"objective must be 'flow-matching' or 'likelihood', got {objective!r}"
        raise GalgenValueError(msg)
    matching = flow == "ode" and objective == "flow-matching"
    if ode_steps is None:
        ode_steps = 16 if matching else 8
    kwargs = {"solver": solver, "steps": ode_steps} if flow == "ode" else {}
    if matching:
        kwargs.update(FLOW_MATCHING_ODE)
    architecture = {**kwargs, **(flow_kwargs or {})}
    model = make_flow(flow, features=2, **architecture)
    key = "ode-likelihood" if flow == "ode" and not matching else flow
    steps = steps or DEFAULT_STEPS[key]
    default_batch, default_lr = {"ode": (512, 2e-3), "ode-likelihood": (256, 2e-3)}.get(key, (512, 1e-3))
    cfg = ToyTrainConfig(steps=steps, batch=batch or default_batch, lr=lr or default_lr, seed=seed,
                         progress=progress, checkpoint=checkpoint, checkpoint_every=1000)
    t0 = time.perf_counter()
    if matching:
        train_flow_matching(model, density, cfg, coupling=coupling, time_power=FLOW_MATCHING_TIME_POWER)
    else:
        train_flow(model, density, cfg)
    seconds = time.perf_counter() - t0
    nll = held_out_nll(model, density)
    tag = f"{density_name}_{flow}" + (f"_{solver}" if flow == "ode" else "")
    result = {"density": density_name, "flow": flow, "solver": solver if flow == "ode" else None,
              "objective": (objective if flow == "ode" else "likelihood"),
              "nll": nll, "entropy": density.entropy, "steps": steps, "seconds": seconds,
              "batch": cfg.batch, "lr": cfg.lr, "flow_kwargs": dict(flow_kwargs or {}),
              "architecture": architecture}
    samples = _draw(model)
    traj, times = None, None
    if flow == "ode":
        result["nfe"] = model.transform.last_stats.nfe
        times = [1.0, 0.75, 0.5, 0.25, 0.0]
        z = torch.randn(300, 2, generator=torch.Generator().manual_seed(2))
        traj = [p.numpy() for p in model.transform.trajectory(z, times)]
        rows, solver_samples = compare_solvers(model, density)
        result["solver_comparison"] = rows
        result["solver_figure"] = str(solver_comparison_figure(
            rows, solver_samples, outdir / f"toy_{tag}_solvers.png"))
    title = f"{flow} flow on {density_name}: test NLL {nll:.3f} nats"
    if density.entropy is not None:
        title += f" (limit {density.entropy:.3f})"
    result["figure"] = str(model_panel(density, samples, outdir / f"toy_{tag}.png", model=model,
                                       title=title, trajectories=traj, times=times))
    result["model_dir"] = str(outdir / f"toy_{tag}_model")
    save_module(model, result["model_dir"], {k: v for k, v in result.items() if k != "solver_comparison"})
    return result


@_seeded
def run_toy_vae(density_name: str = "chessboard", steps: int | None = None, outdir: str | Path = ".",
                seed: int = 0, latent: int = 2, progress: bool = True) -> dict:
    """Train an MLP VAE; report held-out ``-ELBO`` and ``-IWAE_64`` (nats) and draw it."""
    density = get_density(density_name)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # inside _seeded: the caller's RNG state is restored after
    model = mlp_vae(features=2, latent=latent, hidden=(128, 128))
    steps = steps or DEFAULT_STEPS["vae"]
    t0 = time.perf_counter()
    train_vae(model, density, ToyTrainConfig(steps=steps, batch=512, lr=1e-3, seed=seed,
                                             progress=progress))
    result = {"density": density_name, "model": "vae", "steps": steps,
              "seconds": time.perf_counter() - t0,
              "neg_elbo": held_out_nll(model, density), "neg_iwae64": held_out_nll(model, density, iwae_k=64),
              "entropy": density.entropy}
    g = torch.Generator().manual_seed(0)
    samples = model.sample(20_000, generator=g, mean=False).numpy()
    title = f"VAE on {density_name}: -ELBO {result['neg_elbo']:.3f}, -IWAE64 {result['neg_iwae64']:.3f}"
    result["figure"] = str(model_panel(density, samples, outdir / f"toy_{density_name}_vae.png",
                                       model=model, title=title))
    return result


@_seeded
def run_toy_gan(density_name: str = "8gaussians", loss: str = "wgan-gp", steps: int | None = None,
                outdir: str | Path = ".", seed: int = 0, progress: bool = True) -> dict:
    """Train an MLP GAN with the chosen objective; report mode coverage on 8 Gaussians."""
    density = get_density(density_name)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # inside _seeded: the caller's RNG state is restored after
    gen = MLPGenerator(latent=2, features=2)
    disc = MLPDiscriminator(features=2, spectral_norm=loss in ("hinge",))
    steps = steps or DEFAULT_STEPS["gan"]
    lr = 1e-4 if loss in ("wgan", "wgan-gp") else 2e-4
    t0 = time.perf_counter()
    train_gan(gen, disc, density, ToyTrainConfig(steps=steps, batch=256, lr=lr, seed=seed,
                                                 progress=progress), loss=loss)
    with torch.no_grad():
        samples = gen(torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1))).numpy()
    result = {"density": density_name, "loss": loss, "steps": steps,
              "seconds": time.perf_counter() - t0}
    title = f"GAN ({loss}) on {density_name}"
    if density_name == "8gaussians":
        hq, per_mode = eight_gaussians_coverage(samples)
        result.update(high_quality=hq, min_mode_fraction=float(per_mode.min()),
                      modes_covered=int((per_mode >= 0.05).sum()))
        title += f": {hq:.0%} within 3 sigma, {result['modes_covered']}/8 modes"
    result["figure"] = str(model_panel(density, samples, outdir / f"toy_{density_name}_gan_{loss}.png",
                                       title=title))
    return result
