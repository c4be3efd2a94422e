"""Surface-brightness and logarithmic units (galgen.io.units) through restore and translate."""

from __future__ import annotations

import astropy.units as u
import galsim
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

import galgen
from galgen.cli import main
from galgen.errors import GalgenValueError
from galgen.io import simple_tan_wcs
from galgen.io.units import is_surface_brightness
from galgen.translate import translate
from galgen.translate.learned import translate_learned


@pytest.mark.parametrize(("unit", "expected"), [
    ("MJy/sr", True), ("MJy sr-1", True), ("nJy/arcsec2", True), ("W m-2 sr-1", True),
    ("1e-17 erg/(s cm2 Angstrom arcsec2)", True), ("Jy/beam", True),
    ("nanomaggy", False), ("electron/s", False), ("adu", False), ("uJy", False), ("DN", False),
    ("ELECTRONS/S", False),  # not a unit astropy knows: taken as per pixel
])
def test_units_per_solid_angle_are_surface_brightness(unit, expected):
    parsed = u.Unit(unit, parse_strict="silent")
    assert is_surface_brightness(parsed) is expected


def _galaxy(n: int = 64, scale: float = 0.2) -> np.ndarray:
    """A noise-free Sersic galaxy through a 1" Moffat, flux 2e4 per pixel-summed image."""
    gal = galsim.Sersic(1.5, half_light_radius=0.8).shear(e1=0.2, e2=0.1).withFlux(2e4)
    return galsim.Convolve(gal, galsim.Moffat(3.5, fwhm=1.0)).drawImage(nx=n, ny=n, scale=scale).array


@pytest.mark.parametrize(("bunit", "expected", "surface"), [
    ("MJY/SR", "MJy / sr", True),  # capitals: a megajansky, not a millijansky
    ("JY/ARCSEC2", "Jy / arcsec2", True), ("counts/s/arcsec2", "ct / (s arcsec2)", True),
    ("ELECTRONS/S", "electron / s", False), ("e-/s", "electron / s", False), ("nanomaggies", "nmgy", False),
    ("CPS", "ct / s", False), ("mJy/sr", "mJy / sr", True),
    ("DN/S", "DN / s", False),  # capitals: a second, not a siemens
    ("ERG/S/CM2/A/ARCSEC2", "erg / (Angstrom s cm2 arcsec2)", True),  # an angstrom, not an ampere
    ("E-/S", "electron / s", False), ("W/M2/HZ/SR", "W / (m2 Hz sr)", True),
    ("microJy", "uJy", False), ("MICROJY/SR", "uJy / sr", True), ("nanoJy/arcsec2", "nJy / arcsec2", True),
    ("ADU/s", "adu / s", False), ("e/sec", "electron / s", False), ("e-", "electron", False),
])
def test_pipeline_spellings_of_bunit_are_read(bunit, expected, surface):
    from galgen.io.units import parse_bunit

    parsed = parse_bunit(bunit)
    assert parsed == u.Unit(expected) and is_surface_brightness(parsed) is surface


def test_a_capitals_surface_brightness_file_is_restored_as_one_and_mag_words_are_refused(tmp_path, capsys):
    """A file whose BUNIT is 'MJY/SR' was read as an unknown per-pixel unit (output 4x too low per
    pixel at x2); 'MAG' and 'MAG_AB' were read as unknown linear units and restored."""
    wcs = simple_tan_wcs((64, 64), 0.2)
    kw = {"psf_fwhm": 1.0 * u.arcsec, "noise_rms": 10.0, "background": 0.0, "method": "bicubic"}
    data = _galaxy()
    out = {}
    for bunit in ("MJy/sr", "MJY/SR"):
        hdu = fits.PrimaryHDU(data, header=wcs.to_header())
        hdu.header["BUNIT"] = bunit
        out[bunit] = galgen.restore(hdu, **kw)
    assert out["MJY/SR"].unit == u.MJy / u.sr
    np.testing.assert_array_equal(out["MJY/SR"].data, out["MJy/sr"].data)
    for bunit in ("MAG", "MAG_AB"):
        path = tmp_path / f"{bunit}.fits"
        hdu = fits.PrimaryHDU(data, header=wcs.to_header())
        hdu.header["BUNIT"] = bunit
        hdu.writeto(path)
        assert main(["restore", str(path), "-o", str(tmp_path / "r.fits"), "--psf-fwhm", "1arcsec"]) == 2
        assert "logarithmic (magnitudes)" in capsys.readouterr().err
    assert not (tmp_path / "r.fits").exists()


