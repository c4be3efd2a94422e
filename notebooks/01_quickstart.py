# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 01 - Quick start: restore a galaxy
#
# Restore galgen's bundled sample observation with the default model, look at
# observation | restored | residual, and read the provenance in the header.

# %%
import os

import astropy.units as u
import matplotlib

matplotlib.use("Agg")
import numpy as np

import galgen
from galgen.demo import sample_paths
from galgen.io import read_image

OUT = os.environ.get("GALGEN_OUT", ".")
observed, truth_path = sample_paths()
obs = read_image(observed)
print(obs.shape, f"{obs.pixel_scale} arcsec/px", obs.unit, "PSF FWHM", obs.header["PSFFWHM"], "arcsec")

# %% [markdown]
# The sample is sky-subtracted (simulated), so we ask for no further background subtraction.
# `samples=4` adds a noise-bootstrap uncertainty map.

# %%
result = galgen.restore(observed, psf_fwhm=1.0 * u.arcsec, scale=2, samples=4, background=0.0)
print(result.data.shape, result.wcs.wcs.cdelt if result.wcs else None)
print("model:", result.meta["GALGENMD"], " chi2 consistency:", round(result.meta["GALGENX2"], 3))
print("\n".join(str(h) for h in result.meta["HISTORY"][-6:]))

# %%
from galgen.plotting import comparison_panel

truth = read_image(truth_path)
comparison_panel({"observation": obs.data, "restored": np.asarray(result.data), "truth": truth.data},
                 os.path.join(OUT, "quickstart.png"), noise_rms=obs.header["NOISERMS"],
                 residual_of=("restored", "truth"))

# %%
galgen.write_restored(result, os.path.join(OUT, "sample_x2.fits"), overwrite=True)
print(read_image(os.path.join(OUT, "sample_x2.fits")).pixel_scale, "arcsec/px")
