"""2D toy densities with samplers and, where one exists, the exact log-density."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import i0e, logsumexp

from galgen.errors import GalgenValueError

__all__ = ["ToyDensity", "DENSITIES", "get_density", "eight_gaussians_coverage"]


@dataclass(frozen=True)
class ToyDensity:
    """A 2D density: ``sample(n, rng) -> (n, 2)``, optional exact ``log_prob(x (n, 2)) -> (n,)``.

    Attributes
    ----------
    name : str
    sample : callable
    log_prob : callable or None
        Exact log-density in nats, or ``None`` when there is no closed form.
    entropy : float or None
        Differential entropy in nats when known analytically: the best
        achievable test NLL.
    """

    name: str
    sample: Callable[[int, np.random.Generator], np.ndarray]
    log_prob: Callable[[np.ndarray], np.ndarray] | None = None
    entropy: float | None = None


def _chessboard_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    # pick one of the 32 "black" unit squares of the 8x8 board on [-4, 4]^2, then a uniform point
    i = rng.integers(0, 8, n)
    j = 2 * rng.integers(0, 4, n) + (i % 2)
    x = np.stack([i, j], 1) + rng.uniform(0, 1, (n, 2)) - 4.0
    return x


def _chessboard_log_prob(x: np.ndarray) -> np.ndarray:
    fx, fy = np.floor(x[:, 0] + 4), np.floor(x[:, 1] + 4)
    inside = (fx >= 0) & (fx < 8) & (fy >= 0) & (fy < 8) & ((fx + fy) % 2 == 0)
    return np.where(inside, -math.log(32.0), -np.inf)


_EIGHT_CENTRES = 4.0 / math.sqrt(2) * np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1),
     (1 / math.sqrt(2), 1 / math.sqrt(2)), (1 / math.sqrt(2), -1 / math.sqrt(2)),
     (-1 / math.sqrt(2), 1 / math.sqrt(2)), (-1 / math.sqrt(2), -1 / math.sqrt(2))])
_EIGHT_STD = 0.5 / math.sqrt(2)


def _eight_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    k = rng.integers(0, 8, n)
    return _EIGHT_CENTRES[k] + _EIGHT_STD * rng.normal(size=(n, 2))


def _eight_log_prob(x: np.ndarray) -> np.ndarray:
    d2 = ((x[:, None, :] - _EIGHT_CENTRES[None]) ** 2).sum(-1)
    comp = -d2 / (2 * _EIGHT_STD**2) - math.log(2 * math.pi * _EIGHT_STD**2)
    return logsumexp(comp, axis=1) - math.log(8)


_RING_RADII = np.array([0.5, 1.25, 2.0, 2.75]) * 1.2
_RING_STD = 0.08


def _rings_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    k = rng.integers(0, len(_RING_RADII), n)
    theta = rng.uniform(0, 2 * math.pi, n)
    r = _RING_RADII[k]
    return np.stack([r * np.cos(theta), r * np.sin(theta)], 1) + _RING_STD * rng.normal(size=(n, 2))


def _rings_log_prob(x: np.ndarray) -> np.ndarray:
    # a ring blurred by an isotropic Gaussian: angle-average of N(x; r(cos t, sin t), s^2)
    #   = exp(-(|x|^2 + r^2) / 2s^2) I0(|x| r / s^2) / (2 pi s^2)
    rho = np.sqrt((x**2).sum(1))[:, None]
    r = _RING_RADII[None]
    s2 = _RING_STD**2
    arg = rho * r / s2
    log_i0 = np.log(i0e(arg)) + arg
    comp = -(rho**2 + r**2) / (2 * s2) + log_i0 - math.log(2 * math.pi * s2)
    return logsumexp(comp, axis=1) - math.log(len(_RING_RADII))


def _moons_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    k = rng.integers(0, 2, n)
    t = rng.uniform(0, math.pi, n)
    x = np.where(k == 0, np.cos(t), 1 - np.cos(t))
    y = np.where(k == 0, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x - 0.5, y - 0.25], 1) * 2.0
    return pts + 0.1 * rng.normal(size=(n, 2))


def _pinwheel_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    arms, radial_std, tangential_std, rate = 5, 0.3, 0.1, 0.25
    k = rng.integers(0, arms, n)
    feats = rng.normal(size=(n, 2)) * np.array([radial_std, tangential_std])
    feats[:, 0] += 1.0
    angle = 2 * math.pi * k / arms + rate * np.exp(feats[:, 0])
    c, s = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    return 2.0 * np.einsum("ni,nji->nj", feats, rot)


def _spirals_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.sqrt(rng.uniform(size=n)) * 540 * (2 * math.pi) / 360
    k = rng.integers(0, 2, n)
    d1x = -np.cos(t) * t + rng.uniform(size=n) * 0.5
    d1y = np.sin(t) * t + rng.uniform(size=n) * 0.5
    sign = np.where(k == 0, 1.0, -1.0)
    return np.stack([sign * d1x, sign * d1y], 1) / 3.0 + 0.1 * rng.normal(size=(n, 2))


DENSITIES: dict[str, ToyDensity] = {
    "chessboard": ToyDensity("chessboard", _chessboard_sample, _chessboard_log_prob, math.log(32)),
    "8gaussians": ToyDensity("8gaussians", _eight_sample, _eight_log_prob),
    "rings": ToyDensity("rings", _rings_sample, _rings_log_prob),
    "moons": ToyDensity("moons", _moons_sample),
    "pinwheel": ToyDensity("pinwheel", _pinwheel_sample),
    "spirals": ToyDensity("spirals", _spirals_sample),
}


def get_density(name: str) -> ToyDensity:
    """Density by name (``chessboard``, ``moons``, ``8gaussians``, ``rings``, ``pinwheel``, ``spirals``)."""
    if name not in DENSITIES:
        msg = f"unknown density {name!r}; choose one of {sorted(DENSITIES)}"
        raise GalgenValueError(msg)
    return DENSITIES[name]


def eight_gaussians_coverage(x: np.ndarray, nsigma: float = 3.0) -> tuple[float, np.ndarray]:
    """Mode coverage of samples ``x`` ``(n, 2)`` of the 8-Gaussians density.

    Returns
    -------
    high_quality : float
        Fraction of samples within ``nsigma`` standard deviations of a mode.
    per_mode : numpy.ndarray
        ``(8,)`` fraction of all samples assigned (within ``nsigma``) to each mode.
    """
    d = np.sqrt(((x[:, None, :] - _EIGHT_CENTRES[None]) ** 2).sum(-1))
    nearest = d.argmin(1)
    close = d.min(1) < nsigma * _EIGHT_STD
    per_mode = np.array([np.mean(close & (nearest == k)) for k in range(8)])
    return float(close.mean()), per_mode
