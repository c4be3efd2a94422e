"""A PSF on a detector's axes turned onto an image's axes: ``psf_angle`` / ``--psf-angle``."""

from __future__ import annotations

import astropy.units as u
import galsim
import numpy as np
import pytest
from astropy.io import fits

import galgen
from galgen.batch import BatchOptions, expand_inputs, run_batch
from galgen.cli import main
from galgen.errors import GalgenPSFError
from galgen.io import simple_tan_wcs, write_fits
from galgen.psf.files import read_psf

#: An elongated PSF (|e| = 0.3 along the detector's x axis, FWHM 4 pixels): a turn shows.
DETECTOR_PSF = galsim.Gaussian(fwhm=4.0).shear(e1=0.3, e2=0.0)


def _draw(profile: galsim.GSObject, n: int = 31) -> np.ndarray:
    image = profile.drawImage(nx=n, ny=n, scale=1.0).array
    return image / image.sum()


def _position_angle(kernel: np.ndarray) -> float:
    """Position angle (degrees, counter-clockwise from +x) of a kernel's second moments."""
    y, x = np.mgrid[:kernel.shape[0], :kernel.shape[1]]
    k = kernel / kernel.sum()
    cx, cy = (k * x).sum(), (k * y).sum()
    qxx, qyy, qxy = (k * (x - cx) ** 2).sum(), (k * (y - cy) ** 2).sum(), (k * (x - cx) * (y - cy)).sum()
    return float(np.degrees(0.5 * np.arctan2(2 * qxy, qxx - qyy)))


def test_an_angle_turns_the_psf_counter_clockwise_as_galsim_does():
    detector = _draw(DETECTOR_PSF)
    for angle in (30.0, 90.0, -60.0):
        truth = _draw(DETECTOR_PSF.rotate(angle * galsim.degrees))
        psf = read_psf(detector, (64, 64), 0.2, angle=angle)
        # GalSim's quintic interpolation of the drawn (pixel-integrated) PSF: 0.4 % of the peak
        # measured at 30 and -60 degrees, 1 % allowed; the unturned PSF is 11-20 % off
        assert np.abs(psf.kernel - truth).max() < 0.01 * truth.max(), angle
        assert np.abs(detector - truth).max() > 0.1 * truth.max()
        assert (_position_angle(psf.kernel) - angle + 90) % 180 - 90 == pytest.approx(0.0, abs=0.2)
        assert f"turned by {angle:.1f} deg" in psf.note
    # a whole turn more, or none, is no turn
    assert read_psf(detector, (64, 64), 0.2, angle=360.0).note == read_psf(detector, (64, 64), 0.2).note
    # a GalSim profile is turned before it is drawn
    profile = read_psf(DETECTOR_PSF, (64, 64), 1.0, angle=30.0)
    assert "turned by 30.0 deg" in profile.note
    assert _position_angle(profile.kernel) == pytest.approx(30.0, abs=0.2)


def test_an_angle_turns_a_psf_file_as_a_wcs_turned_by_as_much_would(tmp_path):
    # the two ways of saying how a PSF lies: an angle, or a celestial WCS on the PSF file
    from test_psf_files import _psf_file_on_turned_axes

    image_wcs = simple_tan_wcs((64, 64), 0.2)
    fine = galsim.Gaussian(fwhm=0.8).shear(e1=0.3, e2=0.0).drawImage(nx=41, ny=41, scale=0.1).array
    theta = np.radians(40.0)
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) * 0.5  # 0.1" to 0.2"
    with_wcs = _psf_file_on_turned_axes(tmp_path / "wcs.fits", fine, turn, image_wcs)
    fits.writeto(tmp_path / "scale.fits", fine, fits.Header({"PIXSCALE": 0.1}))
    by_wcs = read_psf(with_wcs, (64, 64), 0.2, image_wcs=image_wcs)
    by_angle = read_psf(tmp_path / "scale.fits", (64, 64), 0.2, image_wcs=image_wcs, angle=40.0)
    assert by_wcs.note.endswith("turned by 40.0 deg to the image's axes")
    assert by_angle.note == "PIXSCALE; turned by 40.0 deg to the image's axes"
    assert by_angle.kernel.shape == by_wcs.kernel.shape
    assert np.abs(by_angle.kernel - by_wcs.kernel).max() < 1e-9
    # both at once would turn it twice: the WCS says how it lies
    with pytest.raises(GalgenPSFError, match=r"wcs\.fits: the PSF file has a celestial WCS.*leave out the"):
        read_psf(with_wcs, (64, 64), 0.2, image_wcs=image_wcs, angle=40.0)


