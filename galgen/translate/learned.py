"""Apply a learned translation (:mod:`galgen.translate.cycle`, trained by
:mod:`galgen.train.translation`) to an image: ``galgen translate IN -o OUT --model NAME``.

Models are found by name among the shipped translations (``galgen/weights/translate/<name>/``)
or by the path of a model directory (``model.safetensors`` + ``config.json``).
"""

from __future__ import annotations

import functools
import os
import warnings
from importlib import resources
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
from astropy.io import fits
from astropy.nddata import CCDData

from galgen.errors import GalgenModelError, GalgenRegimeWarning, GalgenValueError
from galgen.translate.cycle import CycleTranslator

__all__ = ["shipped_translations", "find_translation", "load_translation", "translate_learned"]

#: ``direction`` values: A (finer pixels) to B, and back
DIRECTIONS = ("a2b", "b2a")


def shipped_translations() -> dict[str, Path]:
    """Translation models shipped inside the package (``galgen/weights/translate/<name>/``)."""
    root = Path(str(resources.files("galgen") / "weights" / "translate"))
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / "model.safetensors").is_file()}


def find_translation(name_or_path: str | os.PathLike) -> Path:
    """Directory of a shipped translation (by name) or of a model directory (by path)."""
    shipped = shipped_translations()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    path = Path(name_or_path)
    if (path / "config.json").is_file():
        return path
    msg = (
        f"no translation model {str(name_or_path)!r}: shipped ones are {sorted(shipped) or 'none'}; "
        "or give a directory holding model.safetensors and config.json (galgen train --export)"
    )
    raise GalgenModelError(msg)


@functools.lru_cache(maxsize=4)
def _load(directory: str, stamp: int) -> tuple[CycleTranslator, dict]:
    from galgen.models.serialization import read_state

    card, state = read_state(directory)
    if card.get("kind") != "translation":
        msg = (
            f"{directory} is not a translation model (its card's kind is {card.get('kind', 'restoration')!r})"
        )
        raise GalgenModelError(msg)
    model = CycleTranslator(
        int(card["factor"]),
        card["domains"]["a"]["noise_rms"],
        card["domains"]["b"]["noise_rms"],
        discriminators=False,
        **card["architecture"],
    )
    model.load_state_dict(state)
    return model.eval().requires_grad_(False), card


def load_translation(name_or_path: str | os.PathLike) -> tuple[CycleTranslator, dict]:
    """The trained generators and the model card (weights checked against the card's sha256)."""
    directory = find_translation(name_or_path).resolve()
    return _load(str(directory), (directory / "model.safetensors").stat().st_mtime_ns)


#: How far an input's measured background rms may stray from its domain's before a warning: a
#: factor of 1.5 either way (domain stamps of 24-48 pixels measure 0.95-1.01 of the nominal rms
#: with white noise, 0.77-1.15 with the survey domain's correlated noise).
NOISE_TOLERANCE = 1.5
#: ... and its header's PSFFWHM from the domain's PSF FWHM: 20 %.
PSF_TOLERANCE = 0.2


def _check_domain(img: object, data: np.ndarray, bad: np.ndarray, domain: dict, label: str,
                  name: str) -> None:
    """Warn (:class:`GalgenRegimeWarning`) when the image's noise level, or the PSF its header
    states, is not the source domain's: the networks learnt that domain's noise and blur in its
    units, and the output's ``NOISERMS`` and ``PSFFWHM`` describe the target domain only for such
    inputs."""
    from galgen.preprocess.background import estimate_background

    problems = []
    rms = estimate_background(np.where(bad, np.nan, data)).median_rms
    want = float(domain["noise_rms"])
    if not (want / NOISE_TOLERANCE <= rms <= want * NOISE_TOLERANCE):
        problems.append(f"background noise rms {rms:.3g} against {label}'s {want:.3g} (in its counts)")
    header = getattr(img, "header", None)
    fwhm = header.get("PSFFWHM") if header is not None else None
    psf_fwhm = (domain.get("psf") or {}).get("fwhm", domain.get("psf_fwhm"))
    if isinstance(fwhm, (int, float)) and psf_fwhm and abs(fwhm / float(psf_fwhm) - 1) > PSF_TOLERANCE:
        problems.append(f'PSFFWHM {fwhm:.3g}" against {label}\'s {float(psf_fwhm):.3g}"')
    if problems:
        warnings.warn(
            f"{img.source}: {'; '.join(problems)}: {name} learnt {label}'s noise and PSF, so the "
            "output and its NOISERMS/PSFFWHM keywords are outside its validated regime (a survey's "
            "image: 'galgen translate' with --to-psf-fwhm/--to-pixel-scale/--to-noise-rms instead)",
            GalgenRegimeWarning,
            stacklevel=3,
        )


