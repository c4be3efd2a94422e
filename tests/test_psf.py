"""PSFs against analytic truths."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from galgen.errors import GalgenPSFError
from galgen.psf import (
    block_sum,
    convolve_psf,
    gaussian_fwhm_quadrature,
    gaussian_psf,
    measure_fwhm,
    moffat_psf,
    psf_from_image,
)


@pytest.mark.parametrize("fwhm", [3.0, 4.5, 8.0])
@pytest.mark.parametrize("maker", [gaussian_psf, moffat_psf])
def test_psf_normalised_and_fwhm_measured_to_1_percent(maker, fwhm):
    psf = maker(fwhm, method="no_pixel")
    assert psf.sum() == pytest.approx(1.0, abs=1e-12)
    assert psf.shape[0] % 2 == 1
    # the tolerance: measured FWHM within 1 % of the requested one
    assert measure_fwhm(psf) == pytest.approx(fwhm, rel=0.01)
    peak = np.unravel_index(np.argmax(psf), psf.shape)
    assert peak == (psf.shape[0] // 2, psf.shape[1] // 2)


@pytest.mark.parametrize("fwhm", [2.5, 3.0, 4.0])
@pytest.mark.parametrize("offset", [(0.5, 0.5), (0.5, 0.0)])
def test_fwhm_of_a_psf_centred_on_a_pixel_corner_or_edge(fwhm, offset):
    # a star cut from an image sits anywhere in its pixel; centred on a corner, a 2.5-3 pixel PSF's
    # core is four equal pixels, whose mean was taken for the peak: its FWHM read 12-15 % wide
    import galsim

    profiles = (galsim.Gaussian(fwhm=fwhm), galsim.Moffat(beta=3.5, fwhm=fwhm), galsim.Kolmogorov(fwhm=fwhm))
    for profile in profiles:
        centred = measure_fwhm(profile.drawImage(nx=25, ny=25, scale=1.0).array)
        shifted = measure_fwhm(profile.drawImage(nx=25, ny=25, scale=1.0, offset=offset).array)
        assert shifted == pytest.approx(centred, rel=0.04)


@pytest.mark.parametrize("fwhm", [1.0, 1.3, 1.6, 2.0])
@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.5, 0.5), (0.3, -0.2)])
def test_undersampled_fwhm_against_the_pixel_integrated_profile(fwhm, offset):
    # exact for a Gaussian: the FWHM of the Gaussian convolved with the pixel, drawn 20x finer
    import galsim

    from galgen.psf import undersampled_fwhm

    gauss = galsim.Gaussian(fwhm=fwhm)
    fine = galsim.Convolve(gauss, galsim.Pixel(1.0)).drawImage(nx=301, ny=301, scale=0.05, method="no_pixel")
    truth = measure_fwhm(fine.array, 0.05)
    image = gauss.drawImage(nx=15, ny=15, scale=1.0, offset=offset).array
    assert undersampled_fwhm(image) == pytest.approx(truth, rel=0.01)
    # a Moffat's wings: 13 % wide at 1 pixel centred on a corner, within 9 % otherwise
    moffat = galsim.Moffat(beta=3.5, fwhm=fwhm)
    fine = galsim.Convolve(moffat, galsim.Pixel(1.0)).drawImage(nx=301, ny=301, scale=0.05, method="no_pixel")
    image = moffat.drawImage(nx=15, ny=15, scale=1.0, offset=offset).array
    assert undersampled_fwhm(image) == pytest.approx(measure_fwhm(fine.array, 0.05), rel=0.15)


def test_measure_fwhm_of_an_undersampled_psf_raises_or_fits():
    delta = np.pad(np.ones((1, 1)), 7)  # no blur: one lit pixel
    with pytest.raises(GalgenPSFError, match="too poorly sampled"):
        measure_fwhm(delta)
    assert measure_fwhm(delta, 0.1, method="fit") == pytest.approx(0.1, rel=0.01)


def test_fwhm_in_arcsec_and_oversampling():
    psf = gaussian_psf(1.0 * u.arcsec, 41, pixel_scale=0.2 * u.arcsec, method="no_pixel")
    assert measure_fwhm(psf, pixel_scale=0.2) == pytest.approx(1.0, rel=0.01)
    over = gaussian_psf(1.0 * u.arcsec, 41, pixel_scale=0.2, oversample=3, method="no_pixel")
    assert over.shape == (123, 123)
    assert measure_fwhm(over, pixel_scale=0.2 / 3) == pytest.approx(1.0, rel=0.01)
    # pixel integration broadens a Gaussian by the box's variance 1/12 px^2
    pix = gaussian_psf(3.0, 31)
    sigma = 3.0 / 2.3548200450309493
    expected = 2.3548200450309493 * np.sqrt(sigma**2 + 1 / 12)
    assert measure_fwhm(pix) == pytest.approx(expected, rel=0.01)


def test_gaussian_widths_add_in_quadrature():
    a, b = gaussian_psf(4.0, 61, method="no_pixel"), gaussian_psf(6.0, 61, method="no_pixel")
    both = convolve_psf(a, b)
    assert measure_fwhm(both) == pytest.approx(gaussian_fwhm_quadrature(4.0, 6.0), rel=0.01)


def test_convolution_and_binning_conserve_flux(rng):
    image = np.zeros((96, 96))
    image[30:60, 40:50] = rng.uniform(0, 10, (30, 10))
    out = convolve_psf(image, moffat_psf(4.0, 31))
    # Moffat wings beyond the 31-pixel kernel are cut, kernel renormalised: exact sum
    assert out.sum() == pytest.approx(image.sum(), rel=1e-10)
    assert block_sum(out, 4).sum() == pytest.approx(image.sum(), rel=1e-10)
    with pytest.raises(Exception, match="multiple"):
        block_sum(out, 5)
    with pytest.raises(Exception, match="odd"):
        convolve_psf(image, np.ones((4, 4)))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_absurd_fwhm_rejected(bad):
    with pytest.raises(GalgenPSFError, match="FWHM must be > 0"):
        gaussian_psf(bad)


def test_psf_larger_than_stamp_rejected():
    with pytest.raises(GalgenPSFError, match="does not fit"):
        moffat_psf(30.0, 21)
    with pytest.raises(GalgenPSFError, match="pixel_scale"):
        gaussian_psf(1.0 * u.arcsec)


def test_psf_from_image_resamples_and_recentres():
    fine = gaussian_psf(10.0, 81, method="no_pixel")  # 10 px at 0.03" = 0.3"
    shifted = np.roll(fine, (3, -2), axis=(0, 1))
    coarse = psf_from_image(shifted, pixel_scale=0.03, target_pixel_scale=0.06, shape=31)
    assert coarse.sum() == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(coarse), coarse.shape) == (15, 15)
    assert measure_fwhm(coarse, 0.06) == pytest.approx(0.3, rel=0.02)


def test_cached_kernels_are_private_copies():
    first = moffat_psf(3.0, 21)
    first[:] = 0.0  # a caller editing its kernel must not change the next one
    second = moffat_psf(3.0, 21)
    assert second.sum() == pytest.approx(1.0, abs=1e-12) and second.flags.writeable
    assert second.max() > 0
    assert np.array_equal(second, moffat_psf(3.0, 21))


@pytest.mark.parametrize(("image_shape", "kernel_shape"), [((128, 128), (79, 79)), ((37, 50), (9, 15)),
                                                          ((600, 520), (31, 31))])
def test_convolve_fft_equals_scipy_same_mode_cached_or_not(rng, image_shape, kernel_shape):
    # stamps reuse the kernel's transform (cached); a large grid (the last case) does not
    from scipy.signal import fftconvolve

    image, kernel = rng.normal(size=image_shape), rng.uniform(0.1, 1, kernel_shape)
    expected = fftconvolve(image, kernel / kernel.sum(), mode="same")
    for _ in range(2):  # the second call finds the transform in the cache
        np.testing.assert_allclose(convolve_psf(image, kernel), expected, rtol=0, atol=1e-12)


def test_fwhm_fit_is_polyfit_where_that_is_well_posed_and_quiet_where_not():
    """The half-maximum fit of :func:`measure_fwhm` once let numpy's ``RankWarning`` out on nearly
    coincident radii (seen while simulating strongly elliptical zoo PSFs); it now falls back to a
    line (or a constant) instead, and is numpy's fit everywhere else."""
    from galgen.psf.models import _poly_fit

    x = np.array([0.5, 1.0, 2.0, 2.5, 4.0, 5.0])
    y = np.log(np.exp(-x / 3.0) + 0.01 * x**2)
    np.testing.assert_allclose(_poly_fit(x, y), np.polynomial.polynomial.polyfit(x, y, 2), rtol=1e-10)
    np.testing.assert_allclose(_poly_fit(x[:3], y[:3]), np.polynomial.polynomial.polyfit(x[:3], y[:3], 1),
                               rtol=1e-10)
    with pytest.warns(np.exceptions.RankWarning):  # what numpy does with these
        np.polynomial.polynomial.polyfit(1000 + 1e-6 * np.arange(5), y[:5], 2)
    flat = _poly_fit(1000 + 1e-6 * np.arange(5), y[:5])  # no warning (pytest turns warnings into errors)
    assert flat.size == 2 and np.all(np.isfinite(flat))


