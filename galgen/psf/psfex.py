"""PSFEx models (``.psf`` files): the PSF at a position of the exposure they were fitted on.

PSFEx (Bertin 2011) describes a PSF that varies over an exposure as a few basis images
whose weights are polynomials in the image position. GalSim reads the format
(:class:`galsim.des.DES_PSFEx`, which handles the basis, the polynomial and the PSF's own
sampling ``PSF_SAMP``); galgen evaluates it at a stamp's position and checks the result like
any PSF image (:func:`galgen.psf.files.read_psf`).

Positions are in the pixel frame of the exposure PSFEx was run on (SExtractor's
``X_IMAGE``/``Y_IMAGE``, 1-based), not in a cutout's.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from galgen.errors import GalgenPSFError

__all__ = ["is_psfex", "psfex_kernel", "write_psfex"]

log = logging.getLogger(__name__)


def is_psfex(source: object, columns: list[str] | None = None) -> bool:
    """Whether ``source`` (a path) is a PSFEx model: a FITS file whose first extension is a
    table with a ``PSF_MASK`` column (``columns``: that table's names, when already read by
    :func:`galgen.io.hdus.first_table_columns`)."""
    from galgen.io.hdus import first_table_columns

    return "PSF_MASK" in (first_table_columns(source) if columns is None else columns)


def psfex_kernel(path: str | os.PathLike,
                 position: tuple[float, float] | None = None) -> tuple[np.ndarray, str]:
    """Evaluate a PSFEx model at ``position`` and render it on the exposure's pixel grid.

    Parameters
    ----------
    path : path
        The ``.psf`` file.
    position : (float, float), optional
        ``(x, y)`` in the exposure's pixels (1-based, as SExtractor writes them); default the
        model's own centre (``POLZERO1``, ``POLZERO2``), which the log says.

    Returns
    -------
    kernel : numpy.ndarray
        ``(n, n)`` odd-sided, sum 1, one image pixel per pixel (the effective PSF: PSFEx
        models include the pixel response).
    note : str
        Where it was evaluated, for provenance.

    Raises
    ------
    GalgenPSFError
        The file is not a PSFEx model GalSim can read (the message says why).
    """
    import galsim
    import galsim.des
    from astropy.io import fits

    name = str(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[1].header
            model = galsim.des.DES_PSFEx(hdul[1])
    except (OSError, KeyError, ValueError, IndexError) as exc:
        msg = f"{name}: not a PSFEx model galgen can read ({exc}); give a PSF image or a PSFEx .psf file"
        raise GalgenPSFError(msg) from None
    if position is None:
        position = (float(header["POLZERO1"]), float(header["POLZERO2"]))
        log.warning("%s: PSFEx model evaluated at its centre (%.1f, %.1f); give the stamp's position in "
                    "the exposure for a PSF that varies over the field (--psf-position X,Y, or LTV1/LTV2 "
                    "in the stamp's header)", name, *position)
    x, y = (float(v) for v in position)
    if not (np.isfinite(x) and np.isfinite(y)):
        msg = f"{name}: PSFEx position ({x}, {y}) is not finite"
        raise GalgenPSFError(msg)
    profile = model.getPSF(galsim.PositionD(x, y))
    # the basis covers PSFAXIS1 * PSF_SAMP image pixels: render that much on an odd grid
    n = int(np.ceil(float(header["PSFAXIS1"]) * model.getSampleScale())) | 1
    image = profile.drawImage(nx=n, ny=n, scale=1.0, method="no_pixel").array.astype(np.float64)
    total = float(image.sum())
    if not np.all(np.isfinite(image)) or not total > 0:
        msg = (f"{name}: the PSFEx model at ({x:.1f}, {y:.1f}) has no positive total; is the position "
               "on the exposure?")
        raise GalgenPSFError(msg)
    return image / total, f"PSFEx at x={x:.1f}, y={y:.1f}"


def write_psfex(path: str | os.PathLike, basis: np.ndarray, *, sample: float = 1.0,
                zero: tuple[float, float] = (0.0, 0.0), scale: tuple[float, float] = (1.0, 1.0),
                degree: int = 1, overwrite: bool = False) -> Path:
    """Write a PSFEx-format model (for simulations, tests and fixtures; PSFEx writes real ones).

    Parameters
    ----------
    path : path
        Output ``.psf`` file (written atomically).
    basis : numpy.ndarray
        ``((degree + 1) (degree + 2) / 2, n, n)`` basis images in PSFEx pixels; the PSF at
        ``(x, y)`` is ``sum_k basis[k] * term_k`` with terms ``1, u, u^2, ..., v, uv, ..., v^d``
        (``u = (x - zero[0]) / scale[0]``, ``v`` likewise), PSFEx's order.
    sample : float, default 1
        ``PSF_SAMP``: image pixels per PSFEx pixel (0.5: the model is sampled twice as finely).
    zero, scale : (float, float)
        ``POLZERO1/2`` and ``POLSCAL1/2``, image pixels.
    degree : int, default 1
        ``POLDEG1``.
    """
    from astropy.io import fits

    from galgen.io.atomic import atomic_path

    basis = np.asarray(basis, np.float32)
    nterms = (degree + 1) * (degree + 2) // 2
    if basis.ndim != 3 or basis.shape[0] != nterms or basis.shape[1] != basis.shape[2]:
        msg = f"basis must be ({nterms}, n, n) for degree {degree}, got {basis.shape}"
        raise GalgenPSFError(msg)
    n = basis.shape[1]
    col = fits.Column(name="PSF_MASK", format=f"{basis.size}E", dim=f"({n},{n},{nterms})", array=basis[None])
    hdu = fits.BinTableHDU.from_columns([col], name="PSF_DATA")
    hdu.header.update({"POLNAXIS": 2, "POLGRP1": 1, "POLNAME1": "X_IMAGE", "POLZERO1": float(zero[0]),
                       "POLSCAL1": float(scale[0]), "POLGRP2": 1, "POLNAME2": "Y_IMAGE",
                       "POLZERO2": float(zero[1]), "POLSCAL2": float(scale[1]), "POLNGRP": 1,
                       "POLDEG1": int(degree), "PSF_SAMP": float(sample), "PSFNAXIS": 3, "PSFAXIS1": n,
                       "PSFAXIS2": n, "PSFAXIS3": nterms})
    path = Path(path)
    if path.exists() and not overwrite:
        msg = f"{path} exists; choose another name or pass overwrite=True"
        raise GalgenPSFError(msg)
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)
    return path
