"""Files with several chips (HST flt/flc: SCI, ERR, DQ for EXTVER 1 and 2): each chip is read with
its own mask and uncertainty, chosen as 'SCI,2'; the first chip is said to have company."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits

from galgen.batch import open_mosaic
from galgen.errors import GalgenValueError
from galgen.io import read_image, simple_tan_wcs


@pytest.fixture
def flt(tmp_path):
    """Two chips: chip v has a bad DQ row at 10 v and an ERR of v."""
    wcs = simple_tan_wcs((64, 64), 0.05)
    rng = np.random.default_rng(0)
    hdus = [fits.PrimaryHDU()]
    for ver in (1, 2):
        header = wcs.to_header()
        header["EXTVER"] = ver
        hdus.append(fits.ImageHDU(rng.normal(0, ver, (64, 64)).astype(np.float32), header=header, name="SCI"))
        err = fits.ImageHDU(np.full((64, 64), float(ver), np.float32), name="ERR")
        dq = np.zeros((64, 64), np.int16)
        dq[10 * ver] = 4
        hdus += [err, fits.ImageHDU(dq, name="DQ")]
        for h in hdus[-2:]:
            h.header["EXTVER"] = ver
    path = tmp_path / "j8xi01abq_flt.fits"
    fits.HDUList(hdus).writeto(path)
    return path


def test_each_chip_gets_its_own_mask_and_uncertainty(flt, caplog):
    for hdu, ver in ((4, 2), ("SCI,2", 2), ("sci , 2", 2), (1, 1), ("SCI,1", 1)):
        image = read_image(flt, hdu=hdu)
        assert np.flatnonzero(image.mask.any(axis=1)).tolist() == [10 * ver], hdu
        assert float(np.median(image.uncertainty)) == ver, hdu
    with caplog.at_level(logging.WARNING, logger="galgen.io.fits"):
        read_image(flt)
    said = "2 image HDUs are named SCI (EXTVER 1, 2); reading SCI,1. Pick another as hdu='SCI,2'"
    assert said in caplog.text
    with pytest.raises(GalgenValueError, match="no HDU 'SCI,3'"):
        read_image(flt, hdu="SCI,3")


def test_a_catalog_mosaic_of_chip_2_reads_chip_2_s_planes(flt):
    mosaic = open_mosaic(flt, "SCI,2")
    try:
        bad = np.flatnonzero((np.asarray(mosaic.mask) != 0).any(axis=1)).tolist()
        assert bad == [20]
        assert float(np.median(mosaic.uncertainty)) == 2.0
    finally:
        mosaic.close()
