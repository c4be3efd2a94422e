"""Catalog runs check the PSF given against each image's stars (galgen.batch.psfcheck): the verdict
in the manifest and in each stamp's header, and the flag PSF when the stars disagree."""

from __future__ import annotations

import astropy.units as u
import galsim
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import galgen
from galgen.batch import BatchOptions, catalog_items, expand_inputs, run_batch, run_catalog
from galgen.batch.psfcheck import check_region
from galgen.cli import main
from galgen.io import read_stamps, simple_tan_wcs, write_fits
from galgen.restoration.networks import RestorerConfig
from galgen.restoration.registry import save_untrained_model

FWHM = 4.0  # pixels; 0.8" at 0.2"/px
SIZE = 32  # stamp side


def _image(rng: np.random.Generator, n_stars: int, galaxies: list[tuple[float, float]], size: int = 360):
    """Moffat (beta 3.5) stars and Sersic galaxies through one PSF, white noise rms 1."""
    psf = galsim.Moffat(3.5, fwhm=FWHM)
    img = galsim.ImageD(size, size, scale=1.0)
    taken = list(galaxies)
    for x, y in galaxies:
        gal = galsim.Sersic(1.5, half_light_radius=rng.uniform(2.5, 4)).shear(e1=0.2, e2=-0.1).withFlux(2e4)
        galsim.Convolve(gal, psf).drawImage(img, center=galsim.PositionD(x + 1, y + 1), add_to_image=True)
    for _ in range(n_stars):
        while True:  # apart from each other and from the galaxies: the check uses isolated stars
            x, y = rng.uniform(30, size - 30, 2)
            if all(np.hypot(x - a, y - b) > 45 for a, b in taken):
                taken.append((x, y))
                break
        psf.withFlux(rng.uniform(3e3, 3e4)).drawImage(img, center=galsim.PositionD(x, y), add_to_image=True)
    return img.array + rng.normal(0, 1.0, img.array.shape)


@pytest.fixture(scope="module")
def fields(tmp_path_factory):
    """Two 360 x 360 images at 0.2"/px with four catalog galaxies each: one with 9 stars, one with
    none; a catalog of the eight galaxies; a tiny untrained model (the check does not depend on it)."""
    root = tmp_path_factory.mktemp("psfcheck")
    rng = np.random.default_rng(11)
    galaxies = [(60.0, 60.0), (290.0, 80.0), (90.0, 280.0), (270.0, 290.0)]
    ra, dec, ids = [], [], []
    for name, n_stars, crval in (("stars", 9, 150.0), ("nostars", 0, 151.0)):
        wcs = simple_tan_wcs((360, 360), 0.2)
        wcs.wcs.crval = (crval, 2.0)
        write_fits(root / f"{name}.fits", _image(rng, n_stars, galaxies), wcs=wcs)
        sky = wcs.pixel_to_world(*np.array(galaxies).T)
        ra += list(sky.ra.deg)
        dec += list(sky.dec.deg)
        ids += [f"{name}{k}" for k in range(len(galaxies))]
    Table({"id": ids, "ra": ra, "dec": dec}).write(root / "cat.ecsv")
    save_untrained_model(root / "model", RestorerConfig(channels=8, blocks=1), name="tiny")
    return root


def _run(root, out, fwhm: float, check_psf: bool = True) -> Table:
    options = BatchOptions(psf_fwhm=fwhm * u.arcsec, method=str(root / "model"), background=0.0,
                           noise_rms=1.0, check_psf=check_psf)
    return run_catalog(root / "cat.ecsv", [root / "stars.fits", root / "nostars.fits"], options, out,
                       size=SIZE, chunk_size=4, progress=False)


def test_a_psf_30_percent_too_wide_flags_every_stamp_of_the_image_with_stars(fields, tmp_path):
    """The stars' adaptive-moment size over the PSF's is 1 for the right PSF and 1/1.3 = 0.769 for
    one 1.3x too wide (within 3 %: a 5.2-pixel Moffat's moments feel the pixel differently,
    measured 0.774 in tests/test_psf_stars.py); the star-less image gets no verdict and no flag."""
    for fwhm, verdict, ratio in ((0.8, "OK", 1.0), (1.04, "PSF_TOO_WIDE", 1 / 1.3)):
        table = _run(fields, tmp_path / verdict, fwhm)
        assert all(table["status"] == "ok")
        stars = table[[k.startswith("cutout_stars") for k in table["key"]]]
        bare = table[[k.startswith("cutout_nostars") for k in table["key"]]]
        assert set(stars["psf_check"]) == {verdict} and set(bare["psf_check"]) == {"NO_STARS"}
        assert all(("PSF" in f.split(",")) == (verdict != "OK") for f in stars["flag"])
        assert not any("PSF" in f.split(",") for f in bare["flag"])
        stamp = read_stamps(stars["output"][0], int(stars["index"][0]))
        assert stamp.meta["GALGENPS"] == verdict
        assert stamp.meta["GALGENPR"] == pytest.approx(ratio, rel=0.03)
        assert ("PSF" in stamp.meta["GALGENFL"].split(",")) == (verdict != "OK")
        other = read_stamps(bare["output"][0], int(bare["index"][0]))
        assert other.meta["GALGENPS"] == "NO_STARS" and "GALGENPR" not in other.meta


