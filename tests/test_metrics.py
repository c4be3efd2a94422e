"""Validation metrics against analytic truths."""

from __future__ import annotations

import galsim
import numpy as np
import pytest

from galgen.metrics import (
    aperture_flux,
    centroid,
    data_consistency,
    ellipticity,
    half_light_radius,
    magnitude_error,
    nonparametric_morphology,
    petrosian_flux,
    power_spectrum_ratio,
    psnr,
    reconvolve_to_observed,
    residual_rms,
    ssim,
)
from galgen.psf import block_sum, convolve_psf, moffat_psf


def test_aperture_flux_of_uniform_image_is_pi_r2():
    image = np.ones((101, 101))
    # photutils exact overlap: the analytic area to 1e-10
    assert aperture_flux(image, 20.0) == pytest.approx(np.pi * 20.0**2, rel=1e-10)
    assert magnitude_error(0.9, 1.0) == pytest.approx(-2.5 * np.log10(0.9))
    assert np.isnan(magnitude_error(-1.0, 1.0))


@pytest.mark.parametrize(("profile", "hlr"), [("sersic", 0.3), ("gaussian", 0.4)])
def test_half_light_radius_and_flux_of_galsim_profiles(profile, hlr):
    gal = (galsim.Sersic(n=1.5, half_light_radius=hlr, flux=100.0) if profile == "sersic"
           else galsim.Gaussian(half_light_radius=hlr, flux=100.0))
    image = gal.drawImage(nx=201, ny=201, scale=0.02, method="no_pixel").array
    # total flux within a 2" radius: 0.5 % (the Sersic n=1.5 keeps < 0.5 % beyond 6.7 hlr)
    assert aperture_flux(image, 100.0) == pytest.approx(100.0, rel=5e-3)
    # half-light radius: 1 %
    assert half_light_radius(image, 100.0, pixel_scale=0.02) == pytest.approx(hlr, rel=0.01)


def test_sheared_gaussian_ellipticity():
    e1, e2 = 0.2, -0.1
    shear = galsim.Shear(e1=e1, e2=e2)
    image = galsim.Gaussian(sigma=0.5).shear(shear).drawImage(nx=96, ny=96, scale=0.05,
                                                              method="no_pixel").array
    m1, m2, reason = ellipticity(image, 0.05)
    # adaptive moments recover a Gaussian's distortion exactly, up to pixelisation: 1e-3
    assert reason == ""
    assert m1 == pytest.approx(e1, abs=1e-3) and m2 == pytest.approx(e2, abs=1e-3)
    assert np.isnan(ellipticity(np.zeros((10, 10)))[0])
    cx, cy = centroid(image)
    assert cx == pytest.approx(47.5, abs=1e-4) and cy == pytest.approx(47.5, abs=1e-4)


def test_psnr_and_ssim(rng):
    truth = rng.uniform(0, 10, (64, 64))
    assert psnr(truth, truth) == np.inf
    sigma = 0.5
    noisy = truth + rng.normal(0, sigma, truth.shape)
    expected = 10 * np.log10((truth.max() - truth.min()) ** 2 / sigma**2)
    # MSE of 4096 Gaussian draws is sigma^2 to ~2 %: 0.1 dB
    assert psnr(noisy, truth) == pytest.approx(expected, abs=0.1)
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert ssim(noisy, truth) < 1.0
    assert residual_rms(noisy, truth, sigma) == pytest.approx(1.0, rel=0.05)