def translate_learned(
    image: object,
    model: str | os.PathLike = "sim_to_survey",
    *,
    direction: str = "a2b",
    seed: int = 0,
    hdu: int | str | None = None,
    pixel_scale: u.Quantity | float | None = None,
) -> CCDData:
    """Translate an image with a learned model: to domain B (``a2b``) or back (``b2a``).

    Parameters
    ----------
    image : path, HDU, CCDData, NDData or numpy.ndarray
        Counts in the source domain's units (see :func:`galgen.io.read_image`; arrays need
        ``pixel_scale``). Masked or NaN pixels are filled with zero for the network and come out
        NaN (every output pixel they touch).
    model : str or path
        A shipped translation's name or a model directory.
    direction : {"a2b", "b2a"}
    seed : int
        Seed of the noise the generator is fed (the output's synthesised noise); the same seed
        gives the same output.

    Returns
    -------
    astropy.nddata.CCDData
        ``(H / f, W / f)`` for ``a2b`` (``f`` the model's pixel-size ratio; an input not a
        multiple of ``f`` loses its last rows/columns) or ``(f H, f W)`` for ``b2a``; the
        input's unit, a WCS on the new grid covering the same sky, ``PSFFWHM`` of the target
        domain when its card knows it, provenance in ``meta``.

    Raises
    ------
    GalgenValueError
        A bad direction, an image with no valid pixel, a unit in magnitudes or per solid angle.

    Warns
    -----
    GalgenRegimeWarning
        The image's pixel scale differs from the source domain's by more than 2 %, its background
        rms from the domain's by more than a factor :data:`NOISE_TOLERANCE`, or the PSF FWHM its
        header states (``PSFFWHM``) from the domain's by more than :data:`PSF_TOLERANCE`.
    """
    from galgen.io.fits import read_image
    from galgen.io.provenance import add_provenance, pop_input_descriptors
    from galgen.io.units import is_surface_brightness, require_linear_unit
    from galgen.io.wcs import move_physical, resample_wcs, simple_tan_wcs
    from galgen.translate.cycle import resample_flux

    if direction not in DIRECTIONS:
        msg = f"direction must be one of {DIRECTIONS}, got {direction!r}"
        raise GalgenValueError(msg)
    net, card = load_translation(model)
    src, dst = ("a", "b") if direction == "a2b" else ("b", "a")
    dom_src, dom_dst = card["domains"][src], card["domains"][dst]
    if pixel_scale is None and isinstance(image, np.ndarray):
        pixel_scale = dom_src["pixel_scale"]  # a bare array is taken to be on the source domain's grid
    img = read_image(image, hdu=hdu, pixel_scale=pixel_scale)
    require_linear_unit(img.unit, img.source)
    if is_surface_brightness(img.unit):  # its networks sum and split pixels' counts
        msg = (f"{img.source}: BUNIT '{img.unit}' is surface brightness (per solid angle); {card['name']} "
               f"works in counts per pixel of its domain {src.upper()}: multiply by the pixel's solid angle "
               "(and calibrate to the domain's units) first")
        raise GalgenValueError(msg)
    if not np.any(np.isfinite(img.data) & ~img.mask):
        msg = f"{img.source}: every pixel is NaN or masked; nothing to translate"
        raise GalgenValueError(msg)
    if abs(img.pixel_scale / dom_src["pixel_scale"] - 1) > 0.02:
        warnings.warn(
            f"{img.source}: pixel scale {img.pixel_scale:.4g}\" differs from domain {src.upper()}'s "
            f'{dom_src["pixel_scale"]:.4g}" that {card["name"]} was trained on; the output is '
            "outside its validated regime",
            GalgenRegimeWarning,
            stacklevel=2,
        )
    f = int(card["factor"])
    data = np.asarray(img.data, dtype=np.float64)
    bad = img.mask | ~np.isfinite(data)
    _check_domain(img, data, bad, dom_src, f"domain {src.upper()}", card["name"])
    if direction == "a2b":
        h, w = (data.shape[0] // f) * f, (data.shape[1] // f) * f
        data, bad = data[:h, :w], bad[:h, :w]
    x = torch.as_tensor(np.where(bad, 0.0, data), dtype=torch.float32)[None, None]
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(x.shape, generator=gen)
    g = net.g_ab if direction == "a2b" else net.g_ba
    with torch.no_grad():
        out = g(x, z)[0, 0].numpy().astype(np.float64)
        # a NaN input pixel spoils every output pixel it reaches through the network's receptive field
        reach = torch.nn.functional.max_pool2d(torch.as_tensor(bad, dtype=torch.float32)[None, None], 9, 1, 4)
        spoilt = resample_flux(reach, f, "down" if direction == "a2b" else "up")[0, 0].numpy() > 0
    out[spoilt] = np.nan
    wcs_in = img.wcs if img.wcs is not None else simple_tan_wcs(img.shape, img.pixel_scale)
    factor = 1.0 / f if direction == "a2b" else float(f)
    wcs_out = resample_wcs(wcs_in, factor)
    header = img.header.copy() if img.header is not None else fits.Header()
    move_physical(header, scale=factor)
    carried = pop_input_descriptors(header)
    for key in ("NOISERMS", "DOMAIN", "SIMSEED", "SIMINDEX"):
        header.remove(key, ignore_missing=True, remove_all=True)
    add_provenance(
        header,
        "translate",
        {
            "input": img.source,
            "direction": direction,
            "seed": int(seed),
            "factor": f,
            "target_pixel_scale": dom_dst["pixel_scale"],
            **{f"input {k}": v for k, v in carried},
        },
        model_name=card["name"],
        model_hash=card.get("sha256"),
    )
    psf = dom_dst.get("psf") or {}
    if "fwhm" in psf:
        header["PSFFWHM"] = (
            float(psf["fwhm"]),
            f"[arcsec] PSF FWHM of domain {dst.upper()} (learned translation)",
        )
    header["NOISERMS"] = (float(dom_dst["noise_rms"]), f"noise rms of domain {dst.upper()} (image units)")
    return CCDData(
        out, unit=img.unit if img.unit is not None else u.dimensionless_unscaled, wcs=wcs_out, meta=header
    )
