"""Truth galaxies with the structure real ones have: clumps, spiral arms, bars, rings, dust lanes,
irregulars, mergers and tidal features (GalSim).

Each family is a function ``f(rng, hlr) -> (GSObject, params)`` returning a unit-flux profile
whose half-light scale is about ``hlr`` arcsec. Smooth parametric components are GalSim
profiles (``Sersic``, ``Exponential``, ``InclinedExponential``, ``RandomKnots``, sums and
shears); structure no analytic profile has (logarithmic spiral arms, rings, tidal streams,
dust lanes, which absorb rather than add light) is drawn procedurally on a fine grid and
wrapped in ``galsim.InterpolatedImage``, so that it is then convolved with any PSF and drawn
at any pixel scale with GalSim's exact pixel integration, like the analytic parts.

Family (``params["family"]``):

``smooth``
    a COSMOS parametric galaxy or a Sersic/bulge+disk drawn near one (as in
    :func:`galgen.simulate.random_galaxy`, without knots);
``clumpy``
    a disk with resolved star-forming clumps of many sizes (Gaussian and exponential
    blobs of 0.02-0.3 arcsec) and point-like knots;
``spiral``
    bulge + disk with 1-4 logarithmic arms of varied pitch (8-35 degrees), width and
    contrast, star formation along the arms, seen at any inclination;
``barred``
    bulge + disk + a bar (flat Sersic, axis ratio 0.2-0.4), often with an inner ring;
``ring``
    bulge + disk + a star-forming ring (collisional or resonance ring);
``edge_on``
    a thick or thin edge-on disk (``InclinedExponential``) with an absorbing dust lane;
``irregular``
    a lumpy, asymmetric envelope with many clumps and no dominant bulge;
``merger``
    two galaxies 0.3-2.5 half-light radii apart with tidal tails, bridges or shells
    (kept out of training as the held-out family: :data:`HELD_OUT_FAMILY`).

The scene around the target (companions, stars, neighbours at the edge) is added by
:func:`scene`; the families themselves are single systems.
"""

from __future__ import annotations

import galsim
import numpy as np

from galgen.simulate.galaxies import GALAXY_GSPARAMS, random_galaxy

__all__ = ["FAMILIES", "TRAINING_FAMILIES", "HELD_OUT_FAMILY", "morphology_galaxy", "scene"]

#: The family never used in training: the project's stand-in for morphology it has not seen.
HELD_OUT_FAMILY = "merger"


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 2**31 - 1))


