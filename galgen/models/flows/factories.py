"""Ready-made flows: coupling, spline, ODE (vectors) and multi-scale (images)."""

from __future__ import annotations

from collections.abc import Sequence

from galgen.models.flows.base import Chain, Flow
from galgen.models.flows.continuous import ODEFlowTransform
from galgen.models.flows.coupling import AffineCoupling, alternating_masks
from galgen.models.flows.layers import ActNorm
from galgen.models.flows.multiscale import MultiscaleImageTransform
from galgen.models.flows.spline import SplineCoupling

__all__ = ["affine_coupling_flow", "spline_flow", "ode_flow", "image_flow", "make_flow"]


def affine_coupling_flow(features: int = 2, layers: int = 8, hidden: Sequence[int] = (64, 64),
                         context: int = 0, actnorm: bool = True) -> Flow:
    """RealNVP: ``layers`` affine couplings with alternating masks (and ActNorm)."""
    transforms = []
    for mask in alternating_masks(features, layers):
        if actnorm:
            transforms.append(ActNorm(features))
        transforms.append(AffineCoupling(mask, hidden, context))
    return Flow(Chain(transforms), (features,))


def spline_flow(features: int = 2, layers: int = 6, bins: int = 16, bound: float = 4.5,
                hidden: Sequence[int] = (128, 128), context: int = 0, fourier_features: int = 0,
                fourier_scale: float = 1.0) -> Flow:
    """Neural spline flow: rational-quadratic spline couplings with alternating masks
    (``fourier_features``: see :class:`~galgen.models.flows.spline.SplineCoupling`)."""
    transforms = [SplineCoupling(mask, bins, bound, hidden, context, fourier_features, fourier_scale)
                  for mask in alternating_masks(features, layers)]
    return Flow(Chain(transforms), (features,))


def ode_flow(features: int = 2, hidden: Sequence[int] = (64, 64, 64), context: int = 0,
             solver: str = "rk4", steps: int = 10, trace: str = "exact", activation: str = "softplus",
             time_features: int = 0, fourier_features: int = 0, fourier_scale: float = 1.0) -> Flow:
    """Continuous normalizing flow with the chosen solver and trace estimator (see
    :class:`~galgen.models.flows.ODEFlowTransform`)."""
    return Flow(ODEFlowTransform(features, hidden, context, solver, steps, trace, activation=activation,
                                 time_features=time_features, fourier_features=fourier_features,
                                 fourier_scale=fourier_scale), (features,))


def image_flow(shape: tuple[int, int, int] = (1, 32, 32), scales: int = 3, depth: int = 4,
               hidden: int = 64) -> Flow:
    """Multi-scale (Glow-style) flow over images, latent flattened."""
    transform = MultiscaleImageTransform(shape, scales, depth, hidden)
    c, h, w = shape
    flow = Flow(transform, (c * h * w,))
    flow.image_shape = shape
    return flow


def make_flow(kind: str, features: int = 2, **kwargs) -> Flow:
    """Flow by name: ``"coupling"``, ``"spline"`` or ``"ode"``."""
    makers = {"coupling": affine_coupling_flow, "spline": spline_flow, "ode": ode_flow}
    if kind not in makers:
        from galgen.errors import GalgenValueError

        msg = f"unknown flow {kind!r}; choose one of {sorted(makers)}"
        raise GalgenValueError(msg)
    return makers[kind](features=features, **kwargs)
