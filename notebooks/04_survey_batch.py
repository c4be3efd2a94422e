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

from galgen.batch import BatchOptions, expand_inputs, run_batch
from galgen.simulate import write_dataset

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