def test_the_check_can_be_turned_off_and_leaves_the_pixels_alone(fields, tmp_path):
    checked = _run(fields, tmp_path / "on", 1.04)
    unchecked = _run(fields, tmp_path / "off", 1.04, check_psf=False)
    assert set(unchecked["psf_check"]) == {""}
    assert not any("PSF" in f.split(",") for f in unchecked["flag"])
    a = read_stamps(checked["output"][0], 0)
    b = read_stamps(unchecked["output"][0], 0)
    assert "GALGENPS" not in b.meta
    np.testing.assert_array_equal(a.data, b.data)


def test_the_check_beside_the_restoration_leaves_the_warning_filters_as_they_were(fields, tmp_path):
    """The check runs in a thread while the model loads and the first chunk is restored; astropy
    and photutils swap the process-wide warning filters inside their own calls (Background2D with
    the sky estimated here), so the run must put them back as it found them, with the verdicts
    of a run without the thread."""
    import warnings

    options = BatchOptions(psf_fwhm=1.04 * u.arcsec, method=str(fields / "model"), background="auto")
    images = [fields / "stars.fits", fields / "nostars.fits"]
    run_catalog(fields / "cat.ecsv", images, options, tmp_path / "warm", size=SIZE, chunk_size=4,
                progress=False)  # every library imported (torch adds filters of its own on import)
    before = list(warnings.filters)
    table = run_catalog(fields / "cat.ecsv", images, options, tmp_path / "run", size=SIZE, chunk_size=4,
                        progress=False)
    assert list(warnings.filters) == before
    assert all(table["status"] == "ok")
    stars = table[[k.startswith("cutout_stars") for k in table["key"]]]
    assert set(stars["psf_check"]) == {"PSF_TOO_WIDE"}


def test_cli_says_which_outputs_a_wrong_psf_flagged(fields, tmp_path, capsys):
    common = [str(fields / "stars.fits"), "--catalog", str(fields / "cat.ecsv"), "--psf-fwhm", "1.04arcsec",
              "--method", str(fields / "model"), "--background", "0", "--noise-rms", "1",
              "--cutout-size", str(SIZE)]
    # the nostars galaxies lie on no image given here: 4 failed rows, the exit code
    assert main(["batch", *common, "-o", str(tmp_path / "a")]) == 4
    assert "4 output(s) come from images whose stars say the PSF given is wrong" in capsys.readouterr().err
    assert main(["batch", *common, "-o", str(tmp_path / "b"), "--no-psf-check"]) == 4
    assert "PSF given is wrong" not in capsys.readouterr().err


def test_check_region_stays_inside_the_image_and_follows_the_galaxies():
    rows, cols = check_region((3000, 5000), np.array([[4900.0, 100.0], [4950.0, 50.0]]), side=2048)
    assert (rows.start, rows.stop) == (0, 2048) and (cols.start, cols.stop) == (5000 - 2048, 5000)
    rows, cols = check_region((3000, 5000), np.array([[2500.0, 1500.0]]), side=1000)
    assert (rows.start, rows.stop) == (1000, 2000) and (cols.start, cols.stop) == (2000, 3000)
    assert check_region((100, 80), np.empty((0, 2)), side=2048) == (slice(0, 100), slice(0, 80))


def test_a_long_flag_fits_its_header_card(fields, tmp_path):
    """An untrained model's restoration is flagged CHI2HIGH,STRUCT,REGIME: the card with its
    comment once ran past 80 characters, and the writer (which silences astropy's VerifyWarning)
    cut the comment short in the file. Value and comment now fit with every flag (CHI2HIGH and
    CHI2LOW exclude each other)."""
    cutout = fits.getdata(fields / "stars.fits")[44:76, 44:76]
    with pytest.warns(galgen.errors.GalgenRegimeWarning):  # a PSF under the card's 0.6-1.4"
        result = galgen.restore(cutout, psf_fwhm=0.5 * u.arcsec, pixel_scale=0.2 * u.arcsec, noise_rms=1.0,
                                background=0.0, method=str(fields / "model"))
    flags = result.meta["GALGENFL"]
    assert len(flags) >= len("CHI2HIGH,STRUCT,REGIME"), flags
    galgen.write_restored(result, tmp_path / "one.fits")
    header = fits.getheader(tmp_path / "one.fits")
    assert header["GALGENFL"] == flags and header.comments["GALGENFL"] == "OK, or what to distrust"
    worst = fits.Card("GALGENFL", "CHI2HIGH,STRUCT,REGIME,PSF", header.comments["GALGENFL"])
    assert len(worst.image) == 80 and worst.image.rstrip().endswith("distrust")


