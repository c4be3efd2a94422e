"""Catalog runs (issue #18): one memory-mapped read per image, stacked chunk outputs with a WCS per
stamp, resume, fault isolation, Dask over chunks, the same pixels as galgen.restore."""

from __future__ import annotations

import os
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import galgen
from galgen.batch import BatchOptions, open_mosaic, run_catalog
from galgen.batch.catalog import plan_catalog
from galgen.batch.mosaic import cut_stamp, stamp_origin
from galgen.cli import main
from galgen.io import read_stamps, simple_tan_wcs, write_fits
from galgen.restoration.networks import RestorerConfig
from galgen.restoration.registry import save_untrained_model
from galgen.simulate import PairDataset

SIZE = 40


def _cat(root):
    return root / "cat.ecsv"


def _mosaic(root):
    return root / "mosaic.fits"


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    """A 400 x 300 mosaic of simulated galaxies with a TAN WCS (rotated 30 deg), and a catalog of
    30 positions at random sub-pixel offsets, one near an edge, one off the image."""
    root = tmp_path_factory.mktemp("field")
    rng = np.random.default_rng(5)
    big = rng.normal(0.0, 0.02, (300, 400))
    ds = PairDataset(6, seed=91)
    for k in range(6):
        obs = ds.pair(k).observation[:SIZE, :SIZE]
        j, i = divmod(k, 3)
        big[40 + 120 * j:40 + 120 * j + SIZE, 40 + 120 * i:40 + 120 * i + SIZE] += obs
    wcs = simple_tan_wcs(big.shape, 0.2)
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    wcs.wcs.cd = (0.2 / 3600) * np.array([[-c, s], [s, c]])
    write_fits(root / "mosaic.fits", big, wcs=wcs)
    x = np.concatenate([rng.uniform(30, 370, 28), [395.0, 900.0]])
    y = np.concatenate([rng.uniform(30, 270, 28), [150.0, 100.0]])
    sky = wcs.pixel_to_world(x, y)
    ids = [f"s{k:02d}" for k in range(28)] + ["edge", "off"]
    Table({"id": ids, "ra": sky.ra.deg, "dec": sky.dec.deg}).write(root / "cat.ecsv")
    save_untrained_model(root / "model", RestorerConfig(channels=8, blocks=1), name="tiny")
    return root


def _opts(root, **kw) -> BatchOptions:
    return BatchOptions(psf_fwhm=0.8 * u.arcsec, method=str(root / "model"), background=0.0, batch_size=8,
                        **kw)


def test_stamp_origin_centres_within_half_a_pixel():
    x = np.random.default_rng(0).uniform(-5, 500, 10_000)
    for size in (40, 41, 64):
        x0, _ = stamp_origin(x, x, size)
        assert np.all(np.abs(x - (x0 + (size - 1) / 2)) <= 0.5 + 1e-12)


def test_cut_stamp_is_the_slice_with_a_shifted_wcs(field):
    mosaic = open_mosaic(field / "mosaic.fits")
    try:
        img = cut_stamp(mosaic, 123.3, 77.8, SIZE)
        x0, y0 = (int(v[0]) for v in stamp_origin([123.3], [77.8], SIZE))
        np.testing.assert_array_equal(img.data, np.asarray(mosaic.data[y0:y0 + SIZE, x0:x0 + SIZE]))
        # the same sky: stamp pixel (i, j) is mosaic pixel (x0 + i, y0 + j)
        sky = img.wcs.pixel_to_world(5.0, 7.0)
        np.testing.assert_allclose(mosaic.wcs.world_to_pixel(sky), (x0 + 5.0, y0 + 7.0), atol=1e-8)
        edge = cut_stamp(mosaic, 395.0, 150.0, SIZE)  # columns 376-415: 16 off the right edge
        assert edge.mask[:, -16:].all() and not edge.mask[:, :-16].any()
        assert np.isnan(edge.data[:, -16:]).all()
        with pytest.raises(galgen.errors.GalgenValueError, match="too close to the edge"):
            cut_stamp(mosaic, 415.0, 150.0, SIZE)
    finally:
        mosaic.close()


