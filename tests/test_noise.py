"""Correlated background noise: measured on source-free pixels, drawn again, used by the bootstrap."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy import signal

from galgen.errors import GalgenRegimeWarning
from galgen.io import read_image
from galgen.preprocess import estimate_noise_correlation
from galgen.preprocess.noise import WHITE, NoiseCorrelation
from galgen.psf import gaussian_psf
from galgen.restoration.engine import finalize, prepare_observation
from galgen.simulate.degrade import add_correlated_noise


def _box_noise(rng, shape, sigma=1.0):
    """White noise summed over 2x2 pixel boxes, scaled to rms ``sigma``: its correlation is known
    exactly, 1/2 at lags (0, 1) and (1, 0), 1/4 at (1, 1), and a wide sum scatters 2x white."""
    white = rng.normal(0, 1, (shape[0] + 1, shape[1] + 1))
    return sigma * signal.fftconvolve(white, np.ones((2, 2)), mode="valid") / 2.0


def test_white_noise_reads_white(rng):
    for _ in range(5):  # 4-sigma per lag: a false correlation on ~1e-3 of images
        nc = estimate_noise_correlation(rng.normal(0, 3.0, (128, 128)))
        assert nc.is_white and nc.sum_factor == 1.0 and nc.pixels > 15000


def test_known_correlation_is_recovered(rng):
    nc = estimate_noise_correlation(_box_noise(rng, (256, 256), 5.0))
    lag = nc.acf.shape[0] // 2
    # 65,000 pixel pairs per lag: standard error 0.004; 0.02 is 5 of them
    np.testing.assert_allclose(nc.acf[lag, lag + 1], 0.5, atol=0.02)
    np.testing.assert_allclose(nc.acf[lag + 1, lag], 0.5, atol=0.02)
    np.testing.assert_allclose(nc.acf[lag + 1, lag + 1], 0.25, atol=0.02)
    assert nc.acf[lag, lag + 2] == 0.0  # beyond the box: not significant, set to zero
    np.testing.assert_allclose(nc.sum_factor, 2.0, rtol=0.03)


def test_drawn_noise_has_the_rms_and_correlation_it_was_given(rng):
    measured = estimate_noise_correlation(_box_noise(rng, (256, 256)))
    kernel = measured.kernel()
    np.testing.assert_allclose(np.sum(kernel**2), 1.0, rtol=1e-12)
    drawn = measured.draw((400, 300), 7.0, rng)
    assert drawn.shape == (400, 300)
    np.testing.assert_allclose(drawn.std(), 7.0, rtol=0.02)  # 120,000 pixels, correlated over 2
    again = estimate_noise_correlation(drawn)
    np.testing.assert_allclose(again.acf, measured.acf, atol=0.03)
    white = WHITE.draw((300, 300), 2.0, rng)
    assert estimate_noise_correlation(white).is_white and abs(white.std() / 2.0 - 1) < 0.01


def test_galaxies_and_masked_pixels_do_not_read_as_correlated_noise(rng):
    """A bright extended source correlates its own pixels: the source mask keeps it out, and
    pixels flagged bad (here a block of garbage) are ignored."""
    data = rng.normal(0, 1.0, (96, 96))
    data += 5e4 * gaussian_psf(10.0, 96)  # peak ~400 sigma, wings over most of the stamp
    mask = np.zeros(data.shape, bool)
    mask[:20, :20] = True
    data[mask] = 1e6
    nc = estimate_noise_correlation(data, mask)
    assert nc.is_white and 2000 < nc.pixels < 96 * 96 - 400


def test_the_faint_wings_of_a_large_galaxy_do_not_read_as_correlated_noise(rng):
    """An exponential disk of 20-pixel half-light radius (peak ~100 sigma) fills a 256-pixel stamp
    with wings below the source mask's 2 sigma but coherent over tens of pixels: measured about
    the covariance of far lags (FAR_LAGS), white noise under it reads white and 2x2-box noise
    reads its factor of 2 (the covariance about the sky's median read 1.47-1.54 and 2.05-2.16)."""
    import galsim

    disk = 1e5 * galsim.Exponential(half_light_radius=20.0).drawImage(nx=256, ny=256, scale=1.0).array
    for _ in range(3):
        assert estimate_noise_correlation(rng.normal(0, 1.0, disk.shape) + disk).sum_factor < 1.03
        np.testing.assert_allclose(estimate_noise_correlation(_box_noise(rng, disk.shape) + disk).sum_factor,
                                   2.0, atol=0.05)


def test_too_few_sky_pixels_is_white(rng):
    nc = estimate_noise_correlation(_box_noise(rng, (16, 16)))
    assert nc.is_white and nc.pixels < 400


def test_simulated_drizzle_like_noise_is_found_on_a_stamp(rng):
    """GalSim's ACS correlation (the simulator's correlated noise) on a 64x64 stamp gives the
    factor a 1024x1024 field of the same noise gives, within 15 %."""
    field = estimate_noise_correlation(add_correlated_noise(np.zeros((1024, 1024)), 1.0, 0.2, rng, 1.0))
    stamps = [add_correlated_noise(np.zeros((64, 64)), 1.0, 0.2, rng, 1.0) for _ in range(5)]
    stamps = [estimate_noise_correlation(s).sum_factor for s in stamps]
    assert field.sum_factor > 1.5
    np.testing.assert_allclose(np.median(stamps), field.sum_factor, rtol=0.15)


def test_bootstrap_uncertainty_follows_the_noise_correlation(rng):
    """The same stamp restored with its measured (correlated) noise and, for comparison, told its
    noise is white: the bootstrap re-noises with the measured correlation, whose wide-scale
    power is 4x white's, so the map is wider; the header records the factor."""
    from dataclasses import replace

    from galgen.restoration.registry import load_model

    truth = 4e3 * gaussian_psf(6.0, 64)
    image = read_image(truth + _box_noise(rng, (64, 64), 2.0), pixel_scale=0.2)
    prepared = prepare_observation(image, 1.0 * u.arcsec, noise_rms=2.0, background=0.0)
    assert not prepared.noise_correlation.is_white
    np.testing.assert_allclose(prepared.noise_correlation.sum_factor, 2.0, rtol=0.15)
    # the light put back from the residual is off: told white, this noise would read as light, and
    # the map would carry that light's noise (the comparison is of the bootstrap alone)
    model = load_model("default_x2", calibrate_uncertainty=False, residual_light=False)
    correlated, = model.restore_batch([prepared], samples=6)
    white, = model.restore_batch([replace(prepared, noise_correlation=WHITE)], samples=6)
    assert np.median(correlated.std) > 1.3 * np.median(white.std)
    out = finalize(image, prepared, correlated, scale=2, samples=6)
    assert out.meta["GALGENNF"] == round(prepared.noise_correlation.sum_factor, 3)
    assert "white" in out.meta.comments["GALGENNF"]


def test_noise_correlation_is_a_frozen_value():
    nc = NoiseCorrelation(np.pad(np.ones((1, 1)), 2), 10)
    assert nc.is_white and nc.sum_factor == 1.0 and nc.kernel().shape == (5, 5)


def test_a_constant_image_is_white():
    assert estimate_noise_correlation(np.full((64, 64), 3.0)).is_white
    assert estimate_noise_correlation(np.full((64, 64), np.nan)).is_white


def test_snr_and_regime_count_the_noise_correlation(rng):
    """The regime check reads the SNR on the scale of a galaxy: 2x2-correlated noise (a wide sum
    scatters 2x white's) halves it, so a stamp at white-noise SNR 24 (inside default_x2's 20-200)
    reads ~12, outside it (x0.7 margin: 14), and is flagged REGIME; white noise is not."""
    from galgen.restoration import restore
    from galgen.restoration.engine import snr_estimate

    truth = gaussian_psf(6.0, 64)
    truth *= 24.0 * 2.0 / np.sqrt(np.sum(truth**2))  # matched-filter SNR 24 at noise rms 2
    kwargs = {"psf_fwhm": 1.0 * u.arcsec, "pixel_scale": 0.2 * u.arcsec, "noise_rms": 2.0, "background": 0.0,
              "method": "default_x2"}
    with pytest.warns(GalgenRegimeWarning, match="SNR"):
        corr = restore(truth + _box_noise(rng, (64, 64), 2.0), **kwargs)
    white = restore(truth + rng.normal(0, 2.0, (64, 64)), **kwargs)
    assert 1.7 < corr.meta["GALGENNF"] < 2.3 and white.meta["GALGENNF"] == 1.0
    assert corr.meta["GALGENSN"] < 14 < white.meta["GALGENSN"]
    assert "REGIME" in corr.meta["GALGENFL"] and "REGIME" not in white.meta["GALGENFL"]
    assert snr_estimate(np.ones((4, 4)) * 3, 1.0, 2.0) == snr_estimate(np.ones((4, 4)) * 3, 1.0) / 2


def test_galsim_cosmos_noise_correlation_is_recovered():
    """GalSim's correlation function of HST COSMOS F814W (drizzled ACS, 0.03"/px), drawn on a
    512x512 image and measured back: every kept lag within 0.02 of GalSim's own function (the
    standard error of a lag is 0.002), and the wide-sum factor within 5 % of ``sqrt(sum cf)``
    over the same 7x7 lags (the faint lags below 4 standard errors are dropped)."""
    import galsim

    cn = galsim.getCOSMOSNoise(file_name=f"{galsim.meta_data.share_dir}/acs_I_unrot_sci_20_cf.fits",
                               cosmos_scale=0.03)
    cf = cn.drawImage(galsim.Image(7, 7, scale=0.03)).array
    cf = cf / cf[3, 3]
    image = galsim.Image(512, 512, scale=0.03)
    image.addNoise(cn.copy(rng=galsim.BaseDeviate(1)))
    nc = estimate_noise_correlation(image.array)
    kept = nc.acf != 0
    assert kept.sum() >= 9  # at least the 3x3 core
    np.testing.assert_allclose(nc.acf[kept], cf[kept], atol=0.02)
    np.testing.assert_allclose(nc.sum_factor, np.sqrt(cf.sum()), rtol=0.05)


def test_stamps_too_small_alone_are_measured_pooled(rng):
    """16x16 stamps hold under 400 sky pixels each (read white: too few to tell); 16 of them
    pooled, no pixel pair across two stamps, give the 2x2 box correlation (1/2 at lag 1, within
    0.06: ~3,800 pairs) and a mask broadcast over the stack is honoured."""
    stamps = np.stack([_box_noise(rng, (16, 16)) for _ in range(16)])
    assert all(estimate_noise_correlation(s).is_white for s in stamps[:3])
    pooled = estimate_noise_correlation(stamps)
    assert 0.9 * 16 * 16 * 16 < pooled.pixels <= 16 * 16 * 16  # a few noise peaks read as sources
    np.testing.assert_allclose(pooled.acf[3, 4], 0.5, atol=0.06)
    mask = np.zeros((16, 16), bool)
    mask[:4] = True
    assert 0.9 * 16 * 12 * 16 < estimate_noise_correlation(stamps, mask).pixels <= 16 * 12 * 16


def test_sources_found_for_the_background_are_reused(rng):
    """prepare_observation hands the background's source mask on: the same correlation as
    finding the sources again (they are found on the same pixels)."""
    from galgen.preprocess import estimate_background

    data = _box_noise(rng, (96, 96), 2.0) + 3e3 * gaussian_psf(6.0, 96) + 10.0
    bkg = estimate_background(data)
    assert bkg.sources is not None and bkg.sources[48, 48] and not bkg.sources.all()
    again = estimate_noise_correlation(data - bkg.median)
    reused = estimate_noise_correlation(data - bkg.median, sources=bkg.sources)
    np.testing.assert_allclose(reused.acf, again.acf, atol=0.02)
    assert reused.pixels == int((~bkg.sources).sum())


def test_snr_ignores_filled_pixels(rng):
    """A stamp at a survey's edge (a third of it NaN, filled before restoring) keeps its SNR:
    the filled pixels carry no noise and are left out of both sums (they read SNR ~1 before)."""
    from galgen.restoration import restore

    truth = gaussian_psf(6.0, 64)
    truth *= 40.0 * 2.0 / np.sqrt(np.sum(truth**2))  # matched-filter SNR 40 at noise rms 2
    data = truth + rng.normal(0, 2.0, (64, 64))
    edge = data.copy()
    edge[:, :20] = np.nan
    kwargs = {"psf_fwhm": 1.0 * u.arcsec, "pixel_scale": 0.2 * u.arcsec, "noise_rms": 2.0, "background": 0.0,
              "method": "default_x2"}
    whole, cut = restore(data, **kwargs), restore(edge, **kwargs)
    assert abs(whole.meta["GALGENSN"] / 40 - 1) < 0.1
    assert abs(cut.meta["GALGENSN"] / whole.meta["GALGENSN"] - 1) < 0.1
    assert "REGIME" not in cut.meta["GALGENFL"]


def test_a_field_reads_the_snr_of_its_galaxies_not_their_sum(rng):
    """A 384 x 384 field of 9 galaxies at SNR 40 each: the regime check reads ~40 (the brightest
    64-pixel square), not sqrt(9) x 40 = 120 summed over the field; a field is not flagged REGIME
    for holding many galaxies. A stamp keeps the whole-stamp SNR."""
    from galgen.restoration import restore
    from galgen.restoration.engine import snr_estimate

    blob = gaussian_psf(6.0, 64)
    blob *= 40.0 * 2.0 / np.sqrt(np.sum(blob**2))  # matched-filter SNR 40 at noise rms 2
    field = rng.normal(0, 2.0, (384, 384))
    for y in (32, 160, 288):
        for x in (32, 160, 288):
            field[y:y + 64, x:x + 64] += blob
    whole = snr_estimate(field, 2.0)
    windowed = snr_estimate(field, 2.0, window=64)
    assert abs(whole / 120 - 1) < 0.15 and abs(windowed / 40 - 1) < 0.15
    stamp = field[160:224, 160:224]
    assert snr_estimate(stamp, 2.0, window=64) == snr_estimate(stamp, 2.0)
    # SNR 120 each: inside default_x2's 20-200; summed, 360 was outside it (x1.5 margin: 300)
    bright = field.copy()
    for y in (32, 160, 288):
        for x in (32, 160, 288):
            bright[y:y + 64, x:x + 64] += 2 * blob
    result = restore(bright, psf_fwhm=1.0 * u.arcsec, pixel_scale=0.2 * u.arcsec, noise_rms=2.0,
                     background=0.0, method="default_x2")
    assert abs(result.meta["GALGENSN"] / 120 - 1) < 0.15 and "REGIME" not in result.meta["GALGENFL"]