def test_chi2_of_truth_plus_noise_is_one(rng):
    gal = galsim.Exponential(half_light_radius=0.5, flux=5e3)
    target_psf = galsim.Gaussian(fwhm=0.2)
    truth = galsim.Convolve(gal, target_psf).drawImage(nx=128, ny=128, scale=0.1).array
    clean = reconvolve_to_observed(truth, 1.0, 0.1, 2)
    sigma = 2.0
    chi2s = []
    for _ in range(20):
        obs = clean + rng.normal(0, sigma, clean.shape)
        chi2s.append(data_consistency(truth, obs, sigma, 1.0, 0.1, 2)[0])
    # each value: mean of ~3,000 chi^2_1 draws, standard error sqrt(2/3000) ~ 0.026
    assert np.mean(chi2s) == pytest.approx(1.0, abs=3 * 0.026 / np.sqrt(20))
    # the operator conserves flux and matches an explicit convolve + bin
    assert clean.sum() == pytest.approx(truth.sum(), rel=1e-3)
    k = moffat_psf(np.sqrt(1.0 - 0.04) / 0.1, 79, method="no_pixel")  # the size it picks
    np.testing.assert_allclose(clean, block_sum(convolve_psf(truth, k), 2), atol=1e-9)
    # a restoration missing structure is flagged
    assert data_consistency(0.8 * truth, clean + rng.normal(0, sigma, clean.shape), sigma, 1.0,
                            0.1, 2)[0] > 1.3  # 1.3 is ~12 standard errors above 1


def test_petrosian_flux_of_an_exponential():
    gal = galsim.Exponential(half_light_radius=0.3, flux=100.0)
    image = gal.drawImage(nx=301, ny=301, scale=0.02, method="no_pixel").array
    flux, r_p = petrosian_flux(image, 150.0)
    # for an exponential profile, 2 r_P (eta = 0.2) encloses ~99 % of the light (Graham et al. 2005)
    assert flux == pytest.approx(99.0, abs=1.0)
    assert r_p > 0.3 / 0.02


def test_power_spectrum_ratio(rng):
    truth = galsim.Gaussian(fwhm=0.3, flux=1e3).drawImage(nx=64, ny=64, scale=0.1).array
    f, ratio = power_spectrum_ratio(truth, truth)
    np.testing.assert_allclose(ratio[np.isfinite(ratio)], 1.0)
    blurred = convolve_psf(truth, moffat_psf(6.0, 31))
    _, r2 = power_spectrum_ratio(blurred, truth)
    assert r2[5] < 0.5 and r2[0] == pytest.approx(1.0, abs=1e-3)  # high frequencies lost, lowest kept
    assert f[0] > 0 and f[-1] < 0.5


def test_nonparametric_morphology_or_clean_skip(rng):
    image = galsim.Sersic(n=2, half_light_radius=0.4, flux=1e4).drawImage(nx=96, ny=96, scale=0.1).array
    out = nonparametric_morphology(image + rng.normal(0, 0.5, image.shape), 0.5)
    try:
        import statmorph  # noqa: F401
    except ImportError:
        assert np.isnan(out["gini"]) and "not installed" in out["morph_flag"]
        return
    # a centrally concentrated, smooth, symmetric profile: high Gini and C, A ~ 0
    assert out["morph_flag"] == ""
    assert 0.4 < out["gini"] < 0.8 and out["concentration"] > 3 and abs(out["asymmetry"]) < 0.05
    assert np.isnan(nonparametric_morphology(np.zeros((20, 20)), 1.0)["gini"])


def test_residual_structure_is_standard_normal_for_white_residuals_and_flags_blur():
    """z of a white-noise residual is N(0, 1) (mean and scatter over 300 draws within 0.15);
    an output that is blurrier than the data (the observation smoothed by the PSF again) leaves
    the galaxy's structure in the residual: z >> 5."""
    from scipy.ndimage import gaussian_filter

    from galgen.metrics.consistency import residual_structure

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:64, :64]
    galaxy = 60.0 * np.exp(-((xx - 31.5) ** 2 / 18 + (yy - 32.2) ** 2 / 8))  # noise units, PSF 4 px
    galaxy = gaussian_filter(galaxy, 4 / 2.3548)
    z = [residual_structure(galaxy + rng.normal(0, 1, galaxy.shape), galaxy, 1.0, 4.0) for _ in range(300)]
    assert abs(np.mean(z)) < 0.15 and abs(np.std(z) - 1.0) < 0.15
    observed = galaxy + rng.normal(0, 1, galaxy.shape)
    blurred = gaussian_filter(galaxy, 3 / 2.3548)  # what a too-smooth output predicts
    assert residual_structure(observed, blurred, 1.0, 4.0) > 5.0
    sharpened = 2 * galaxy - blurred  # too sharp: structure of the opposite sign
    assert residual_structure(observed, sharpened, 1.0, 4.0) < -5.0
    assert np.isnan(residual_structure(observed, np.zeros_like(galaxy), 1.0, 4.0))