@pytest.mark.parametrize("angle", [float("nan"), float("inf"), "north", True])
def test_an_angle_that_is_not_a_number_of_degrees_is_refused(angle):
    with pytest.raises(GalgenPSFError, match="is not a finite number of degrees"):
        read_psf(_draw(DETECTOR_PSF), (64, 64), 0.2, angle=angle)


@pytest.fixture(scope="module")
def turned_observation(tmp_path_factory):
    """A galaxy on a north-up image observed through the detector PSF turned by 40 degrees, and
    the detector-frame PSF as a file (PIXSCALE, no celestial WCS: STPSF/TinyTim-like)."""
    root = tmp_path_factory.mktemp("angle")
    galaxy = galsim.Exponential(half_light_radius=0.2).shear(e1=0.2, e2=-0.1).withFlux(4000.0)
    psf_sky = galsim.Gaussian(fwhm=0.6).shear(e1=0.3, e2=0.0).rotate(40.0 * galsim.degrees)
    image = galsim.Convolve(galaxy, psf_sky).drawImage(nx=64, ny=64, scale=0.2).array
    image += np.random.default_rng(5).normal(0.0, 2.0, image.shape)
    path = root / "obs.fits"
    write_fits(path, image, wcs=simple_tan_wcs(image.shape, 0.2))
    detector = galsim.Gaussian(fwhm=0.6).shear(e1=0.3, e2=0.0).drawImage(nx=31, ny=31, scale=0.2).array
    psf_path = root / "detector_psf.fits"
    fits.writeto(psf_path, detector, fits.Header({"PIXSCALE": 0.2}))
    sky_psf = psf_sky.drawImage(nx=31, ny=31, scale=0.2).array
    return path, psf_path, sky_psf / sky_psf.sum()


def test_restore_with_the_angle_uses_the_psf_on_the_image_s_axes(turned_observation):
    path, psf_path, sky_psf = turned_observation
    kw = {"method": "richardson_lucy", "background": 0.0, "noise_rms": 2.0}
    turned = galgen.restore(path, psf=psf_path, psf_angle=40.0, **kw)
    right = galgen.restore(path, psf=sky_psf, **kw)
    unturned = galgen.restore(path, psf=psf_path, **kw)
    peak = float(np.nanmax(right.data))
    # the same restoration as with the PSF drawn on the image's axes (interpolation: 0.4 % of the
    # peak measured, 1 % allowed); the unturned PSF's is 9 % off
    assert np.abs(np.asarray(turned.data) - np.asarray(right.data)).max() < 0.01 * peak
    assert np.abs(np.asarray(unturned.data) - np.asarray(right.data)).max() > 0.05 * peak
    assert "turned by 40.0 deg" in "".join(str(h) for h in turned.meta["HISTORY"])
    with pytest.raises(GalgenPSFError, match=r"psf_angle=40.0 \(--psf-angle\) turns a PSF.*round"):
        galgen.restore(path, 0.6 * u.arcsec, psf_angle=40.0, method="bicubic")


