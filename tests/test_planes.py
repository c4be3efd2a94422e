"""Noise maps and masks in files of their own (Legacy Surveys invvar bricks, DECam oow/ood,
Euclid RMS and FLAG maps): read as the same planes in the image's own file are, in restore, the
command line, file batches and catalog runs; wrong shapes and unknown kinds are typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galgen import restore
from galgen.batch import BatchOptions, expand_inputs, run_batch, run_catalog
from galgen.cli import main
from galgen.errors import GalgenFileError, GalgenValueError
from galgen.io import read_image, read_stamps, simple_tan_wcs, write_fits
from galgen.io.planes import attach_planes

SHAPE = (64, 64)


def _field(root, name="brick", shape=SHAPE, seed=0):
    """An image with a galaxy, its inverse variance (noise rms 2 on the left, 1 on the right)
    and a mask with one bad column, as three files and as one file with all three."""
    rng = np.random.default_rng(seed)
    rms = np.where(np.arange(shape[1]) < shape[1] // 2, 2.0, 1.0) * np.ones(shape)
    yy, xx = np.indices(shape)
    data = rng.normal(0, rms) + 40 * np.exp(-((xx - shape[1] / 2) ** 2 + (yy - shape[0] / 2) ** 2) / 18)
    mask = np.zeros(shape, np.int16)
    mask[:, 10] = 4
    wcs = simple_tan_wcs(shape, 0.262)
    write_fits(root / f"{name}-image-r.fits", data, wcs=wcs)
    fits.PrimaryHDU(1 / rms**2).writeto(root / f"{name}-invvar-r.fits")
    fits.PrimaryHDU(mask).writeto(root / f"{name}-maskbits.fits")
    write_fits(root / f"{name}-all.fits", data, wcs=wcs, extensions={"IVAR": 1 / rms**2, "MASK": mask})
    return root / f"{name}-image-r.fits"


def test_planes_in_files_of_their_own_restore_as_planes_in_the_file(tmp_path):
    image = _field(tmp_path)
    own = restore(tmp_path / "brick-all.fits", 1.2 * 0.262 * 4, method="bicubic", background=0.0)
    apart = restore(image, 1.2 * 0.262 * 4, method="bicubic", background=0.0,
                    noise_map=tmp_path / "brick-invvar-r.fits", mask=tmp_path / "brick-maskbits.fits")
    assert apart.meta["GALGENNV"] == own.meta["GALGENNV"]
    np.testing.assert_array_equal(apart.mask, own.mask)
    np.testing.assert_array_equal(np.isnan(apart.data), np.isnan(own.data))
    assert np.isnan(apart.data[:, 20:22]).all()  # input column 10, x2
    # the kind from the name; a template of the image's name; the command line
    templated = restore(image, 1.2 * 0.262 * 4, method="bicubic", background=0.0,
                        noise_map="{dir}/{stem[:-8]}-invvar-r.fits")
    assert templated.meta["GALGENNV"] == own.meta["GALGENNV"]
    assert main(["restore", str(image), "-o", str(tmp_path / "out.fits"), "--psf-fwhm", "4pix", "--method",
                 "bicubic", "--background", "0", "--noise-map", str(tmp_path / "brick-invvar-r.fits"),
                 "--mask", str(tmp_path / "brick-maskbits.fits")]) == 0
    header = read_image(tmp_path / "out.fits").header
    assert header["GALGENNV"] == pytest.approx(own.meta["GALGENNV"], rel=1e-6)


def test_noise_map_kinds_and_shapes_are_checked(tmp_path):
    image = read_image(_field(tmp_path))
    rms = 1 / np.sqrt(fits.getdata(tmp_path / "brick-invvar-r.fits"))
    fits.PrimaryHDU(rms).writeto(tmp_path / "plane.fits")
    with pytest.raises(GalgenValueError, match="say what the noise map holds"):
        attach_planes(image, tmp_path / "plane.fits")
    as_std = attach_planes(image, tmp_path / "plane.fits", "std")
    as_var = attach_planes(image, tmp_path / "plane.fits", "var")
    np.testing.assert_allclose(as_std.uncertainty, rms)
    np.testing.assert_allclose(as_var.uncertainty, np.sqrt(rms))
    fits.PrimaryHDU(np.ones((32, 32))).writeto(tmp_path / "small-ivar.fits")
    with pytest.raises(GalgenValueError, match=r"the noise map is \(32, 32\), the image \(64, 64\)"):
        attach_planes(image, tmp_path / "small-ivar.fits")
    with pytest.raises(GalgenFileError, match="no such mask file"):
        attach_planes(image, mask=tmp_path / "missing.fits")
    with pytest.raises(GalgenValueError, match="noise_map_type='sigma'"):
        restore(tmp_path / "brick-image-r.fits", 4.0, method="bicubic", noise_map=tmp_path / "plane.fits",
                noise_map_type="sigma")


def test_batches_and_catalog_runs_read_each_image_s_own_planes(tmp_path):
    for k in range(3):
        _field(tmp_path, name=f"b{k}", seed=k)
    (tmp_path / "b2-invvar-r.fits").unlink()  # one image without its noise map: it fails alone
    items = expand_inputs([str(tmp_path / "b*-image-r.fits")])
    options = BatchOptions(psf_fwhm=1.0, method="bicubic", background=0.0,
                           noise_map=str(tmp_path / "{stem[:-8]}-invvar-r.fits"),
                           mask=str(tmp_path / "{stem[:-8]}-maskbits.fits"))
    table = run_batch(items, options, tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok", "ok", "failed"]
    assert "b2-invvar-r.fits: no such noise map file" in table["error"][2]
    own = restore(tmp_path / "b0-all.fits", 1.0, method="bicubic", background=0.0)
    assert read_image(tmp_path / "out" / "b0-image-r.fits").header["GALGENNV"] == pytest.approx(
        own.meta["GALGENNV"], rel=1e-6)
    # a catalog over the image: each stamp cut from the memory-mapped noise map and mask too
    sky = simple_tan_wcs(SHAPE, 0.262).pixel_to_world([16.0, 48.0], [32.0, 32.0])
    Table({"id": ["left", "right"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "cat.ecsv")
    stacked = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "b0-image-r.fits"],
                          BatchOptions(psf_fwhm=1.0, method="bicubic", background=0.0, check_psf=False,
                                       noise_map=str(tmp_path / "b0-invvar-r.fits"),
                                       mask=str(tmp_path / "b0-maskbits.fits")),
                          tmp_path / "cat", size=24, progress=False)
    reference = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "b0-all.fits"],
                            BatchOptions(psf_fwhm=1.0, method="bicubic", background=0.0, check_psf=False),
                            tmp_path / "cat_ref", size=24, progress=False)
    assert list(stacked["status"]) == ["ok", "ok"]
    for a, b in zip(stacked, reference, strict=True):
        one, two = read_stamps(a["output"], a["index"]), read_stamps(b["output"], b["index"])
        assert one.meta["GALGENNV"] == pytest.approx(two.meta["GALGENNV"], rel=1e-6)
        np.testing.assert_array_equal(one.mask, two.mask)
    nv = [read_stamps(r["output"], r["index"]).meta["GALGENNV"] for r in stacked]
    assert nv[0] == pytest.approx(2.0, rel=1e-6) and nv[1] == pytest.approx(1.0, rel=1e-6)


def test_pixels_without_data_by_their_weight_are_masked_not_read_as_sky(tmp_path):
    """A coadd's pixels with an inverse variance of 0 hold no data, whatever value they show (0 in
    a Legacy Surveys brick): they are masked, in the file's own IVAR plane, a separate noise map and
    a catalog stamp, so the sky and noise come from real pixels; a plane with no data anywhere is a
    typed error that says so."""
    rng = np.random.default_rng(3)
    yy, xx = np.indices(SHAPE)
    data = rng.normal(0, 2.0, SHAPE) + 60 * np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / 18)
    ivar = np.full(SHAPE, 0.25)
    data[:, :20], ivar[:, :20] = 0.0, 0.0  # the brick's edge: no exposure reached these pixels
    wcs = simple_tan_wcs(SHAPE, 0.262)
    write_fits(tmp_path / "edge.fits", data, wcs=wcs, extensions={"IVAR": ivar})
    write_fits(tmp_path / "edge-image.fits", data, wcs=wcs)
    fits.PrimaryHDU(ivar).writeto(tmp_path / "edge-invvar.fits")
    kwargs = {"method": "bicubic", "background": "auto"}
    own = restore(tmp_path / "edge.fits", 1.0, **kwargs)
    apart = restore(tmp_path / "edge-image.fits", 1.0, noise_map=tmp_path / "edge-invvar.fits", **kwargs)
    for result in (own, apart):
        assert np.isnan(result.data[:, :40]).all() and not np.isnan(result.data[:, 40:]).any()
        # the noise from the real pixels (1.95; the zeros read as sky gave 1.41 before)
        assert result.meta["GALGENNS"] == pytest.approx(2.0, rel=0.05)
    sky = wcs.pixel_to_world(32.0, 32.0)
    Table({"id": ["g"], "ra": [sky.ra.deg], "dec": [sky.dec.deg]}).write(tmp_path / "cat.ecsv")
    options = BatchOptions(psf_fwhm=1.0, method="bicubic", noise_map=str(tmp_path / "edge-invvar.fits"))
    table = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "edge-image.fits"], options, tmp_path / "out",
                        size=SHAPE[0], progress=False)
    stamp = read_stamps(table["output"][0], 0)
    assert np.isnan(stamp.data[:, :40]).all() and not np.isnan(stamp.data[:, 40:]).any()
    with pytest.raises(GalgenValueError, match="0 of its 64x64 pixels usable.*inverse variance of 0"):
        # as a mask, the weight map's zeros are good pixels and the rest bad: none is left
        restore(tmp_path / "edge-image.fits", 1.0, noise_map=tmp_path / "edge-invvar.fits",
                mask=tmp_path / "edge-invvar.fits", **kwargs)
    fits.PrimaryHDU(np.zeros(SHAPE)).writeto(tmp_path / "none-invvar.fits")
    with pytest.raises(GalgenValueError, match="0 of its 64x64 pixels usable"):
        restore(tmp_path / "edge-image.fits", 1.0, noise_map=tmp_path / "none-invvar.fits", **kwargs)


def test_psfcheck_reads_a_mask_and_noise_map_of_their_own(tmp_path, capsys):
    """``galgen psfcheck --mask/--noise-map``: stars on pixels the mask or the weight map rules out
    are not used (a field whose good part holds too few stars gives no verdict, exit 4); a
    ``--psf-position`` with a PSF image (the same everywhere) is an error."""
    from test_psf_stars import FWHM
    from test_psf_stars import _field as star_field

    data, kernel = star_field()
    header = fits.Header({"PIXSCALE": 0.4})
    fits.PrimaryHDU(data.astype(np.float32), header=header).writeto(tmp_path / "f.fits")
    fits.PrimaryHDU(kernel).writeto(tmp_path / "psf.fits")
    bad = np.ones(data.shape, np.int16)
    bad[:, :40] = 0  # only a strip at the left edge is good
    fits.PrimaryHDU(bad).writeto(tmp_path / "f-mask.fits")
    fits.PrimaryHDU((1 - bad).astype(float)).writeto(tmp_path / "f-weight.fits")
    common = [str(tmp_path / "f.fits"), "--psf-fwhm", f"{FWHM}pix", "--noise-rms", "1", "--background", "0",
              "--moffat-beta", "3"]
    assert main(["psfcheck", *common]) == 0
    assert main(["psfcheck", *common, "--mask", str(tmp_path / "f-mask.fits")]) == 4
    assert main(["psfcheck", *common, "--noise-map", str(tmp_path / "f-weight.fits"),
                 "--noise-map-type", "ivar"]) == 4
    capsys.readouterr()
    psf_image = ["--psf", str(tmp_path / "psf.fits"), "--psf-position", "10,10"]
    assert main(["psfcheck", *common[:1], *psf_image]) != 0
    assert "is a PSF image" in capsys.readouterr().err
