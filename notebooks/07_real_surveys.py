# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 07 - From a survey cutout and its PSF product to a validated restoration
#
# Surveys hand out their PSF as an image (SDSS psField reconstructions, Legacy Surveys PSF
# cutouts) or as a PSFEx model (DES, many pipelines). This notebook goes from each to a
# restored FITS file and reads what galgen wrote: which PSF to pass and in what units, what
# the regime check says, the output header, the uncertainty map and the flags, and when not
# to trust the result.
#
# The inputs are the committed fixtures of `data_recipes` (`tests/data/`, simulated stand-ins
# with the real products' layout: run `data_recipes/sdss_cutouts.py` on a machine with network
# access for real frames). `GALGEN_FAST=1` uses fewer uncertainty samples.

# %%
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.nddata import Cutout2D

import galgen
from galgen import restore, write_restored
from galgen.io import read_image
from galgen.restoration import get_method

FAST = os.environ.get("GALGEN_FAST", "0") == "1"
OUT = Path(os.environ.get("GALGEN_OUT", "survey_output"))
OUT.mkdir(parents=True, exist_ok=True)
DATA = Path(os.environ.get("GALGEN_FIXTURES", Path(galgen.__file__).parents[1] / "tests" / "data"))
SAMPLES = 4 if FAST else 16
default = get_method("default", 2)
models = {m.name: m for m in getattr(default, "models", [default])}  # the default may route between models
for m in models.values():
    print(f"{m.name}: works in pixel units: {m.any_pixel_scale}; trained on PSF FWHM "
          f"{m.regime['psf_fwhm_range']} arcsec at {m.regime['in_pixel_scale']}\"/px")

# %% [markdown]
# ## 1. SDSS: a corrected frame and its psField PSF
#
# Cut a stamp around the galaxy with its WCS (`astropy.nddata.Cutout2D` slices the WCS too),
# then pass the PSF *image*. Its pixel scale comes from its WCS or `PIXSCALE` keyword; it is
# normalised by galgen and its FWHM is measured (no `--psf-fwhm` needed). The `read_PSF` tool
# adds a soft bias of 1000 to every pixel: keep its `SOFTBIAS` keyword in the file and galgen
# subtracts it (a flat background at a PSF's edges is otherwise named in the log). SDSS frames
# are sky-subtracted, so `background=0`.

# %%
frame = read_image(DATA / "sdss_frame.fits")
print(f"frame {frame.shape}, {frame.pixel_scale:.3f}\"/px, unit {frame.unit}")
cut = Cutout2D(np.asarray(frame.data), position=(63.5, 63.5), size=64, wcs=frame.wcs)
from astropy.nddata import CCDData  # noqa: E402

stamp = CCDData(cut.data, unit=frame.unit, wcs=cut.wcs)
sdss = restore(stamp, psf=DATA / "sdss_psf.fits", background=0.0, samples=SAMPLES)
write_restored(sdss, OUT / "sdss_restored.fits", overwrite=True)
for key in ("GALGENMD", "GALGENPF", "PSFFWHM", "GALGENX2", "GALGENFL", "GALGENSN", "GALGENPH"):
    print(f"{key:8s} = {sdss.meta[key]!s:24s} / {sdss.meta.comments[key]}")
print(f"output {sdss.shape} at {sdss.wcs.proj_plane_pixel_scales()[0].to(u.arcsec):.4f}; "
      f"flux: stamp {cut.data.sum():.2f}, restored {np.nansum(sdss.data):.2f} {sdss.unit}")

# %% [markdown]
# `GALGENPF` is the observing PSF galgen measured on the PSF image (arcsec); `PSFFWHM` is the
# restored image's own PSF: for a model that works in pixel units, 2 output pixels (0.396"
# on the 0.198" output grid of an SDSS stamp, against the 1.4" seeing). `GALGENX2` compares
# the restored image, blurred back, with the observation (about 1 when they agree) and
# `GALGENFL` says `OK` or what to distrust (`REGIME` when the model was not trained for this
# sampling or PSF).
#
# The `UNCERT` extension is a noise bootstrap with the model card's calibration (fitted on
# validation data) when the card has one. That calibration matches the *pooled* coverage of
# galaxy pixels (68 % within 1 sigma); its error term proportional to the surface brightness
# makes it generous on bright pixels: use it for error bars on aggregate quantities, not as a
# per-pixel significance map.