def test_cli_and_batch_take_the_angle(turned_observation, tmp_path, capsys):
    path, psf_path, _ = turned_observation
    args = ["--method", "richardson_lucy", "--background", "0", "--noise-rms", "2"]
    out = tmp_path / "cli.fits"
    assert main(["restore", str(path), "-o", str(out), "--psf", str(psf_path), "--psf-angle", "40deg",
                 *args]) == 0
    direct = galgen.restore(path, psf=psf_path, psf_angle=40.0, method="richardson_lucy", background=0.0,
                            noise_rms=2.0)
    assert np.array_equal(fits.getdata(out), np.asarray(direct.data, dtype=fits.getdata(out).dtype))
    # no PSF image to turn: an error before anything is written
    lost = tmp_path / "lost.fits"
    assert main(["restore", str(path), "-o", str(lost), "--psf-fwhm", "0.6arcsec", "--psf-angle", "40",
                 *args]) != 0
    assert "--psf-angle" in capsys.readouterr().err and not lost.exists()
    with pytest.raises(SystemExit):
        main(["restore", str(path), "-o", str(lost), "--psf", str(psf_path), "--psf-angle", "north"])
    assert "expected an angle in degrees" in capsys.readouterr().err
    assert main(["psfcheck", str(path), "--psf-fwhm", "0.6arcsec", "--psf-angle", "40"]) != 0
    assert "--psf-angle" in capsys.readouterr().err
    # a batch run restores each item with the PSF turned as restore does
    options = BatchOptions(psf=str(psf_path), psf_angle=40.0, method="richardson_lucy", background=0.0,
                           noise_rms=2.0)
    table = run_batch(expand_inputs([str(path)]), options, tmp_path / "batch", progress=False)
    assert list(table["status"]) == ["ok"]
    batch = fits.getdata(tmp_path / "batch" / table["output"][0])
    assert np.abs(batch - fits.getdata(out)).max() < 1e-6 * np.abs(batch).max()
    # a run without an angle keeps its resume digest; one with an angle gets its own
    plain = BatchOptions(psf=str(psf_path))
    assert BatchOptions(psf=str(psf_path), psf_angle=0.0).digest(None) == plain.digest(None)
    assert BatchOptions(psf=str(psf_path), psf_angle=360.0).digest(None) == plain.digest(None)
    assert options.digest(None) != BatchOptions(psf=str(psf_path), method="richardson_lucy", background=0.0,
                                                noise_rms=2.0).digest(None)
    with pytest.raises(GalgenPSFError, match="round"):
        BatchOptions(psf_fwhm=0.6 * u.arcsec, psf_angle=40.0)


def test_catalog_stacks_take_the_angle(tmp_path):
    # a catalog run's stamps (cut from the image and restored in stacks) get the PSF turned too
    from astropy.table import Table

    from galgen.batch import run_catalog
    from galgen.io.stamps import read_stamps

    psf_sky = galsim.Gaussian(fwhm=0.6).shear(e1=0.3, e2=0.0).rotate(40.0 * galsim.degrees)
    image = galsim.ImageD(200, 200, scale=0.2)
    for x, y in [(60, 70), (140, 120)]:
        galaxy = galsim.Exponential(half_light_radius=0.2).withFlux(4000.0)
        galsim.Convolve(galaxy, psf_sky).drawImage(image, center=galsim.PositionD(x + 1, y + 1),
                                                   add_to_image=True)
    wcs = simple_tan_wcs((200, 200), 0.2)
    write_fits(tmp_path / "field.fits", image.array + np.random.default_rng(2).normal(0, 2.0, (200, 200)),
               wcs=wcs)
    sky = wcs.pixel_to_world([60.0, 140.0], [70.0, 120.0])
    Table({"id": ["a", "b"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "cat.ecsv")
    detector = galsim.Gaussian(fwhm=0.6).shear(e1=0.3, e2=0.0).drawImage(nx=31, ny=31, scale=0.2).array
    fits.writeto(tmp_path / "detector.fits", detector, fits.Header({"PIXSCALE": 0.2}))
    fits.writeto(tmp_path / "sky.fits", psf_sky.drawImage(nx=31, ny=31, scale=0.2).array,
                 fits.Header({"PIXSCALE": 0.2}))
    kw = {"method": "richardson_lucy", "background": 0.0, "noise_rms": 2.0, "check_psf": False}

    def stamps(name, psf, angle=None):
        table = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "field.fits"],
                            BatchOptions(psf=str(tmp_path / psf), psf_angle=angle, **kw), tmp_path / name,
                            size=48, progress=False)
        assert list(table["status"]) == ["ok", "ok"]
        return np.stack([np.asarray(read_stamps(r["output"], int(r["index"])).data) for r in table])

    right, turned, unturned = stamps("sky", "sky.fits"), stamps("turned", "detector.fits", 40.0), \
        stamps("unturned", "detector.fits")
    peak = right.max()
    assert np.abs(turned - right).max() < 0.01 * peak  # as in a single restore: 0.4 % measured
    assert np.abs(unturned - right).max() > 0.05 * peak


