"""Conditional flow-matching posterior sampler: draws of the truth given an observation.

A deterministic restorer gives one image, ``y = G(x, c)`` (stretched space). The sampler models
what the data leave unknown around it: the distribution of the *residual*
``r = stretch(truth) - y`` given the observation ``x`` (the restorer's own input, with the
deconvolved channel that carries the PSF), the restorer's output ``y`` and the condition ``c``
(the PSF FWHM). It is a conditional flow-matching model (Lipman et al. 2023, Liu et al. 2023):
a velocity field ``v(z, t | x, y, c)`` trained on straight paths ``z_t = (1 - t) r / s + t eps``
from the scaled residual (``t = 0``) to white noise (``t = 1``), the convention of
:meth:`galgen.models.flows.ODEFlowTransform.flow_matching_loss`. A draw integrates the field
from ``t = 1`` to ``t = 0`` with galgen's own solvers (:func:`galgen.models.ode.odeint`).

The network works at the *input* resolution: the output-grid state and ``y`` are folded to
``scale**2`` channels (pixel unshuffle) and the velocity unfolded at the end (pixel shuffle), so
it costs about as much per evaluation as the restorer itself.

References
----------
Lipman et al. 2023, Flow Matching for Generative Modeling (arXiv:2210.02747);
Liu et al. 2023, Flow Straight and Fast (arXiv:2209.03003).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from galgen.errors import GalgenModelError, GalgenValueError
from galgen.models.ode import FIXED_STEP_SOLVERS, SOLVERS, ODEStats, odeint
from galgen.restoration.networks import ResidualBlock

__all__ = [
    "PosteriorConfig",
    "PosteriorVelocityNet",
    "PosteriorSampler",
    "flow_matching_residual_loss",
    "draw_spread",
    "load_posterior",
    "posterior_directory",
]


@dataclass(frozen=True)
class PosteriorConfig:
    """Architecture and sampling settings of a posterior sampler (saved beside its weights).

    Attributes
    ----------
    scale : int
        Output pixels per input pixel along each axis (the restorer's).
    in_channels : int
        Channels of the restorer's input (1, or ``1 + scale**2`` with a deconvolved channel).
    channels, blocks : int
        Width and residual blocks of the velocity network.
    time_features : int
        Sine/cosine pairs of ``pi k t`` (``k = 1..n``) beside ``t`` in the FiLM condition.
    residual_scale : float
        The residual (stretched units) is divided by it, so that the data end of the paths has
        about unit spread like the noise end (measured on training pairs before training).
    solver : {"euler", "midpoint", "rk4", "dopri5"}
        Integrator of a draw.
    steps : int
        Steps of a fixed-step solver over ``[0, 1]``.
    """

    scale: int = 2
    in_channels: int = 5
    channels: int = 32
    blocks: int = 6
    time_features: int = 6
    residual_scale: float = 0.1
    solver: str = "midpoint"
    steps: int = 6

    def to_dict(self) -> dict:
        """Plain dict (for ``config.json``)."""
        return asdict(self)


class PosteriorVelocityNet(nn.Module):
    """Velocity ``v(z, t | x, y, c)`` of the residual flow, at the input resolution.

    ``forward(z, t, x, y, condition)``: ``z`` ``(B, 1, sH, sW)`` the state, ``t`` ``(B,)`` times
    in ``[0, 1]``, ``x`` ``(B, in_channels, H, W)`` the restorer's input, ``y`` ``(B, 1, sH, sW)``
    the restorer's output (both stretched), ``condition`` ``(B, 1)``; returns ``(B, 1, sH, sW)``.
    The last convolution starts at zero: an untrained field does not move the state.
    """

    def __init__(self, config: PosteriorConfig) -> None:
        super().__init__()
        if config.solver not in SOLVERS:
            msg = f"unknown solver {config.solver!r}; choose one of {SOLVERS}"
            raise GalgenValueError(msg)
        self.config = config
        s2, c = config.scale**2, config.channels
        self.head = nn.Conv2d(2 * s2 + config.in_channels, c, 3, padding=1)
        features = 2 + 2 * config.time_features  # PSF condition, t, sin/cos of t
        self.body = nn.ModuleList(ResidualBlock(c, features, res_scale=0.5) for _ in range(config.blocks))
        self.tail = nn.Conv2d(c, s2, 3, padding=1)
        with torch.no_grad():
            self.tail.weight.zero_()
            self.tail.bias.zero_()

    def _fold(self, image: Tensor) -> Tensor:
        s = self.config.scale
        return image if s == 1 else F.pixel_unshuffle(image, s)

    def forward(self, z: Tensor, t: Tensor, x: Tensor, y: Tensor, condition: Tensor) -> Tensor:
        s = self.config.scale
        tt = t.reshape(-1, 1).to(z.dtype).expand(z.shape[0], 1)
        k = torch.arange(1, self.config.time_features + 1, dtype=z.dtype, device=z.device) * math.pi
        c = torch.cat([condition.to(z.dtype), tt, torch.sin(tt * k), torch.cos(tt * k)], dim=-1)
        h = self.head(torch.cat([self._fold(z), x.to(z.dtype), self._fold(y)], dim=1))  # (B, C, H, W)
        skip = h
        for block in self.body:
            h = block(F.leaky_relu(h, 0.2), c)  # (B, C, H, W)
        v = self.tail(F.leaky_relu(h + skip, 0.2))  # (B, s*s, H, W)
        return v if s == 1 else F.pixel_shuffle(v, s)  # (B, 1, sH, sW)


def flow_matching_residual_loss(
    net: PosteriorVelocityNet,
    residual: Tensor,
    x: Tensor,
    y: Tensor,
    condition: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Conditional flow-matching loss of the residual flow (mean over pixels and batch).

    With ``r = residual / residual_scale``, ``eps ~ N(0, I)``, ``t ~ U(0, 1)`` and
    ``z_t = (1 - t) r + t eps``, the loss is ``mean |v(z_t, t) - (eps - r)|^2``; its minimiser
    is the marginal field whose flow carries ``p(r | x, y, c)`` at ``t = 0`` to the white
    noise at ``t = 1``.

    Parameters
    ----------
    residual : Tensor
        ``(B, 1, sH, sW)`` stretched truth minus the restorer's output.
    x, y, condition : Tensor
        As in :class:`PosteriorVelocityNet`.
    generator : torch.Generator, optional
        Source of ``eps`` and ``t`` (on the CPU; moved to the data's device).
    """
    r = residual / net.config.residual_scale
    eps = torch.randn(r.shape, generator=generator, dtype=r.dtype).to(r.device)
    t = torch.rand((r.shape[0],), generator=generator, dtype=r.dtype).to(r.device)
    tb = t[:, None, None, None]
    z = (1 - tb) * r + tb * eps
    return (net(z, t, x, y, condition) - (eps - r)).pow(2).mean()


class PosteriorSampler:
    """Draws of the restored image from the learned posterior around a restorer's output.

    Parameters
    ----------
    net : PosteriorVelocityNet
    device : str or torch.device, default "cpu"
    name, sha256 : str
        Identity of the weights (recorded as provenance).
    card : dict, optional
        The sampler's model card (``config.json``): training record, calibration.
    """

    def __init__(
        self,
        net: PosteriorVelocityNet,
        device: str | torch.device = "cpu",
        *,
        name: str = "",
        sha256: str = "",
        card: dict | None = None,
    ) -> None:
        self.net = net.to(device).eval()
        self.config = net.config
        self.device = torch.device(device)
        self.name, self.sha256, self.card = name, sha256, dict(card or {})
        self.last_stats = ODEStats()

    @torch.inference_mode()
    def sample(
        self,
        x: Tensor,
        y: Tensor,
        condition: Tensor,
        n: int,
        *,
        generator: torch.Generator | None = None,
        solver: str | None = None,
        steps: int | None = None,
        chunk: int = 16,
    ) -> Tensor:
        """``n`` posterior draws for each image, in the restorer's stretched space.

        Parameters
        ----------
        x : Tensor
            ``(B, in_channels, H, W)`` the restorer's input.
        y : Tensor
            ``(B, 1, sH, sW)`` the restorer's output (stretched).
        condition : Tensor
            ``(B, 1)`` the restorer's condition vector.
        n : int
            Draws per image.
        generator : torch.Generator, optional
            CPU generator of the starting noise (seeded: reproducible draws on any device).
        solver, steps : optional
            Override the card's integrator.
        chunk : int, default 16
            Images (draws times stamps) integrated at once.

        Returns
        -------
        Tensor
            ``(n, B, 1, sH, sW)`` draws ``y + residual_scale * r``, float32 on the CPU.
        """
        solver = solver or self.config.solver
        steps = int(steps or self.config.steps)
        if solver not in SOLVERS:
            msg = f"unknown solver {solver!r}; choose one of {SOLVERS}"
            raise GalgenValueError(msg)
        b = y.shape[0]
        eps = torch.randn((n * b, *y.shape[1:]), generator=generator, dtype=torch.float32)
        xs = x.float().repeat(n, 1, 1, 1)  # (n*B, C, H, W): draw-major, like eps
        ys = y.float().repeat(n, 1, 1, 1)
        cs = condition.float().repeat(n, 1)
        out = []
        self.last_stats = stats = ODEStats()
        for k in range(0, n * b, chunk):
            sl = slice(k, k + chunk)
            xk, yk, ck = (a[sl].to(self.device) for a in (xs, ys, cs))

            def velocity(
                t: float | Tensor, z: Tensor, xk: Tensor = xk, yk: Tensor = yk, ck: Tensor = ck
            ) -> Tensor:
                tt = torch.as_tensor(t, dtype=z.dtype, device=z.device).expand(z.shape[0])
                return self.net(z, tt, xk, yk, ck)

            kw = {"steps": steps} if solver in FIXED_STEP_SOLVERS else {"rtol": 1e-4, "atol": 1e-4}
            r = odeint(velocity, eps[sl].to(self.device), 1.0, 0.0, method=solver, stats=stats, **kw)
            out.append((yk + self.config.residual_scale * r).float().cpu())
        return torch.cat(out).reshape(n, b, *y.shape[1:])


def draw_spread(draws: np.ndarray, main: np.ndarray) -> np.ndarray:
    """Root-mean-square deviation of posterior draws ``(n, ...)`` about the main image ``(...)``:
    ``sqrt(mean_k (draw_k - main)^2)``, the posterior's expected error of ``main``
    (its variance plus the squared offset of the posterior mean from ``main``)."""
    return np.sqrt(np.mean((np.asarray(draws, np.float64) - main) ** 2, axis=0))


def posterior_directory(model_directory: str | os.PathLike) -> Path | None:
    """``<model>/posterior`` when a restorer ships a posterior sampler, else ``None``."""
    path = Path(model_directory) / "posterior"
    return path if (path / "model.safetensors").is_file() else None


def load_posterior(directory: str | os.PathLike, device: str | torch.device = "cpu") -> PosteriorSampler:
    """A saved sampler (``model.safetensors`` + ``config.json``, checked against its sha256)."""
    from galgen.models.serialization import read_state

    card, state = read_state(directory)
    if card.get("kind") != "posterior":
        msg = f"{directory}: not a posterior sampler (its card's kind is {card.get('kind')!r})"
        raise GalgenModelError(msg)
    config = PosteriorConfig(**card["architecture"])
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: leave the RNG alone
        net = PosteriorVelocityNet(config)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        msg = f"{directory}: weights do not fit the card's architecture ({exc})"
        raise GalgenModelError(msg) from exc
    return PosteriorSampler(
        net, device, name=card.get("name", Path(directory).name), sha256=card["sha256"], card=card
    )
