"""Continuous-time flows (neural ODEs; Chen et al. 2018 arXiv:1806.07366, FFJORD arXiv:1810.01367).

``dz/dt = f(z, t, c)`` carries data (t=0) to latent (t=1); the log-density
obeys ``d log p(z(t))/dt = -tr(df/dz)``, so

    log p(x) = log N(z(1)) + int_0^1 tr(df/dz) dt.

The trace is exact (one backward pass per dimension: fine in 2D) or the
Hutchinson estimate ``E[eps^T (df/dz) eps]`` with one probe per integration.

Training: by maximum likelihood through the solver (slow: every step integrates the ODE and
its trace), or by **flow matching** (:meth:`ODEFlowTransform.flow_matching_loss`; Lipman et
al. 2023 arXiv:2210.02747, Liu et al. 2023 arXiv:2209.03003, Tong et al. 2024
arXiv:2302.00482): regress ``f`` on the velocity of straight paths between data and noise,
without integrating; sampling and exact log-densities then use the same solvers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from galgen.errors import GalgenValueError
from galgen.models.flows.base import Transform
from galgen.models.nn import fourier_features, fourier_matrix
from galgen.models.ode import SOLVERS, ODEStats, odeint

__all__ = ["ODEFlowTransform", "exact_trace", "hutchinson_trace"]


def exact_trace(f: Tensor, z: Tensor, create_graph: bool) -> Tensor:
    """``tr(df/dz)`` per sample ``(B,)`` by one backward pass per dimension of ``z`` ``(B, D)``."""
    trace = z.new_zeros(z.shape[0])
    for i in range(z.shape[1]):
        grad = torch.autograd.grad(f[:, i].sum(), z, create_graph=create_graph, retain_graph=True)[0]
        trace = trace + grad[:, i]
    return trace


def hutchinson_trace(f: Tensor, z: Tensor, eps: Tensor, create_graph: bool) -> Tensor:
    """Unbiased ``tr(df/dz)`` estimate ``eps^T (df/dz) eps`` per sample, for probes ``eps`` with
    ``E[eps eps^T] = I`` (Gaussian or Rademacher)."""
    vjp = torch.autograd.grad(f, z, eps, create_graph=create_graph)[0]
    return (vjp * eps).reshape(z.shape[0], -1).sum(-1)


_ACTIVATIONS = {"softplus": nn.Softplus, "silu": nn.SiLU}


class _Dynamics(nn.Module):
    """``f(z, t, c)``: an MLP of ``z``, the time (raw, plus ``time_features`` sine/cosine pairs),
    optionally random Fourier features of ``z`` (``sin, cos`` of ``z B``, ``B`` fixed
    ``N(0, fourier_scale^2)``; Tancik et al. 2020 arXiv:2006.10739: an MLP of raw coordinates
    is slow to learn sharp spatial detail), and the context, with smooth activations (the
    trace needs second derivatives; the features are smooth too)."""

    def __init__(self, features: int, hidden: Sequence[int], context: int, activation: str = "softplus",
                 time_features: int = 0, fourier_features: int = 0, fourier_scale: float = 1.0) -> None:
        super().__init__()
        self.time_features = time_features
        # a fixed draw, saved with the weights (a buffer): the same features after loading
        self.register_buffer("fourier", fourier_matrix(features, fourier_features, fourier_scale))
        sizes = [features + 2 * fourier_features + 1 + 2 * time_features + context, *hidden, features]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)

    def forward(self, t: float | Tensor, z: Tensor, context: Tensor | None) -> Tensor:
        if isinstance(t, Tensor):
            tt = t.reshape(-1, 1).expand(z.shape[0], 1)
        else:
            tt = z.new_full((z.shape[0], 1), float(t))
        h = [z, tt, *fourier_features(z, self.fourier)]
        if self.time_features:
            k = torch.arange(1, self.time_features + 1, dtype=z.dtype, device=z.device) * torch.pi
            h += [torch.sin(tt * k), torch.cos(tt * k)]
        if context is not None:
            h.append(context)
        return self.net(torch.cat(h, dim=-1))


class ODEFlowTransform(Transform):
    """Continuous normalizing flow on vectors ``(B, D)``.

    Parameters
    ----------
    features : int
        Dimension ``D``.
    hidden : sequence of int, default (64, 64, 64)
        Widths of the dynamics MLP ``f(z, t, c)`` (softplus activations).
    context : int, default 0
        Context vector size.
    solver : {"euler", "midpoint", "rk4", "dopri5"}, default "rk4"
        Integrator (see :func:`galgen.models.ode.odeint`).
    steps : int, default 10
        Steps of a fixed-step solver over ``[0, 1]``.
    trace : {"exact", "hutchinson"}, default "exact"
        How ``tr(df/dz)`` is computed.
    rtol, atol : float
        Tolerances of ``dopri5``.
    activation : {"softplus", "silu"}, default "softplus"
        Smooth activation of the dynamics MLP.
    time_features : int, default 0
        Sine/cosine pairs of ``pi k t`` (k = 1..n) fed to the MLP beside ``t`` itself.
    fourier_features : int, default 0
        Random Fourier features of ``z`` fed beside ``z`` itself: ``sin`` and ``cos`` of
        ``z B`` with ``B`` ``(D, n)`` drawn once from ``N(0, fourier_scale^2)`` (seed 0).
    fourier_scale : float, default 1
        Their frequency scale, in radians per unit of ``z``.
    """

    def __init__(self, features: int, hidden: Sequence[int] = (64, 64, 64), context: int = 0,
                 solver: str = "rk4", steps: int = 10, trace: str = "exact", rtol: float = 1e-5,
                 atol: float = 1e-5, activation: str = "softplus", time_features: int = 0,
                 fourier_features: int = 0, fourier_scale: float = 1.0) -> None:
        super().__init__()
        if solver not in SOLVERS:
            msg = f"unknown solver {solver!r}; choose one of {SOLVERS}"
            raise GalgenValueError(msg)
        if trace not in ("exact", "hutchinson"):
            msg = f"trace must be 'exact' or 'hutchinson', got {trace!r}"
            raise GalgenValueError(msg)
        if activation not in _ACTIVATIONS:
            msg = f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            raise GalgenValueError(msg)
        self.dynamics = _Dynamics(features, hidden, context, activation, time_features, fourier_features,
                                  fourier_scale)
        self.solver, self.steps, self.trace = solver, steps, trace
        self.rtol, self.atol = rtol, atol
        self.last_stats = ODEStats()

    def velocity(self, t: float | Tensor, z: Tensor, context: Tensor | None = None) -> Tensor:
        """``f(z, t, c)`` ``(B, D)``: the particles' velocity (``t`` a float or a ``(B,)`` tensor)."""
        return self.dynamics(t, z, context)

    def flow_matching_loss(self, x: Tensor, context: Tensor | None = None, *,
                           generator: torch.Generator | None = None, coupling: str = "independent",
                           sigma_min: float = 0.0, time_power: float = 1.0) -> Tensor:
        """Conditional flow-matching loss on straight paths from data to noise.

        With ``eps ~ N(0, I)``, ``t ~ U(0, 1)`` and ``z_t = (1 - t) x + t eps`` (plus
        ``sigma_min`` of Gaussian jitter), the loss is ``mean |f(z_t, t) - (eps - x)|^2``: its
        minimiser is the marginal velocity field whose flow carries the data distribution at
        ``t = 0`` to the standard normal at ``t = 1`` (Lipman et al. 2023, Liu et al. 2023).

        Parameters
        ----------
        x : Tensor
            ``(B, D)`` data.
        context : Tensor, optional
            ``(B, C)`` conditioning.
        generator : torch.Generator, optional
            Source of ``eps`` and ``t``.
        coupling : {"independent", "ot"}
            ``"ot"`` pairs each sample with a noise draw by a minibatch optimal-transport
            assignment (squared distance; ``scipy.optimize.linear_sum_assignment``;
            Tong et al. 2024): straighter paths, fewer solver steps.
        sigma_min : float, default 0
            Standard deviation of the Gaussian around each path.
        time_power : float, default 1
            Times are ``U(0, 1) ** time_power``: above 1 more of them fall near the data
            (``t = 0``), where the field of a sharp density is most detailed.

        Returns
        -------
        Tensor
            Scalar loss.
        """
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        if coupling == "ot":
            from scipy.optimize import linear_sum_assignment

            cost = torch.cdist(x.detach().double(), eps.double()).pow(2).cpu().numpy()
            _, cols = linear_sum_assignment(cost)
            eps = eps[torch.as_tensor(cols, device=x.device)]
        elif coupling != "independent":
            msg = f"coupling must be 'independent' or 'ot', got {coupling!r}"
            raise GalgenValueError(msg)
        t = torch.rand((x.shape[0], 1), generator=generator, dtype=x.dtype).to(x.device) ** time_power
        z = (1 - t) * x + t * eps
        if sigma_min > 0:
            z = z + sigma_min * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        return (self.dynamics(t, z, context) - (eps - x)).pow(2).sum(-1).mean()

    def _integrate(self, x: Tensor, context: Tensor | None, t0: float, t1: float,
                   times: Sequence[float] | None = None):  # noqa: ANN202
        eps = torch.randn_like(x) if self.trace == "hutchinson" else None
        need_graph = torch.is_grad_enabled()

        def rhs(t: float, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            z = state[0]
            with torch.enable_grad():
                if not need_graph:
                    z = z.detach().requires_grad_(True)
                elif not z.requires_grad:
                    z = z.clone().requires_grad_(True)  # never flag the caller's tensor
                f = self.dynamics(t, z, context)
                if eps is None:
                    tr = exact_trace(f, z, create_graph=need_graph)
                else:
                    tr = hutchinson_trace(f, z, eps, create_graph=need_graph)
            if not need_graph:
                f, tr = f.detach(), tr.detach()
            return f, tr

        self.last_stats = ODEStats()
        return odeint(rhs, (x, x.new_zeros(x.shape[0])), t0, t1, method=self.solver,
                      steps=self.steps, rtol=self.rtol, atol=self.atol, stats=self.last_stats,
                      times=times)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z, integral = self._integrate(x, context, 0.0, 1.0)
        return z, integral

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, integral = self._integrate(z, context, 1.0, 0.0)
        return x, integral  # int_1^0 tr dt = -int_0^1 tr dt: the inverse's log-det

    @torch.no_grad()
    def trajectory(self, z: Tensor, times: Sequence[float],
                   context: Tensor | None = None) -> list[Tensor]:
        """Positions of latent particles ``z`` ``(B, D)`` integrated from t=1 back to each time."""
        _, path = self._integrate(z, context, 1.0, 0.0, times=sorted(times, reverse=True))
        return [p[0].detach() for p in path]
