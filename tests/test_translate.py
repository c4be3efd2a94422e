"""Physical survey-to-survey translation against GalSim's direct rendering on the target grid."""

from __future__ import annotations

import astropy.units as u
import galsim
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

from galgen.cli import main
from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.io import simple_tan_wcs, write_fits
from galgen.simulate.galaxies import random_galaxy
from galgen.translate import SURVEYS, translate

N_IN = 512  # 25.6" at 0.05"/px


def _hst(gal: galsim.GSObject) -> CCDData:
    image = galsim.Convolve(gal, galsim.Gaussian(fwhm=0.12)).drawImage(nx=N_IN, ny=N_IN, scale=0.05).array
    return CCDData(image, unit="adu", wcs=simple_tan_wcs(image.shape, 0.05))


def _direct(gal: galsim.GSObject, psf: galsim.GSObject, out, method: str = "auto") -> np.ndarray:
    """GalSim's rendering of the galaxy (centred on the input's centre) on the output's WCS grid."""
    n = out.data.shape[0]
    centre = simple_tan_wcs((N_IN, N_IN), 0.05).pixel_to_world((N_IN - 1) / 2, (N_IN - 1) / 2)
    x, y = out.wcs.world_to_pixel(centre)
    return galsim.Convolve(gal, psf).drawImage(nx=n, ny=n, scale=0.396, method=method,
                                               offset=(float(x) - (n - 1) / 2, float(y) - (n - 1) / 2)).array


def _galaxies(n: int) -> list[galsim.GSObject]:
    rng = np.random.default_rng(0)
    return [random_galaxy(rng)[0].withFlux(1000.0) for _ in range(n)]


def test_hst_to_sdss_matches_galsim_on_the_output_grid():
    residuals, fluxes = [], []
    for gal in _galaxies(8):
        out = translate(_hst(gal), 0.12 * u.arcsec, to_pixel_scale=0.396 * u.arcsec,
                        to_psf_fwhm=1.4 * u.arcsec)
        direct = _direct(gal, galsim.Gaussian(fwhm=1.4), out)
        data = np.nan_to_num(out.data)
        residuals.append(np.sqrt(np.mean((data - direct) ** 2)) / direct.max())
        fluxes.append(abs(data.sum() / direct.sum() - 1))
    assert out.data.shape == (64, 64) and out.meta["PSFFWHM"] == pytest.approx(1.4)
    assert out.wcs.proj_plane_pixel_scales()[0].to_value(u.arcsec) == pytest.approx(0.396)
    # the acceptance numbers: 1.5 % of the peak, 0.5 % of the flux (measured: ~1e-4, ~1e-5)
    assert np.median(residuals) < 0.015 and np.median(fluxes) < 0.005


def test_a_target_psf_image_is_the_surveys_effective_psf(tmp_path):
    psf = galsim.Moffat(beta=3.0, fwhm=1.4)
    image = psf.drawImage(nx=41, ny=41, scale=0.396).array  # with the pixel response, as surveys give it
    write_fits(tmp_path / "sdss_psf.fits", image, wcs=simple_tan_wcs(image.shape, 0.396))
    residuals, fluxes = [], []
    effective = galsim.InterpolatedImage(galsim.Image(image, scale=0.396))
    for gal in _galaxies(4):
        out = translate(_hst(gal), 0.12, to_pixel_scale=0.396, to_psf=tmp_path / "sdss_psf.fits")
        direct = _direct(gal, effective, out, method="no_pixel")
        data = np.nan_to_num(out.data)
        residuals.append(np.sqrt(np.mean((data - direct) ** 2)) / direct.max())
        fluxes.append(abs(data.sum() / direct.sum() - 1))
    assert np.median(residuals) < 0.015 and np.median(fluxes) < 0.005
    assert out.meta["PSFFWHM"] == pytest.approx(1.4, rel=0.05)  # measured from the image (pixel included)


def test_noise_reaches_the_requested_rms_and_is_seeded():
    gal = _galaxies(1)[0]
    a = translate(_hst(gal), 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4, to_noise_rms=0.5,
                  rng=np.random.default_rng(3))
    b = translate(_hst(gal), 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4, to_noise_rms=0.5,
                  rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, b.data)
    border = np.concatenate([a.data[:10].ravel(), a.data[-10:].ravel()])
    assert np.std(border) == pytest.approx(0.5, rel=0.1)  # 1,280 samples: ~2 % sampling error


def test_noise_like_a_reference_image_of_the_target_survey(tmp_path, capsys):
    """--to-noise-like: the added noise takes the correlation (and, without --to-noise-rms, the rms)
    measured on an image of the target survey: here noise summed over 2x2 pixels (a wide sum
    scatters 2x white noise's), rms 0.5. The output's background reads the same within 15 %
    (a 64x64 output: ~3,500 sky pixels); a reference at other pixels is an error, nothing written."""
    from scipy import signal

    from galgen.preprocess import estimate_noise_correlation

    rng = np.random.default_rng(5)
    box = signal.fftconvolve(rng.normal(0, 1, (201, 201)), np.ones((2, 2)), mode="valid") / 2
    ref = tmp_path / "survey.fits"
    write_fits(ref, 0.5 * box + 7.0, wcs=simple_tan_wcs(box.shape, 0.396))  # a sky level, subtracted
    source = tmp_path / "hst.fits"
    write_fits(source, _hst(_galaxies(1)[0]).data, wcs=simple_tan_wcs((N_IN, N_IN), 0.05))
    out = tmp_path / "out.fits"
    assert main(["translate", str(source), "-o", str(out), "--psf-fwhm", "0.12arcsec", "--to", "sdss",
                 "--to-noise-like", str(ref), "--seed", "2"]) == 0
    data = fits.getdata(out)
    measured = estimate_noise_correlation(data)
    assert measured.sum_factor == pytest.approx(2.0, rel=0.15)
    border = np.concatenate([data[:10].ravel(), data[-10:].ravel()])
    assert np.std(border) == pytest.approx(0.5, rel=0.15)
    assert "noise_correlation_factor" in str(fits.getheader(out)["HISTORY"])
    white = translate(_hst(_galaxies(1)[0]), 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4, to_noise_rms=0.5)
    assert estimate_noise_correlation(white.data).is_white
    with pytest.raises(GalgenValueError, match="give to_noise_rms"):  # a correlation alone has no level
        translate(_hst(_galaxies(1)[0]), 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4,
                  to_noise_like=measured)
    wrong = tmp_path / "wrong.fits"
    write_fits(wrong, box, wcs=simple_tan_wcs(box.shape, 0.2))
    assert main(["translate", str(source), "-o", str(tmp_path / "no.fits"), "--psf-fwhm", "0.12arcsec",
                 "--to", "sdss", "--to-noise-like", str(wrong)]) != 0
    assert "noise correlation is per pixel" in capsys.readouterr().err
    assert not (tmp_path / "no.fits").exists()


