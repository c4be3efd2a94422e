"""PSFs as PSFEx models and GalSim profiles; stacks of stamps through ``galgen.restore``."""

from __future__ import annotations

import astropy.units as u
import galsim
import numpy as np
import pytest

from galgen import restore
from galgen.cli import main
from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.io import read_image
from galgen.psf.files import read_psf
from galgen.psf.models import measure_fwhm, moffat_psf
from galgen.psf.psfex import is_psfex, psfex_kernel, write_psfex


def write_test_psfex(path, sample=0.5, size=35, fwhm_centre=3.0, fwhm_edge=4.0):
    """A degree-1 PSFEx model whose Gaussian FWHM (image pixels) grows from ``fwhm_centre`` at
    (1000, 1000) to ``fwhm_edge`` at x = 2000, and does not depend on y."""
    yy, xx = np.indices((size, size)) - size // 2

    def gauss(fwhm_image_pix):
        sigma = fwhm_image_pix / 2.3548 / sample  # in PSFEx pixels
        g = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
        return g / g.sum()

    basis = np.stack([gauss(fwhm_centre), gauss(fwhm_edge) - gauss(fwhm_centre), np.zeros((size, size))])
    return write_psfex(path, basis, sample=sample, zero=(1000.0, 1000.0), scale=(1000.0, 1000.0))


def test_psfex_model_is_evaluated_at_the_position(tmp_path):
    path = write_test_psfex(tmp_path / "field.psf")
    assert is_psfex(path) and not is_psfex(tmp_path / "missing.psf")
    # the basis interpolates linearly: FWHM 3 px at the centre, 4 px one POLSCAL away in x;
    # GalSim's interpolation of the 2x-sampled basis keeps it within 1 %
    assert measure_fwhm(psfex_kernel(path, (1000.0, 1000.0))[0]) == pytest.approx(3.0, rel=0.01)
    assert measure_fwhm(psfex_kernel(path, (2000.0, 1000.0))[0]) == pytest.approx(4.0, rel=0.01)
    assert measure_fwhm(psfex_kernel(path, (1000.0, 2000.0))[0]) == pytest.approx(3.0, rel=0.01)  # no y term
    kernel = read_psf(path, (64, 64), 0.263, position=(2000.0, 1000.0)).kernel
    assert kernel.sum() == pytest.approx(1.0) and kernel.shape[0] % 2 == 1


def test_broken_psfex_file_is_a_typed_error(tmp_path):
    path = write_test_psfex(tmp_path / "broken.psf")
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        del hdul[1].header["POLDEG1"]
    with pytest.raises(GalgenPSFError, match="not a PSFEx model"):
        psfex_kernel(path)


def test_restore_with_a_psfex_model_from_api_and_cli(tmp_path, rng):
    psf_path = write_test_psfex(tmp_path / "field.psf")
    obs = rng.normal(0, 1.0, (48, 48))
    obs[20:28, 20:28] += 25.0
    from galgen.io.fits import write_fits
    from galgen.io.wcs import simple_tan_wcs

    write_fits(tmp_path / "stamp.fits", obs, wcs=simple_tan_wcs(obs.shape, 0.263))
    result = restore(tmp_path / "stamp.fits", psf=psf_path, psf_position=(2000.0, 1000.0),
                     method="richardson_lucy", iterations=5)
    assert result.meta["GALGENPF"] == pytest.approx(4.0 * 0.263, rel=0.02)  # measured at that position
    assert main(["restore", str(tmp_path / "stamp.fits"), "-o", str(tmp_path / "out.fits"), "--psf",
                 str(psf_path), "--psf-position", "2000,1000", "--method", "bicubic"]) == 0
    assert read_image(tmp_path / "out.fits").header["GALGENPF"] == pytest.approx(4.0 * 0.263, rel=0.02)


def test_a_galsim_profile_is_drawn_at_the_image_scale():
    profile = galsim.Kolmogorov(fwhm=1.0)
    given = read_psf(profile, (64, 64), 0.2)
    # drawn with the pixel response: the measured FWHM is the profile's widened by a 0.2" pixel
    fwhm = measure_fwhm(given.kernel) * 0.2
    assert 1.0 < fwhm < 1.06
    assert given.note == "GalSim" and given.kernel.shape[0] % 2 == 1


def test_a_stack_is_restored_like_each_stamp(rng):
    stamps = rng.normal(0, 1.0, (3, 32, 32))
    stamps[:, 12:20, 12:20] += np.array([10.0, 20.0, 40.0])[:, None, None]
    kwargs = {"pixel_scale": 0.2 * u.arcsec, "method": "bicubic"}
    many = restore(stamps, psf_fwhm=[0.8, 0.9, 1.0] * u.arcsec, noise_rms=[1.0, 1.0, 1.0], **kwargs)
    assert len(many) == 3
    for i, result in enumerate(many):
        one = restore(stamps[i], psf_fwhm=[0.8, 0.9, 1.0][i] * u.arcsec, noise_rms=1.0, **kwargs)
        np.testing.assert_array_equal(np.asarray(result.data), np.asarray(one.data))
        assert result.meta["GALGENPF"] == one.meta["GALGENPF"]
    shared = restore(list(stamps), psf=moffat_psf(4.5, 21), noise_rms=1.0, **kwargs)
    assert [r.shape for r in shared] == [(64, 64)] * 3
    with pytest.raises(GalgenValueError, match="2 entries for 3 stamps"):
        restore(stamps, psf_fwhm=[0.8, 0.9] * u.arcsec, noise_rms=1.0, **kwargs)
    with pytest.raises(GalgenValueError, match="empty stack"):
        restore([], psf_fwhm=1.0 * u.arcsec, **kwargs)


def test_catalog_batch_evaluates_a_psfex_model_at_each_stamp(tmp_path):
    from astropy.table import Table

    from galgen.batch import BatchOptions, catalog_items, run_batch
    from galgen.io.fits import write_fits
    from galgen.io.wcs import simple_tan_wcs

    # a 2200-pixel-wide strip: the PSFEx model's FWHM grows from 3 px at x = 1000 to 4 px at 2000
    rng = np.random.default_rng(0)
    mosaic = rng.normal(0, 1, (64, 2200)).astype(np.float32)
    wcs = simple_tan_wcs(mosaic.shape, 0.2)
    write_fits(tmp_path / "strip.fits", mosaic, wcs=wcs)
    psf_path = write_test_psfex(tmp_path / "strip.psf")
    sky = wcs.pixel_to_world([999.0, 1999.0], [32.0, 32.0])  # 0-based: PSFEx x = 1000 and 2000
    Table({"id": ["left", "right"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "cat.ecsv")
    items = catalog_items(tmp_path / "cat.ecsv", [tmp_path / "strip.fits"], size=40)
    table = run_batch(items, BatchOptions(psf=str(psf_path), method="bicubic", background=0.0),
                      tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok", "ok"]
    fwhm = {k: read_image(tmp_path / "out" / f"{k}.fits").header["GALGENPF"] / 0.2 for k in table["key"]}
    assert fwhm["cutout_left"] == pytest.approx(3.0, rel=0.02)
    assert fwhm["cutout_right"] == pytest.approx(4.0, rel=0.02)
