"""Real galaxy images as truths: observe a high-resolution image (HST, or any well-resolved one)
through the simulator's PSF, pixels and noise.

For a sanity check of real morphology, not for training: the image's own PSF and noise stay in
the truth (an HST PSF of ~0.1" is small beside a 0.2" target PSF, adding ~0.02" in
quadrature; its noise is smoothed by the target PSF).
"""

from __future__ import annotations

import os
from importlib import util
from pathlib import Path

import galsim
import numpy as np

from galgen.simulate.degrade import DEFAULT_REGIME, Pair, Regime, simulate_pair
from galgen.simulate.galaxies import GALAXY_GSPARAMS

__all__ = ["real_galaxy", "real_galaxy_pair", "statmorph_spiral"]


def statmorph_spiral() -> Path | None:
    """Path of statmorph's test image (a real face-on spiral, 162 x 162), if statmorph is installed."""
    spec = util.find_spec("statmorph")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "tests" / "data" / "slice.fits"
    return path if path.is_file() else None


def real_galaxy(source: str | os.PathLike | np.ndarray, pixel_scale: float, *,
                crop: int | None = None) -> tuple[galsim.GSObject, dict]:
    """A unit-flux GalSim profile of a real galaxy image.

    Parameters
    ----------
    source : path or numpy.ndarray
        The image (FITS: its first image HDU). The galaxy should sit near the centre.
    pixel_scale : float
        Its pixel scale, arcsec.
    crop : int, optional
        Keep a ``crop x crop`` box around the brightest smoothed pixel.

    Returns
    -------
    galaxy : galsim.GSObject
        ``InterpolatedImage``, unit flux; the sky (median of the border) is subtracted.
    params : dict
        ``kind`` ("real"), ``source``, ``pixel_scale``.
    """
    from scipy.ndimage import gaussian_filter

    if isinstance(source, np.ndarray):
        image, name = np.asarray(source, dtype=np.float64), "<array>"
    else:
        from astropy.io import fits

        image, name = np.asarray(fits.getdata(source), dtype=np.float64), Path(source).name
    image = np.nan_to_num(image)
    border = np.concatenate([image[:8].ravel(), image[-8:].ravel(),
                             image[:, :8].ravel(), image[:, -8:].ravel()])
    image = image - np.median(border)
    if crop is not None:
        cy, cx = np.unravel_index(np.argmax(gaussian_filter(image, 3.0)), image.shape)
        half = crop // 2
        cy, cx = np.clip(cy, half, image.shape[0] - half), np.clip(cx, half, image.shape[1] - half)
        image = image[cy - half:cy + half, cx - half:cx + half]
    gal = galsim.InterpolatedImage(galsim.Image(image / image.sum(), scale=pixel_scale), flux=1.0,
                                   gsparams=GALAXY_GSPARAMS)
    return gal, {"kind": "real", "family": "real", "source": name, "pixel_scale": pixel_scale,
                 "hlr": np.nan, "n_sersic": np.nan, "q": np.nan}


def real_galaxy_pair(galaxy: tuple[galsim.GSObject, dict], rng: np.random.Generator,
                     regime: Regime = DEFAULT_REGIME, **kwargs) -> Pair:
    """:func:`galgen.simulate.simulate_pair` with a real galaxy as the truth (``kwargs``: fixed
    ``psf_fwhm``, ``snr``, ``flux``)."""
    return simulate_pair(rng, regime, galaxy=galaxy, **kwargs)
