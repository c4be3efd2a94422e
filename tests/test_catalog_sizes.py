"""Each galaxy's stamp cut to its size from a catalog column (``--size-column``): a few sides,
one per stack, in arcsec or pixels, smaller galaxies at the run's own size."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from galgen.batch import BatchOptions, catalog_items, run_batch, run_catalog
from galgen.batch.inputs import STAMP_SIDES, catalog_sizes
from galgen.cli import main
from galgen.errors import GalgenValueError
from galgen.io import read_image, read_stamps, simple_tan_wcs, write_fits

SCALE = 0.262


def test_sides_come_in_steps_from_the_radius_and_its_unit():
    table = Table({"shape_r": [0.5, 2.0, 3.0, np.nan, -1.0, 40.0]})  # arcsec, no unit
    sides = catalog_sizes(table, "SHAPE_R", np.full(6, SCALE), size=64)
    # 10 radii across: 19, 76, 115 pixels -> 64, 96, 128; NaN and negative at the run's size; 1527 -> 512
    assert list(sides) == [64, 96, 128, 64, 64, 512]
    assert set(sides) <= set(STAMP_SIDES)
    pixels = Table({"FLUX_RADIUS": [3.0, 10.0]})
    pixels["FLUX_RADIUS"].unit = u.pix
    assert list(catalog_sizes(pixels, "flux_radius", np.array([0.2, 0.5]), size=32, factor=8)) == [32, 96]
    arcmin = Table({"r": [0.05]})
    arcmin["r"].unit = u.arcmin  # 3 arcsec
    assert list(catalog_sizes(arcmin, "r", np.array([SCALE]), size=40)) == [128]
    assert list(catalog_sizes(Table({"r": [1.0]}), "r", np.array([SCALE]), size=40)) == [40]  # 38 px: 40
    assert list(catalog_sizes(Table({"r": [1.1]}), "r", np.array([SCALE]), size=40)) == [48]  # 42 px
    with pytest.raises(GalgenValueError, match="no column 'radius'"):
        catalog_sizes(table, "radius", np.full(6, SCALE))
    bad = Table({"r": [1.0]})
    bad["r"].unit = u.Jy
    with pytest.raises(GalgenValueError, match="not a radius in arcsec"):
        catalog_sizes(bad, "r", np.array([SCALE]))


@pytest.fixture
def field(tmp_path):
    """A 600 x 600 image with a small and a large exponential galaxy, and their Tractor-like
    catalog (``shape_r`` in arcsec)."""
    import galsim

    img = galsim.ImageD(600, 600, scale=SCALE)
    rng = np.random.default_rng(3)
    for (x, y), hlr, flux in [((150, 150), 0.6, 3e3), ((400, 380), 5.0, 4e4)]:
        disk = galsim.Exponential(half_light_radius=hlr, flux=flux)
        gal = galsim.Convolve(disk, galsim.Moffat(3.5, fwhm=1.1))
        gal.drawImage(img, center=galsim.PositionD(x + 1, y + 1), add_to_image=True)
    wcs = simple_tan_wcs((600, 600), SCALE)
    write_fits(tmp_path / "brick.fits", img.array + rng.normal(0, 1.0, (600, 600)), wcs=wcs)
    sky = wcs.pixel_to_world([150.0, 400.0], [150.0, 380.0])
    Table({"id": ["small", "large"], "ra": sky.ra.deg, "dec": sky.dec.deg,
           "shape_r": [0.6, 5.0]}).write(tmp_path / "tractor.ecsv")
    return tmp_path


def test_catalog_runs_cut_each_galaxy_to_its_size(field):
    options = BatchOptions(psf_fwhm=1.1 * u.arcsec, method="bicubic", background=0.0)
    table = run_catalog(field / "tractor.ecsv", [field / "brick.fits"], options, field / "stacks", size=48,
                        size_column="shape_r", progress=False)
    stamps = {row["key"]: read_stamps(row["output"], int(row["index"])) for row in table}
    assert stamps["cutout_small"].shape == (96, 96)  # 48 input pixels at x2: 10 x 2.3 px is less
    assert stamps["cutout_large"].shape == (384, 384)  # 10 x 19.1 px = 191 -> 192 input pixels
    assert len(set(table["output"])) == 2  # one side per stack
    # the large galaxy's light is in its stamp: 99 % of the flux a 300-pixel cut holds (a 48-pixel
    # stamp holds 40 %)
    truth = read_image(field / "brick.fits").data[380 - 150:380 + 150, 400 - 150:400 + 150].sum()
    assert np.nansum(stamps["cutout_large"].data) == pytest.approx(truth, rel=0.02)
    files = run_batch(catalog_items(field / "tractor.ecsv", [field / "brick.fits"], size=48,
                                    size_column="shape_r"), options, field / "files", progress=False)
    assert read_image(field / "files" / "cutout_large.fits").shape == (384, 384)
    # a rerun with other sides into the same directory redoes the stacks, not keeps them
    again = run_catalog(field / "tractor.ecsv", [field / "brick.fits"], options, field / "stacks", size=48,
                        progress=False)
    assert read_stamps(again[again["key"] == "cutout_large"][0]["output"], 0).shape == (96, 96)
    assert list(files["status"]) == ["ok", "ok"]
    small = (field / "files" / "cutout_small.fits").stat().st_mtime_ns
    items = catalog_items(field / "tractor.ecsv", [field / "brick.fits"], size=48)
    run_batch(items, options, field / "files", progress=False)  # per-stamp files too
    assert read_image(field / "files" / "cutout_large.fits").shape == (96, 96)  # redone at 48 pixels
    assert (field / "files" / "cutout_small.fits").stat().st_mtime_ns == small  # the same side: kept


def test_size_column_on_the_command_line(field, capsys):
    out = field / "cli"
    assert main(["batch", str(field / "brick.fits"), "--catalog", str(field / "tractor.ecsv"), "-o", str(out),
                 "--psf-fwhm", "1.1arcsec", "--method", "bicubic", "--background", "0", "--size-column",
                 "shape_r", "--size-factor", "6", "--per-stamp-files"]) == 0
    assert read_image(out / "cutout_large.fits").shape == (256, 256)  # 6 x 19.1 = 115 -> 128 input pixels
    assert main(["batch", str(field / "brick.fits"), "-o", str(field / "x"), "--psf-fwhm", "1.1arcsec",
                 "--size-column", "shape_r"]) != 0
    assert "--size-column reads a column of --catalog" in capsys.readouterr().err


def test_a_large_stamp_s_bright_galaxy_is_restored_again_in_a_catalog_run(field):
    """The large galaxy's 192-pixel stamp is more than twice the training stamp: its part brighter
    than the training range (the PSF-smoothed centre at ~300 sigma) is restored again as at SNR
    200, and the stack's STAMPS table says so in its snr_clamp column; the small galaxy's 48-pixel
    stamp (SNR ~270) is clamped whole, as stamps are."""
    from astropy.io import fits

    options = BatchOptions(psf_fwhm=1.1 * u.arcsec, background=0.0, noise_rms=1.0)
    table = run_catalog(field / "tractor.ecsv", [field / "brick.fits"], options, field / "learned", size=48,
                        size_column="shape_r", progress=False)
    notes = {}
    for output in set(table["output"]):
        with fits.open(output) as hdul:
            notes.update(zip(hdul["STAMPS"].data["key"], hdul["STAMPS"].data["snr_clamp"], strict=True))
    assert "source above the SNR range" in notes["cutout_large"]
    assert notes["cutout_small"].startswith("SNR 2") and "restored as 200" in notes["cutout_small"]
