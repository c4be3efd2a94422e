"""Batch restoration: Dask LocalCluster, resume after SIGKILL, fault isolation, catalogs."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galgen.batch import JOURNAL, BatchOptions, catalog_items, expand_inputs, read_journal, run_batch
from galgen.cli import main
from galgen.io import simple_tan_wcs, write_fits
from galgen.preprocess import estimate_background
from galgen.restoration.networks import RestorerConfig
from galgen.restoration.registry import save_untrained_model
from galgen.simulate import PairDataset


@pytest.fixture(scope="module")
def stamps(tmp_path_factory):
    root = tmp_path_factory.mktemp("stamps")
    ds = PairDataset(20, seed=77)
    for i in range(20):
        p = ds.pair(i)
        write_fits(_folder(root / "in") / f"g{i:02d}.fits", p.observation,
                   wcs=simple_tan_wcs(p.observation.shape, 0.2))
    save_untrained_model(root / "model", RestorerConfig(channels=8, blocks=1), name="tiny")
    return root


def _folder(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _opts(root: Path, **kw) -> BatchOptions:
    return BatchOptions(psf_fwhm=1.0 * u.arcsec, method=str(root / "model"), background=0.0, batch_size=4,
                        **kw)


def test_local_cluster_matches_in_process(stamps, tmp_path):
    items = expand_inputs([stamps / "in"])
    assert len(items) == 20
    local = run_batch(items, _opts(stamps), tmp_path / "a", progress=False)
    dask = run_batch(items, _opts(stamps), tmp_path / "b", local_workers=2, chunk_size=5,
                     progress=False)
    assert np.all(local["status"] == "ok") and np.all(dask["status"] == "ok")
    for it in items:
        a = fits.getdata(tmp_path / "a" / f"{it.key}.fits")
        b = fits.getdata(tmp_path / "b" / f"{it.key}.fits")
        # same numbers up to float32 rounding: the workers batch the stamps differently
        # (5 per task vs 4 per pass), and oneDNN's convolutions depend on the batch size
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(a).max())
    manifest = Table.read(tmp_path / "b" / "manifest.ecsv")
    assert len(manifest) == 20 and np.all(np.isfinite(manifest["chi2"]))
    # white noise reads white; the column is each output's GALGENNF
    assert np.all(manifest["noise_factor"] == 1.0)
    again = run_batch(items, _opts(stamps), tmp_path / "a", progress=False, dry_run=True)
    assert set(again["status"]) == {"skip"}


def test_reader_threads_leave_the_warning_filters_as_they_were(tmp_path):
    """With reader and writer threads, the libraries' own ``warnings.catch_warnings`` (photutils'
    Background2D on a field, astropy) ran in several threads at once and could put back each
    other's filter lists: before the fix, 2 of 2 runs of 24 such fields left ``ignore`` filters
    (``Warning``, ``RuntimeWarning``, ``AstropyUserWarning``) in the caller's process."""
    import warnings

    import torch  # noqa: F401 - its import adds filters of its own; not this test's subject

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:256, :256]
    (tmp_path / "in").mkdir()
    for k in range(24):  # fields of 8 boxes a side: Background2D, not the stamps' clipped statistics
        image = rng.normal(0, 1, (256, 256)) + 50 * np.exp(-((xx - 128) ** 2 + (yy - 128) ** 2) / 50)
        if k % 3 == 0:
            image[100:110, 100:110] = np.nan
        write_fits(tmp_path / "in" / f"f{k}.fits", image, wcs=simple_tan_wcs(image.shape, 0.2))
    items = expand_inputs([tmp_path / "in"])
    before = list(warnings.filters)
    for run in range(2):
        opts = BatchOptions(psf_fwhm=1.0 * u.arcsec, method="bicubic", batch_size=2, read_workers=2)
        table = run_batch(items, opts, tmp_path / f"out{run}", progress=False)
        assert np.all(table["status"] == "ok"), list(table["error"][table["status"] != "ok"])
        assert list(warnings.filters) == before