def test_bad_targets_are_typed_errors_and_write_nothing(tmp_path, capsys):
    gal = _galaxies(1)[0]
    hst = _hst(gal)
    with pytest.raises(GalgenPSFError, match="narrower than the source.*galgen restore"):
        translate(hst, 1.0, to_pixel_scale=0.396, to_psf_fwhm=0.5)
    with pytest.raises(GalgenValueError, match="pixel_scale must be a positive"):
        translate(hst, 0.12, to_pixel_scale=-0.4, to_psf_fwhm=1.4)
    for bad in (-1.0, 0.0, float("nan")):
        with pytest.raises(GalgenValueError, match="positive rms"):
            translate(hst, 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4, to_noise_rms=bad)
    # a unit mistake: deg for arcsec would build a kernel of 10^7 pixels a side (a MemoryError once)
    with pytest.raises(GalgenPSFError, match="target PSF FWHM .* more than half the 512x512 image"):
        translate(hst, 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4 * u.deg)
    with pytest.raises(GalgenPSFError, match="source PSF FWHM"):
        translate(hst, 20.0, to_pixel_scale=0.396, to_psf_fwhm=1.4, allow_sharpen=True)
    # target pixels as large as the 25.6" image (it once wrote a 1x1 image); 6.4" gives 4x4
    with pytest.raises(GalgenValueError, match="with 1 pixel.*at least 4"):
        translate(hst, 0.12, to_pixel_scale=25.6, to_psf_fwhm=1.4)
    assert translate(hst, 0.12, to_pixel_scale=6.4, to_psf_fwhm=1.4).data.shape == (4, 4)
    nan = CCDData(np.full((32, 32), np.nan), unit="adu", wcs=simple_tan_wcs((32, 32), 0.05))
    with pytest.raises(GalgenValueError, match="NaN"):
        translate(nan, 0.12, to_pixel_scale=0.396, to_psf_fwhm=1.4)
    src = tmp_path / "hst.fits"
    write_fits(src, hst.data, wcs=hst.wcs)
    out = tmp_path / "sdss.fits"
    assert main(["translate", str(src), "-o", str(out), "--psf-fwhm", "1arcsec", "--to", "sdss",
                 "--to-psf-fwhm", "0.5arcsec"]) == 2
    err = capsys.readouterr().err
    assert "narrower" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["translate", str(src), "-o", str(out), "--psf-fwhm", "0.12arcsec", "--to", "sdss"]) == 0
    header = fits.getheader(out)
    assert header["PSFFWHM"] == pytest.approx(SURVEYS["sdss"].psf_fwhm) and header["GALGENOP"] == "translate"
    assert fits.getdata(out).sum() == pytest.approx(hst.data.sum(), rel=1e-3)  # the flux is kept


def test_an_undersampled_source_psf_image_is_taken(tmp_path):
    # Euclid VIS-like: 0.1"/px with a 0.14" obscured Airy, given as an image (1.4 pixels: too few
    # about half maximum for measure_fwhm, which refused it before); its FWHM comes from a fit
    airy = galsim.Airy(lam_over_diam=0.14, obscuration=0.3)
    psf = airy.drawImage(nx=25, ny=25, scale=0.1).array
    write_fits(tmp_path / "vis_psf.fits", psf, wcs=simple_tan_wcs(psf.shape, 0.1))
    n = 256
    residuals, fluxes = [], []
    for gal in _galaxies(4):
        image = galsim.Convolve(gal, airy).drawImage(nx=n, ny=n, scale=0.1).array
        vis = CCDData(image, unit="adu", wcs=simple_tan_wcs(image.shape, 0.1))
        out = translate(vis, None, source_psf=tmp_path / "vis_psf.fits", to_pixel_scale=0.396,
                        to_psf_fwhm=1.4)
        m = out.data.shape[0]
        centre = simple_tan_wcs((n, n), 0.1).pixel_to_world((n - 1) / 2, (n - 1) / 2)
        x, y = out.wcs.world_to_pixel(centre)
        direct = galsim.Convolve(gal, galsim.Gaussian(fwhm=1.4)).drawImage(
            nx=m, ny=m, scale=0.396, offset=(float(x) - (m - 1) / 2, float(y) - (m - 1) / 2)).array
        data = np.nan_to_num(out.data)
        residuals.append(np.sqrt(np.mean((data - direct) ** 2)) / direct.max())
        fluxes.append(abs(data.sum() / direct.sum() - 1))
    assert np.median(residuals) < 0.015 and np.median(fluxes) < 0.005
