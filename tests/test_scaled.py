"""Pan-STARRS1's asinh-compressed pixels (``BSOFTEN``/``BOFFSET``) are read as linear flux: in
images, noise maps and catalog mosaics, with the keywords off the output's header."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galgen import restore
from galgen.errors import GalgenValueError
from galgen.io import read_image, read_stamps, simple_tan_wcs, write_fits

A = 2.5 / np.log(10)
SHAPE = (64, 64)


def _compress(flux, soften, offset):
    """PS1's stored value of a linear flux (the transform the cutout service's files carry)."""
    return A * np.arcsinh((flux - offset) / (2 * soften))


def _ps1_pair(root, soften=3.0, offset=0.5):
    """The same stamp, galaxy and variance image, written linear and as PS1 stores them."""
    rng = np.random.default_rng(4)
    yy, xx = np.indices(SHAPE)
    flux = rng.normal(0, 2.0, SHAPE) + 3000 * np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / 12)
    var = np.full(SHAPE, 4.0) + flux.clip(0) * 0.01
    wcs = simple_tan_wcs(SHAPE, 0.25)
    write_fits(root / "linear.fits", flux, wcs=wcs)
    fits.PrimaryHDU(var).writeto(root / "linear.wt.fits")
    header = fits.Header({"BSOFTEN": soften, "BOFFSET": offset})
    write_fits(root / "ps1.fits", _compress(flux, soften, offset), header=header, wcs=wcs)
    fits.PrimaryHDU(_compress(var, 1.0, 0.0), header=fits.Header({"BSOFTEN": 1.0, "BOFFSET": 0.0})).writeto(
        root / "ps1.wt.fits")
    return flux


def test_ps1_pixels_are_restored_as_the_linear_image_would_be(tmp_path):
    flux = _ps1_pair(tmp_path)
    image = read_image(tmp_path / "ps1.fits")
    np.testing.assert_allclose(image.data, flux, rtol=1e-5, atol=1e-5)  # float32 storage of v
    assert "BSOFTEN" not in image.header and "made linear" in "".join(image.header["HISTORY"])
    kwargs = {"method": "bicubic", "background": 0.0}
    linear = restore(tmp_path / "linear.fits", 1.0, noise_map=tmp_path / "linear.wt.fits",
                     noise_map_type="var", **kwargs)
    ps1 = restore(tmp_path / "ps1.fits", 1.0, noise_map=tmp_path / "ps1.wt.fits", noise_map_type="var",
                  **kwargs)
    np.testing.assert_allclose(ps1.data, linear.data, rtol=1e-4, atol=1e-3)
    assert ps1.meta["GALGENNV"] == pytest.approx(linear.meta["GALGENNV"], rel=1e-5)
    said = restore(tmp_path / "ps1.fits", 1.0, noise_map=tmp_path / "ps1.wt.fits", **kwargs)  # PS1's .wt: var
    assert said.meta["GALGENNV"] == ps1.meta["GALGENNV"]
    assert "BSOFTEN" not in ps1.meta and "BOFFSET" not in ps1.meta  # the output is linear
    # read as stored, the core would have been compressed ~200x: 3000 -> 14.6
    assert float(fits.getdata(tmp_path / "ps1.fits").max()) < 20 < float(np.nanmax(ps1.data))


def test_catalog_mosaics_of_ps1_pixels_cut_linear_stamps(tmp_path):
    from galgen.batch import BatchOptions, run_catalog

    _ps1_pair(tmp_path)
    sky = simple_tan_wcs(SHAPE, 0.25).pixel_to_world(32.0, 32.0)
    Table({"id": ["g"], "ra": [sky.ra.deg], "dec": [sky.dec.deg]}).write(tmp_path / "cat.ecsv")
    stamps = {}
    for name in ("linear", "ps1"):
        options = BatchOptions(psf_fwhm=1.0, method="bicubic", background=0.0,
                               noise_map=str(tmp_path / f"{name}.wt.fits"), noise_map_type="var")
        table = run_catalog(tmp_path / "cat.ecsv", [tmp_path / f"{name}.fits"], options, tmp_path / name,
                            size=48, progress=False)
        assert list(table["status"]) == ["ok"]
        stamps[name] = read_stamps(table["output"][0], 0)
    np.testing.assert_allclose(stamps["ps1"].data, stamps["linear"].data, rtol=1e-4, atol=1e-3)
    assert stamps["ps1"].meta["GALGENNV"] == pytest.approx(stamps["linear"].meta["GALGENNV"], rel=1e-5)
    assert "BSOFTEN" not in stamps["ps1"].meta


def test_half_a_compression_is_a_typed_error(tmp_path):
    write_fits(tmp_path / "half.fits", np.ones(SHAPE), header=fits.Header({"BSOFTEN": 2.0}),
               wcs=simple_tan_wcs(SHAPE, 0.25))
    with pytest.raises(GalgenValueError, match="half.fits: the header's asinh compression keywords"):
        read_image(tmp_path / "half.fits")
    write_fits(tmp_path / "zero.fits", np.ones(SHAPE), header=fits.Header({"BSOFTEN": 0.0, "BOFFSET": 1.0}),
               wcs=simple_tan_wcs(SHAPE, 0.25))
    with pytest.raises(GalgenValueError, match="BSOFTEN = 0.0"):
        read_image(tmp_path / "zero.fits")