def test_catalog_run_writes_stacks_whose_wcs_hold_each_galaxy(field, tmp_path):
    table = run_catalog(_cat(field), [_mosaic(field)], _opts(field), tmp_path / "out", size=SIZE,
                        chunk_size=8, progress=False)
    assert len(table) == 30 and "index" in table.colnames
    status = dict(zip(table["key"], table["status"], strict=True))
    assert status.pop("cutout_off") == "failed" and all(v == "ok" for v in status.values())
    off = table[table["key"] == "cutout_off"][0]
    assert "none of the images" in off["error"] and off["output"] == "" and off["index"] == -1
    files = sorted(p.name for p in (tmp_path / "out").glob("stamps_*.fits"))
    assert files == [f"stamps_{k:05d}.fits" for k in range(4)]  # 29 stamps on the image, 8 a file
    with fits.open(tmp_path / "out" / files[0]) as hdul:
        assert [h.name for h in hdul][:2] == ["PRIMARY", "RESTORED"] and "STAMPS" in hdul
        assert hdul["RESTORED"].data.shape == (8, 2 * SIZE, 2 * SIZE)
        assert "CTYPE1" not in hdul["RESTORED"].header  # each plane has its own WCS, in the table
        cols = hdul["STAMPS"].columns.names
        for name in ("key", "id", "ra", "dec", "CRVAL1", "CRPIX2", "CD1_2", "CTYPE1", "CUNIT2", "GALGENX2",
                     "snr_clamp", "residual_light", "GALGENLA"):
            assert name in cols
    # a stamp's clamp is its own (a column), never one stamp's HISTORY line for all the file
    clamped = []
    for name in files:
        with fits.open(tmp_path / "out" / name) as hdul:
            clamped += [c for c in hdul["STAMPS"].data["snr_clamp"] if c.strip()]
            assert not any("snr_clamp" in str(h) for h in hdul["RESTORED"].header.get("HISTORY", []))
    assert clamped and all("restored as 200" in c for c in clamped)  # the field's bright stamps
    cat = Table.read(field / "cat.ecsv")
    positions = {f"cutout_{i}": (ra, dec) for i, ra, dec in cat.iterrows("id", "ra", "dec")}
    checked = 0
    for row in table[table["status"] == "ok"]:
        stamp = read_stamps(row["output"], int(row["index"]))
        assert stamp.meta["STAMPKEY"] == row["key"] and stamp.shape == (2 * SIZE, 2 * SIZE)
        from astropy.coordinates import SkyCoord

        px, py = stamp.wcs.world_to_pixel(SkyCoord(*positions[row["key"]], unit="deg"))
        centre = (2 * SIZE - 1) / 2
        # half an input pixel = one output pixel at x2
        assert abs(px - centre) <= 1.0 + 1e-6 and abs(py - centre) <= 1.0 + 1e-6, row["key"]
        checked += 1
    assert checked == 29


