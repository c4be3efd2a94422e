"""WCS after resampling: every sky position must stay on the same place."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS

from galgen.errors import GalgenWCSError
from galgen.io import pixel_scale_from_wcs, resample_wcs, simple_tan_wcs


def _rotated_wcs(shape=(50, 64), scale=0.2, angle_deg=30.0) -> WCS:
    w = simple_tan_wcs(shape, scale, ra=53.1, dec=-27.8)
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    w.wcs.cd = rot @ w.wcs.cd
    w.wcs.crpix = [20.3, 31.7]  # off-centre reference pixel
    w.wcs.set()
    return w


@pytest.mark.parametrize("factor", [2, 4, 0.5])
def test_resampled_wcs_maps_corners_and_centre_to_same_sky(factor):
    shape = (48, 64)
    w = _rotated_wcs(shape)
    new = resample_wcs(w, factor)
    # pixel centres of the old grid at its corners and centre (0-based)
    old_xy = np.array([[0, 0], [shape[1] - 1, 0], [0, shape[0] - 1],
                       [shape[1] - 1, shape[0] - 1], [(shape[1] - 1) / 2, (shape[0] - 1) / 2]])
    # the same points on the new grid: x' = factor * (x + 0.5) - 0.5
    new_xy = factor * (old_xy + 0.5) - 0.5
    sky_old = w.pixel_to_world(old_xy[:, 0], old_xy[:, 1])
    x_back, y_back = new.world_to_pixel(sky_old)
    # tolerance: 1e-3 new pixel (the acceptance); float64 WCS gets ~1e-9
    np.testing.assert_allclose(x_back, new_xy[:, 0], atol=1e-3)
    np.testing.assert_allclose(y_back, new_xy[:, 1], atol=1e-3)
    # also the outer corners (pixel edges) of the image
    sky_edge = w.pixel_to_world(-0.5, -0.5)
    xe, ye = new.world_to_pixel(sky_edge)
    assert abs(xe + 0.5) < 1e-3 and abs(ye + 0.5) < 1e-3
    assert pixel_scale_from_wcs(new) == pytest.approx(0.2 / factor, rel=1e-9)
    assert pixel_scale_from_wcs(w) == pytest.approx(0.2, rel=1e-9)  # input untouched


def test_resample_cdelt_form_and_sip():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.crval = [10.0, 20.0]
    w.wcs.crpix = [16.0, 16.0]
    w.wcs.cdelt = [-0.1 / 3600, 0.1 / 3600]
    from astropy.wcs import Sip

    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[2, 0] = 1e-4
    b[0, 2] = -2e-4
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    w.wcs.set()
    new = resample_wcs(w, 2)
    for x, y in [(0, 0), (31, 0), (0, 31), (31, 31), (15.5, 15.5)]:
        sky = w.pixel_to_world(x, y)
        xn, yn = new.world_to_pixel(sky)
        # SIP rescaling is exact; 1e-3 pixel is the acceptance bound
        assert abs(xn - (2 * (x + 0.5) - 0.5)) < 1e-3
        assert abs(yn - (2 * (y + 0.5) - 0.5)) < 1e-3


def test_non_square_pixels_rejected():
    w = simple_tan_wcs((10, 10), 0.2)
    w.wcs.cd = np.diag([-0.2 / 3600, 0.3 / 3600])
    w.wcs.set()
    with pytest.raises(GalgenWCSError, match="not square"):
        pixel_scale_from_wcs(w)
    with pytest.raises(GalgenWCSError):
        resample_wcs(w, 0)


def test_strip_wcs_keywords_copies_and_keeps_the_rest():
    from astropy.io import fits

    from galgen.io import strip_wcs_keywords

    header = simple_tan_wcs((32, 32), 0.2).to_header(relax=True)
    header["OBJECT"] = "M51"
    header["NAXIS"] = 2
    header.add_history("observed")
    before = header.tostring()
    out = strip_wcs_keywords(header, also=("NAXIS",))
    assert list(out.keys()) == ["OBJECT", "HISTORY"] and header.tostring() == before
    out["OBJECT"] = "changed"  # the cards are copies: the input header is untouched
    assert header["OBJECT"] == "M51"
    assert isinstance(out, fits.Header) and WCS(out).has_celestial is False