def _canvas(hlr: float, n: int = 192, extent: float = 14.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Polar coordinates ``(r, theta)`` (arcsec, rad) of an ``n x n`` grid covering
    ``+-extent/2`` half-light radii, and its pixel scale (arcsec)."""
    scale = extent * hlr / n
    c = (np.arange(n) - (n - 1) / 2) * scale
    x, y = np.meshgrid(c, c)
    return np.hypot(x, y), np.arctan2(y, x), scale


def _interpolated(image: np.ndarray, scale: float) -> galsim.InterpolatedImage:
    image = np.clip(image, 0, None)
    return galsim.InterpolatedImage(galsim.Image(image / image.sum(), scale=scale), flux=1.0,
                                    gsparams=GALAXY_GSPARAMS)


def _inclination(rng: np.random.Generator, q_min: float = 0.3) -> galsim.Shear:
    """Random inclination (axis ratio from a uniform cos i above ``q_min``) and position angle."""
    q = float(rng.uniform(q_min, 1.0))
    return galsim.Shear(q=q, beta=float(rng.uniform(0, 180)) * galsim.degrees)


def _disk(hlr: float) -> galsim.GSObject:
    return galsim.Exponential(half_light_radius=hlr, gsparams=GALAXY_GSPARAMS)


def _squash(q: float, beta_deg: float = 0.0) -> galsim.Shear:
    return galsim.Shear(q=q, beta=beta_deg * galsim.degrees)


def _bulge(hlr: float, rng: np.random.Generator) -> galsim.GSObject:
    n = float(rng.uniform(1.5, 4.0))
    return galsim.Sersic(n=n, half_light_radius=max(0.05, hlr * rng.uniform(0.15, 0.4)),
                         gsparams=GALAXY_GSPARAMS)


def _clumps(rng: np.random.Generator, hlr: float, count: int, spread: float,
            positions: np.ndarray | None = None) -> galsim.GSObject:
    """``count`` resolved clumps (Gaussian or exponential blobs of log-uniform sizes
    0.02-0.3 arcsec, fluxes from a power law) scattered like an exponential disk of scale
    ``spread * hlr``, or at ``positions`` ``(count, 2)`` arcsec. Unit total flux."""
    if positions is None:
        r = rng.gamma(2.0, spread * hlr / 1.68, count)
        t = rng.uniform(0, 2 * np.pi, count)
        positions = np.c_[r * np.cos(t), r * np.sin(t)]
    sizes = np.exp(rng.uniform(np.log(0.02), np.log(0.3), len(positions)))
    fluxes = rng.pareto(1.5, len(positions)) + 0.2
    fluxes /= fluxes.sum()
    parts = []
    for (x, y), size, flux in zip(positions, sizes, fluxes, strict=True):
        blob = (galsim.Gaussian(sigma=size, flux=flux, gsparams=GALAXY_GSPARAMS) if rng.uniform() < 0.6
                else galsim.Exponential(half_light_radius=size, flux=flux, gsparams=GALAXY_GSPARAMS))
        parts.append(blob.shift(float(x), float(y)))
    return galsim.Add(parts)


def _knots(rng: np.random.Generator, hlr: float, n: int) -> galsim.GSObject:
    return galsim.RandomKnots(n, half_light_radius=hlr, flux=1.0, rng=galsim.BaseDeviate(_seed(rng)),
                              gsparams=GALAXY_GSPARAMS)


def _mix(components: list[tuple[float, galsim.GSObject]]) -> galsim.GSObject:
    total = sum(w for w, _ in components)
    return galsim.Add([c.withFlux(w / total) for w, c in components if w > 0])


# -- families ----------------------------------------------------------------------------------

def smooth(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """A COSMOS-like parametric galaxy (no clumps): the ellipticals and smooth disks."""
    gal, params = random_galaxy(rng, knots=False)
    return gal, {"hlr": float(params["hlr"])}


def clumpy(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """A disk with resolved clumps of many sizes and point-like knots."""
    shear = _inclination(rng)
    disk = _disk(hlr)
    clump_fraction = float(rng.uniform(0.15, 0.6))
    knot_fraction = float(rng.uniform(0.0, 0.2))
    parts = [(1 - clump_fraction - knot_fraction, disk),
             (clump_fraction, _clumps(rng, hlr, int(rng.integers(4, 30)), 1.0)),
             (knot_fraction, _knots(rng, hlr, int(rng.integers(10, 60))))]
    if rng.uniform() < 0.5:
        parts.append((float(rng.uniform(0.05, 0.3)), _bulge(hlr, rng)))
    return _mix(parts).shear(shear), {"hlr": hlr, "clump_fraction": clump_fraction}


def _spiral_image(rng: np.random.Generator, hlr: float, arms: int, pitch_deg: float,
                  contrast: float, width: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Face-on disk with ``arms`` logarithmic arms; also returns points along the arms (arcsec)
    where star-forming clumps sit."""
    r, theta, scale = _canvas(hlr)
    h = hlr / 1.678  # exponential scale length
    k = 1.0 / np.tan(np.radians(pitch_deg))
    phase = float(rng.uniform(0, 2 * np.pi))
    arg = arms * (theta - k * np.log(np.maximum(r, 1e-3 * hlr) / hlr)) + phase
    wave = 0.5 * (1 + np.cos(arg))                                     # 0..1, peaks on the arms
    arms_profile = wave ** (1.0 / max(width, 0.05))                    # narrower arms for small width
    onset = 1 - np.exp(-((r / (0.6 * hlr)) ** 2))                      # arms start outside the bulge
    image = np.exp(-r / h) * (1 + contrast * onset * (arms_profile - arms_profile.mean()))
    # clump sites along the arms
    radii = np.exp(rng.uniform(np.log(0.5 * hlr), np.log(3.0 * hlr), int(rng.integers(5, 25))))
    which = rng.integers(0, arms, radii.size)
    t = (2 * np.pi * which - phase) / arms + k * np.log(radii / hlr) + rng.normal(0, 0.08, radii.size)
    sites = np.c_[radii * np.cos(t), radii * np.sin(t)]
    return image, scale, sites


def spiral(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """Bulge + disk with 1-4 logarithmic spiral arms and star formation along them."""
    arms = int(rng.choice([1, 2, 2, 2, 3, 4]))
    pitch = float(rng.uniform(8, 35))
    contrast = float(rng.uniform(0.6, 2.0))
    image, scale, sites = _spiral_image(rng, hlr, arms, pitch, contrast, float(rng.uniform(0.2, 1.0)))
    disk = _interpolated(image, scale)
    sf = float(rng.uniform(0.05, 0.3))
    gal = _mix([(1 - sf, disk), (sf, _clumps(rng, hlr, len(sites), 1.0, positions=sites)),
                (float(rng.uniform(0.05, 0.4)), _bulge(hlr, rng))])
    return gal.shear(_inclination(rng, 0.35)), {"hlr": hlr, "arms": arms, "pitch_deg": pitch}


def _ring_image(hlr: float, radius: float, width: float, lumps: np.ndarray,
                r: np.ndarray, theta: np.ndarray) -> np.ndarray:
    azimuth = 1 + sum(a * np.cos((m + 1) * theta + p) for m, (a, p) in enumerate(lumps))
    return np.exp(-0.5 * ((r - radius) / width) ** 2) * np.clip(azimuth, 0.1, None)


def barred(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """Bulge + disk + bar (flat Sersic along one axis), often with an inner ring at the bar's end."""
    bar_length = hlr * float(rng.uniform(0.5, 1.3))
    bar = galsim.Sersic(n=float(rng.uniform(0.3, 0.8)), half_light_radius=bar_length / 2,
                        gsparams=GALAXY_GSPARAMS).shear(_squash(float(rng.uniform(0.2, 0.4))))
    parts = [(float(rng.uniform(0.4, 0.7)), _disk(hlr)),
             (float(rng.uniform(0.1, 0.3)), bar), (float(rng.uniform(0.05, 0.3)), _bulge(hlr, rng))]
    ring = rng.uniform() < 0.5
    if ring:
        r, theta, scale = _canvas(hlr)
        lumps = np.c_[rng.uniform(0, 0.4, 3), rng.uniform(0, 2 * np.pi, 3)]
        parts.append((float(rng.uniform(0.05, 0.2)),
                      _interpolated(_ring_image(hlr, bar_length, 0.1 * hlr, lumps, r, theta), scale)))
    gal = _mix(parts).rotate(float(rng.uniform(0, 360)) * galsim.degrees)
    return gal.shear(_inclination(rng, 0.4)), {"hlr": hlr, "bar_length": bar_length, "inner_ring": ring}


def ring(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """Bulge + faint disk + a clumpy star-forming ring of 0.7-2 half-light radii."""
    r, theta, scale = _canvas(hlr)
    radius = hlr * float(rng.uniform(0.7, 2.0))
    lumps = np.c_[rng.uniform(0, 0.8, 4), rng.uniform(0, 2 * np.pi, 4)]
    ring_image = _ring_image(hlr, radius, hlr * float(rng.uniform(0.06, 0.2)), lumps, r, theta)
    gal = _mix([(float(rng.uniform(0.3, 0.6)), _interpolated(ring_image, scale)),
                (float(rng.uniform(0.1, 0.4)), _disk(hlr)),
                (float(rng.uniform(0.1, 0.4)), _bulge(hlr, rng))])
    return gal.shear(_inclination(rng, 0.4)), {"hlr": hlr, "ring_radius": radius}


def edge_on(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """An edge-on disk (vertical scale 0.05-0.2 of the radial one) with an absorbing dust lane."""
    r, theta, scale = _canvas(hlr)
    x, y = r * np.cos(theta), r * np.sin(theta)
    h = hlr / 1.678
    z0 = h * float(rng.uniform(0.05, 0.2))
    # an exponential disk seen edge-on: surface brightness ~ (|x|/h) K1(|x|/h) sech^2(y/z0)
    from scipy.special import k1

    u = np.maximum(np.abs(x) / h, 1e-3)
    disk = u * k1(u) / np.cosh(y / z0) ** 2
    tau = float(rng.uniform(0.5, 3.0))
    lane = np.exp(-tau * np.exp(-0.5 * ((y - z0 * rng.normal(0, 0.3)) / (0.5 * z0)) ** 2)
                  * np.exp(-np.abs(x) / (2.5 * h)))
    image = disk * lane
    parts = [(1.0, _interpolated(image, scale))]
    if rng.uniform() < 0.6:
        parts.append((float(rng.uniform(0.05, 0.4)), _bulge(hlr, rng).shear(_squash(0.7))))
    gal = _mix(parts).rotate(float(rng.uniform(0, 360)) * galsim.degrees)
    return gal, {"hlr": hlr, "scale_height": z0, "dust_tau": tau}


def irregular(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """A lumpy, asymmetric envelope of a few offset components and many clumps."""
    parts = []
    for _ in range(int(rng.integers(2, 5))):
        offset = rng.normal(0, 0.5 * hlr, 2)
        comp = _disk(hlr * float(rng.uniform(0.3, 0.9))).shear(
            _squash(float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, 180))))
        parts.append((float(rng.uniform(0.2, 1.0)), comp.shift(*offset)))
    parts.append((float(rng.uniform(0.3, 1.2)), _clumps(rng, hlr, int(rng.integers(6, 40)), 1.2)))
    return _mix(parts), {"hlr": hlr}


def _tidal_image(rng: np.random.Generator, hlr: float) -> tuple[np.ndarray, float]:
    """Curved low-surface-brightness tails and shells around the merger's centre."""
    r, theta, scale = _canvas(hlr, extent=16.0)
    x, y = r * np.cos(theta), r * np.sin(theta)
    image = np.zeros_like(r)
    for _ in range(int(rng.integers(1, 4))):
        if rng.uniform() < 0.7:  # a tail: an arc of growing radius
            start = float(rng.uniform(0, 2 * np.pi))
            sweep = float(rng.uniform(1.0, 3.0)) * rng.choice([-1, 1])
            t = start + sweep * np.linspace(0, 1, 200)
            radius = hlr * (0.8 + float(rng.uniform(1.5, 4.0)) * np.linspace(0, 1, 200))
            px, py = radius * np.cos(t), radius * np.sin(t)
            width = hlr * float(rng.uniform(0.1, 0.4))
            fade = np.exp(-np.linspace(0, float(rng.uniform(1, 3)), 200))
            for cx, cy, f in zip(px[::4], py[::4], fade[::4], strict=True):
                image += f * np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / width**2)
        else:  # a shell: a sharp-edged arc
            radius = hlr * float(rng.uniform(1.5, 4.0))
            centre = float(rng.uniform(0, 2 * np.pi))
            dtheta = np.angle(np.exp(1j * (theta - centre)))
            image += (np.exp(-0.5 * ((r - radius) / (0.08 * radius)) ** 2) * (r < radius * 1.02)
                      * np.exp(-0.5 * (dtheta / 0.8) ** 2))
    return image, scale


def merger(rng: np.random.Generator, hlr: float) -> tuple[galsim.GSObject, dict]:
    """Two galaxies 0.3-2.5 half-light radii apart with tidal tails, bridges or shells."""
    first, _ = _family(rng, str(rng.choice(["smooth", "clumpy", "spiral"])), hlr)
    ratio = float(np.exp(rng.uniform(np.log(0.15), 0)))  # flux ratio of the second galaxy
    second, _ = _family(rng, str(rng.choice(["smooth", "clumpy", "irregular"])), hlr * np.sqrt(ratio))
    separation = hlr * float(rng.uniform(0.3, 2.5))
    angle = float(rng.uniform(0, 2 * np.pi))
    dx, dy = separation * np.cos(angle), separation * np.sin(angle)
    tidal, scale = _tidal_image(rng, hlr)
    tidal_fraction = float(rng.uniform(0.05, 0.25))
    gal = _mix([(1.0, first.shift(-dx * ratio / (1 + ratio), -dy * ratio / (1 + ratio))),
                (ratio, second.shift(dx / (1 + ratio), dy / (1 + ratio))),
                (tidal_fraction * (1 + ratio), _interpolated(tidal, scale))])
    return gal, {"hlr": hlr, "flux_ratio": ratio, "separation": separation, "tidal_fraction": tidal_fraction}


FAMILIES = {"smooth": smooth, "clumpy": clumpy, "spiral": spiral, "barred": barred, "ring": ring,
            "edge_on": edge_on, "irregular": irregular, "merger": merger}
#: What training draws from (everything but :data:`HELD_OUT_FAMILY`).
TRAINING_FAMILIES = tuple(f for f in FAMILIES if f != HELD_OUT_FAMILY)


def _family(rng: np.random.Generator, family: str, hlr: float) -> tuple[galsim.GSObject, dict]:
    gal, params = FAMILIES[family](rng, hlr)
    return gal.withFlux(1.0), params


def morphology_galaxy(rng: np.random.Generator, families: tuple[str, ...] = TRAINING_FAMILIES, *,
                      hlr_range: tuple[float, float] = (0.15, 1.5)) -> tuple[galsim.GSObject, dict]:
    """A random galaxy from ``families`` (equal odds), with a log-uniform half-light scale.

    Parameters
    ----------
    rng : numpy.random.Generator
    families : tuple of str
        Names from :data:`FAMILIES`; default every family but the held-out one.
    hlr_range : (float, float), default (0.15, 1.5)
        Range of the half-light scale, arcsec (the profile's own hlr differs by the
        family's structure; ``params["hlr"]`` is the drawn scale).

    Returns
    -------
    galaxy : galsim.GSObject
        Unit-flux profile, sizes in arcsec.
    params : dict
        ``kind`` (= ``family``), ``family``, ``hlr`` and the family's own parameters.
    """
    unknown = set(families) - set(FAMILIES)
    if unknown:
        from galgen.errors import GalgenValueError

        msg = f"unknown galaxy families {sorted(unknown)}; choose from {sorted(FAMILIES)}"
        raise GalgenValueError(msg)
    family = str(rng.choice(list(families)))
    hlr = float(np.exp(rng.uniform(np.log(hlr_range[0]), np.log(hlr_range[1]))))
    gal, params = _family(rng, family, hlr)
    return gal, {"kind": family, "family": family, "n_sersic": np.nan, "q": np.nan, **params}


def scene(rng: np.random.Generator, galaxy: galsim.GSObject, field: float, *,
          p_companion: float = 0.5, p_star: float = 0.3, p_neighbour: float = 0.3
          ) -> tuple[list[galsim.GSObject], dict]:
    """The target galaxy (unit flux) with what shares its stamp: fainter companion galaxies,
    foreground stars (point sources) and bright neighbours cut by the stamp's edge.

    Parameters
    ----------
    galaxy : galsim.GSObject
        The target, unit flux, centred.
    field : float
        Side of the stamp, arcsec.

    Returns
    -------
    scene : list of galsim.GSObject
        The target (first, flux 1) and the other sources, total flux ``1 + extra``. Draw
        them one by one and add the images: GalSim would draw their sum with one FFT
        sized for the widest separation and the sharpest profile (thousands of pixels).
    params : dict
        ``companions``, ``stars``, ``neighbours`` (counts) and ``extra_flux``.
    """
    parts, extra = [galaxy], 0.0
    counts = {"companions": 0, "stars": 0, "neighbours": 0}
    half = field / 2
    for _ in range(rng.poisson(1.0) if rng.uniform() < p_companion else 0):
        flux = float(np.exp(rng.uniform(np.log(0.02), np.log(0.3))))
        gal, _ = random_galaxy(rng, knots=True)
        radius = float(rng.uniform(0.25, 0.8)) * half
        angle = float(rng.uniform(0, 2 * np.pi))
        parts.append(gal.dilate(float(rng.uniform(0.3, 0.8))).withFlux(flux)
                     .shift(radius * np.cos(angle), radius * np.sin(angle)))
        extra += flux
        counts["companions"] += 1
    for _ in range(rng.poisson(1.0) if rng.uniform() < p_star else 0):
        flux = float(np.exp(rng.uniform(np.log(0.01), np.log(1.0))))
        xy = rng.uniform(-0.85, 0.85, 2) * half
        parts.append(galsim.DeltaFunction(flux=flux, gsparams=GALAXY_GSPARAMS).shift(*xy))
        extra += flux
        counts["stars"] += 1
    if rng.uniform() < p_neighbour:
        flux = float(np.exp(rng.uniform(np.log(0.2), np.log(2.0))))
        gal, _ = random_galaxy(rng, knots=True)
        angle = float(rng.uniform(0, 2 * np.pi))
        radius = half * float(rng.uniform(0.95, 1.3))
        parts.append(gal.withFlux(flux).shift(radius * np.cos(angle), radius * np.sin(angle)))
        extra += flux
        counts["neighbours"] += 1
    return parts, {**counts, "extra_flux": extra}