def test_restoring_a_surface_brightness_image_keeps_surface_brightness():
    """A MJy/sr image is restored like the same numbers per pixel, times the pixel-area ratio 4
    (exactly: the network sees the same numbers), UNCERT alike; so the mean surface brightness
    over the stamp's sky stays the input's (within 3 %: the model's flux error, measured 0.8-2.0 %
    on four noise draws; per pixel, without the fix, it read 4x too low)."""
    data = _galaxy() + np.random.default_rng(3).normal(0, 10.0, (64, 64))  # SNR ~120
    wcs = simple_tan_wcs(data.shape, 0.2)
    kw = {"psf_fwhm": 1.0 * u.arcsec, "noise_rms": 10.0, "background": 0.0}
    per_pixel = galgen.restore(CCDData(data, unit="adu", wcs=wcs), **kw, samples=3)
    sb = galgen.restore(CCDData(data, unit="MJy/sr", wcs=wcs), **kw, samples=3)
    assert sb.unit == u.MJy / u.sr
    np.testing.assert_allclose(sb.data, 4 * per_pixel.data, rtol=1e-6)
    np.testing.assert_allclose(sb.uncertainty.array, 4 * per_pixel.uncertainty.array, rtol=1e-6)
    assert any("surface_brightness" in str(h) for h in sb.meta["HISTORY"])
    assert not any("surface_brightness" in str(h) for h in per_pixel.meta["HISTORY"])
    assert np.nanmean(sb.data) == pytest.approx(data.mean(), rel=0.03)


def test_translating_a_surface_brightness_image_keeps_surface_brightness():
    """0.05"/px -> 0.4"/px: counts per pixel are summed (x64), surface brightness is averaged; the
    flux (value x pixel area) is conserved either way (0.5 %, the issue's flux tolerance)."""
    hst = galsim.Convolve(galsim.Exponential(half_light_radius=0.5, flux=1e3),
                          galsim.Gaussian(fwhm=0.12)).drawImage(nx=256, ny=256, scale=0.05).array
    wcs = simple_tan_wcs(hst.shape, 0.05)
    kw = {"to_pixel_scale": 0.4 * u.arcsec, "to_psf_fwhm": 1.2 * u.arcsec}
    counts = translate(CCDData(hst, unit="electron/s", wcs=wcs), 0.12 * u.arcsec, **kw)
    sb = translate(CCDData(hst, unit="MJy/sr", wcs=wcs), 0.12 * u.arcsec, **kw)
    np.testing.assert_allclose(sb.data, counts.data / 64, rtol=1e-9)
    assert np.nansum(counts.data) == pytest.approx(hst.sum(), rel=0.005)
    assert np.nansum(sb.data) * 0.4**2 == pytest.approx(hst.sum() * 0.05**2, rel=0.005)


def test_magnitudes_are_refused_and_nothing_is_written(tmp_path, capsys):
    path = tmp_path / "mag.fits"
    hdu = fits.PrimaryHDU(_galaxy(), header=simple_tan_wcs((64, 64), 0.2).to_header())
    hdu.header["BUNIT"] = "mag/arcsec2"
    hdu.writeto(path)
    for command in (["restore", str(path), "-o", str(tmp_path / "r.fits"), "--psf-fwhm", "1arcsec"],
                    ["translate", str(path), "-o", str(tmp_path / "t.fits"), "--psf-fwhm", "0.5arcsec",
                     "--to", "sdss"]):
        assert main(command) == 2
        assert "logarithmic (magnitudes)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mag.fits"]
    with pytest.raises(GalgenValueError, match="logarithmic"):
        galgen.restore(CCDData(_galaxy(), unit=u.ABmag, wcs=simple_tan_wcs((64, 64), 0.2)),
                       psf_fwhm=1.0 * u.arcsec)


def test_a_learned_translation_refuses_surface_brightness():
    image = CCDData(_galaxy(), unit="MJy/sr", wcs=simple_tan_wcs((64, 64), 0.2))
    with pytest.raises(GalgenValueError, match="surface brightness"):
        translate_learned(image, "sim_to_survey")


def test_non_fits_standard_units_survive_stacks_and_keep_their_spelling(tmp_path):
    """A catalog run on an SDSS mosaic in nanomaggies failed every stamp: the stacked file's BUNIT
    was written in the FITS standard, which has no nanomaggy (nor electron). Outputs now keep the
    input's own spelling of an unchanged unit (ELECTRONS/S), and stacks read back their unit."""
    from astropy.table import Table

    from galgen.batch import BatchOptions
    from galgen.batch.catalog import run_catalog
    from galgen.io import read_stamps

    rng = np.random.default_rng(1)
    wcs = simple_tan_wcs((200, 200), 0.2)
    for bunit, unit in (("nanomaggy", u.nmgy), ("ELECTRONS/S", u.electron / u.s)):
        name = bunit.replace("/", "_")
        hdu = fits.PrimaryHDU(rng.normal(0, 1, (200, 200)), header=wcs.to_header())
        hdu.header["BUNIT"] = bunit
        hdu.writeto(tmp_path / f"{name}.fits")
        sky = wcs.pixel_to_world([100], [100])
        Table({"ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / f"{name}.ecsv")
        options = BatchOptions(psf_fwhm=1.0 * u.arcsec, method="bicubic", background=0.0, check_psf=False)
        table = run_catalog(tmp_path / f"{name}.ecsv", [tmp_path / f"{name}.fits"], options, tmp_path / name,
                            size=32, progress=False)
        assert list(table["status"]) == ["ok"]
        (stamp,) = read_stamps(next((tmp_path / name).glob("stamps_*.fits")))
        assert stamp.unit == unit
        restored = galgen.restore(tmp_path / f"{name}.fits", psf_fwhm=1.0 * u.arcsec, method="bicubic",
                                  background=0.0)
        galgen.write_restored(restored, tmp_path / f"{name}_r.fits")
        assert fits.getheader(tmp_path / f"{name}_r.fits")["BUNIT"] == bunit
