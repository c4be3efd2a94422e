"""FITS reading/writing: round trips, every input type, and bad input."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, NDData, StdDevUncertainty

from galgen.cli import main
from galgen.errors import GalgenError, GalgenFileError, GalgenValueError, GalgenWCSError
from galgen.io import add_provenance, read_image, simple_tan_wcs, to_ccddata, write_fits


@pytest.fixture
def image_file(tmp_path, rng):
    data = rng.normal(10, 1, (32, 40)).astype(np.float32)
    wcs = simple_tan_wcs(data.shape, 0.2)
    hdr = fits.Header()
    hdr["OBJECT"] = "test"
    add_provenance(hdr, "test", {"a": 1})
    path = tmp_path / "img.fits"
    write_fits(path, data, header=hdr, wcs=wcs, unit=u.electron / u.s,
               extensions={"ERR": np.full(data.shape, 0.5), "MASK": data > 12})
    return path, data


def test_round_trip_keeps_data_unit_wcs_history(image_file):
    path, data = image_file
    img = read_image(path)
    np.testing.assert_array_equal(img.data, data)
    assert img.unit == u.electron / u.s
    assert img.pixel_scale == pytest.approx(0.2, rel=1e-9)
    assert img.header["OBJECT"] == "test"
    assert any("galgen" in str(h) for h in img.header["HISTORY"])
    assert img.header["GALGENOP"] == "test"
    # WCS: the reference pixel maps to CRVAL
    sky = img.wcs.pixel_to_world(19.5, 15.5)
    assert sky.ra.deg == pytest.approx(150.1, abs=1e-9)
    np.testing.assert_allclose(img.uncertainty, 0.5)
    np.testing.assert_array_equal(img.mask, data > 12)


def test_input_types_agree(image_file):
    path, data = image_file
    ref = read_image(path)
    with fits.open(path) as hdul:
        from_hdul = read_image(hdul)
        from_hdu = read_image(hdul[0])
    ccd = CCDData(data.astype(float), unit="adu", wcs=ref.wcs,
                  uncertainty=StdDevUncertainty(np.ones_like(data)))
    from_ccd = read_image(ccd)
    from_nd = read_image(NDData(data, wcs=ref.wcs))
    from_array = read_image(data, pixel_scale=0.2 * u.arcsec)
    from_quantity = read_image(data * u.nJy, pixel_scale=0.2 * u.arcsec)
    for img in (from_hdul, from_hdu, from_ccd, from_nd, from_array, from_quantity):
        np.testing.assert_array_equal(img.data, data)
        assert img.pixel_scale == pytest.approx(0.2, rel=1e-6)
    assert from_ccd.unit == u.adu
    assert from_quantity.unit == u.nJy and from_array.unit is None  # a Quantity's unit is kept
    np.testing.assert_allclose(from_ccd.uncertainty, 1.0)
    back = to_ccddata(ref)
    assert back.wcs is ref.wcs and back.unit == ref.unit


def test_pixel_scale_quantity_forms(rng):
    data = rng.normal(size=(8, 8))
    for q in (0.2 * u.arcsec, 0.2 * u.arcsec / u.pix, 0.2 / 3600 * u.deg, 0.2):
        assert read_image(data, pixel_scale=q).pixel_scale == pytest.approx(0.2)


def test_input_never_modified(image_file, rng):
    path, _ = image_file
    before = path.read_bytes()
    img = read_image(path)
    img.data[:] = 0
    assert path.read_bytes() == before
    array = rng.normal(size=(8, 8))
    copy = array.copy()
    read_image(array, pixel_scale=0.1).data[:] = 5
    np.testing.assert_array_equal(array, copy)


def test_hdu_selection_by_name_and_cube(tmp_path, rng):
    cube = rng.normal(size=(3, 16, 16))
    hdul = fits.HDUList([fits.PrimaryHDU(),
                         fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])]),
                         fits.ImageHDU(cube, name="SCI")])
    path = tmp_path / "cube.fits"
    hdul.writeto(path)
    with pytest.raises(GalgenValueError, match="cube.*plane="):
        read_image(path, pixel_scale=0.1)
    img = read_image(path, hdu="SCI", plane=2, pixel_scale=0.1)
    np.testing.assert_allclose(img.data, cube[2])
    with pytest.raises(GalgenValueError, match="holds no image"):
        read_image(path, hdu=1, pixel_scale=0.1)
    with pytest.raises(GalgenValueError, match="no HDU 'NOPE'"):
        read_image(path, hdu="NOPE", pixel_scale=0.1)


def test_bad_files_raise_typed_errors_naming_the_file(tmp_path, image_file):
    text = tmp_path / "notes.fits"
    text.write_text("this is not FITS\n" * 50)
    with pytest.raises(GalgenFileError, match="notes.fits"):
        read_image(text)
    path, _ = image_file
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(GalgenFileError, match="truncated.fits"):
        read_image(truncated)
    with pytest.raises(GalgenFileError, match="no such file"):
        read_image(tmp_path / "missing.fits")
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column("a", "E", array=[1.0])])]).writeto(table)
    with pytest.raises(GalgenValueError, match="no HDU holds an image"):
        read_image(table)


def test_all_nan_and_missing_wcs(rng):
    with pytest.raises(GalgenValueError, match="every pixel is NaN"):
        read_image(np.full((8, 8), np.nan), pixel_scale=0.2)
    with pytest.raises(GalgenWCSError, match="pixel_scale="):
        read_image(rng.normal(size=(8, 8)))
    with pytest.raises(GalgenValueError):
        read_image(rng.normal(size=(8, 8)), pixel_scale=-1)
    with pytest.raises(GalgenValueError, match="cannot read an image"):
        read_image({"not": "an image"})
    assert issubclass(GalgenWCSError, GalgenError)


def test_wcs_and_pixel_scale_disagreement(image_file):
    path, _ = image_file
    assert read_image(path, pixel_scale=0.2 * u.arcsec).pixel_scale == pytest.approx(0.2)
    with pytest.raises(GalgenWCSError, match="disagrees"):
        read_image(path, pixel_scale=0.3 * u.arcsec)


def test_nan_pixels_flagged(rng):
    data = rng.normal(size=(8, 8))
    data[2, 3] = np.nan
    data[4, 4] = np.inf
    img = read_image(data, pixel_scale=0.2)
    assert img.mask.sum() == 2 and img.mask[2, 3] and img.mask[4, 4]


def test_write_is_atomic_and_refuses_overwrite(tmp_path, rng):
    path = tmp_path / "out.fits"
    write_fits(path, rng.normal(size=(4, 4)))
    before = path.read_bytes()
    with pytest.raises(GalgenFileError, match="already exists"):
        write_fits(path, np.zeros((4, 4)))
    assert path.read_bytes() == before
    write_fits(path, np.zeros((4, 4)), overwrite=True)
    assert fits.getdata(path).sum() == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.fits"]  # no temp files left
    with pytest.raises(GalgenFileError, match="does not exist"):
        write_fits(tmp_path / "nodir" / "x.fits", np.zeros((2, 2)))
    (tmp_path / "plain").write_text("a file, not a directory")
    with pytest.raises(GalgenFileError, match="cannot write there"):
        write_fits(tmp_path / "plain" / "x.fits", np.zeros((2, 2)))


def _raw_fits_with_bad_cards(path):
    """An integer image whose header has cards astropy reads but calls non-standard."""
    header = fits.PrimaryHDU(np.ones((16, 16), np.int16)).header
    header.extend(simple_tan_wcs((16, 16), 0.2).to_header().cards)
    header["BLANK"] = -32768
    text = header.tostring().rstrip()[:-3].rstrip()  # without END and its padding
    text = text.ljust(-(-len(text) // 80) * 80)
    text += "".join(card.ljust(80) for card in ("lowkey  =                    1 / lower-case keyword",
                                                "BADVAL  = 1.0.0 / unparsable", "END"))
    text = text.ljust(-(-len(text) // 2880) * 2880)
    data = np.arange(256, dtype=">i2").reshape(16, 16).tobytes()
    path.write_bytes(text.encode() + data.ljust(2880, b"\0"))


def test_carried_non_standard_cards_are_fixed_silently(tmp_path):
    # write_fits skips astropy's whole-HDU verification (1.3 ms a stamp) and relies on its
    # card-by-card fixing: the output must equal astropy's own silentfix write, with no warning
    _raw_fits_with_bad_cards(tmp_path / "in.fits")
    data, header_in = fits.getdata(tmp_path / "in.fits", header=True)
    data = data.astype(np.float32)
    out = write_fits(tmp_path / "out.fits", data, header=header_in, wcs=simple_tan_wcs((16, 16), 0.2))
    with fits.open(out) as hdul:
        hdul.verify("exception")
        header = hdul[0].header
    assert header["LOWKEY"] == 1 and header["BADVAL"] == "1.0.0"
    assert "BLANK" not in header  # it describes integer data only
    reference_header = header_in.copy()
    del reference_header["BLANK"]
    reference = fits.PrimaryHDU(data, header=reference_header)
    reference.writeto(tmp_path / "ref.fits", output_verify="silentfix")
    assert fits.getheader(tmp_path / "ref.fits")["BADVAL"] == header["BADVAL"]


def test_large_outputs_written_through_the_file_same_bytes(tmp_path, rng, monkeypatch):
    from galgen.io import fits as galgen_fits

    data, std = rng.normal(size=(64, 48)), rng.uniform(1, 2, (64, 48))
    wcs = simple_tan_wcs(data.shape, 0.2)
    small = write_fits(tmp_path / "small.fits", data, wcs=wcs, extensions={"UNCERT": std})
    monkeypatch.setattr(galgen_fits, "_IN_MEMORY_BYTES", 0)  # as if the image were huge
    large = write_fits(tmp_path / "large.fits", data, wcs=wcs, extensions={"UNCERT": std})
    assert small.read_bytes() == large.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["large.fits", "small.fits"]


def _lsst_like(tmp_path, planes: bool = True):
    """An HSC/LSST-style file: empty primary, IMAGE, MASK (bit planes named by MP_ keywords when
    ``planes``), VARIANCE. The galaxy's footprint carries DETECTED (bit 5), one pixel SAT (bit 1),
    one CR (bit 3), one CLIPPED (bit 9)."""
    import warnings

    yy, xx = np.mgrid[:32, :32]
    data = 100.0 * np.exp(-((xx - 16) ** 2 + (yy - 16) ** 2) / 18.0)
    mask = np.zeros(data.shape, np.int32)
    mask[data > 5] |= 1 << 5
    mask[16, 16] |= 1 << 1
    mask[3, 4] |= 1 << 3
    mask[20, 25] |= 1 << 9
    header = fits.Header()
    if planes:
        names = ["BAD", "SAT", "INTRP", "CR", "EDGE", "DETECTED", "DETECTED_NEGATIVE", "SUSPECT", "NO_DATA",
                 "CLIPPED"]
        with warnings.catch_warnings():  # names over 8 characters become HIERARCH cards
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            for bit, name in enumerate(names):
                header[f"MP_{name}"] = bit
    path = tmp_path / "calexp.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, simple_tan_wcs(data.shape, 0.168).to_header(),
                                                       name="IMAGE"),
                      fits.ImageHDU(mask, header, name="MASK"),
                      fits.ImageHDU(np.ones_like(data), name="VARIANCE")]).writeto(path)
    return path, mask


def test_lsst_mask_planes_mark_only_bad_pixels(tmp_path):
    """DETECTED is set on every source pixel of an HSC/LSST image (the galaxy itself): reading it as
    bad once turned the whole galaxy into filled pixels and NaN output. Only the planes of
    BAD_MASK_PLANES count; a mask without plane names keeps 'any bit set is bad'."""
    path, mask = _lsst_like(tmp_path)
    img = read_image(path)
    expected = np.zeros(mask.shape, bool)
    expected[16, 16] = expected[3, 4] = True  # SAT and CR; not DETECTED, not CLIPPED
    np.testing.assert_array_equal(img.mask, expected)
    (tmp_path / "unnamed").mkdir()
    unnamed, _ = _lsst_like(tmp_path / "unnamed", planes=False)
    np.testing.assert_array_equal(read_image(unnamed).mask, mask != 0)


def test_catalog_cutouts_read_mask_planes_like_read_image(tmp_path):
    from galgen.batch.mosaic import cut_stamp, open_mosaic

    path, _ = _lsst_like(tmp_path)
    mosaic = open_mosaic(path)
    try:
        stamp = cut_stamp(mosaic, 15.5, 15.5, 32)  # the whole image: the same pixels
    finally:
        mosaic.close()
    whole = read_image(path)
    np.testing.assert_array_equal(stamp.mask, whole.mask)
    # the VARIANCE plane comes out as a standard deviation both ways (it was not read for cutouts)
    assert stamp.uncertainty is not None
    np.testing.assert_allclose(stamp.uncertainty, whole.uncertainty)
    np.testing.assert_allclose(whole.uncertainty ** 2, fits.getdata(path, "VARIANCE"))


def test_a_jwst_dq_marks_only_do_not_use(tmp_path):
    """JWST DQ bit 0 is DO_NOT_USE; JUMP_DET (bit 2) is set wherever a cosmic ray was fitted out of
    the ramp, on usable pixels. The same DQ without TELESCOP keeps 'nonzero is bad'."""
    data = np.ones((16, 16))
    dq = np.zeros((16, 16), np.uint32)
    dq[2, 3] = 1 | 2  # DO_NOT_USE + SATURATED
    dq[5, 5] = 4  # JUMP_DET
    dq[7, 1] = 1 << 31  # REFERENCE_PIXEL alone
    for telescope, expected in (("JWST", dq & 1 != 0), (None, dq != 0)):
        primary = fits.PrimaryHDU()
        if telescope:
            primary.header["TELESCOP"] = telescope
        path = tmp_path / f"{telescope}_cal.fits"
        fits.HDUList([primary, fits.ImageHDU(data, simple_tan_wcs(data.shape, 0.03).to_header(), name="SCI"),
                      fits.ImageHDU(dq, name="DQ")]).writeto(path)
        np.testing.assert_array_equal(read_image(path).mask, expected)


def test_a_legacy_survey_cube_names_its_bands_and_the_plane_taken(tmp_path):
    """Legacy Surveys cutouts are (3, H, W) grz cubes with BANDS/BAND0..2: the error names the
    planes, and the plane read gets a header describing it (BAND, HISTORY), not the cube's."""
    cube = np.stack([np.full((8, 8), v) for v in (1.0, 2.0, 3.0)])
    header = simple_tan_wcs((8, 8), 0.262).to_header()
    header["BANDS"] = "grz"
    for i, band in enumerate("grz"):
        header[f"BAND{i}"] = band
    path = tmp_path / "legacy.fits"
    fits.PrimaryHDU(cube, header).writeto(path)
    with pytest.raises(GalgenValueError, match=r"plane=<0..2>.*planes 0: g, 1: r, 2: z"):
        read_image(path)
    img = read_image(path, plane=2)
    assert np.all(img.data == 3.0) and img.header["BAND"] == "z"
    assert "BANDS" not in img.header and "BAND0" not in img.header
    assert any("plane 2 of a 3-plane cube (band z)" in str(h) for h in img.header["HISTORY"])
    assert fits.getheader(path)["BANDS"] == "grz"  # the input is untouched
    # with the cutout service's inverse-variance cube beside it, the plane taken gets its own
    invvar = np.stack([np.full((8, 8), v) for v in (4.0, 16.0, 64.0)])
    mask = np.zeros((3, 8, 8), np.uint8)
    mask[1, 2, 3] = 1
    with_planes = tmp_path / "legacy_invvar.fits"
    fits.HDUList([fits.PrimaryHDU(cube, header), fits.ImageHDU(invvar, name="INVVAR"),
                  fits.ImageHDU(mask, name="MASK")]).writeto(with_planes)
    r = read_image(with_planes, plane=1)
    np.testing.assert_allclose(r.uncertainty, 0.25)
    assert r.mask[2, 3] and r.mask.sum() == 1
    assert read_image(with_planes, plane=2).mask.sum() == 0
    # a band's name picks its plane (any case; a number as text too), with its own planes
    for plane in ("r", "R", "1"):
        by_name = read_image(with_planes, plane=plane)
        np.testing.assert_array_equal(by_name.data, r.data)
        np.testing.assert_allclose(by_name.uncertainty, 0.25)
        assert by_name.header["BAND"] == "r"
    with pytest.raises(GalgenValueError, match="no plane is band 'i': its planes are 0: g, 1: r, 2: z"):
        read_image(path, plane="i")
    fits.PrimaryHDU(cube).writeto(tmp_path / "unnamed.fits")
    with pytest.raises(GalgenValueError, match="does not name its planes"):
        read_image(tmp_path / "unnamed.fits", plane="r")
    noisy = np.random.default_rng(0).normal(0, 1, (3, 32, 32)) + np.arange(3)[:, None, None]
    fits.PrimaryHDU(noisy, header).writeto(tmp_path / "cutout.fits")
    out = tmp_path / "r_x2.fits"
    assert main(["restore", str(tmp_path / "cutout.fits"), "--plane", "r", "-o", str(out), "--psf-fwhm",
                 "1.2", "--method", "bicubic", "--background", "0"]) == 0
    assert fits.getheader(out)["BAND"] == "r"