@pytest.mark.parametrize("fwhm", [3.0, 5.0, 7.0])
@pytest.mark.parametrize(("size", "offset"), [(41, (0.3, -0.2)), (24, (0.0, 0.0)), (25, (0.5, 0.5))])
def test_moffat_mismatch_reads_zero_for_the_moffat_and_more_for_other_shapes(fwhm, size, offset):
    import galsim

    from galgen.psf.shape import MOFFAT_TOLERANCE, moffat_mismatch

    def draw(profile):
        return profile.drawImage(nx=size, ny=size, scale=1.0, offset=offset).array

    # the model's own PSF family, on odd and even grids and off the pixel centre, in any unit
    exact = moffat_mismatch(draw(galsim.Moffat(beta=3.5, fwhm=fwhm)) * 1e4)
    assert exact < 0.005 < MOFFAT_TOLERANCE
    assert moffat_mismatch(draw(galsim.Moffat(beta=2.5, fwhm=fwhm)), beta=2.5) < 0.005
    # other shapes: a Gaussian loses its wings (0.07-0.10 of the light), a Kolmogorov
    # atmosphere (~0.02), a Moffat of another beta or sheared to e = 0.05 (~0.03)
    gauss = moffat_mismatch(draw(galsim.Gaussian(fwhm=fwhm)))
    assert 0.06 < gauss < 0.11
    kolmogorov = moffat_mismatch(draw(galsim.Kolmogorov(fwhm=fwhm)))
    assert 0.015 < kolmogorov < 0.035
    sheared = galsim.Moffat(beta=3.5, fwhm=fwhm).shear(g=0.05, beta=0 * galsim.degrees)
    for other in (galsim.Moffat(beta=2.5, fwhm=fwhm), sheared):
        assert 0.02 < moffat_mismatch(draw(other)) < 0.05


def test_moffat_mismatch_of_unusable_images_is_one():
    from galgen.psf.shape import moffat_mismatch

    assert moffat_mismatch(np.zeros((15, 15))) == 1.0
    assert moffat_mismatch(np.full((15, 15), np.nan)) == 1.0
    flat = np.ones((15, 15))  # no peak to measure a FWHM on
    assert moffat_mismatch(flat) == 1.0
