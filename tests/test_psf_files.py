"""PSFs given as data: FITS PSF images in restore, batch and the CLI; bad PSF files."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

import galgen
from galgen.batch import BatchOptions, expand_inputs, run_batch
from galgen.cli import main
from galgen.errors import GalgenPSFError
from galgen.io import simple_tan_wcs, write_fits
from galgen.psf import gaussian_psf, measure_fwhm, moffat_psf
from galgen.psf.files import psf_hash, read_psf
from galgen.simulate import simulate_pair


@pytest.fixture(scope="module")
def observation(tmp_path_factory):
    root = tmp_path_factory.mktemp("psf")
    pair = simulate_pair(np.random.default_rng(2), psf_fwhm=1.0, snr=100)
    path = root / "obs.fits"
    write_fits(path, pair.observation, wcs=simple_tan_wcs(pair.observation.shape, 0.2))
    return path, pair


def test_a_psf_file_at_another_scale_is_resampled(tmp_path):
    # a 1" Gaussian PSF sampled at 0.1"/px, with a WCS saying so
    fine = gaussian_psf(10.0, 61)
    write_fits(tmp_path / "psf.fits", fine, wcs=simple_tan_wcs(fine.shape, 0.1))
    psf = read_psf(tmp_path / "psf.fits", (64, 64), 0.2)
    assert psf.note == "WCS" and psf.pixel_scale == pytest.approx(0.1)
    assert psf.kernel.sum() == pytest.approx(1.0) and psf.kernel.shape[0] % 2 == 1
    # 10 fine pixels = 5 image pixels; 2 % for GalSim's resampling of a sampled profile
    assert measure_fwhm(psf.kernel) == pytest.approx(5.0, rel=0.02)
    hdr = fits.Header({"PIXSCALE": 0.1})
    fits.writeto(tmp_path / "kw.fits", fine, hdr)
    assert read_psf(tmp_path / "kw.fits", (64, 64), 0.2).note == "PIXSCALE"
    # STPSF/WebbPSF's oversampled HDU says its own scale in PIXELSCL (here 4x the detector's)
    oversampled = fits.Header({"PIXELSCL": 0.05, "OVERSAMP": 4})
    fits.writeto(tmp_path / "stpsf.fits", gaussian_psf(20.0, 61), oversampled)
    stpsf = read_psf(tmp_path / "stpsf.fits", (64, 64), 0.2)
    assert stpsf.note == "PIXELSCL" and measure_fwhm(stpsf.kernel) == pytest.approx(5.0, rel=0.02)
    fits.writeto(tmp_path / "bare.fits", moffat_psf(5.0, 31))
    assert read_psf(tmp_path / "bare.fits", (64, 64), 0.2).note == "assumed equal to the image's"


@pytest.mark.parametrize(("name", "data", "match"), [
    ("zero", np.zeros((15, 15)), "total is 0"),
    ("nan", np.where(np.eye(15, dtype=bool), np.nan, 1.0), "NaN or infinite"),
    ("negative", -moffat_psf(4.0, 15), "total is -1"),
    ("large", moffat_psf(4.0, 81), "larger than the 64x64 image"),
    ("cube", np.ones((3, 15, 15)), "not a 2-D image"),
    # numpy.fft's order: the peak at (0, 0), its light in all four corners (restored with it, a stamp
    # came out wrong with chi^2 1.22 and flag OK)
    ("fft_order", np.fft.ifftshift(moffat_psf(4.0, 31)), "brightest pixel .*fftshift"),
    ("two_stars", moffat_psf(4.0, 31) + 0.8 * np.roll(moffat_psf(4.0, 31), (4, 9), axis=(0, 1)),
     "cannot measure the PSF.s FWHM .*--psf-fwhm"),
])
def test_bad_psf_files_are_one_line_errors_and_write_nothing(name, data, match, observation, tmp_path,
                                                             capsys):
    path, _ = observation
    bad = tmp_path / f"{name}.fits"
    fits.writeto(bad, data)
    with pytest.raises(GalgenPSFError, match=match):
        galgen.restore(path, psf=bad, method="bicubic")
    out = tmp_path / "out.fits"
    assert main(["restore", str(path), "-o", str(out), "--psf", str(bad), "--method", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--plane" not in err  # it chooses a plane of the image, not of the PSF (the cube's error said so)
    assert not out.exists()


def test_an_undersampled_psf_image_is_measured_and_flagged_not_refused(observation, tmp_path):
    # HST or Euclid at native sampling: a PSF of ~1.2 pixels has too few pixels about half maximum
    # for measure_fwhm (it was an error); its FWHM now comes from a fit, and the stamp is restored
    # flagged REGIME (under the models' 2 pixels)
    import galsim

    path, _ = observation
    psf = galsim.Gaussian(fwhm=1.2).drawImage(nx=15, ny=15, scale=1.0).array
    fits.writeto(tmp_path / "hst_psf.fits", psf)
    from galgen.errors import GalgenRegimeWarning

    with pytest.warns(GalgenRegimeWarning, match="PSF FWHM 1.41 pixels"):
        result = galgen.restore(path, psf=tmp_path / "hst_psf.fits", method="default")
    # the pixel-integrated Gaussian's FWHM along an axis: 1.2 px before the pixel, 1.407 after it
    assert result.meta["GALGENPF"] / 0.2 == pytest.approx(1.407, rel=0.01)
    assert "REGIME" in result.meta["GALGENFL"]


def test_a_psf_off_its_image_centre_or_aberrated_is_not_refused(tmp_path):
    # the FFT-order refusal must spare real PSFs: off-centre by a few pixels, cut close, aberrated
    shifted = np.roll(moffat_psf(4.0, 31), (3, -4), axis=(0, 1))
    cut = moffat_psf(4.0, 11)
    import galsim

    optics = galsim.OpticalPSF(lam_over_diam=0.3, coma1=0.5, astig2=0.4, obscuration=0.3, nstruts=4)
    aberrated = galsim.Convolve(galsim.Kolmogorov(fwhm=0.8), optics).drawImage(nx=25, ny=25, scale=0.2).array
    for psf in (shifted, cut, aberrated):
        assert read_psf(psf, (64, 64), 0.2).kernel.sum() == pytest.approx(1.0)


def test_restore_and_batch_with_a_psf_file_record_it(observation, tmp_path):
    path, pair = observation
    write_fits(tmp_path / "psf.fits", pair.psf, wcs=simple_tan_wcs(pair.psf.shape, 0.2))
    result = galgen.restore(path, psf=tmp_path / "psf.fits", method="richardson_lucy", background=0.0)
    header = fits.Header(result.meta)
    assert header["GALGENPF"] == pytest.approx(measure_fwhm(pair.psf, 0.2), rel=1e-6)  # measured from it
    stored = pair.psf.astype(np.float32).astype(np.float64)  # as the FITS file holds it
    assert header["GALGENPH"] == psf_hash(stored / stored.sum())
    assert any("psf.fits (pixel scale: WCS)" in str(h) for h in header["HISTORY"])
    options = BatchOptions(psf=str(tmp_path / "psf.fits"), method="richardson_lucy", background=0.0)
    table = run_batch(expand_inputs([path]), options, tmp_path / "b", progress=False)
    assert list(table["status"]) == ["ok"]
    np.testing.assert_array_equal(fits.getdata(table["output"][0]), np.asarray(result.data, np.float32))
    with pytest.raises(GalgenPSFError, match="psf_fwhm= .* or psf="):
        BatchOptions(method="bicubic")
    assert main(["restore", str(path), "-o", str(tmp_path / "x.fits")]) == 2


def test_each_input_s_own_psf_hdu(tmp_path, capsys):
    """--psf '[PSF]' takes HDU 'PSF' of each input (galgen simulate writes one per stamp): a batch
    restores every file with its own PSF, as restoring each with FILE[PSF] does."""
    from astropy.io import fits

    from galgen.simulate import DEFAULT_REGIME, write_dataset

    write_dataset(tmp_path / "sim", 3, 5, DEFAULT_REGIME, progress=False)
    common = ["--method", "bicubic", "--background", "0"]
    assert main(["batch", str(tmp_path / "sim" / "observed"), "-o", str(tmp_path / "b"), "--psf", "[PSF]",
                 *common]) == 0
    hashes = set()
    for path in sorted((tmp_path / "sim" / "observed").glob("*.fits")):
        one = tmp_path / f"one_{path.name}"
        assert main(["restore", str(path), "-o", str(one), "--psf", f"{path}[PSF]", *common]) == 0
        batch = fits.getheader(tmp_path / "b" / path.name)
        assert batch["GALGENPH"] == fits.getheader(one)["GALGENPH"]
        hashes.add(batch["GALGENPH"])
    assert len(hashes) == 3  # three PSFs, not one
    # an input without that HDU: the hint says how to name a PSF's HDU (not the image reader's hdu=)
    capsys.readouterr()
    no_psf = tmp_path / "no_psf.fits"
    fits.writeto(no_psf, fits.getdata(path), fits.getheader(path))
    assert main(["restore", str(no_psf), "-o", str(tmp_path / "x.fits"), "--psf", "[PSF]", *common]) == 2
    err = capsys.readouterr().err
    assert "no HDU 'PSF'" in err and "FILE[EXT]" in err and "hdu=" not in err


def test_an_sdss_softbias_is_subtracted_and_another_pedestal_is_named(tmp_path, caplog):
    """SDSS's read_PSF adds SOFTBIAS = 1000 to every pixel: with the keyword, galgen subtracts it
    (the same kernel as the clean PSF); a flat background without it is named in the log, where
    before it was normalised into the PSF (its FWHM measured 1.6x too wide, restored as such)."""
    from astropy.io import fits

    clean = moffat_psf(4.0, 25) * 5000.0
    fits.writeto(tmp_path / "clean.fits", clean)
    fits.writeto(tmp_path / "sdss.fits", clean + 1000.0, fits.Header({"SOFTBIAS": 1000}))
    fits.writeto(tmp_path / "pedestal.fits", clean + 1000.0)
    with caplog.at_level("WARNING", logger="galgen.psf.files"):
        ref = read_psf(tmp_path / "clean.fits", (64, 64), 0.2)
        sdss = read_psf(tmp_path / "sdss.fits", (64, 64), 0.2)
        assert not [r for r in caplog.records if "edge pixels" in r.getMessage()]
        read_psf(tmp_path / "pedestal.fits", (64, 64), 0.2)
    np.testing.assert_allclose(sdss.kernel, ref.kernel, atol=1e-12)
    assert "SOFTBIAS 1000 subtracted" in sdss.note
    assert sum("edge pixels sit at 1000" in r.getMessage() for r in caplog.records) == 1


def test_a_fwhm_that_disagrees_with_the_psf_image_is_named(observation, caplog):
    # both given: the FWHM is used as told, and a disagreement over 20 % (a wrong unit, another
    # exposure's PSF) is named in the log with both values
    path, _ = observation
    psf = moffat_psf(5.0, 31)  # 5 pixels = 1.0" at 0.2"/px
    with caplog.at_level("WARNING", logger="galgen.restoration.engine"):
        galgen.restore(path, 1.0 * u.arcsec, psf=psf, method="bicubic")
        assert "differs" not in caplog.text
        galgen.restore(path, 0.7 * u.arcsec, psf=psf, method="bicubic")
    # 3.5 pixels against the pixelised Moffat's 5.08
    assert "the PSF FWHM given, 3.5 pixels" in caplog.text and "-31%" in caplog.text


def _psf_file_on_turned_axes(path, array, matrix, image_wcs):
    """Write ``array`` with a WCS whose pixel axes map onto ``image_wcs``'s through ``matrix``
    (PSF pixel offsets to image pixel offsets)."""
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = list(image_wcs.wcs.ctype)
    wcs.wcs.crval = image_wcs.wcs.crval
    wcs.wcs.crpix = [(array.shape[1] + 1) / 2, (array.shape[0] + 1) / 2]
    wcs.wcs.cd = image_wcs.pixel_scale_matrix @ matrix
    fits.writeto(path, array, wcs.to_header())
    return path


def test_a_psf_file_on_other_axes_is_turned_onto_the_image_s(observation, tmp_path):
    # a star cut from another exposure on other axes: the sky, through the two WCSs, says how to
    # turn (and mirror) the PSF; an elongated PSF shows whether it was
    import galsim

    path, _ = observation
    image_wcs = simple_tan_wcs((64, 64), 0.2)
    profile = galsim.Gaussian(fwhm=4.0).shear(e1=0.3, e2=0.4)
    truth = profile.drawImage(nx=31, ny=31, scale=1.0).array
    truth /= truth.sum()
    cases = {  # the file's pixels, and the matrix taking them to the image's
        "turned_90": (np.rot90(truth), np.array([[0.0, -1.0], [1.0, 0.0]])),
        "mirrored": (np.fliplr(truth), np.diag([-1.0, 1.0])),
    }
    theta = np.radians(30.0)  # drawn turned by 30 degrees: the matrix turns it back
    turned = profile.rotate(30.0 * galsim.degrees).drawImage(nx=31, ny=31, scale=1.0).array
    cases["turned_30"] = (turned, np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]]))
    for name, (array, matrix) in cases.items():
        file = _psf_file_on_turned_axes(tmp_path / f"{name}.fits", array, matrix, image_wcs)
        psf = read_psf(file, (64, 64), 0.2, image_wcs=image_wcs)
        assert "to the image's axes" in psf.note
        # exact for quarter turns and mirrors; at 30 degrees the file's pixel response turns too
        # (and GalSim interpolates): 0.5 % of the peak measured, 1 % allowed
        assert np.abs(psf.kernel - truth).max() < 0.01 * truth.max(), name
        assert np.abs(read_psf(file, (64, 64), 0.2).kernel - truth).max() > 0.05 * truth.max()  # unturned
    # through restore: the image's WCS reaches the PSF reader (the same pixels as the PSF given right)
    turned_file = _psf_file_on_turned_axes(tmp_path / "t.fits", *cases["turned_90"], image_wcs)
    a = galgen.restore(path, psf=turned_file, method="richardson_lucy")
    b = galgen.restore(path, psf=truth, method="richardson_lucy")
    assert np.abs(np.asarray(a.data) - np.asarray(b.data)).max() < 1e-4 * np.abs(np.asarray(b.data)).max()


def test_a_star_cut_off_centre_is_moved_to_the_middle_by_whole_pixels(observation):
    # every method convolves with the kernel centred on its middle pixel: a star cut 3 pixels off
    # shifted Richardson-Lucy's restoration (chi^2 1.82) while the networks recentred theirs
    path, _ = observation
    psf = moffat_psf(5.0, 41)
    off = np.pad(psf, ((0, 0), (0, 3)))[:, 3:]  # the star 3 pixels left of the middle, wings cut
    kernel = read_psf(off, (64, 64), 0.2).kernel
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (20, 20)
    assert np.abs(kernel - psf).max() < 0.01 * psf.max()
    a = galgen.restore(path, psf=off, method="richardson_lucy")
    b = galgen.restore(path, psf=psf, method="richardson_lucy")
    assert np.abs(np.asarray(a.data) - np.asarray(b.data)).max() < 0.02 * np.asarray(b.data).max()
    # an aberrated PSF drawn centred (its light up to 1.34 pixels off the middle) stays as it is
    slightly = np.pad(psf, ((0, 0), (0, 1)))[:, 1:]
    assert np.array_equal(read_psf(slightly, (64, 64), 0.2).kernel, slightly / slightly.sum())
