"""``galgen.restore`` with the classical baselines: WCS, units, masks, provenance."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from galgen import restore, write_restored
from galgen.demo import sample_paths
from galgen.errors import GalgenPSFError
from galgen.io import read_image
from galgen.metrics import aperture_flux, psnr
from galgen.restoration import BASELINES, richardson_lucy
from galgen.simulate import simulate_pair


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_restore_sample_keeps_wcs_units_and_provenance(method, tmp_path):
    observed, truth_path = sample_paths()
    result = restore(observed, 1.0 * u.arcsec, scale=2, method=method, background=0.0)
    truth = read_image(truth_path)
    assert result.data.shape == (128, 128)
    assert result.unit == u.adu
    # the restored WCS is the truth's (same sky, 0.1"/px): compare a corner position
    a = result.wcs.pixel_to_world(0, 0)
    b = truth.wcs.pixel_to_world(0, 0)
    assert a.separation(b).arcsec < 1e-6
    assert result.meta["GALGENOP"] == "restore"
    out = tmp_path / "r.fits"
    write_restored(result, out)
    back = read_image(out)
    assert back.pixel_scale == pytest.approx(0.1)
    assert any(f"method = {method}" in str(h) for h in back.header["HISTORY"])
    # flux in a 3" aperture agrees with the observation's own (same noise realisation;
    # the observation's aperture misses the PSF wings beyond 3", ~3 % for a 1" Moffat)
    obs = read_image(observed)
    f_obs = aperture_flux(obs.data, 15.0)
    assert aperture_flux(result.data, 30.0) == pytest.approx(f_obs, rel=0.06)


def test_rl_beats_bicubic_on_a_bright_galaxy():
    pair = simulate_pair(np.random.default_rng(5), snr=200, psf_fwhm=0.8)
    rl = richardson_lucy(pair.observation, pair.psf, 2, pair.noise_rms, iterations=15)
    bic = BASELINES["bicubic"](pair.observation, pair.psf, 2, pair.noise_rms)
    assert psnr(rl, pair.target) > psnr(bic, pair.target)
    r = 30.0
    assert aperture_flux(rl, r) == pytest.approx(aperture_flux(pair.target, r), rel=0.05)


def test_a_hole_in_the_galaxy_is_left_out_of_the_chi2():
    """Masked pixels hold no data: the chi^2 skips them. (It used to compare the restoration
    with zeros there: a 3x3 NaN hole on the sample's core gave 1.19 against 1.04 without the
    hole, and 3.4 on a brighter galaxy; now 1.040 against 1.038.)"""
    observed, _ = sample_paths()
    data = fits.getdata(observed).astype(np.float64)
    whole = restore(data, 1.0 * u.arcsec, method="default", pixel_scale=0.2, background=0.0)
    cy, cx = np.unravel_index(np.argmax(data), data.shape)
    data[cy - 1:cy + 2, cx - 1:cx + 2] = np.nan
    holed = restore(data, 1.0 * u.arcsec, method="default", pixel_scale=0.2, background=0.0)
    assert holed.mask.sum() == 9 * 4
    assert 0.8 < whole.meta["GALGENX2"] < 1.3
    assert holed.meta["GALGENX2"] == pytest.approx(whole.meta["GALGENX2"], abs=0.05)


def test_masked_pixels_come_back_nan(rng):
    data = rng.normal(0, 1, (48, 48))
    data[10, 12] = np.nan
    result = restore(data, 3.0, scale=2, method="bicubic", pixel_scale=0.2)
    assert np.isnan(result.data[20:22, 24:26]).all()
    assert np.isfinite(result.data).sum() == 48 * 48 * 4 - 4
    assert result.mask.sum() == 4


def test_fill_values_are_missing_pixels_and_constant_borders_are_named(rng, caplog):
    # SExtractor's and IRAF's -1e30 (or +1e30) marks no data: read as flux, it was restored as a
    # source (chi^2 0.30, flags CHI2LOW and REGIME on a 64-pixel stamp with ten such columns)
    data = rng.normal(0, 1, (48, 48))
    filled = data.copy()
    filled[:, :3] = -1e30
    filled[5, 40] = 1e30
    nan = data.copy()
    nan[:, :3] = np.nan
    nan[5, 40] = np.nan
    with caplog.at_level("WARNING"):
        a = restore(filled, 3.0, scale=2, method="bicubic", pixel_scale=0.2)
    b = restore(nan, 3.0, scale=2, method="bicubic", pixel_scale=0.2)
    assert "145 pixels hold a fill value" in caplog.text
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.data, b.data, equal_nan=True)
    # a coadd's border without data, all 0: named (it is read as sky and biases the noise estimate)
    caplog.clear()
    border = data.copy()
    border[:, -4:] = 0.0
    with caplog.at_level("WARNING"):
        restore(border, 3.0, scale=2, method="bicubic", pixel_scale=0.2)
        assert "4 rows or columns at the image's edges hold one constant value" in caplog.text
        caplog.clear()
        restore(data, 3.0, scale=2, method="bicubic", pixel_scale=0.2)
    assert "constant value" not in caplog.text


def test_pixels_at_the_header_s_saturation_level_are_named(tmp_path, rng, caplog):
    """A saturated core (SExtractor's SATURATE, in the image's units) is named in the log, not
    masked; masked or lower pixels are not counted."""
    from astropy.io import fits

    from galgen.io import simple_tan_wcs, write_fits

    data = rng.normal(0, 1, (48, 48))
    data[22:25, 22:26] = 5000.0  # a flat top of 12 pixels
    mask = np.zeros(data.shape, np.uint8)
    mask[22, 22:26] = 1  # four of them masked by the pipeline
    header = fits.Header({"SATURATE": 4999.0})
    write_fits(tmp_path / "sat.fits", data, wcs=simple_tan_wcs(data.shape, 0.2), header=header,
               extensions={"MASK": mask})
    with caplog.at_level("WARNING"):
        restore(tmp_path / "sat.fits", 3.0, method="bicubic", background=0.0)
    assert "8 unmasked pixels reach the header's saturation level (SATURATE = 4999)" in caplog.text
    caplog.clear()
    header["SATURATE"] = 6000.0
    write_fits(tmp_path / "below.fits", data, wcs=simple_tan_wcs(data.shape, 0.2), header=header)
    with caplog.at_level("WARNING"):
        restore(tmp_path / "below.fits", 3.0, method="bicubic", background=0.0)
    assert "saturation" not in caplog.text


@pytest.mark.parametrize(("value", "match"), [(-1e30, "every pixel is NaN, inf or a fill value"),
                                              (0.0, "every pixel is 0: no data")])
def test_an_image_of_fill_values_or_one_constant_is_a_clear_error(value, match):
    # all -1e30 said "fewer than 10 finite, unmasked pixels: the background cannot be estimated";
    # all 0 "noise level 0.0 is not > 0; give noise_rms= explicitly"
    from galgen.errors import GalgenValueError

    with pytest.raises(GalgenValueError, match=match):
        restore(np.full((48, 48), value), 3.0, scale=2, method="bicubic", pixel_scale=0.2)


def test_masked_pixels_have_no_uncertainty(rng):
    y, x = np.mgrid[:48, :48]
    galaxy = 8.0 * np.exp(-((x - 24) ** 2 + (y - 23) ** 2) / (2 * 3.0**2))  # SNR ~ 60: in regime
    data = galaxy + rng.normal(0, 1, (48, 48))
    data[10, 12] = np.nan
    result = restore(data, 1.0 * u.arcsec, method="default", pixel_scale=0.2, background=0.0, samples=2)
    std = result.uncertainty.array
    # NaN where the image is NaN (as the draws are), finite everywhere else
    np.testing.assert_array_equal(np.isnan(std), result.mask)
    assert np.isnan(std[20:22, 24:26]).all() and result.mask.sum() == 4


def test_absurd_psf_rejected_and_nothing_written(tmp_path):
    observed, _ = sample_paths()
    with pytest.raises(GalgenPSFError, match="more than half"):
        restore(observed, 10.0 * u.arcsec, method="bicubic")
    with pytest.raises(GalgenPSFError, match="> 0"):
        restore(observed, -1.0 * u.arcsec, method="bicubic")
    assert list(tmp_path.iterdir()) == []
    with fits.open(observed) as hdul:
        assert hdul[0].header["GALGENOP"] == "simulate"  # input untouched


def test_gaussian_smoothing_adds_widths_in_quadrature():
    from galgen.psf import gaussian_psf, measure_fwhm
    from galgen.restoration.baselines import gaussian_smooth

    image = gaussian_psf(4.0, 81)
    smoothed = gaussian_smooth(image, 3.0)
    # sampled Gaussians, measured by a fit: 1 % covers pixel sampling of a 4-pixel FWHM
    assert measure_fwhm(smoothed) == pytest.approx(5.0, rel=0.01)
    assert smoothed.sum() == pytest.approx(1.0, abs=1e-6)  # flux kept (reflecting edges)


def test_wiener_to_target_recovers_the_target_resolution():
    """A noise-free Gaussian galaxy through a Gaussian PSF, deconvolved to a Gaussian target on the
    x2 grid, must match the galaxy convolved with that target. (The target is chosen wide enough
    that the PSF keeps power wherever target x galaxy has any: no linear method can restore
    frequencies the PSF removed.)"""
    import galsim

    from galgen.restoration.baselines import wiener_to_target

    gal = galsim.Gaussian(fwhm=0.5)
    psf = galsim.Gaussian(fwhm=0.6)
    obs = galsim.Convolve(gal, psf).drawImage(nx=64, ny=64, scale=0.2).array
    psf_image = psf.drawImage(nx=31, ny=31, scale=0.2).array
    truth = galsim.Convolve(gal, galsim.Gaussian(fwhm=0.4)).drawImage(nx=128, ny=128, scale=0.1,
                                                                       method="no_pixel").array
    out = wiener_to_target(obs, psf_image, 2, balance=1e-7, target_fwhm_pix=4.0)
    # 1 % of the peak: bicubic upsampling and the PSF's resampling are not exact
    assert np.max(np.abs(out - truth)) < 0.01 * truth.max()
    assert out.sum() == pytest.approx(truth.sum(), rel=0.01)


def test_baselines_are_brought_to_the_target_psf():
    from galgen.restoration import BaselineRestorer, prepare_observation

    pair = simulate_pair(np.random.default_rng(5), snr=200, psf_fwhm=1.0)
    image = read_image(pair.observation, pixel_scale=0.2)
    prepared = prepare_observation(image, 1.0 * u.arcsec, psf=pair.psf, noise_rms=pair.noise_rms,
                                   background=0.0)
    rl = {"iterations": 20}
    raw, = BaselineRestorer("richardson_lucy", 2, rl).restore_batch([prepared])
    fair, = BaselineRestorer("richardson_lucy", 2, rl, target_psf_fwhm=0.2).restore_batch([prepared])
    assert raw.psf_fwhm is None and fair.psf_fwhm == 0.2 and fair.params["target_psf_fwhm"] == 0.2
    assert fair.data.max() < raw.data.max()  # smoothed to the target: RL's noise spikes are tamed
    bicubic, = BaselineRestorer("bicubic", 2, target_psf_fwhm=0.2).restore_batch([prepared])
    assert bicubic.psf_fwhm == pytest.approx(1.0)  # an interpolation cannot sharpen


def test_an_uncertainty_plane_is_recorded_and_checked_against_the_sky(caplog):
    """A file's VARIANCE (or IVAR) plane is read as a noise rms on the sky pixels (GALGENNV) beside
    the measured one (GALGENNS, which stays what the method is told); a plane off by 2x is named
    in the log with the --noise-rms that would use it. An HDUList is one image, not a stack."""
    observed, _ = sample_paths()
    with fits.open(observed) as hdul:
        data, header = hdul[0].data.astype(float), hdul[0].header.copy()
    measured = restore(observed, 1.0 * u.arcsec, method="bicubic", background=0.0).meta["GALGENNS"]
    right = fits.HDUList([fits.PrimaryHDU(data, header), fits.ImageHDU(np.full(data.shape, measured**2),
                                                                      name="VARIANCE")])
    ivar = np.full(data.shape, measured**-2.0)
    ivar[:, :5] = 0  # no data there: left out, not read as an infinite rms
    zero_weight = fits.HDUList([fits.PrimaryHDU(data, header), fits.ImageHDU(ivar, name="IVAR")])
    wrong = fits.HDUList([fits.PrimaryHDU(data, header), fits.ImageHDU(np.full(data.shape, 4 * measured**2),
                                                                      name="VARIANCE")])
    with caplog.at_level("WARNING", logger="galgen.restoration.engine"):
        a = restore(right, 1.0 * u.arcsec, method="bicubic", background=0.0)
        b = restore(zero_weight, 1.0 * u.arcsec, method="bicubic", background=0.0)
        assert not caplog.records
        c = restore(wrong, 1.0 * u.arcsec, method="bicubic", background=0.0)
    assert a.data.shape == (128, 128)  # one image
    assert a.meta["GALGENNV"] == pytest.approx(measured) and b.meta["GALGENNV"] == pytest.approx(measured)
    assert c.meta["GALGENNV"] == pytest.approx(2 * measured) and c.meta["GALGENNS"] == pytest.approx(measured)
    assert len(caplog.records) == 1 and f"--noise-rms {2 * measured:.4g}" in caplog.records[0].getMessage()
    assert "GALGENNV" not in restore(observed, 1.0 * u.arcsec, method="bicubic", background=0.0).meta
