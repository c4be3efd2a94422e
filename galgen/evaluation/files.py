"""``galgen evaluate`` on files: truth / restored (/ observed) FITS, one by one or from a manifest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from galgen.errors import GalgenError, GalgenFileError, GalgenValueError
from galgen.evaluation.coverage import complete_coverage_rows, coverage_metrics
from galgen.evaluation.measure import METRIC_UNITS, measure_galaxy
from galgen.io.fits import read_image

__all__ = ["evaluate_files", "evaluate_manifest"]

#: How far the truth's stated PSF FWHM may differ from the restored image's before it is brought
#: to it (sharper truth) or refused (blurrier truth), relative.
PSF_MATCH_TOLERANCE = 0.05


def _stated_fwhm(header: object) -> float | None:
    value = header.get("PSFFWHM") if header is not None else None
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) and value > 0 else None


def _truth_at_target(t: object, r: object, truth: object, restored: object) -> tuple[np.ndarray, float]:
    """The truth brought to the restored image's PSF when both headers state one (``PSFFWHM``,
    arcsec): a sharper truth (e.g. a space image) is convolved with the Gaussian that widens it to
    the restored image's target PSF (exact for Gaussian PSFs, as galgen's targets are); a truth
    blurrier than the restoration claims to be cannot judge it and is an error. Returns the data
    and the truth's FWHM it was matched from (NaN when left as it is)."""
    t_fwhm, r_fwhm = _stated_fwhm(t.header), _stated_fwhm(r.header)
    if t_fwhm is None or r_fwhm is None or abs(t_fwhm / r_fwhm - 1) <= PSF_MATCH_TOLERANCE:
        return t.data, float("nan")
    if t_fwhm > r_fwhm:
        msg = (f"{truth}: its PSF (PSFFWHM {t_fwhm:.4g}\") is wider than the restored image's target PSF "
               f"({r_fwhm:.4g}\", {restored}): a truth blurrier than the restoration cannot measure it; give "
               "the truth at the target PSF or sharper (galgen simulate writes it so)")
        raise GalgenValueError(msg)
    from galgen.psf.kernels import convolve_psf
    from galgen.psf.models import gaussian_psf

    width = np.sqrt(r_fwhm**2 - t_fwhm**2) / t.pixel_scale
    kernel = gaussian_psf(width, int(np.ceil(8 * width)) | 1)
    return convolve_psf(np.nan_to_num(t.data), kernel), t_fwhm



def evaluate_files(truth: str | os.PathLike, restored: str | os.PathLike, *,
                   observed: str | os.PathLike | None = None, psf_fwhm: float | None = None,
                   noise_rms: float | None = None, nonparametric: bool = False) -> dict:
    """Measure one restored FITS against its truth (and its observation, for chi^2).

    ``psf_fwhm`` (arcsec) and ``noise_rms`` default to the observation's
    ``PSFFWHM`` and ``NOISERMS`` header keywords (written by ``galgen simulate``).
    ``nonparametric`` adds the statmorph statistics (needs the observation's noise).
    When the restored file has an uncertainty map (``UNCERT``, as ``galgen restore --samples N``
    writes), the row adds its coverage of the truth on galaxy pixels
    (:func:`galgen.evaluation.coverage.coverage_metrics`: ``coverage_1sigma``,
    ``coverage_2sigma``, ``coverage_pixels``, ``reliability``).
    When both files state their PSF (``PSFFWHM``) and the truth's is sharper than the restored
    image's target PSF, the truth is first convolved to it (``truth_psf_matched_from``: the
    truth's FWHM, arcsec; NaN when it was used as it is); a truth blurrier than the target is an
    error (a fair comparison happens at the restoration's resolution).
    Any failure becomes a row with NaNs and the reason in ``flag``.
    """
    row = {"truth": str(truth), "restored": str(restored), "truth_psf_matched_from": float("nan")}
    try:
        t, r = read_image(truth), read_image(restored)
        if t.shape != r.shape:
            msg = (f"{restored}: {r.shape[1]}x{r.shape[0]} pixels of {r.pixel_scale:.4g}\" but the truth "
                   f"{truth} has {t.shape[1]}x{t.shape[0]} of {t.pixel_scale:.4g}\": the truth must be on "
                   "the restored image's grid (galgen simulate writes one; resample a sharper image with "
                   "reproject)")
            raise GalgenValueError(msg)
        truth_data, row["truth_psf_matched_from"] = _truth_at_target(t, r, truth, restored)
        kwargs = {}
        if observed is not None:
            o = read_image(observed)
            scale = int(round(o.pixel_scale / t.pixel_scale))
            kwargs = {"observation": np.nan_to_num(o.data), "scale": scale,
                      "psf_fwhm": psf_fwhm if psf_fwhm is not None else o.header.get("PSFFWHM"),
                      "noise_rms": noise_rms if noise_rms is not None else o.header.get("NOISERMS")}
            if kwargs["psf_fwhm"] is None or kwargs["noise_rms"] is None:
                msg = f"{observed}: give psf_fwhm and noise_rms (no PSFFWHM/NOISERMS in its header)"
                raise GalgenValueError(msg)
        row.update(measure_galaxy(np.nan_to_num(r.data), truth_data, t.pixel_scale,
                                  nonparametric=nonparametric and "noise_rms" in kwargs, **kwargs))
        if r.uncertainty is not None:
            row.update(coverage_metrics(r.data, r.uncertainty, truth_data, t.pixel_scale))
    except GalgenError as exc:
        row.update({k: float("nan") for k in METRIC_UNITS})
        row["flag"] = str(exc)
    return row


def evaluate_manifest(manifest: str | os.PathLike, restored_dir: str | os.PathLike, *,
                      nonparametric: bool = False) -> Table:
    """Evaluate every row of a ``galgen simulate`` manifest against ``restored_dir/<name>``.

    The restored file of a pair is looked up by the observed file's name.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        msg = f"{manifest}: no such manifest; give the manifest.ecsv that galgen simulate wrote"
        raise GalgenFileError(msg)
    if not Path(restored_dir).is_dir():
        msg = f"{restored_dir}: no such directory of restored files (--restored DIR)"
        raise GalgenFileError(msg)
    table = Table.read(manifest, format="ascii.ecsv")
    rows = []
    for entry in table:
        obs = manifest.parent / entry["observed"]
        row = evaluate_files(manifest.parent / entry["truth"], Path(restored_dir) / Path(obs).name,
                             observed=obs, nonparametric=nonparametric)
        row.update({"snr": float(entry["snr"]), "psf_fwhm": float(entry["psf_fwhm"]),
                    "method": "restored"})
        rows.append(row)
    out = Table(rows=complete_coverage_rows(rows))
    for col, unit in {**METRIC_UNITS, "truth_psf_matched_from": "arcsec"}.items():
        if unit and col in out.colnames:
            out[col].unit = unit
    return out