@pytest.mark.parametrize("readers", [0, 2])
def test_reading_threads_or_not_same_outputs_bounded_memory(stamps, tmp_path, monkeypatch, readers):
    import threading

    from galgen.batch import runner

    held, peak, lock = [0], [0], threading.Lock()
    load, finish = runner._load, runner._finish

    def counted_load(*args):  # noqa: ANN002, ANN202
        with lock:
            held[0] += 1
            peak[0] = max(peak[0], held[0])
        return load(*args)

    def counted_finish(*args):  # noqa: ANN002, ANN202
        try:
            return finish(*args)
        finally:
            with lock:
                held[0] -= 1

    monkeypatch.setattr(runner, "_load", counted_load)
    monkeypatch.setattr(runner, "_finish", counted_finish)
    items = expand_inputs([stamps / "in"])
    opts = BatchOptions(psf_fwhm=1.0 * u.arcsec, method=str(stamps / "model"), background=0.0, batch_size=1,
                        read_workers=readers)
    table = run_batch(items, opts, tmp_path / "out", progress=False)
    assert np.all(table["status"] == "ok") and held[0] == 0
    # process_items' bound (20 items, one stamp a pass): inline, the pass itself; with reader
    # threads, 2 passes + the readers' items read ahead, as many in the write queue, the pass
    ahead = 2 * 1 + readers
    assert peak[0] <= 2 * ahead + 1 if readers else peak[0] == 1
    reference = run_batch(items, dataclasses.replace(opts, read_workers=1), tmp_path / "ref",
                          progress=False)
    assert np.all(reference["status"] == "ok")
    for it in items:
        np.testing.assert_array_equal(fits.getdata(tmp_path / "out" / f"{it.key}.fits"),
                                      fits.getdata(tmp_path / "ref" / f"{it.key}.fits"))


