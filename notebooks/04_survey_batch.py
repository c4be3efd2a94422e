# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 04 - A survey batch on a Dask LocalCluster
#
# Simulate a folder of FITS stamps (one of them corrupt), restore them all on two Dask worker
# processes, and read the manifest. Re-running skips what is done.

# %%
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from galgen.batch import BatchOptions, expand_inputs, run_batch, run_catalog
from galgen.io import read_stamps, simple_tan_wcs, write_fits
from galgen.simulate import PairDataset, write_dataset

FAST = os.environ.get("GALGEN_FAST", "0") == "1"
OUT = Path(os.environ.get("GALGEN_OUT", "survey"))
write_dataset(OUT / "sim", 6 if FAST else 100, seed=123, overwrite=True, progress=False)
(OUT / "sim" / "observed" / "broken.fits").write_bytes(b"not a FITS file")

# %%
items = expand_inputs([OUT / "sim" / "observed"])
options = BatchOptions(psf_fwhm=1.0 * u.arcsec, background=0.0, batch_size=8)
manifest = run_batch(items, options, OUT / "restored", local_workers=2, chunk_size=4, progress=False)
manifest["key", "status", "seconds", "chi2"].pprint(max_lines=-1)
print(manifest[manifest["status"] != "ok"]["error"][0])

# %%
again = run_batch(items, options, OUT / "restored", dry_run=True)
print({s: int(np.sum(again["status"] == s)) for s in ("skip", "todo")})

# %% [markdown]
# ## A brick, its inverse-variance map and its Tractor catalog
#
# Survey coadds often keep the noise in a file of its own (the Legacy Surveys' `-image-` and
# `-invvar-` bricks), and their catalogs give every object's PSF size (`psfsize_r`, arcsec) and
# an `objid` that is unique within its brick only. A catalog run cuts each galaxy from the brick
# (memory-mapped once), reads its noise from the invvar file (a template of the image's name),
# restores it with its own PSF FWHM, and writes stacked files (an `objid` repeated across the bricks
# of a sweep would be taken with its `brickname`). Each block of this brick has its own depth: the
# noise plane each stamp read (`GALGENNV`) follows it, as the noise measured on its sky does.

# %%
pairs = [PairDataset(4, seed=321).pair(k) for k in range(4)]
rng = np.random.default_rng(0)
brick, invvar = np.zeros((160, 160)), np.zeros((160, 160))
for k, pair in enumerate(pairs):  # four 80-pixel blocks, each at its galaxy's depth
    j, i = divmod(k, 2)
    block = np.s_[80 * j:80 * j + 80, 80 * i:80 * i + 80]
    brick[block] = rng.normal(0, pair.noise_rms, (80, 80))
    invvar[block] = 1 / pair.noise_rms**2
    brick[80 * j + 8:80 * j + 72, 80 * i + 8:80 * i + 72] = pair.observation  # its own noise
wcs = simple_tan_wcs(brick.shape, 0.2)
write_fits(OUT / "legacysurvey-1501p022-image-r.fits", brick, wcs=wcs, overwrite=True)
fits.PrimaryHDU(invvar).writeto(OUT / "legacysurvey-1501p022-invvar-r.fits", overwrite=True)
sky = wcs.pixel_to_world([39.5, 119.5, 39.5, 119.5], [39.5, 39.5, 119.5, 119.5])
tractor = Table({"brickname": ["1501p022"] * 4, "objid": [0, 1, 2, 3], "ra": sky.ra.deg, "dec": sky.dec.deg,
                 "psfsize_r": [p.psf_fwhm for p in pairs] * u.arcsec})
tractor.write(OUT / "tractor-1501p022.fits", overwrite=True)

# %%
brick_options = BatchOptions(psf_fwhm_column="psfsize_r", background=0.0, check_psf=False,
                             noise_map=str(OUT / "{stem[:-8]}-invvar-r.fits"))
stacked = run_catalog(OUT / "tractor-1501p022.fits", [OUT / "legacysurvey-1501p022-image-r.fits"],
                      brick_options, OUT / "brick_restored", size=64, progress=False)
stacked["key", "status", "chi2", "flag"].pprint(max_lines=-1)
for row in stacked:
    stamp = read_stamps(row["output"], row["index"])
    print(f"{row['key']}: PSF {stamp.meta['GALGENPF']:.2f}\" (catalog), noise plane "
          f"{stamp.meta['GALGENNV']:.3g} vs measured {stamp.meta['GALGENNS']:.3g}")
