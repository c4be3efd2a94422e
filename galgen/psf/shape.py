"""How far a PSF image is from the round Moffat profile a model was trained on.

``default_x2`` was trained on round Moffat PSFs (beta 3.5) and is told only their FWHM: it
restores a stamp as if its PSF were that Moffat, whatever image the user gives. Ground-based
PSFs of real surveys are often not (Kolmogorov wings, double Gaussians, ellipticity from optics
and guiding). At 0.2"/px (LSST-like sampling), on held-out pairs, such PSFs cost ``default_x2``
1.9 dB and 1.0-1.7 points of median flux error (Kolmogorov x optics, Gaussians) against a model
that reads the PSF image (docs/benchmarks.md, "PSF images that are not Moffat profiles").
:func:`moffat_mismatch` measures the difference, so that a Moffat-trained model can say the PSF
is outside its regime and the router can pass the stamp on.

Why not a least-squares fit (``astropy.modeling`` ``Moffat2D``): the measure wanted is the share
of the light a FWHM-only model puts in the wrong place, with beta fixed at the model's and the
pixel response included; least squares would weigh the core and let beta go. GalSim draws the
pixel-convolved Moffat, and one width is scanned (``scipy.optimize.minimize_scalar``), ~5 ms per
PSF, cached.
"""

from __future__ import annotations

import functools

import galsim
import numpy as np

from galgen.errors import GalgenPSFError
from galgen.psf.models import light_centroid, measure_fwhm

__all__ = ["MOFFAT_TOLERANCE", "moffat_mismatch"]

#: Above this :func:`moffat_mismatch` a PSF is not taken for a Moffat of the model's beta. Chosen
#: on validation pairs (seed 9,000,000, 0.2"/px, 480 pairs: round Moffats of beta 3.5, of beta
#: 2-5, Gaussians and the zoo's ground PSFs; ``benchmarks/psf_shape.py``): exact Moffats of beta
#: 3.5 read under 0.005 on any grid and centring (3-7 pixel FWHM); in bins of 0.005 above that,
#: the PSF-aware ``survey_x2`` had a median flux error 0.4-2.0 points lower than ``default_x2``'s
#: in all but one (0.03-0.04, a tie), at an equal or better median PSNR (+0.7 to +2.5 dB above
#: 0.025). 0.01 leaves room for a little noise in a PSF image (0.1 % of the peak per pixel reads
#: about 0.01). Beta 2.5 reads 0.025-0.045, beta 4.5 about 0.02, Kolmogorov 0.02, a Gaussian
#: 0.07-0.10, a Moffat sheared to e = 0.05 0.03.
MOFFAT_TOLERANCE = 0.01


def moffat_mismatch(psf: np.ndarray, beta: float = 3.5) -> float:
    """Fraction of a PSF image's light placed differently from the closest round Moffat of its width.

    Parameters
    ----------
    psf : numpy.ndarray
        ``(h, w)`` PSF image as observed (pixel response included), any normalisation.
    beta : float, default 3.5
        Moffat index of the comparison profile.

    Returns
    -------
    float
        ``0.5 * sum |p - m|`` with ``p`` the image normalised to sum 1 and ``m`` the round Moffat
        of index ``beta``, drawn through the pixel on the same grid at the same centre, of the FWHM
        (within 20 % of the image's) that brings it closest: 0 for a Moffat of that index, 1 for
        disjoint light. 1.0 when the image has no measurable FWHM (not single-peaked).

    Examples
    --------
    >>> import galsim
    >>> moffat = galsim.Moffat(beta=3.5, fwhm=5.0).drawImage(nx=41, ny=41, scale=1.0).array
    >>> moffat_mismatch(moffat) < 0.01
    True
    >>> gauss = galsim.Gaussian(fwhm=5.0).drawImage(nx=41, ny=41, scale=1.0).array
    >>> round(moffat_mismatch(gauss), 2)
    0.08
    """
    p = np.nan_to_num(np.asarray(psf, dtype=np.float64))
    total = p.sum()
    if p.ndim != 2 or not total > 0:
        return 1.0
    p = p / total
    key = (p.tobytes(), p.shape, float(beta))
    return _mismatch(*key)


@functools.lru_cache(maxsize=32)  # a catalog's stamps share their image's PSF: measured once
def _mismatch(data: bytes, shape: tuple[int, int], beta: float) -> float:
    p = np.frombuffer(data, dtype=np.float64).reshape(shape)
    try:
        fwhm = measure_fwhm(p)
    except GalgenPSFError:
        return 1.0

    def drawn(f: float, offset: np.ndarray) -> np.ndarray:
        m = galsim.Moffat(beta=beta, fwhm=f).drawImage(nx=shape[1], ny=shape[0], scale=1.0,
                                                         offset=tuple(offset)).array.astype(np.float64)
        return m / m.sum()

    # the Moffat placed where its centroid on this grid is the image's: the stamp's edge cuts an
    # off-centre PSF's wings unevenly, so the centroid is not the profile's centre (0.007 for beta 2.5)
    # and the brightest pixels alone are lopsided on a coarse grid (0.04 for an exact 3-pixel Moffat)
    target = light_centroid(p)  # where galgen recentres PSF images
    offset = target - (np.array(shape[::-1]) - 1) / 2
    for _ in range(3):
        offset = offset + target - light_centroid(drawn(fwhm, offset))

    def distance(f: float) -> float:
        return float(0.5 * np.abs(p - drawn(f, offset)).sum())

    from scipy.optimize import minimize_scalar  # here: not every restore reads a PSF image

    # the closest Moffat's width, not the measured FWHM itself: measure_fwhm reads a 3-pixel PSF
    # centred on a pixel corner 5 % wide, which alone made an exact Moffat read 0.07
    best = minimize_scalar(distance, bounds=(0.8 * fwhm, 1.2 * fwhm), method="bounded",
                           options={"xatol": 1e-3 * fwhm})
    return min(float(best.fun), distance(fwhm))