def test_residual_structure_stays_standard_normal_for_correlated_noise():
    """Noise correlated over 2x2 pixels (correlation 1/2 at lag 1, 1/4 at the diagonal; the rms
    per pixel still 1) inflates z's scatter (here to ~1.9 with the white-noise denominator);
    given the measured correlation, z is N(0, 1) again (300 draws, within 0.15)."""
    from scipy import signal
    from scipy.ndimage import gaussian_filter

    from galgen.metrics.consistency import residual_structure
    from galgen.preprocess import estimate_noise_correlation

    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:64, :64]
    galaxy = gaussian_filter(60.0 * np.exp(-((xx - 31.5) ** 2 / 18 + (yy - 32.2) ** 2 / 8)), 4 / 2.3548)

    def noise():
        return signal.fftconvolve(rng.normal(0, 1, (65, 65)), np.ones((2, 2)), mode="valid") / 2

    acf = estimate_noise_correlation(noise()).acf
    assert abs(acf[3, 4] - 0.5) < 0.1  # one 64 x 64 stamp of sky measures it
    white = [residual_structure(galaxy + noise(), galaxy, 1.0, 4.0) for _ in range(300)]
    z = [residual_structure(galaxy + noise(), galaxy, 1.0, 4.0, noise_acf=acf) for _ in range(300)]
    assert np.std(white) > 1.5
    assert abs(np.mean(z)) < 0.15 and abs(np.std(z) - 1.0) < 0.15


def test_structure_fraction_is_the_missing_share_of_fine_structure_whatever_the_snr():
    """Noise-free data holding ``1 + a`` times the prediction's fine structure ``h``:
    ``f = a`` to 1e-9 (the least-squares amplitude), independent of the noise level, while
    ``z`` (its significance) scales as 1/sigma; with noise, ``f`` scatters by 1/(|h|/sigma)
    about ``a`` (within 4 of those over 200 draws)."""
    from scipy.ndimage import gaussian_filter

    from galgen.metrics.consistency import residual_structure, residual_structure_terms

    yy, xx = np.mgrid[:64, :64]
    predicted = gaussian_filter(80.0 * np.exp(-((xx - 31.5) ** 2 / 18 + (yy - 32.2) ** 2 / 8)), 4 / 2.3548)
    h = predicted - gaussian_filter(predicted, 4 / 2.3548, mode="nearest")
    for a in (0.03, -0.2):
        observed = predicted + a * h
        z1, f1 = residual_structure_terms(observed, predicted, 1.0, 4.0)
        z2, f2 = residual_structure_terms(observed, predicted, 0.1, 4.0)
        assert f1 == pytest.approx(a, abs=1e-9) and f2 == pytest.approx(a, abs=1e-9)
        assert z2 == pytest.approx(10 * z1, rel=1e-9) and np.sign(z1) == np.sign(a)
        assert z1 == residual_structure(observed, predicted, 1.0, 4.0)
    rng = np.random.default_rng(5)
    b = int(np.ceil(4.0))
    width = 1.0 / np.sqrt(np.sum(h[b:-b, b:-b] ** 2))
    f = [residual_structure_terms(predicted + 0.1 * h + rng.normal(0, 1, h.shape), predicted, 1.0, 4.0)[1]
         for _ in range(200)]
    assert abs(np.mean(f) - 0.1) < 4 * width / np.sqrt(200) and abs(np.std(f) / width - 1) < 0.15
    assert all(np.isnan(residual_structure_terms(predicted, np.zeros_like(h), 1.0, 4.0)))