def test_per_stamp_files_from_a_catalog_are_checked_alike_and_small_files_are_not(fields, tmp_path):
    options = BatchOptions(psf_fwhm=1.04 * u.arcsec, method=str(fields / "model"), background=0.0,
                           noise_rms=1.0)
    items = catalog_items(fields / "cat.ecsv", [fields / "stars.fits", fields / "nostars.fits"], size=SIZE)
    table = run_batch(items, options, tmp_path / "files", progress=False)
    verdict = dict(zip(table["key"], table["psf_check"], strict=True))
    assert {verdict[f"cutout_stars{k}"] for k in range(4)} == {"PSF_TOO_WIDE"}
    assert {verdict[f"cutout_nostars{k}"] for k in range(4)} == {"NO_STARS"}
    header = fits.getheader(tmp_path / "files" / "cutout_stars0.fits")
    assert header["GALGENPS"] == "PSF_TOO_WIDE" and "PSF" in header["GALGENFL"].split(",")
    # a 360-pixel file is below FIELD_MIN_SIDE: restored as a stamp, unchecked
    plain = run_batch(expand_inputs([str(fields / "stars.fits")]), options, tmp_path / "plain",
                      progress=False)
    assert list(plain["psf_check"]) == [""]
    assert "GALGENPS" not in fits.getheader(tmp_path / "plain" / "stars.fits")


@pytest.fixture(scope="module")
def big_field(tmp_path_factory):
    """A 560 x 560 field (above FIELD_MIN_SIDE) with 14 stars and one galaxy in the middle."""
    root = tmp_path_factory.mktemp("bigfield")
    data = _image(np.random.default_rng(12), 14, [(280.0, 280.0)], size=560)
    write_fits(root / "field.fits", data, wcs=simple_tan_wcs(data.shape, 0.2))
    save_untrained_model(root / "model", RestorerConfig(channels=8, blocks=1), name="tiny")
    return root


def test_restore_checks_a_field_against_its_own_stars(big_field):
    """galgen.restore of a field (>= 512 pixels a side) checks the PSF on the field's stars by
    default; check_psf=False skips it; a cut-out stamp is not checked unless asked."""
    path, model = big_field / "field.fits", str(big_field / "model")
    kw = {"background": 0.0, "noise_rms": 1.0, "method": model}
    # a field of stars above the training SNR: each restored again as at its top (no regime warning,
    # which filterwarnings = error would turn into a failure; before session 31 the field was
    # flagged REGIME)
    wide = galgen.restore(path, 1.04 * u.arcsec, **kw)
    right = galgen.restore(path, 0.8 * u.arcsec, **kw)
    unchecked = galgen.restore(path, 1.04 * u.arcsec, check_psf=False, **kw)
    assert any("snr_clamp" in str(h) and "above the SNR range" in str(h) for h in wide.meta["HISTORY"])
    # a stamp that bright is restored as at SNR 200 (no regime warning)
    stamp = galgen.restore(fits.getdata(path)[264:296, 264:296], 1.04 * u.arcsec, pixel_scale=0.2, **kw)
    assert wide.meta["GALGENPS"] == "PSF_TOO_WIDE" and "PSF" in wide.meta["GALGENFL"].split(",")
    assert wide.meta["GALGENPR"] == pytest.approx(1 / 1.3, rel=0.03)
    assert right.meta["GALGENPS"] == "OK" and "PSF" not in right.meta["GALGENFL"].split(",")
    assert "GALGENPS" not in unchecked.meta and "GALGENPS" not in stamp.meta
    np.testing.assert_array_equal(wide.data, unchecked.data)  # a flag, not other pixels


def test_batch_and_cli_check_a_field_file_as_restore_does(big_field, tmp_path, capsys):
    options = BatchOptions(psf_fwhm=1.04 * u.arcsec, method=str(big_field / "model"), background=0.0,
                           noise_rms=1.0)
    table = run_batch(expand_inputs([str(big_field / "field.fits")]), options, tmp_path / "b", progress=False)
    assert list(table["psf_check"]) == ["PSF_TOO_WIDE"] and "PSF" in table["flag"][0].split(",")
    common = [str(big_field / "field.fits"), "--psf-fwhm", "1.04arcsec", "--background", "0", "--noise-rms",
              "1", "--method", str(big_field / "model")]
    assert main(["restore", *common, "-o", str(tmp_path / "r.fits")]) == 0
    assert main(["restore", *common, "-o", str(tmp_path / "n.fits"), "--no-psf-check"]) == 0
    assert fits.getheader(tmp_path / "r.fits")["GALGENPS"] == "PSF_TOO_WIDE"
    assert "GALGENPS" not in fits.getheader(tmp_path / "n.fits")
    assert "PSF, the stars of the field" in capsys.readouterr().err