def test_catalog_pixels_equal_restore_of_the_same_cutouts(field, tmp_path):
    table = run_catalog(_cat(field), [_mosaic(field)], _opts(field), tmp_path / "out", size=SIZE,
                        chunk_size=5, progress=False)
    chunks, _ = plan_catalog(field / "cat.ecsv", [field / "mosaic.fits"], size=SIZE, chunk_size=5)
    rows = [r for c in chunks for r in c.rows][:6]
    mosaic = open_mosaic(field / "mosaic.fits")
    try:
        stamps = [cut_stamp(mosaic, r[4], r[5], SIZE) for r in rows]
        arrays = [s.data for s in stamps]
    finally:
        mosaic.close()
    with warnings.catch_warnings():  # most positions are sky: outside the SNR regime, said in the header
        warnings.simplefilter("ignore", galgen.errors.GalgenRegimeWarning)
        reference = galgen.restore(arrays, psf_fwhm=0.8 * u.arcsec, pixel_scale=0.2,
                                   method=str(field / "model"), background=0.0)
    for r, ref in zip(rows, reference, strict=True):
        row = table[table["key"] == r[0]][0]
        got = read_stamps(row["output"], int(row["index"]))
        np.testing.assert_allclose(got.data, ref.data.astype(np.float32), rtol=1e-6, atol=1e-7)
        assert got.meta["GALGENX2"] == pytest.approx(ref.meta["GALGENX2"], rel=1e-9)
        assert got.meta["GALGENMH"] == ref.meta["GALGENMH"] and got.unit == ref.unit


def test_catalog_resume_redoes_only_missing_chunks(field, tmp_path):
    out = tmp_path / "out"
    run_catalog(_cat(field), [_mosaic(field)], _opts(field), out, size=SIZE, chunk_size=8,
                progress=False)
    stamps = sorted(out.glob("stamps_*.fits"))
    times = {p.name: p.stat().st_mtime_ns for p in stamps}
    stamps[1].unlink()
    table = run_catalog(_cat(field), [_mosaic(field)], _opts(field), out, size=SIZE, chunk_size=8,
                        progress=False)
    assert stamps[1].exists()
    assert {p.name: p.stat().st_mtime_ns for p in stamps if p != stamps[1]} == {
        k: v for k, v in times.items() if k != stamps[1].name}
    assert (table["status"] == "ok").sum() == 29
    dry = run_catalog(_cat(field), [_mosaic(field)], _opts(field), out, size=SIZE, chunk_size=8,
                      dry_run=True)
    assert set(dry["status"]) == {"skip"}


def test_a_bad_stamp_is_a_failed_row_and_the_chunk_goes_on(field, tmp_path):
    rng = np.random.default_rng(2)
    big = rng.normal(0.0, 0.02, (200, 200))
    big[60:140, 60:140] = np.nan  # a hole: a stamp there has no pixel to work on
    wcs = simple_tan_wcs(big.shape, 0.2)
    write_fits(tmp_path / "holey.fits", big, wcs=wcs)
    sky = wcs.pixel_to_world([100.0, 30.0, 170.0], [100.0, 30.0, 170.0])
    Table({"id": ["hole", "a", "b"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "cat.ecsv")
    table = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "holey.fits"], _opts(field), tmp_path / "out",
                        size=SIZE, progress=False)
    status = dict(zip(table["key"], table["status"], strict=True))
    assert status == {"cutout_hole": "failed", "cutout_a": "ok", "cutout_b": "ok"}
    hole = table[table["key"] == "cutout_hole"][0]
    assert hole["error"] and hole["output"].endswith("stamps_00000.fits")
    stamps = read_stamps(hole["output"])
    assert stamps[int(hole["index"])] is None and all(s is not None for k, s in enumerate(stamps)
                                                      if k != int(hole["index"]))
    with fits.open(hole["output"]) as hdul:
        assert np.isnan(hdul["RESTORED"].data[int(hole["index"])]).all()
        assert hdul["STAMPS"].data["error"][int(hole["index"])].strip() == hole["error"][:len(
            hdul["STAMPS"].data["error"][int(hole["index"])].strip())]


