"""Training pairs: an on-the-fly torch ``Dataset`` and a FITS + ECSV writer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from astropy.table import Table
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from galgen.errors import GalgenFileError
from galgen.io.atomic import atomic_path
from galgen.io.fits import write_fits
from galgen.io.provenance import add_provenance
from galgen.io.wcs import simple_tan_wcs
from galgen.simulate.degrade import DEFAULT_REGIME, Pair, Regime, simulate_pair

__all__ = ["PairDataset", "pair_rng", "write_dataset"]


def pair_rng(seed: int, index: int) -> np.random.Generator:
    """Independent generator of pair ``index`` of the data set with ``seed``.

    Each pair depends only on ``(seed, index)``, so a data set is the same
    whatever the number of DataLoader workers or the order of access.
    """
    return np.random.default_rng([int(seed), int(index)])


class PairDataset(Dataset):
    """Simulated (observation, target) pairs generated on the fly.

    Parameters
    ----------
    length : int
        Number of pairs.
    seed : int
        Data-set seed; pair ``i`` is drawn from ``pair_rng(seed, i)``.
    regime : Regime, optional
        Conditions; default :data:`galgen.simulate.DEFAULT_REGIME`.
    cache : bool, default False
        Keep generated pairs in memory (worth it when a model step is cheaper
        than a simulation and the set is reused over epochs).

    Notes
    -----
    Items are dicts of tensors: ``observation`` ``(1, H, W)``, ``target``
    ``(1, sH, sW)`` (float32, ADU), ``noise_rms``, ``psf_fwhm`` (arcsec),
    ``snr`` and ``flux`` (0-d float32).
    """

    def __init__(self, length: int, seed: int, regime: Regime = DEFAULT_REGIME,
                 cache: bool = False) -> None:
        self.length = int(length)
        self.seed = int(seed)
        self.regime = regime
        self._cache: dict[int, dict[str, torch.Tensor]] | None = {} if cache else None

    def __len__(self) -> int:
        return self.length

    def pair(self, index: int) -> Pair:
        """The :class:`Pair` behind item ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(index)
        return simulate_pair(pair_rng(self.seed, index), self.regime)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        p = self.pair(index)
        item = {
            "observation": torch.from_numpy(p.observation)[None],
            "target": torch.from_numpy(p.target)[None],
            "noise_rms": torch.tensor(p.noise_rms, dtype=torch.float32),
            "psf_fwhm": torch.tensor(p.psf_fwhm, dtype=torch.float32),
            "snr": torch.tensor(p.snr, dtype=torch.float32),
            "flux": torch.tensor(p.flux, dtype=torch.float32),
        }
        if self._cache is not None:
            self._cache[index] = item
        return item


def write_dataset(outdir: str | os.PathLike, n: int, seed: int, regime: Regime = DEFAULT_REGIME,
                  *, overwrite: bool = False, progress: bool = True) -> Table:
    """Simulate ``n`` pairs and write them as FITS stamps plus an ECSV manifest.

    Layout: ``outdir/observed/NNNNNN.fits`` (observation with WCS, ``BUNIT=adu``,
    noise and PSF in the header, PSF image in extension ``PSF``),
    ``outdir/truth/NNNNNN.fits`` (target on the x``factor`` grid with the
    matching WCS) and ``outdir/manifest.ecsv`` (one row per pair, truth
    parameters with units).

    Parameters
    ----------
    outdir : path
        Output directory (created).
    n : int
        Number of pairs.
    seed : int
        Data-set seed (same seed, same pairs as :class:`PairDataset`).
    regime : Regime
        Conditions.
    overwrite : bool, default False
        Replace existing files.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    astropy.table.Table
        The manifest.
    """
    import astropy.units as u

    from galgen.errors import GalgenValueError

    if isinstance(n, bool) or int(n) != n or n < 1:
        msg = f"n={n!r}: give the number of pairs to simulate, at least 1"
        raise GalgenValueError(msg)
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        msg = f"seed={seed!r}: give a whole number >= 0 (numpy's seeds are non-negative)"
        raise GalgenValueError(msg)
    if not 8 <= regime.in_size <= 1024:
        msg = (f"stamps of {regime.in_size} pixels: give a side of 8-1024 observed pixels (the "
               f"x{regime.factor} truth is {regime.factor}x that); the default is 64")
        raise GalgenValueError(msg)
    outdir = Path(outdir)
    manifest_path = outdir / "manifest.ecsv"
    if manifest_path.exists() and not overwrite:
        msg = f"{manifest_path} exists; choose an empty directory or pass overwrite=True"
        raise GalgenFileError(msg)
    (outdir / "observed").mkdir(parents=True, exist_ok=True)
    (outdir / "truth").mkdir(parents=True, exist_ok=True)
    dataset = PairDataset(n, seed, regime)
    rows = []
    for i in tqdm(range(n), desc="simulate", unit="pair", disable=not progress):
        p = dataset.pair(i)
        obs_wcs = simple_tan_wcs(p.observation.shape, regime.in_pixel_scale)
        out_wcs = simple_tan_wcs(p.target.shape, regime.out_pixel_scale)
        params = {"seed": seed, "index": i, "regime": regime.to_dict()}
        hdr = add_provenance(_pair_header(p), "simulate", params)
        name = f"{i:06d}.fits"
        write_fits(outdir / "observed" / name, p.observation, header=hdr, wcs=obs_wcs,
                   unit=u.adu, extensions={"PSF": p.psf}, overwrite=overwrite)
        thdr = add_provenance(_pair_header(p, truth=True), "simulate", params)
        write_fits(outdir / "truth" / name, p.target, header=thdr, wcs=out_wcs, unit=u.adu,
                   overwrite=overwrite)
        rows.append({
            "index": i, "observed": f"observed/{name}", "truth": f"truth/{name}",
            "psf_fwhm": p.psf_fwhm, "snr": p.snr, "noise_rms": p.noise_rms, "flux": p.flux,
            "hlr": p.params["hlr"], "n_sersic": p.params["n_sersic"], "q": p.params["q"],
            "kind": p.params["kind"], "knot_fraction": p.params.get("knot_fraction", 0.0),
        })
    table = Table(rows=rows)
    table["psf_fwhm"].unit = u.arcsec
    table["hlr"].unit = u.arcsec
    table["noise_rms"].unit = u.adu
    table["flux"].unit = u.adu
    table.meta.update({"seed": seed, "regime": regime.to_dict(), "generator": "galgen.simulate"})
    with atomic_path(manifest_path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return table


def _pair_header(p: Pair, truth: bool = False):  # noqa: ANN202
    """The keywords that describe one file of a pair: the observation's PSF and noise, or, for
    the noise-free truth, the target PSF it is drawn with."""
    from astropy.io import fits

    hdr = fits.Header()
    if truth:
        hdr["PSFFWHM"] = (p.regime.target_psf_fwhm, "[arcsec] target Gaussian PSF (noise-free truth)")
        hdr["PSFTYPE"] = ("gaussian", "target PSF family")
        hdr["OBSPSF"] = (p.psf_fwhm, "[arcsec] PSF FWHM of its observation")
    else:
        hdr["PSFFWHM"] = (p.psf_fwhm, "[arcsec] observing PSF FWHM")
        hdr["PSFTYPE"] = (p.regime.psf_kind, "observing PSF family")
        hdr["NOISERMS"] = (p.noise_rms, "[adu] background noise, 1 sigma")
    hdr["SNR"] = (p.snr, "matched-filter SNR of the galaxy")
    hdr["FLUX"] = (p.flux, "[adu] total flux of the galaxy")
    return hdr
