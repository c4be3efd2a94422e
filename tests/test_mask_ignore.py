"""Mask bits that mark usable pixels (``mask_ignore``, ``--mask-ignore``): HST ``DQ`` and
Pan-STARRS1 masks count every bit as bad unless told which ones describe good data."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galgen import restore
from galgen.batch import BatchOptions, expand_inputs, run_batch, run_catalog
from galgen.cli import main
from galgen.errors import GalgenValueError
from galgen.io import read_image, read_stamps, simple_tan_wcs
from galgen.io.masks import bad_mask_bits, mask_bits

SHAPE = (64, 64)
WARM, BAD, POOR = 64, 4, 0x4000  # HST ACS: warm pixel, bad detector pixel; PS1: CONV.POOR


def _flc(root, name="flc"):
    """An HST-like chip (SCI, ERR, DQ) with a galaxy: warm pixels (DQ 64) on a 4x4 block of the
    galaxy, one bad column (DQ 4) and one pixel both (68); and the same chip with its DQ written as
    a PS1-style mask file of its own (CONV.POOR where the warm pixels are)."""
    rng = np.random.default_rng(1)
    yy, xx = np.indices(SHAPE)
    data = rng.normal(0, 1.0, SHAPE) + 60 * np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / 18)
    dq = np.zeros(SHAPE, np.int16)
    dq[30:34, 30:34] = WARM
    dq[:, 10] = BAD
    dq[20, 10] = BAD | WARM
    header = simple_tan_wcs(SHAPE, 0.05).to_header()
    header["EXTNAME"], header["EXTVER"] = "SCI", 1
    hdus = [fits.PrimaryHDU(header=fits.Header({"TELESCOP": "HST", "INSTRUME": "ACS"})),
            fits.ImageHDU(data, header),
            fits.ImageHDU(np.ones(SHAPE), fits.Header({"EXTNAME": "ERR", "EXTVER": 1})),
            fits.ImageHDU(dq, fits.Header({"EXTNAME": "DQ", "EXTVER": 1}))]
    fits.HDUList(hdus).writeto(root / f"{name}.fits")
    fits.writeto(root / f"{name}_sci.fits", data, header)
    fits.writeto(root / f"{name}.mask.fits", np.where(dq == WARM, POOR, dq).astype(np.int32))
    return root / f"{name}.fits"


def test_mask_bits_read_lists_of_decimal_and_hex_values():
    assert mask_bits("64,32") == mask_bits("64+32") == mask_bits(96) == 96
    assert mask_bits(" 0x4000 ") == 16384 and mask_bits(None) == 0
    for bad in ("-1", "warm", "", "64,,32", True, 1.5):
        with pytest.raises(GalgenValueError, match="give whole numbers >= 0"):
            mask_bits(bad)
    # a header convention first, then the user's bits taken out of it
    lsst = fits.Header([("MP_BAD", 0), ("MP_SAT", 1), ("HIERARCH MP_DETECTED", 5)])
    assert bad_mask_bits(lsst) == 0b11 and bad_mask_bits(lsst, ignore=2) == 0b01
    assert bad_mask_bits(fits.Header(), ignore=WARM) == ~WARM  # every bit but 64


def test_a_file_s_own_dq_keeps_the_pixels_its_ignored_bits_mark(tmp_path):
    path = _flc(tmp_path)
    every = read_image(path, hdu=("SCI", 1))
    warm_ok = read_image(path, hdu=("SCI", 1), mask_ignore=WARM)
    assert every.mask.sum() == 64 + 16 and warm_ok.mask.sum() == 64  # the column; its 68 stays bad
    assert not warm_ok.mask[30:34, 30:34].any() and warm_ok.mask[20, 10]
    kw = {"psf_fwhm": 3 * u.pix, "method": "bicubic", "background": 0.0, "hdu": "SCI,1"}
    before, after = restore(path, **kw), restore(path, mask_ignore="64", **kw)
    assert np.isnan(before.data[60:68, 60:68]).all()  # the galaxy's core lost, x2
    assert np.isfinite(after.data[60:68, 60:68]).all() and np.isnan(after.data[:, 20:22]).all()
    out = tmp_path / "out.fits"
    assert main(["restore", str(path), "-o", str(out), "--hdu", "SCI,1", "--psf-fwhm", "3pix", "--method",
                 "bicubic", "--background", "0", "--mask-ignore", "64"]) == 0
    np.testing.assert_array_equal(np.isnan(fits.getdata(out)), np.isnan(after.data))
    lost = tmp_path / "lost.fits"
    assert main(["restore", str(path), "-o", str(lost), "--hdu", "SCI,1", "--psf-fwhm", "3pix",
                 "--mask-ignore", "warm"]) != 0
    assert not lost.exists()


def test_a_mask_file_of_its_own_in_restore_batches_and_catalog_runs(tmp_path):
    _flc(tmp_path)
    image, mask = tmp_path / "flc_sci.fits", str(tmp_path / "flc.mask.fits")
    kw = {"psf_fwhm": 3 * u.pix, "method": "bicubic", "background": 0.0}
    single = restore(image, mask=mask, mask_ignore=POOR, **kw)
    assert np.isfinite(single.data[60:68, 60:68]).all() and np.isnan(single.data[:, 20:22]).all()
    assert np.isnan(restore(image, mask=mask, **kw).data[60:68, 60:68]).all()
    # a file batch and a catalog run read the mask as restore does
    options = BatchOptions(mask=mask, mask_ignore="0x4000", **kw)
    files = run_batch(expand_inputs([str(image)]), options, tmp_path / "files", progress=False)
    assert list(files["status"]) == ["ok"]
    np.testing.assert_array_equal(np.isnan(fits.getdata(tmp_path / "files" / files["output"][0])),
                                  np.isnan(single.data))
    sky = simple_tan_wcs(SHAPE, 0.05).pixel_to_world(31.5, 31.5)
    Table({"id": ["g"], "ra": [sky.ra.deg], "dec": [sky.dec.deg]}).write(tmp_path / "cat.ecsv")
    stacks = run_catalog(tmp_path / "cat.ecsv", [image], options, tmp_path / "stacks", size=32,
                         progress=False)
    stamp = read_stamps(stacks["output"][0], int(stacks["index"][0])).data
    assert np.isfinite(stamp[28:36, 28:36]).all()  # the galaxy's warm core kept: 16 input pixels at x2
    plain = run_catalog(tmp_path / "cat.ecsv", [image], BatchOptions(mask=mask, **kw), tmp_path / "plain",
                        size=32, progress=False)
    assert np.isnan(read_stamps(plain["output"][0], int(plain["index"][0])).data[28:36, 28:36]).all()
    # a run without the option keeps its resume digest
    plain_digest = BatchOptions(mask=mask, **kw).digest(None)
    assert BatchOptions(mask=mask, mask_ignore=0, **kw).digest(None) == plain_digest
    assert options.digest(None) != plain_digest
    with pytest.raises(GalgenValueError, match="mask bits 'warm'"):
        BatchOptions(mask=mask, mask_ignore="warm", **kw)
