"""Normalizing flows: coupling, spline, continuous-time (ODE) and multi-scale image flows."""

from galgen.models.flows.base import Chain, Flow, Transform, standard_normal_log_prob
from galgen.models.flows.continuous import ODEFlowTransform, exact_trace, hutchinson_trace
from galgen.models.flows.coupling import AffineCoupling, alternating_masks
from galgen.models.flows.factories import (
    affine_coupling_flow,
    image_flow,
    make_flow,
    ode_flow,
    spline_flow,
)
from galgen.models.flows.layers import ActNorm, Permutation
from galgen.models.flows.multiscale import (
    ConvAffineCoupling,
    MultiscaleImageTransform,
    squeeze,
    unsqueeze,
)
from galgen.models.flows.spline import SplineCoupling, rational_quadratic_spline

__all__ = [
    "Transform",
    "Chain",
    "Flow",
    "standard_normal_log_prob",
    "AffineCoupling",
    "alternating_masks",
    "SplineCoupling",
    "rational_quadratic_spline",
    "ActNorm",
    "Permutation",
    "ODEFlowTransform",
    "exact_trace",
    "hutchinson_trace",
    "ConvAffineCoupling",
    "MultiscaleImageTransform",
    "squeeze",
    "unsqueeze",
    "affine_coupling_flow",
    "spline_flow",
    "ode_flow",
    "image_flow",
    "make_flow",
]