def test_local_cluster_workers_keep_the_default_allocator_and_quiet_housekeeping():
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 halves the workers' throughput, and its default
    housekeeping takes 5 % of a 2-core machine (docs/benchmarks.md)."""
    import dask
    from dask.distributed import Client

    from galgen.batch import QUIET_DASK, local_cluster

    cluster = local_cluster(1)
    try:
        with Client(cluster) as client:
            env = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                                      os.environ.get("OMP_NUM_THREADS")))
            settings = client.run(lambda: {key: dask.config.get(key) for key in QUIET_DASK})
    finally:
        cluster.close()
    assert list(env.values()) == [(None, "1")]  # Dask's one-thread-per-worker setting is kept
    assert list(settings.values()) == [QUIET_DASK]
    assert dask.config.get("distributed.admin.tick.interval") == "20ms"  # this process: untouched


def test_bad_files_are_reported_and_the_rest_written(stamps, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sorted((stamps / "in").glob("*.fits"))[:17]:
        (mixed / p.name).write_bytes(p.read_bytes())
    (mixed / "corrupt.fits").write_bytes(b"SIMPLE  =  garbage" * 10)
    write_fits(mixed / "allnan.fits", np.full((64, 64), np.nan), wcs=simple_tan_wcs((64, 64), 0.2))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column("a", "E", array=[1.0])])]).writeto(mixed / "table.fits")
    rc = main(["batch", str(mixed), "-o", str(tmp_path / "out"), "--psf-fwhm", "1.0arcsec",
               "--method", str(stamps / "model"), "--background", "0"])
    assert rc == 3
    table = Table.read(tmp_path / "out" / "manifest.ecsv")
    failed = table[table["status"] == "failed"]
    assert sorted(Path(k).name for k in failed["input"]) == ["allnan.fits", "corrupt.fits", "table.fits"]
    assert "every pixel is NaN" in " ".join(failed["error"])
    assert len(list((tmp_path / "out").glob("g*.fits"))) == 17
    # the restoration options are shared with "galgen restore": --noise-rms reaches every item
    noise = 1.1 * estimate_background(fits.getdata(mixed / "g00.fits")).median_rms  # within the regime
    assert main(["batch", str(mixed / "g00.fits"), "-o", str(tmp_path / "noise"), "--psf-fwhm", "1.0",
                 "--method", str(stamps / "model"), "--background", "0", "--noise-rms", repr(noise)]) == 0
    assert fits.getheader(tmp_path / "noise" / "g00.fits")["GALGENNS"] == pytest.approx(noise, rel=1e-6)
    assert not Table.read(tmp_path / "noise" / "manifest.ecsv")["warning"][0]  # empty (masked in ECSV)
    # out of the regime (noise said 20x too high: SNR under 10, trained on 20-200): recorded per
    # item, not raised as a warning (a SNR above the range is not out of it: restored as at 200)
    capsys.readouterr()
    assert main(["batch", str(mixed / "g00.fits"), "-o", str(tmp_path / "odd"), "--psf-fwhm", "1.0",
                 "--method", str(stamps / "model"), "--background", "0",
                 "--noise-rms", repr(noise * 20)]) == 0
    row = Table.read(tmp_path / "odd" / "manifest.ecsv")[0]
    assert row["status"] == "ok" and "outside its training regime: SNR" in row["warning"]
    assert "1 input(s) lie outside the model's training regime" in capsys.readouterr().err


def test_console_batch_on_a_local_cluster_reports_plainly(stamps, tmp_path):
    """``galgen batch --workers 1`` as typed at a shell: the progress bar and one line per failed
    file (naming it once), not the Dask scheduler's INFO housekeeping (~30 lines before)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "g00.fits").write_bytes((stamps / "in" / "g00.fits").read_bytes())
    (folder / "corrupt.fits").write_bytes(b"SIMPLE  =  garbage" * 10)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    r = subprocess.run([sys.executable, "-m", "galgen.cli", "batch", str(folder), "-o", str(tmp_path / "out"),
                        "--psf-fwhm", "1.0arcsec", "--method", str(stamps / "model"), "--background", "0",
                        "--workers", "1"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 1, r.stderr  # the number of failed files
    assert "INFO" not in r.stderr and "distributed" not in r.stderr, r.stderr
    failed = [line for line in r.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].count("corrupt.fits") == 1 and "not a readable FITS" in failed[0]
    assert (tmp_path / "out" / "g00.fits").exists()


def test_resume_after_sigkill(stamps, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "galgen.cli", "batch", str(stamps / "in"), "-o", str(out),
           "--psf-fwhm", "1.0arcsec", "--method", str(stamps / "model"), "--background", "0",
           "--samples", "24", "--batch-size", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / JOURNAL
    deadline = time.time() + 120
    while time.time() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(read_journal(out))
    assert 2 <= n_before < 20, "the run must be killed mid-way for this test to mean anything"
    assert subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    rows = read_journal(out)
    assert len(rows) == 20 and all(r["status"] == "ok" for r in rows.values())
    outputs = sorted(out.glob("*.fits"))
    assert len(outputs) == 20
    assert not list(out.glob(".*.tmp"))
    for path in outputs:  # every output complete and readable
        with fits.open(path) as hdul:
            assert hdul[0].data.shape == (128, 128) and "UNCERT" in hdul


def test_catalog_cutouts(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.normal(0, 1, (300, 300))
    wcs = simple_tan_wcs(big.shape, 0.2)
    write_fits(tmp_path / "mosaic.fits", big, wcs=wcs)
    sky = wcs.pixel_to_world([100, 290, 150], [100, 150, 150])
    Table({"id": ["a", "edge", "c"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(
        tmp_path / "cat.ecsv")
    items = catalog_items(tmp_path / "cat.ecsv", [tmp_path / "mosaic.fits"], size=48)
    table = run_batch(items, BatchOptions(psf_fwhm=1.0 * u.arcsec, method="bicubic", background=0.0),
                      tmp_path / "out", progress=False)
    status = dict(zip(table["key"], table["status"], strict=True))
    assert status == {"cutout_a": "ok", "cutout_edge": "ok", "cutout_c": "ok"}
    edge = fits.open(tmp_path / "out" / "cutout_edge.fits")
    assert np.isnan(edge[0].data).any() and "MASK" in edge  # padded beyond the edge, flagged


def test_a_shared_psf_file_is_described_once_per_run(stamps, tmp_path, caplog):
    """A PSF file without a pixel scale, given for every item, is said to be "assumed equal to
    the image's" once per run (each output's HISTORY still records it), not once per item."""
    from galgen.psf import moffat_psf

    psf = tmp_path / "psf.fits"
    fits.writeto(psf, moffat_psf(5.0, 25).astype(np.float32))
    items = expand_inputs([str(p) for p in sorted((stamps / "in").glob("*.fits"))[:5]])
    options = BatchOptions(psf=str(psf), method=str(stamps / "model"), background=0.0, batch_size=4)
    with caplog.at_level("WARNING", logger="galgen.psf.files"):
        table = run_batch(items, options, tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok"] * 5
    assert sum("assumed equal" in r.getMessage() for r in caplog.records) == 1
    history = str(fits.getheader(tmp_path / "out" / "g00.fits")["HISTORY"])
    assert "assumed equal" in history.replace("\n", "")
    assert not logging_filters_left()


def logging_filters_left() -> list:
    import logging

    return logging.getLogger("galgen.psf.files").filters


def test_a_note_about_every_item_comes_three_times_then_a_line(stamps, tmp_path, caplog):
    """Six files whose VARIANCE plane says 2x their sky's noise: the note comes for three of them,
    then one line says more are not shown; every output still records GALGENNV."""
    folder = _folder(tmp_path / "var")
    for p in sorted((stamps / "in").glob("*.fits"))[:6]:
        with fits.open(p) as hdul:
            data, header = hdul[0].data, hdul[0].header
            noise = estimate_background(data).median_rms
            plane = fits.ImageHDU(np.full(data.shape, 4 * noise**2), name="VARIANCE")
            fits.HDUList([fits.PrimaryHDU(data, header), plane]).writeto(folder / p.name)
    with caplog.at_level("WARNING", logger="galgen.restoration.engine"):
        table = run_batch(expand_inputs([str(folder)]), _opts(stamps), tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok"] * 6
    messages = [r.getMessage() for r in caplog.records if r.name == "galgen.restoration.engine"]
    assert sum("uncertainty plane says" in m for m in messages) == 3
    assert sum("more messages like the 3 above" in m for m in messages) == 1
    assert all("GALGENNV" in fits.getheader(p) for p in (tmp_path / "out").glob("*.fits"))
    np.testing.assert_allclose(table["noise_plane"] / table["noise_rms"], 2.0, rtol=0.1)  # manifest too


def test_an_output_directory_that_is_a_file_is_a_typed_error(stamps, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    assert main(["batch", str(stamps / "in"), "-o", str(tmp_path / "taken"), "--psf-fwhm", "1.0arcsec",
                 "--method", str(stamps / "model"), "--background", "0"]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert (tmp_path / "taken").read_text() == "a file"


def test_batch_reports_the_stamps_whose_automatic_sky_took_galaxy_light(tmp_path, capsys, rng):
    """A galaxy filling its stamp is flagged SKY in the manifest and the summary names the fix;
    a compact one, or a sky given, is not."""
    import galsim

    folder = tmp_path / "in"
    folder.mkdir()
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    for name, hlr in (("big", 64 * 0.2 / 6), ("small", 0.4)):
        galaxy = galsim.Convolve(galsim.Exponential(half_light_radius=hlr), psf)
        image = galaxy.drawImage(nx=64, ny=64, scale=0.2)
        data = image.array * 100 / np.sqrt((image.array**2).sum()) + rng.normal(0, 1, (64, 64))
        write_fits(folder / f"{name}.fits", data, wcs=simple_tan_wcs((64, 64), 0.2))
    assert main(["batch", str(folder), "-o", str(tmp_path / "auto"), "--psf-fwhm", "1.0arcsec",
                 "--method", "bicubic"]) == 0
    table = Table.read(tmp_path / "auto" / "manifest.ecsv")
    flags = {Path(row["input"]).stem: row["flag"].split(",") for row in table}
    assert "SKY" in flags["big"] and "SKY" not in flags["small"]
    assert "1 output(s) come from stamps whose automatic sky took part" in capsys.readouterr().err
    assert main(["batch", str(folder), "-o", str(tmp_path / "zero"), "--psf-fwhm", "1.0arcsec",
                 "--method", "bicubic", "--background", "0"]) == 0
    err = capsys.readouterr().err
    assert "automatic sky" not in err and "not sky-subtracted" not in err
    # a sky given that one image does not have (+3 sigma left in it): that one is flagged, the others not
    write_fits(folder / "unsubtracted.fits", fits.getdata(folder / "small.fits") + 3.0,
               wcs=simple_tan_wcs((64, 64), 0.2))
    assert main(["batch", str(folder), "-o", str(tmp_path / "zero3"), "--psf-fwhm", "1.0arcsec",
                 "--method", "bicubic", "--background", "0"]) == 0
    table = Table.read(tmp_path / "zero3" / "manifest.ecsv")
    flags = {Path(row["input"]).stem: row["flag"].split(",") for row in table}
    assert "SKY" in flags["unsubtracted"] and "SKY" not in flags["small"] + flags["big"]
    assert "1 output(s) come from images that are not sky-subtracted as --background 0 says" in \
        capsys.readouterr().err


def test_compressed_and_fit_inputs_are_keyed_by_their_stem(tmp_path):
    """SDSS hands out frames as ``frame-r-...fits.bz2`` and older products as ``.fit``: their
    outputs are ``frame-r-....fits`` (not ``.fits.bz2.fits``), from a glob with an HDU too; two
    inputs that differ only by suffix are refused before anything runs."""
    import bz2

    from galgen.errors import GalgenValueError
    from galgen.io import write_fits
    from galgen.io.wcs import simple_tan_wcs

    data = np.random.default_rng(0).normal(0, 1, (32, 32))
    write_fits(tmp_path / "plain.fits", data, wcs=simple_tan_wcs(data.shape, 0.396))
    raw = (tmp_path / "plain.fits").read_bytes()
    (tmp_path / "frame-r-003918-3-0213.fits.bz2").write_bytes(bz2.compress(raw))
    (tmp_path / "fpC-003918-r3-0213.fit").write_bytes(raw)
    (tmp_path / "plain.fits").unlink()
    keys = sorted(item.key for item in expand_inputs([str(tmp_path / "*.fit*")]))
    assert keys == ["fpC-003918-r3-0213", "frame-r-003918-3-0213"]
    assert [i.key for i in expand_inputs([str(tmp_path / "*.fits.bz2[0]")])] == ["frame-r-003918-3-0213_0"]
    (tmp_path / "fpC-003918-r3-0213.fits").write_bytes(raw)
    with pytest.raises(GalgenValueError, match="both would be written as fpC-003918-r3-0213.fits"):
        expand_inputs([str(tmp_path / "*.fit*")])