# %%
model = models.get(sdss.meta["GALGENMD"], next(iter(models.values())))  # the model that restored it
std = np.asarray(sdss.uncertainty.array)
core = np.asarray(sdss.data) > 0.1 * np.nanmax(sdss.data)
print(f"uncertainty calibration in the card: {model.card.get('uncertainty_calibration', 'none')!s:.80s}")
print(f"median UNCERT / restored over the galaxy's bright pixels: {np.median(std[core] / np.asarray(sdss.data)[core]):.2f}")

# %% [markdown]
# A classical comparison on the same grid and target PSF: Richardson-Lucy, brought to the
# restored image's PSF. When galgen and RL disagree on a feature the data barely constrain,
# believe neither without more data.

# %%
rl = restore(stamp, psf=DATA / "sdss_psf.fits", background=0.0, method="richardson_lucy", iterations=10,
             target_psf_fwhm=sdss.meta["PSFFWHM"])
diff = np.nanmax(np.abs(np.asarray(rl.data) - np.asarray(sdss.data))) / np.nanmax(sdss.data)
print(f"largest galgen - RL difference: {diff:.1%} of the peak; RL chi^2 {rl.meta['GALGENX2']:.2f}")

# %% [markdown]
# ## 2. DES-like: a stamp and the exposure's PSFEx model
#
# A PSFEx model describes how the PSF varies over the exposure; galgen evaluates it (with
# GalSim's reader) at the stamp's position *in the exposure's pixels*. This cutout's header
# says where it lies (IRAF's `LTV1`, `LTV2`: exposure pixel = stamp pixel - LTV), so galgen
# finds the position itself; without those keywords give it (`psf_position=(x, y)`, on the
# command line `--psf FILE.psf --psf-position X,Y`), or the model's centre is used (logged).

# %%
from galgen.io.wcs import physical_position  # noqa: E402

des = read_image(DATA / "des_stamp.fits")
position = physical_position(des.header, 32.5, 32.5)  # the stamp's centre on the exposure
restored = restore(DATA / "des_stamp.fits", psf=DATA / "des_stamp.psf", background=0.0, samples=SAMPLES)
print(f"PSF at {position}: FWHM {restored.meta['GALGENPF']}\" measured; output PSFFWHM "
      f"{restored.meta['PSFFWHM']}\"; chi^2 {restored.meta['GALGENX2']:.2f}; flag {restored.meta['GALGENFL']}")
print("the x2 output still maps to the exposure:", physical_position(restored.meta, 64.5, 64.5))
write_restored(restored, OUT / "des_restored.fits", overwrite=True)

# %% [markdown]
# ## 3. When not to trust it: the regime check
#
# A model's regime is in pixels when it works in pixel units: a PSF narrower than 2 pixels
# (undersampled, e.g. Euclid VIS at 0.1"/px with a 0.17" PSF) or wider than 8 is outside it.
# galgen still restores, but warns, flags `REGIME` in `GALGENFL` and says why in the
# provenance.

# %%
import warnings  # noqa: E402

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    euclid_like = restore(np.asarray(cut.data), psf_fwhm=0.17 * u.arcsec, pixel_scale=0.1 * u.arcsec,
                          noise_rms=float(np.std(cut.data[:8])), background=0.0)
print(f"flag: {euclid_like.meta['GALGENFL']}")
print("warning:", str(caught[0].message)[:200] if caught else "none")

# %% [markdown]
# Rules of thumb, from the benchmarks (docs: Benchmarks): trust photometry to a few per cent
# and sizes to better than Richardson-Lucy's inside the regime; check `GALGENX2` (above 1.5
# the output does not reproduce the observation: wrong PSF or noise?); features at the
# resolution limit that appear in one method and not the other are not established.