def test_translate_turns_the_source_psf_by_its_angle_or_its_wcs(turned_observation, tmp_path):
    # the input's PSF, matched to the target's, must lie on the input's axes as in restore; before,
    # translate used a PSF file as it lay, whatever its WCS said
    from test_psf_files import _psf_file_on_turned_axes

    from galgen.translate import translate

    path, psf_path, sky_psf = turned_observation
    c, s = np.cos(np.radians(40.0)), np.sin(np.radians(40.0))
    turn = np.array([[c, -s], [s, c]])
    with_wcs = _psf_file_on_turned_axes(tmp_path / "wcs.fits", fits.getdata(psf_path), turn,
                                        simple_tan_wcs((64, 64), 0.2))
    kw = {"to_pixel_scale": 0.4, "to_psf_fwhm": 1.0}
    right = np.asarray(translate(path, None, source_psf=sky_psf, **kw).data)
    by_angle = np.asarray(translate(path, None, source_psf=psf_path, psf_angle=40.0, **kw).data)
    by_wcs = np.asarray(translate(path, None, source_psf=with_wcs, **kw).data)
    unturned = np.asarray(translate(path, None, source_psf=psf_path, **kw).data)
    peak = np.nanmax(right)
    # 0.08 % of the peak measured (on a noiseless galaxy), 0.5 % allowed; unturned: 4.8 %
    assert np.nanmax(np.abs(by_angle - right)) < 0.005 * peak
    assert np.nanmax(np.abs(by_wcs - right)) < 0.005 * peak
    assert np.nanmax(np.abs(unturned - right)) > 0.025 * peak
    out = tmp_path / "t.fits"
    assert main(["translate", str(path), "-o", str(out), "--psf", str(psf_path), "--psf-angle", "40",
                 "--to-pixel-scale", "0.4arcsec", "--to-psf-fwhm", "1.0arcsec"]) == 0
    assert np.nanmax(np.abs(fits.getdata(out) - by_angle)) < 1e-6 * peak
    with pytest.raises(GalgenPSFError, match=r"--psf-angle.*round"):
        translate(path, 0.6, psf_angle=40.0, **kw)


def _star_field(psf: galsim.GSObject, seed: int = 3, size: int = 320) -> np.ndarray:
    """Eight stars and ten galaxies through ``psf`` (pixels), white noise rms 1."""
    rng = np.random.default_rng(seed)
    img = galsim.ImageD(size, size, scale=1.0)
    taken: list[tuple[float, float]] = []
    for i in range(18):
        while True:
            x, y = rng.uniform(30, size - 30, 2)
            if all(np.hypot(x - a, y - b) > 40 for a, b in taken):
                taken.append((x, y))
                break
        source = psf if i < 8 else galsim.Convolve(
            galsim.Sersic(rng.uniform(1, 3), half_light_radius=rng.uniform(2.5, 5)).shear(
                e1=rng.uniform(-0.3, 0.3), e2=rng.uniform(-0.3, 0.3)), psf)
        source.withFlux(rng.uniform(3e3, 3e4)).drawImage(img, center=galsim.PositionD(x, y),
                                                         add_to_image=True)
    return img.array + rng.normal(0, 1.0, img.array.shape)


