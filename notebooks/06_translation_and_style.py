# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # 06 - Survey-to-survey translation and style transfer
#
# What would SDSS have seen of a galaxy that HST imaged? Going to a *worse* survey is fully
# determined by physics: match the PSF, resample onto the survey's pixels keeping the flux, add
# its noise (`galgen.translate`). Going back is restoration (`galgen.restore`). Where no physical
# model is known, such as the texture of a survey's noise, neural style transfer
# (`galgen.models.style`) imposes the statistics of one image on another, and a learned
# unpaired translation (`galgen.translate.cycle`, trained by `galgen train`) maps one domain's
# images onto another's.
# `GALGEN_FAST=1` runs shorter optimisations.

# %%
import os
from pathlib import Path

import astropy.units as u
import galsim
import numpy as np

from galgen.io.wcs import simple_tan_wcs
from galgen.plotting import new_figure, save_figure
from galgen.translate import SURVEYS, translate

FAST = os.environ.get("GALGEN_FAST", "0") == "1"
OUT = Path(os.environ.get("GALGEN_OUT", "translation_output"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. Physical translation: HST-like to SDSS-like
#
# A galaxy rendered by GalSim at 0.05"/px through a 0.12" Gaussian PSF (HST-like), translated
# to the SDSS preset (0.396"/px, 1.4" PSF), and compared with GalSim's direct rendering of the
# same galaxy on the output's grid.

# %%
sdss = SURVEYS["sdss"]
galaxy = galsim.Sersic(n=1.5, half_light_radius=1.2, flux=1e4).shear(e1=0.3, e2=0.1)
n_hst = 256
hst = galsim.Convolve(galaxy, galsim.Gaussian(fwhm=0.12)).drawImage(nx=n_hst, ny=n_hst, scale=0.05).array
hst_wcs = simple_tan_wcs(hst.shape, 0.05)
from astropy.nddata import CCDData  # noqa: E402

sdss_like = translate(CCDData(hst, unit="adu", wcs=hst_wcs), 0.12 * u.arcsec, to_pixel_scale=sdss.pixel_scale,
                      to_psf_fwhm=sdss.psf_fwhm)
n_out = sdss_like.shape[0]
direct = galsim.Convolve(galaxy, galsim.Gaussian(fwhm=sdss.psf_fwhm)).drawImage(
    nx=n_out, ny=n_out, scale=sdss.pixel_scale).array
rms = np.sqrt(np.mean((np.asarray(sdss_like.data) - direct) ** 2)) / direct.max()
print(f"HST-like {hst.shape} at 0.05\" -> SDSS-like {sdss_like.shape} at {sdss.pixel_scale}\"; "
      f"PSFFWHM {sdss_like.meta['PSFFWHM']}\"")
print(f"residual RMS against GalSim's direct rendering: {rms:.2%} of the peak; "
      f"flux {np.nansum(sdss_like.data):.1f} vs {hst.sum():.1f}")

# %%
fig, axes = new_figure(1, 3, figsize=(9, 3))
for ax, img, title in zip(axes, (hst, np.asarray(sdss_like.data), direct),
                          ("HST-like, 0.05\"/px", "translated to SDSS", "GalSim direct, SDSS"), strict=True):
    ax.imshow(np.arcsinh(img / (0.01 * img.max())), origin="lower", cmap="magma")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
save_figure(fig, OUT / "translation.png")

# %% [markdown]
# ## 2. Round trip: translate, then restore
#
# The SDSS-like image, with SDSS-like noise, restored x2 by galgen. The restored image's
# `PSFFWHM` is its own PSF (2 output pixels for a model that works in pixel units); its flux
# is the observation's, and its WCS still puts the galaxy where the HST image had it.

# %%
from galgen import restore  # noqa: E402
from galgen.restoration.registry import shipped_models  # noqa: E402

noisy = translate(CCDData(hst, unit="adu", wcs=hst_wcs), 0.12 * u.arcsec, to_pixel_scale=sdss.pixel_scale,
                  to_psf_fwhm=sdss.psf_fwhm, to_noise_rms=0.02 * direct.max(), rng=np.random.default_rng(1))
method = "survey_x2" if "survey_x2" in shipped_models() else "richardson_lucy"
restored = restore(noisy, psf_fwhm=sdss.psf_fwhm * u.arcsec, method=method, background=0.0)
ra, dec = hst_wcs.wcs.crval
x_out = restored.wcs.world_to_pixel_values(ra, dec)
print(f"{method}: PSFFWHM {restored.meta.get('PSFFWHM')}\", flag {restored.meta['GALGENFL']}, "
      f"chi^2 {restored.meta['GALGENX2']:.2f}")
print(f"flux: HST {hst.sum():.0f}, SDSS-like {np.sum(noisy.data):.0f}, restored {np.nansum(restored.data):.0f}")
data = np.nan_to_num(np.asarray(restored.data))
yy, xx = np.indices(data.shape)
weights = np.clip(data, 0, None)
centroid = (float((weights * xx).sum() / weights.sum()), float((weights * yy).sum() / weights.sum()))
print(f"the HST image's centre (RA, Dec) falls at restored pixel {np.round(x_out, 2)}; the restored "
      f"galaxy's centroid is at {np.round(centroid, 2)}")

# %% [markdown]
# ## 3. Style transfer: a simulation with a survey's noise texture
#
# Simulations usually get white noise; drizzled HST images have noise correlated between
# neighbouring pixels. Here the *content* is a simulated galaxy with white noise and the
# *style* an empty patch of sky with ACS-like correlated noise
# (`galgen.simulate.degrade.add_correlated_noise`). Gatys-style transfer on galgen's random
# multi-scale features (no pretrained network can be downloaded here, and none knows
# galaxies) carries the correlation over; the lag-1 autocorrelation of the sky measures it.

# %%
from galgen.models.style import style_transfer  # noqa: E402
from galgen.simulate.degrade import add_correlated_noise  # noqa: E402

rng = np.random.default_rng(3)
n = 64
clean = galsim.Exponential(half_light_radius=1.0, flux=400.0).drawImage(nx=n, ny=n, scale=0.2).array
content = clean + rng.normal(0, 1.0, (n, n))
style = add_correlated_noise(np.zeros((n, n)), 1.0, 0.2, rng, correlation_pixels=1.5)


def lag1(img: np.ndarray) -> float:
    """Lag-1 autocorrelation along x of the outer sky (10 px border)."""
    sky = np.concatenate([img[:10].ravel(), img[-10:].ravel()])
    a = np.concatenate([img[:10, :-1].ravel(), img[-10:, :-1].ravel()])
    b = np.concatenate([img[:10, 1:].ravel(), img[-10:, 1:].ravel()])
    return float(np.corrcoef(a, b)[0, 1]) if sky.std() > 0 else 0.0


result = style_transfer(content, style, steps=60 if FAST else 300, content_weight=10.0, seed=0)
print(f"sky lag-1 autocorrelation: content {lag1(content):.2f}, style {lag1(style):.2f}, "
      f"result {lag1(result.image):.2f}")
print(f"flux in the central 4\": truth {clean[22:42, 22:42].sum():.0f}, content {content[22:42, 22:42].sum():.0f}, "
      f"result {result.image[22:42, 22:42].sum():.0f} (the style term dims the galaxy a little: "
      "weigh the content more to keep it)")

# %%
fig, axes = new_figure(1, 4, figsize=(11, 3))
for ax, img, title in zip(axes[:3], (content, style, result.image),
                          ("content: white noise", "style: ACS-like noise", "result"), strict=True):
    ax.imshow(img, origin="lower", cmap="gray", vmin=-3, vmax=6)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
axes[3].semilogy(result.style_loss, label="style loss")
axes[3].semilogy(result.content_loss, label="content loss")
axes[3].set_xlabel("record (every 10 steps)")
axes[3].legend(fontsize=7)
save_figure(fig, OUT / "style_transfer.png")

# %% [markdown]
# ## 4. Learned, unpaired translation: a simulation to a survey's look
#
# Where physics does not say how one survey's images become another's (a survey's PSF wings
# that nobody modelled, its noise texture), `galgen train` learns it from two folders of
# stamps that show *different* galaxies (a CycleGAN: two generators, two PatchGAN critics,
# cycle consistency, plus flux conservation and, when both PSFs are known, PSF consistency;
# `configs/translate_sim_to_survey.toml`). The shipped `sim_to_survey` model translates the
# clean simulated domain (0.2"/px, Gaussian 0.6" PSF, white noise) to a survey-like one
# (0.4"/px, Moffat 1.2" PSF, correlated noise). The check is where the pairing is known: the
# same galaxies drawn in both domains, which the model never saw
# (`galgen.translate.evaluation`, seed 43,000,000).

# %%
from galgen.translate.evaluation import evaluate_translation  # noqa: E402
from galgen.translate.learned import load_translation, shipped_translations, translate_learned  # noqa: E402

if "sim_to_survey" in shipped_translations():
    model, card = load_translation("sim_to_survey")
    scores = evaluate_translation(model, card, n=20 if FAST else 100)
    for row in scores["a2b"]:
        print(f"{row['method']:>36}: signal residual {100 * row['signal_rms']:.2f} % of the peak, "
              f"|flux error| {100 * row['abs_flux_error']:.2f} %, noise rms / B's {row['noise_ratio']:.2f}, "
              f"lag-1 correlation {row['noise_rho1']:.2f}")
    ex = scores["examples"]
    # the file path works the same: galgen translate a.fits -o b.fits --model sim_to_survey --seed 1
    one = translate_learned(ex["a"][0], "sim_to_survey", seed=1)
    print(f"one stamp: {ex['a'][0].shape} at 0.2\" -> {one.shape} at "
          f"{one.wcs.proj_plane_pixel_scales()[0].to_value('arcsec'):.2f}\", PSFFWHM {one.meta['PSFFWHM']}\"; "
          f"flux {ex['a'][0].sum():.0f} -> {np.nansum(one.data):.0f}")
    fig, axes = new_figure(1, 4, figsize=(11, 3))
    for ax, key, title in zip(axes, ("a", "b", "physical", "learned"),
                              ("domain A", "domain B, same galaxy", "physical, true PSFs", "learned"), strict=True):
        ax.imshow(np.arcsinh(ex[key][1] * (4.0 if key == "a" else 1.0) / 3.0), origin="lower", cmap="gray_r")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    save_figure(fig, OUT / "translation_learned.png")