def test_des_planes_are_read_and_a_drizzle_wht_is_not_an_uncertainty(tmp_path, rng):
    """A DES/DECam file (SCI, MSK, WGT): MSK marks bad pixels, WGT is an inverse variance. An HST
    drizzled file's WHT is by default an exposure-time map (seconds): not read as a noise."""
    data = rng.normal(size=(16, 16))
    header = simple_tan_wcs((16, 16), 0.263).to_header()
    msk = np.zeros((16, 16), np.int16)
    msk[3, 4] = 2
    des = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header, name="SCI"),
                        fits.ImageHDU(msk, name="MSK"), fits.ImageHDU(np.full((16, 16), 4.0), name="WGT")])
    image = read_image(des)
    assert image.mask[3, 4] and image.mask.sum() == 1
    np.testing.assert_allclose(image.uncertainty, 0.5)
    drz = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header, name="SCI"),
                        fits.ImageHDU(np.full((16, 16), 2000.0), name="WHT")])
    assert read_image(drz).uncertainty is None


def test_length_one_axes_are_an_image_with_its_celestial_wcs(tmp_path, rng):
    """A 2-D image written as (1, H, W) or, as radio pipelines do, (1, 1, H, W) with frequency and
    Stokes axes is that image: read with its celestial WCS, its companion planes of the same
    shape used, a header without the extra axes."""
    data = rng.normal(0, 1, (1, 1, 20, 30)).astype(np.float32)
    header = fits.Header({"CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN", "CTYPE3": "FREQ", "CTYPE4": "STOKES",
                          "CRVAL1": 150.0, "CRVAL2": 2.0, "CRVAL3": 1.4e9, "CRVAL4": 1.0,
                          "CDELT1": -0.4 / 3600, "CDELT2": 0.4 / 3600, "CDELT3": 1e6, "CDELT4": 1.0,
                          "CRPIX1": 15.0, "CRPIX2": 10.0, "CRPIX3": 1.0, "CRPIX4": 1.0})
    mask = np.zeros(data.shape, np.uint8)
    mask[0, 0, 3, 4] = 1
    path = tmp_path / "radio.fits"
    fits.HDUList([fits.PrimaryHDU(data, header=header), fits.ImageHDU(mask, name="MASK")]).writeto(path)
    image = read_image(path)
    assert image.data.shape == (20, 30) and np.array_equal(image.data, data[0, 0])
    assert image.wcs.naxis == 2 and image.pixel_scale == pytest.approx(0.4, rel=1e-9)
    assert image.mask.sum() == 1 and image.mask[3, 4]
    assert "NAXIS3" not in image.header and "NAXIS4" not in image.header
    with pytest.raises(GalgenValueError, match="hold one image"):
        read_image(path, plane=1)
    path3 = tmp_path / "one_plane.fits"
    fits.PrimaryHDU(data[0], header=fits.Header({"PIXSCALE": 0.4})).writeto(path3)
    assert read_image(path3).data.shape == (20, 30)
    assert read_image(path3, plane=0).data.shape == (20, 30)


