# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 03 - Photometric validation: galgen vs Richardson-Lucy
#
# Held-out simulated galaxies of the `structured` set (morphology-rich galaxies that all carry
# structure; seeds never used in training), restored by the shipped model and the baselines.
# Every baseline is compared at the model's resolution (on its grid, brought to its 0.2" target
# PSF) with its parameter tuned per PSF/SNR bin on validation pairs; flux, size, shape, PSNR
# and the chi^2 data consistency per galaxy.

# %%
import os

from galgen.evaluation import benchmark_report

FAST = os.environ.get("GALGEN_FAST", "0") == "1"
OUT = os.environ.get("GALGEN_OUT", "validation")
table, summary = benchmark_report(OUT, n=6 if FAST else 200, examples=2, progress=False,
                                  validation_pairs=9 if FAST else 72)
for col in summary.colnames:
    if summary[col].dtype.kind == "f":
        summary[col].info.format = ".4g"
summary["method", "median_psnr", "median_abs_flux_error", "median_abs_hlr_error",
        "median_abs_e_error", "median_chi2"].pprint(max_width=-1)

# %% [markdown]
# Figures written beside the tables: `metrics_vs_conditions.png` (per SNR and PSF bin),
# `flux_recovery.png` and `examples.png` (observation | methods | truth | residual).

# %%
print(sorted(p for p in os.listdir(OUT) if p.endswith((".png", ".ecsv"))))