def test_catalog_on_a_local_dask_cluster_matches_in_process(field, tmp_path):
    local = run_catalog(_cat(field), [_mosaic(field)], _opts(field), tmp_path / "a", size=SIZE,
                        chunk_size=10, progress=False)
    dask = run_catalog(_cat(field), [_mosaic(field)], _opts(field), tmp_path / "b", size=SIZE,
                       chunk_size=10, local_workers=2, progress=False)
    assert list(local["status"]) == list(dask["status"])
    for name in ("stamps_00000.fits", "stamps_00002.fits"):
        a = fits.getdata(tmp_path / "a" / name, "RESTORED")
        b = fits.getdata(tmp_path / "b" / name, "RESTORED")
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_cli_catalog_stacks_and_per_stamp_files_agree(field, tmp_path, capsys):
    common = [str(field / "mosaic.fits"), "--catalog", str(field / "cat.ecsv"), "--psf-fwhm", "0.8arcsec",
              "--method", str(field / "model"), "--background", "0", "--cutout-size", str(SIZE)]
    assert main(["batch", *common, "-o", str(tmp_path / "stacked"), "--stamps-per-file", "16"]) == 1
    err = capsys.readouterr().err
    assert "FAILED 1 catalog position(s) lie on none of the images (cutout_off): not restored" in err
    assert main(["batch", *common, "-o", str(tmp_path / "files"), "--per-stamp-files"]) == 1
    stacked = Table.read(tmp_path / "stacked" / "manifest.ecsv")
    row = stacked[stacked["key"] == "cutout_s03"][0]
    assert row["noise_factor"] >= 1.0 and np.isnan(stacked[stacked["key"] == "cutout_off"][0]["noise_factor"])
    a = read_stamps(row["output"], int(row["index"]))
    b = fits.getdata(tmp_path / "files" / "cutout_s03.fits")
    np.testing.assert_allclose(a.data, b, rtol=1e-6, atol=1e-7)  # one cutout rule for both layouts
    assert os.path.getsize(row["output"]) > 0


def test_catalogs_are_read_with_their_units_and_bad_ones_named(tmp_path):
    """``ra``/``dec`` come out in degrees whatever their unit (none: degrees; sexagesimal text:
    hours and degrees); a masked position is NaN (that row alone fails, see plan_catalog); a
    missing file, a file with no table and columns that are not angles are typed errors naming
    the file."""
    import astropy.units as u
    from astropy.table import MaskedColumn, Table

    from galgen.batch.inputs import read_catalog
    from galgen.errors import GalgenFileError, GalgenValueError

    Table({"RA": [10.0, 20.0] * u.hourangle, "Dec": [1.0, 2.0], "ID": [5, 6]}).write(tmp_path / "h.ecsv")
    table, cols = read_catalog(tmp_path / "h.ecsv")
    assert cols == {"ra": "RA", "dec": "Dec", "id": "ID"}
    np.testing.assert_allclose(table["RA"], [150.0, 300.0])
    np.testing.assert_allclose(table["Dec"], [1.0, 2.0])
    Table({"ra": MaskedColumn([1.0, 2.0], mask=[False, True]), "dec": [0.0, 0.0]}).write(tmp_path / "m.ecsv")
    masked, _ = read_catalog(tmp_path / "m.ecsv")
    assert np.isfinite(masked["ra"][0]) and np.isnan(masked["ra"][1])
    with pytest.raises(GalgenFileError, match="no such catalog file"):
        read_catalog(tmp_path / "missing.ecsv")
    (tmp_path / "junk.ecsv").write_text("not a table at all\x00")
    with pytest.raises(GalgenFileError, match="not a table astropy can read"):
        read_catalog(tmp_path / "junk.ecsv")
    Table({"ra": ["10:00:00", "10h30m"], "dec": ["+02:00:00", "-00:30:00"]}).write(tmp_path / "s.ecsv")
    sexagesimal, _ = read_catalog(tmp_path / "s.ecsv")  # right ascension in hours, as written
    np.testing.assert_allclose(sexagesimal["ra"], [150.0, 157.5])
    np.testing.assert_allclose(sexagesimal["dec"], [2.0, -0.5])
    Table({"ra": [1.0], "dec": [2.0] * u.s}).write(tmp_path / "t.ecsv")
    with pytest.raises(GalgenValueError, match="'dec' is not an angle"):
        read_catalog(tmp_path / "t.ecsv")


