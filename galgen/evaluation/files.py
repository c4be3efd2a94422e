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
    Any failure becomes a row with NaNs and the reason in ``flag``.
    """
    row = {"truth": str(truth), "restored": str(restored)}
    try:
        t, r = read_image(truth), read_image(restored)
        if t.shape != r.shape:
            msg = (f"{restored}: {r.shape[1]}x{r.shape[0]} pixels of {r.pixel_scale:.4g}\" but the truth "
                   f"{truth} has {t.shape[1]}x{t.shape[0]} of {t.pixel_scale:.4g}\": the truth must be on "
                   "the restored image's grid (galgen simulate writes one; resample a sharper image with "
                   "reproject)")
            raise GalgenValueError(msg)
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
        row.update(measure_galaxy(np.nan_to_num(r.data), t.data, t.pixel_scale,
                                  nonparametric=nonparametric and "noise_rms" in kwargs, **kwargs))
        if r.uncertainty is not None:
            row.update(coverage_metrics(r.data, r.uncertainty, t.data, t.pixel_scale))
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
    for col, unit in METRIC_UNITS.items():
        if unit and col in out.colnames:
            out[col].unit = unit
    return out