def test_the_stars_tell_a_psf_on_other_axes_and_by_how_much_to_turn_it(tmp_path, capsys):
    # the sky's PSF is the detector's (e = 0.15 along x) turned by 40 degrees
    from galgen.psf.stars import check_psf_with_stars

    detector = galsim.Moffat(3.0, fwhm=4.0).shear(e=0.15, beta=0 * galsim.degrees)
    data = _star_field(detector.rotate(40 * galsim.degrees))
    kernel = detector.drawImage(nx=41, ny=41, scale=1.0).array
    kw = {"pixel_scale": 0.2, "noise_rms": 1.0, "background": 0.0}
    wrong = check_psf_with_stars(data, psf=kernel, **kw)
    right = check_psf_with_stars(data, psf=kernel, psf_angle=40.0, **kw)
    # the same size either way; the shapes: 0.15 at 40 degrees (stars), at 0 (the PSF as it lay)
    assert wrong.ratio == pytest.approx(1.0, abs=0.01) and right.ratio == pytest.approx(1.0, abs=0.01)
    assert np.hypot(*wrong.star_shape) == pytest.approx(0.15, abs=0.01)
    assert wrong.verdict == "PSF_SHAPE" and wrong.turn == pytest.approx(40.0, abs=2.0)
    assert "turned by +40 deg it would lie as they do" in wrong.message()
    # turned: the difference 0.0006 measured (0.05 allowed, 0.01 asserted), as with the true PSF image
    assert right.verdict == "OK" and np.hypot(*np.subtract(right.star_shape, right.psf_shape)) < 0.01
    # a Moffat made from a FWHM is round: its shape is not compared (real seeing is not quite round)
    moffat = check_psf_with_stars(data, 4.0, moffat_beta=3.0, **kw)
    assert moffat.verdict == "OK" and np.isnan(moffat.star_shape[0])
    # the command line: exit status 3 and the turn to add
    field = tmp_path / "field.fits"
    write_fits(field, data, wcs=simple_tan_wcs(data.shape, 0.2))
    fits.writeto(tmp_path / "psf.fits", kernel, fits.Header({"PIXSCALE": 0.2}))
    args = ["psfcheck", str(field), "--psf", str(tmp_path / "psf.fits"), "--noise-rms", "1",
            "--background", "0"]
    assert main(args) == 3 and "PSF_SHAPE" in capsys.readouterr().out
    assert main([*args, "--psf-angle", "40"]) == 0
    # a restoration of the field checks it the same way: the flag PSF, or none once turned
    kw = {"method": "bicubic", "background": 0.0, "noise_rms": 1.0, "check_psf": True}
    unturned = galgen.restore(field, psf=tmp_path / "psf.fits", **kw)
    assert unturned.meta["GALGENPS"] == "PSF_SHAPE" and "PSF" in unturned.meta["GALGENFL"].split(",")
    turned = galgen.restore(field, psf=tmp_path / "psf.fits", psf_angle=40.0, **kw)
    assert turned.meta["GALGENPS"] == "OK" and "PSF" not in turned.meta["GALGENFL"].split(",")
    assert galgen.restore(field, 4.0 * u.pix, moffat_beta=3.0, **kw).meta["GALGENPS"] == "OK"  # round


def test_translate_turns_the_target_psf_by_its_angle(turned_observation, tmp_path):
    """The target survey's PSF given on its detector's axes (an elongated Gaussian, FWHM 1.6")
    with to_psf_angle=40 gives the translation made with that PSF drawn on the image's axes; left
    unturned it does not; the provenance says it was turned; an angle without a target PSF image
    is refused, naming --to-psf-angle."""
    from galgen.translate import translate

    path, _, sky_psf = turned_observation
    target = galsim.Gaussian(fwhm=1.6).shear(e1=0.3, e2=0.0)
    detector, sky = tmp_path / "target_detector.fits", tmp_path / "target_sky.fits"
    fits.writeto(detector, target.drawImage(nx=41, ny=41, scale=0.2).array, fits.Header({"PIXSCALE": 0.2}))
    turned = target.rotate(40.0 * galsim.degrees).drawImage(nx=41, ny=41, scale=0.2).array
    fits.writeto(sky, turned, fits.Header({"PIXSCALE": 0.2}))
    kw = {"to_pixel_scale": 0.4, "source_psf": sky_psf}
    right = translate(path, None, to_psf=sky, **kw)
    by_angle = translate(path, None, to_psf=detector, to_psf_angle=40.0, **kw)
    unturned = np.asarray(translate(path, None, to_psf=detector, **kw).data)
    peak = np.nanmax(right.data)
    # 4e-5 of the peak measured (interpolation), 0.5 % allowed; unturned: 14 %
    assert np.nanmax(np.abs(np.asarray(by_angle.data) - right.data)) < 0.005 * peak
    assert np.nanmax(np.abs(unturned - right.data)) > 0.02 * peak
    assert any("turned by 40 deg" in str(h) for h in by_angle.meta["HISTORY"])
    with pytest.raises(GalgenPSFError, match=r"to_psf_angle=40.0 \(--to-psf-angle\).*--to-psf\)"):
        translate(path, None, to_psf_fwhm=1.6, to_psf_angle=40.0, **kw)
    source, out = tmp_path / "source_psf.fits", tmp_path / "t.fits"
    fits.writeto(source, sky_psf, fits.Header({"PIXSCALE": 0.2}))
    assert main(["translate", str(path), "-o", str(out), "--psf", str(source), "--to-pixel-scale",
                 "0.4arcsec", "--to-psf", str(detector), "--to-psf-angle", "40"]) == 0
    assert np.nanmax(np.abs(fits.getdata(out) - by_angle.data)) < 1e-6 * peak