def test_stacks_carry_each_stamp_s_uncertainty_plane_level(tmp_path):
    """A mosaic with a VARIANCE plane: each stamp's GALGENNV is a STAMPS column (not one stamp's
    value in the shared header) and comes back from read_stamps; a stack written without that
    column (older galgen) still reads."""
    import astropy.units as u
    from astropy.io import fits
    from astropy.table import Table

    from galgen.batch import BatchOptions
    from galgen.batch.catalog import run_catalog
    from galgen.io import read_stamps, simple_tan_wcs

    rng = np.random.default_rng(2)
    wcs = simple_tan_wcs((200, 200), 0.2)
    variance = np.full((200, 200), 4.0)
    variance[:, 100:] = 9.0
    fits.HDUList([fits.PrimaryHDU(rng.normal(0, 1, (200, 200)), header=wcs.to_header()),
                  fits.ImageHDU(variance, name="VARIANCE")]).writeto(tmp_path / "m.fits")
    sky = wcs.pixel_to_world([50, 150], [100, 100])
    Table({"ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "c.ecsv")
    options = BatchOptions(psf_fwhm=1.0 * u.arcsec, method="bicubic", background=0.0, check_psf=False)
    run_catalog(tmp_path / "c.ecsv", [tmp_path / "m.fits"], options, tmp_path / "out", size=32,
                progress=False)
    path = next((tmp_path / "out").glob("stamps_*.fits"))
    stamps = read_stamps(path)
    assert [s.meta["GALGENNV"] for s in stamps] == pytest.approx([2.0, 3.0])
    assert "GALGENNV" not in fits.getheader(path, "RESTORED")
    with fits.open(path) as hdul:
        table = Table(hdul["STAMPS"].data)
        table.remove_column("GALGENNV")
        hdul["STAMPS"] = fits.BinTableHDU(table, header=hdul["STAMPS"].header, name="STAMPS")
        hdul.writeto(tmp_path / "old.fits")
    assert all("GALGENNV" not in s.meta for s in read_stamps(tmp_path / "old.fits"))


def test_a_stamp_s_own_history_values_are_not_shared_by_its_file():
    """The shared RESTORED header drops per-stamp HISTORY values (flux scale, SNR, regime
    warning, SNR clamp, light put back): one stamp's clamp once became every stamp's."""
    from galgen.io.stamps import _shared_header

    header = fits.Header()
    header.add_history("galgen restore: method = survey_x2")
    header.add_history("galgen restore: snr_clamp = SNR 1511 restored as 200 (noise x7.55)")
    header.add_history("galgen restore: flux_scale = 1.02")
    header.add_history("galgen restore: residual_light = 5395 added in 1 region (+16.7 % of the output's)")
    text = [str(h) for h in _shared_header(header)["HISTORY"]]
    assert any("method = survey_x2" in t for t in text)
    assert not any("snr_clamp" in t or "flux_scale" in t or "residual_light" in t for t in text)


def test_a_wide_catalog_s_failures_are_counted_not_listed(capsys):
    """A sweep catalog over one brick has millions of positions on no image: one line for them;
    other failures one a line up to 20, then a count."""
    from galgen.cli.restore import FAILURES_SHOWN, report_failures

    rows = [{"key": f"cutout_{k}", "input": "", "error": f"ra=1 dec=2 (id {k}) lies on none of the images"}
            for k in range(1000)]
    rows += [{"key": f"cutout_bad{k}", "input": "", "error": "the stamp is all NaN"} for k in range(25)]
    report_failures(Table(rows=rows), stacked=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("FAILED 1000 catalog position(s) lie on none of the images (cutout_0, cutout_1, "
                      "cutout_2, ...): not restored")
    assert len(err) == 1 + FAILURES_SHOWN + 1 and err[1] == "FAILED cutout_bad0: the stamp is all NaN"
    assert err[-1] == "... and 5 more failed (the manifest's error column says why)"