def test_struct_needs_both_a_significant_and_a_large_enough_residual_structure(monkeypatch):
    """``STRUCT`` fires on |z| > STRUCTURE_LIMIT only when |f| > STRUCTURE_FRACTION_LIMIT too."""
    from galgen.restoration import flags

    monkeypatch.setattr(flags, "STRUCTURE_FRACTION_LIMIT", 0.05)
    assert flags.quality_flags(1.0, "", 20.0, 0.02) == "OK"
    assert flags.quality_flags(1.0, "", -20.0, -0.08) == "STRUCT"
    assert flags.quality_flags(1.0, "", 5.0, 0.5) == "OK"
    assert flags.quality_flags(1.0, "", 20.0) == "STRUCT"  # f not known: z alone
    assert flags.quality_flags(1.0, sky_z=flags.SKY_Z_LIMIT + 0.1) == "SKY"
    assert flags.quality_flags(1.0, sky_z=flags.SKY_Z_LIMIT - 0.1) == "OK"
    assert flags.quality_flags(1.0) == "OK"  # no sky test (a sky given, a field): no flag


def test_bicubic_output_is_flagged_as_reproducing_the_noise(tmp_path):
    """A bicubic upsampling reproduces its observation to better than the noise (chi^2 << 1):
    flagged CHI2LOW, where a restoration consistent with the data is not."""
    import astropy.units as u

    import galgen
    from galgen.simulate import PairDataset

    p = PairDataset(1, seed=4).pair(0)
    out = galgen.restore(p.observation, p.psf_fwhm * u.arcsec, pixel_scale=0.2, method="bicubic",
                         noise_rms=p.noise_rms, background=0.0)
    assert out.meta["GALGENX2"] < 0.5 and "CHI2LOW" in out.meta["GALGENFL"]
    assert np.isfinite(out.meta["GALGENRZ"])


def test_isophotal_ellipticity_of_an_elliptical_gaussian_and_of_a_nucleated_disk():
    """The unweighted moments inside an isophote of an elliptical Gaussian keep its distortion
    (the isophote is a similar ellipse): (0.3, 0.1) within 0.01 (pixelisation and the 1/12
    pixel^2 SExtractor term). A round, bright nucleus on a flat disk of axis ratio 0.5: adaptive
    moments settle on the nucleus (|e| < 0.1), the isophotal shape is the disk's (e = 0.6 for
    q = 0.5, within 0.02: the nucleus adds little to second moments). A bright star away from
    the centre is not in the footprint."""
    import galsim

    from galgen.metrics import ellipticity, galaxy_footprint, isophotal_ellipticity

    gal = galsim.Gaussian(sigma=0.5).shear(e1=0.3, e2=0.1)
    image = gal.drawImage(nx=96, ny=96, scale=0.1, method="no_pixel").array
    image[5:8, 5:8] += 10 * image.max()  # a star in the corner
    footprint = galaxy_footprint(image, 1e-3 * image.max())
    assert not footprint[5:8, 5:8].any() and footprint[48, 48]
    e1, e2, why = isophotal_ellipticity(image, footprint)
    assert not why
    np.testing.assert_allclose([e1, e2], [0.3, 0.1], atol=0.01)
    disk = galsim.Exponential(half_light_radius=1.0).shear(q=0.5, beta=0 * galsim.degrees)
    nucleus = galsim.Gaussian(sigma=0.08, flux=0.4)
    image = (disk + nucleus).drawImage(nx=128, ny=128, scale=0.1, method="no_pixel").array
    a1, a2, _ = ellipticity(image, 0.1)
    i1, i2, _ = isophotal_ellipticity(image, galaxy_footprint(image, 1e-3 * image.max()))
    assert np.hypot(a1, a2) < 0.1 and abs(i1 - 0.6) < 0.02 and abs(i2) < 0.02
    assert np.isnan(isophotal_ellipticity(image, np.zeros(image.shape, bool))[0])
