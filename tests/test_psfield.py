"""SDSS psField files: the band's KL templates reconstructed at the stamp's position of the frame,
in restore, the command line and a catalog batch; missing or wrong bands are typed errors."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galgen import restore
from galgen.batch import BatchOptions, catalog_items, run_batch
from galgen.cli import main
from galgen.errors import GalgenPSFError
from galgen.io import read_image, simple_tan_wcs, write_fits
from galgen.psf import measure_fwhm
from galgen.psf.files import read_psf
from galgen.psf.sdss import is_psfield, psfield_kernel

N = 51


def _gauss(fwhm):
    yy, xx = np.indices((N, N)) - N // 2
    g = np.exp(-(xx**2 + yy**2) / (2 * (fwhm / 2.3548) ** 2))
    return g / g.sum()


def write_psfield(path, fwhm_by_band=None):
    """A psField-format file (HDUs 1-5 = u, g, r, i, z; PHOTO's columns, ``C`` as a 5 x 5 grid).
    In each band the PSF is a Gaussian of FWHM ``f`` at column 0 whose FWHM grows to about
    ``f + 1`` pixels at column 2000 (the second template's weight is 0.001 * column, the
    coefficient of column power 1 and row power 0), with no dependence on the row."""
    fwhm_by_band = fwhm_by_band or {"u": 4.5, "g": 4.0, "r": 3.5, "i": 3.2, "z": 3.0}
    hdus = [fits.PrimaryHDU()]
    for band in "ugriz":
        f = fwhm_by_band[band]
        templates = np.stack([_gauss(f), (_gauss(f + 1.0) - _gauss(f)) / 2.0]).reshape(2, -1)
        c = np.zeros((2, 5, 5), np.float32)
        c[0, 0, 0] = 1.0   # constant
        c[1, 1, 0] = 1.0   # pydl: C[column power, row power], times (0.001 * (column + 0.5))
        cols = [fits.Column(name="RROWS", format=f"{N * N}E", array=templates.astype(np.float32)),
                fits.Column(name="RNROW", format="J", array=[N, N]),
                fits.Column(name="RNCOL", format="J", array=[N, N]),
                fits.Column(name="NROW_B", format="J", array=[3, 3]),
                fits.Column(name="NCOL_B", format="J", array=[3, 3]),
                fits.Column(name="C", format="25E", dim="(5,5)", array=c),
                fits.Column(name="COUNTS", format="E", array=[1.0, 0.0])]
        hdus.append(fits.BinTableHDU.from_columns(cols))
    fits.HDUList(hdus).writeto(path)
    return path


def test_psfield_reconstructs_each_band_along_the_frame(tmp_path):
    path = write_psfield(tmp_path / "psField-000756-3-0100.fit")
    assert is_psfield(path) and not is_psfield(tmp_path / "missing.fit")
    # column 0 (1-based x = 1): the band's own FWHM; x = 2001 (weight 2.0): f + 1 px, within 2 %
    assert measure_fwhm(psfield_kernel(path, "r", (1.0, 700.0))[0]) == pytest.approx(3.5, rel=0.02)
    assert measure_fwhm(psfield_kernel(path, "r", (2001.0, 700.0))[0]) == pytest.approx(4.5, rel=0.02)
    no_row_term = psfield_kernel(path, "r", (1.0, 1400.0))[0]
    assert measure_fwhm(no_row_term) == pytest.approx(3.5, rel=0.02)
    assert measure_fwhm(psfield_kernel(path, "g", (1.0, 700.0))[0]) == pytest.approx(4.0, rel=0.02)
    assert measure_fwhm(psfield_kernel(path, 5, (1.0, 700.0))[0]) == pytest.approx(3.0, rel=0.02)
    kernel, note = psfield_kernel(path, "i", (500.0, 700.0))
    assert kernel.shape == (N, N) and kernel.sum() == pytest.approx(1.0)
    assert note == "SDSS psField band i at x=500.0, y=700.0"


def test_psfield_bands_and_positions_that_cannot_be_used_are_typed_errors(tmp_path):
    path = write_psfield(tmp_path / "psField.fit")
    with pytest.raises(GalgenPSFError, match=r"five bands .* FILE\[r\]"):
        read_psf(path, (64, 64), 0.396, position=(1000.0, 700.0))  # no band: the image has no FILTER
    with pytest.raises(GalgenPSFError, match="'y' is not an SDSS band"):
        read_psf(f"{path}[y]", (64, 64), 0.396, position=(1000.0, 700.0))
    with pytest.raises(GalgenPSFError, match="not finite"):
        psfield_kernel(path, "r", (np.nan, 3.0))
    with pytest.raises(GalgenPSFError, match=r"not on an SDSS frame .*not a cutout's or a mosaic's"):
        psfield_kernel(path, "r", (2100.0, 3.0))
    with fits.open(path, mode="update") as hdul:
        hdul[4].data["C"][0, 0, 0] = -1.0  # band i: a negative PSF
    with pytest.raises(GalgenPSFError, match="HDU 4 at .* no positive total"):
        psfield_kernel(path, "i", (1.0, 3.0))
    # the band from the file name, or from the image's FILTER keyword
    by_name = read_psf(f"{path}[g]", (64, 64), 0.396, position=(1.0, 700.0))
    by_filter = read_psf(path, (64, 64), 0.396, position=(1.0, 700.0), band="g")
    np.testing.assert_array_equal(by_name.kernel, by_filter.kernel)
    assert measure_fwhm(by_name.kernel) == pytest.approx(4.0, rel=0.02)


def test_restore_an_sdss_frame_stamp_with_its_psfield(tmp_path, rng):
    """The image's FILTER picks the band; --psf-position the place on the frame; GALGENPF
    records the FWHM there."""
    psf_path = write_psfield(tmp_path / "psField.fit")
    obs = rng.normal(0, 1.0, (48, 48))
    obs[20:28, 20:28] += 25.0
    write_fits(tmp_path / "stamp.fits", obs, wcs=simple_tan_wcs(obs.shape, 0.396),
               header=fits.Header({"FILTER": "r"}))  # 48 pixels: the 51-pixel templates are cut to 47
    result = restore(tmp_path / "stamp.fits", psf=psf_path, psf_position=(2001.0, 700.0),
                     method="richardson_lucy", iterations=5)
    assert result.meta["GALGENPF"] == pytest.approx(4.5 * 0.396, rel=0.02)
    assert main(["restore", str(tmp_path / "stamp.fits"), "-o", str(tmp_path / "out.fits"), "--psf",
                 f"{psf_path}[u]", "--psf-position", "1,700", "--method", "bicubic"]) == 0
    assert read_image(tmp_path / "out.fits").header["GALGENPF"] == pytest.approx(4.5 * 0.396, rel=0.02)
    # a cutout of the frame that says where it lies (IRAF LTV1/LTV2): its centre, frame column 2001
    write_fits(tmp_path / "cut.fits", obs, wcs=simple_tan_wcs(obs.shape, 0.396),
               header=fits.Header({"FILTER": "r", "LTV1": -1976.5, "LTV2": -675.5}))
    placed = restore(tmp_path / "cut.fits", psf=psf_path, method="bicubic")
    assert placed.meta["GALGENPF"] == pytest.approx(result.meta["GALGENPF"], rel=1e-6)


def test_a_catalog_batch_over_a_frame_reconstructs_the_psfield_at_each_stamp(tmp_path):
    rng = np.random.default_rng(0)
    frame = rng.normal(0, 1, (64, 2048)).astype(np.float32)
    wcs = simple_tan_wcs(frame.shape, 0.396)
    write_fits(tmp_path / "frame-r.fits", frame, wcs=wcs, header=fits.Header({"FILTER": "r"}))
    psf_path = write_psfield(tmp_path / "psField.fit")
    sky = wcs.pixel_to_world([100.0, 1900.0], [32.0, 32.0])  # 0-based columns 100 and 1900
    Table({"id": ["left", "right"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "cat.ecsv")
    items = catalog_items(tmp_path / "cat.ecsv", [tmp_path / "frame-r.fits"], size=60)
    table = run_batch(items, BatchOptions(psf=str(psf_path), method="bicubic", background=0.0,
                                          check_psf=False), tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok", "ok"]
    fwhm = {k: read_image(tmp_path / "out" / f"{k}.fits").header["GALGENPF"] / 0.396 for k in table["key"]}
    left = measure_fwhm(psfield_kernel(psf_path, "r", (101.0, 33.0))[0])
    right = measure_fwhm(psfield_kernel(psf_path, "r", (1901.0, 33.0))[0])
    assert right - left == pytest.approx(0.9, abs=0.05)
    assert fwhm["cutout_left"] == pytest.approx(left, rel=0.01)
    assert fwhm["cutout_right"] == pytest.approx(right, rel=0.01)
    assert u.Quantity(fwhm["cutout_right"] * 0.396, u.arcsec) > 1.5 * u.arcsec


def test_the_reconstruction_is_photoop_s_formula_with_fits_column_order(tmp_path):
    """psfimage = sum_k RROWS_k sum_ij (0.001 (row + 0.5))^i (0.001 (col + 0.5))^j C_k[i, j] with
    photoop's IDL C[i_row, j_col], which astropy reads from the FITS column (TDIM (5,5)) as
    C[j_col, i_row]: written out here independently of pydl, on random templates and
    coefficients, at 1e-6 of the image's scale; the transposed reading differs by order unity."""
    rng = np.random.default_rng(0)
    rrows = rng.normal(size=(3, N * N)).astype(np.float32)
    c = rng.normal(size=(3, 5, 5)).astype(np.float32)
    cols = [fits.Column(name="RROWS", format=f"{N * N}E", array=rrows),
            fits.Column(name="RNROW", format="J", array=[N] * 3),
            fits.Column(name="RNCOL", format="J", array=[N] * 3),
            fits.Column(name="NROW_B", format="J", array=[3] * 3),
            fits.Column(name="NCOL_B", format="J", array=[3] * 3),
            fits.Column(name="C", format="25E", dim="(5,5)", array=c)]
    fits.HDUList([fits.PrimaryHDU()] + [fits.BinTableHDU.from_columns(cols)] * 5).writeto(tmp_path / "p.fit")
    with fits.open(tmp_path / "p.fit") as hdul:
        table = hdul[3].data
        coeff, templates = np.array(table["C"], np.float64), np.array(table["RROWS"], np.float64)
    x, y = 301.0, 1101.0  # 1-based column and row: 0-based 300, 1100
    rows = ((y - 1 + 0.5) * 1e-3) ** np.arange(3)
    cols_ = ((x - 1 + 0.5) * 1e-3) ** np.arange(3)
    weights = [sum(coeff[k][j, i] * rows[i] * cols_[j] for i in range(3) for j in range(3)) for k in range(3)]
    expected = sum(w * t for w, t in zip(weights, templates, strict=True)).reshape(N, N)
    swapped = [sum(coeff[k][i, j] * rows[i] * cols_[j] for i in range(3) for j in range(3)) for k in range(3)]
    transposed = sum(w * t for w, t in zip(swapped, templates, strict=True)).reshape(N, N)
    with warnings.catch_warnings():  # pydl's import builds astropy's deprecated TestRunner
        warnings.simplefilter("ignore")
        from pydl.photoop.image import sdss_psf_recon

    got = sdss_psf_recon(table, x - 1, y - 1)  # what psfield_kernel calls, before normalising
    np.testing.assert_allclose(got, expected, atol=1e-6 * np.abs(expected).max())
    assert np.abs(transposed - expected).max() > 0.1 * np.abs(expected).max()