def test_pixels_no_drizzled_exposure_covers_are_masked_in_files_and_catalog_stamps(tmp_path, rng):
    """Where drizzle's WHT is 0 no exposure covers the pixel and SCI holds a fill (0 for HST): such
    pixels are masked (restored as NaN, left out of the sky), in a single read and in a catalog run's
    stamps; a WHT of another chip (EXTVER) is not this chip's."""
    from astropy.table import Table

    from galgen import restore
    from galgen.batch import BatchOptions, run_catalog
    from galgen.io import read_stamps

    shape = (64, 64)
    wcs = simple_tan_wcs(shape, 0.05)
    yy, xx = np.indices(shape)
    sci = rng.normal(0, 0.01, shape) + np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / 20)
    wht = np.full(shape, 1800.0)
    sci[:16], wht[:16] = 0.0, 0.0  # the mosaic's edge: no exposure
    drz = tmp_path / "drz.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sci, wcs.to_header(), name="SCI"),
                  fits.ImageHDU(wht, name="WHT"), fits.ImageHDU(np.ones(shape), name="CTX")]).writeto(drz)
    image = read_image(drz)
    assert image.mask[:16].all() and not image.mask[16:].any() and image.uncertainty is None
    restored = restore(drz, 0.12, method="bicubic", background=0.0)
    assert np.isnan(restored.data[:32]).all() and not np.isnan(restored.data[32:]).any()
    sky = wcs.pixel_to_world(32.0, 32.0)
    Table({"id": ["g"], "ra": [sky.ra.deg], "dec": [sky.dec.deg]}).write(tmp_path / "cat.ecsv")
    table = run_catalog(tmp_path / "cat.ecsv", [drz], BatchOptions(psf_fwhm=0.12, method="bicubic",
                                                                  background=0.0),
                        tmp_path / "out", size=48, progress=False)
    from galgen.batch.mosaic import stamp_origin

    (_,), (y0,) = stamp_origin([32.0], [32.0], 48)
    stamp = read_stamps(table["output"][0], 0)  # mosaic rows y0 to 15 uncovered: 2 (16 - y0) output rows
    cut = 2 * (16 - int(y0))
    assert cut > 0 and np.isnan(stamp.data[:cut]).all() and not np.isnan(stamp.data[cut:]).any()
    other = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sci, wcs.to_header(), name="SCI", ver=1),
                          fits.ImageHDU(wht, name="WHT", ver=2)])
    assert not read_image(other).mask[:16].any()  # chip 2's coverage says nothing of chip 1's pixels
