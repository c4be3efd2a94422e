"""High-resolution "truth" galaxies drawn with GalSim from the COSMOS example catalog."""

from __future__ import annotations

import functools
from importlib import resources

import galsim
import numpy as np

__all__ = ["cosmos_catalog", "cosmos_galaxy", "random_galaxy", "GALAXY_GSPARAMS"]

#: Bounds GalSim's FFTs: some COSMOS profiles otherwise ask for several GB.
GALAXY_GSPARAMS = galsim.GSParams(maximum_fft_size=4096, folding_threshold=5e-3)


@functools.lru_cache(maxsize=1)
def cosmos_catalog() -> galsim.COSMOSCatalog:
    """The bundled COSMOS example catalog (100 galaxies, parametric fits only).

    The files are GalSim's example data, carried in ``galgen/data/cosmos`` with
    their BSD licence notice, so nothing is downloaded.
    """
    folder = resources.files("galgen") / "data" / "cosmos"
    return galsim.COSMOSCatalog(
        file_name="real_galaxy_catalog_23.5_example.fits", dir=str(folder),
        use_real=False, exclusion_level="none",
    )


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 2**31 - 1))


def _with_knots(disk: galsim.GSObject, hlr: float, shear: galsim.Shear, rng: np.random.Generator,
                fraction: float, n_knots: int) -> galsim.GSObject:
    knots = galsim.RandomKnots(n_knots, half_light_radius=hlr, flux=fraction,
                               rng=galsim.BaseDeviate(_seed(rng)), gsparams=GALAXY_GSPARAMS)
    return disk.withFlux(1.0 - fraction) + knots.shear(shear)


def cosmos_galaxy(rng: np.random.Generator, index: int | None = None) -> tuple[galsim.GSObject, dict]:
    """One parametric COSMOS galaxy (Sersic or bulge+disk fit), randomly rotated.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    index : int, optional
        Catalog row; random when omitted.

    Returns
    -------
    galaxy : galsim.GSObject
        Profile with unit flux, sizes in arcsec.
    params : dict
        ``kind``, ``index``, ``hlr`` (arcsec, catalog value).
    """
    cat = cosmos_catalog()
    if index is None:
        index = int(rng.integers(cat.nobjects))
    gal = cat.makeGalaxy(index, gal_type="parametric", chromatic=False, gsparams=GALAXY_GSPARAMS)
    gal = gal.rotate(float(rng.uniform(0, 360)) * galsim.degrees).withFlux(1.0)
    hlr = float(cat.param_cat["hlr"][cat.orig_index[index]][0])
    return gal, {"kind": "cosmos", "index": index, "hlr": hlr, "n_sersic": np.nan, "q": np.nan}


def random_galaxy(rng: np.random.Generator, knots: bool = True,
                  p_cosmos: float = 0.3) -> tuple[galsim.GSObject, dict]:
    """A random galaxy around the COSMOS catalog's parameter distribution.

    With probability ``p_cosmos`` a catalog galaxy itself (:func:`cosmos_galaxy`);
    otherwise a new Sersic or bulge+disk profile whose half-light radius, Sersic
    index and axis ratio are drawn near those of a random catalog entry
    (log-normal scatter: 0.25 in ln hlr, 0.1 in ln n; 0.05 in q), optionally with star-forming
    clumps (``galsim.RandomKnots``) carrying 5-40 % of the disk light.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    knots : bool, default True
        Allow star-forming clumps.
    p_cosmos : float, default 0.3
        Probability of taking a catalog galaxy unchanged (but rotated).

    Returns
    -------
    galaxy : galsim.GSObject
        Unit-flux profile, sizes in arcsec.
    params : dict
        ``kind``, ``index``, ``hlr`` (arcsec), ``n_sersic``, ``q``, ``knot_fraction``.
    """
    if rng.uniform() < p_cosmos:
        gal, params = cosmos_galaxy(rng)
        params["knot_fraction"] = 0.0
        return gal, params
    cat = cosmos_catalog()
    index = int(rng.integers(cat.nobjects))
    row = cat.param_cat[cat.orig_index[index]]
    hlr = float(np.clip(row["hlr"][0] * np.exp(rng.normal(0, 0.25)), 0.12, 2.0))
    n = float(np.clip(row["sersicfit"][2] * np.exp(rng.normal(0, 0.1)), 0.5, 5.5))
    q = float(np.clip(row["sersicfit"][3] + rng.normal(0, 0.05), 0.2, 1.0))
    shear = galsim.Shear(q=q, beta=float(rng.uniform(0, 180)) * galsim.degrees)
    knot_fraction = float(rng.uniform(0.05, 0.4)) if knots and rng.uniform() < 0.6 else 0.0
    if rng.uniform() < 0.5:
        gal = galsim.Sersic(n=n, half_light_radius=hlr, gsparams=GALAXY_GSPARAMS).shear(shear)
        kind = "sersic"
        if knot_fraction:
            gal = _with_knots(gal, hlr, shear, rng, knot_fraction, int(rng.integers(10, 60)))
            kind = "sersic+knots"
    else:
        bulge_fraction = float(rng.uniform(0.05, 0.6))
        disk = galsim.Exponential(half_light_radius=hlr, gsparams=GALAXY_GSPARAMS)
        bulge = galsim.DeVaucouleurs(half_light_radius=max(0.08, 0.4 * hlr),
                                     gsparams=GALAXY_GSPARAMS)
        disk = disk.shear(shear)
        if knot_fraction:
            disk = _with_knots(disk, hlr, shear, rng, knot_fraction, int(rng.integers(10, 60)))
        bulge = bulge.shear(galsim.Shear(q=min(1.0, q + 0.3), beta=shear.beta))
        gal = bulge_fraction * bulge + (1 - bulge_fraction) * disk
        n = np.nan
        kind = "bulge+disk" + ("+knots" if knot_fraction else "")
    return gal.withFlux(1.0), {"kind": kind, "index": index, "hlr": hlr, "n_sersic": n, "q": q,
                               "knot_fraction": knot_fraction}
