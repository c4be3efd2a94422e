"""The one restoration engine: every path gives the same result; CLI bugs a new user hit; no
process-wide state left behind by library calls."""

from __future__ import annotations

import os
import stat

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import torch
from astropy.io import fits

import galgen
from galgen.batch import BatchOptions, expand_inputs, run_batch
from galgen.cli import main
from galgen.errors import GalgenModelError, GalgenValueError
from galgen.evaluation import restore_pair
from galgen.io import write_fits
from galgen.restoration import BaselineRestorer, Restorer, get_method
from galgen.restoration.model import LearnedRestorer
from galgen.restoration.networks import RestorerConfig
from galgen.restoration.registry import load_model, save_untrained_model
from galgen.simulate import PairDataset, write_dataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_untrained_model(tmp_path_factory.mktemp("m") / "tiny_x2",
                                RestorerConfig(channels=8, blocks=1), name="tiny_x2")


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory):
    """One simulated observation as FITS (with the header keywords a survey stamp carries)."""
    root = tmp_path_factory.mktemp("pairs")
    write_dataset(root, 1, seed=31, progress=False)
    return root / "observed" / "000000.fits", PairDataset(1, 31).pair(0)


def _provenance(header: fits.Header) -> list[tuple[str, str]]:
    """The header without the time stamps (GALGENDT and the dated HISTORY line)."""
    cards = [(c.keyword, str(c.value)) for c in header.cards if c.keyword != "GALGENDT"]
    return [(k, v) for k, v in cards if not (k == "HISTORY" and " UTC" in v)]


# -- one engine ---------------------------------------------------------------------------

def test_get_method_gives_restorers_and_typed_errors(tiny):
    assert isinstance(get_method("wiener", 2), BaselineRestorer)
    model = get_method(str(tiny), 2)
    assert isinstance(model, Restorer) and isinstance(get_method("bicubic", 2), Restorer)
    assert model.scale == 2 and model.model_hash
    get_method("wiener", 2, device="cpu")  # the device is the engine's business, not the baseline's
    with pytest.raises(GalgenValueError, match="takes no option device"):
        BaselineRestorer("wiener", 2, {"device": "cpu"})
    with pytest.raises(GalgenValueError, match="iterations"):
        get_method("wiener", 2, iterations=3)
    with pytest.raises(GalgenValueError, match="a learned model takes no option iterations"):
        get_method(str(tiny), 2, iterations=3)
    with pytest.raises(GalgenModelError,
                       match=r"no shipped model restores x3.*default_x2 \(x2\).*richardson_lucy"):
        get_method("default", 3)
    with pytest.raises(GalgenModelError, match="x2, not x4"):
        get_method(str(tiny), 4)
    with pytest.raises(GalgenValueError, match="unknown restoration method"):
        get_method("no-such-method", 2)
    with pytest.raises(GalgenValueError, match="need a learned model"):
        galgen.restore(np.ones((32, 32)), 2.0, pixel_scale=0.2, noise_rms=1.0, method="bicubic", samples=4)


@pytest.mark.parametrize("method", ["tiny", "richardson_lucy"])
def test_restore_batch_and_evaluate_give_identical_pixels_and_provenance(method, tiny, pair_file, tmp_path):
    path, pair = pair_file
    method = str(tiny) if method == "tiny" else method
    fwhm = pair.psf_fwhm * u.arcsec
    common = {"noise_rms": pair.noise_rms, "background": 0.0}
    # 1. galgen.restore
    direct = galgen.restore(path, fwhm, method=method, **common)
    # 2. galgen batch (one stamp per pass: oneDNN's float32 sums depend on the batch size)
    options = BatchOptions(psf_fwhm=fwhm, method=method, batch_size=1, **common)
    table = run_batch(expand_inputs([path]), options, tmp_path / "batch", progress=False)
    assert list(table["status"]) == ["ok"]
    with fits.open(table["output"][0]) as hdul:
        batched, batch_header = hdul[0].data, hdul[0].header
    np.testing.assert_array_equal(batched, np.asarray(direct.data, np.float32))
    written = tmp_path / "direct.fits"
    galgen.write_restored(direct, written)
    assert _provenance(fits.getheader(written)) == _provenance(batch_header)
    # 3. galgen evaluate's path (the benchmark's restore_pair): the true PSF image of the pair
    evaluated = restore_pair(get_method(method, 2), pair)
    same = galgen.restore(pair.observation, fwhm, psf=pair.psf, pixel_scale=0.2, method=method, **common)
    np.testing.assert_array_equal(evaluated.data, same.data)
    assert _provenance(fits.Header(evaluated.meta)) == _provenance(fits.Header(same.meta))


# -- what a new user hit -----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["default", "richardson_lucy", "wiener", "bicubic"])
@pytest.mark.parametrize("fwhm", ["1arcsec", "5pix", "1.0"])
def test_restore_cli_any_method_any_unit(method, fwhm, pair_file, tmp_path, capsys):
    path, _ = pair_file
    out = tmp_path / "r.fits"
    rc = main(["restore", str(path), "-o", str(out), "--psf-fwhm", fwhm, "--method", method,
               "--device", "cpu", "--background", "0"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Traceback" not in captured.err
    header = fits.getheader(out)
    assert header["GALGENPF"] == pytest.approx(1.0, rel=1e-6)  # 5 pix at 0.2"/px = 1 arcsec


def test_batch_cli_accepts_pixels_as_advertised(pair_file, tmp_path, capsys):
    path, _ = pair_file
    assert main(["batch", str(path), "-o", str(tmp_path / "pix"), "--psf-fwhm", "4pix", "--method",
                 "bicubic", "--background", "0"]) == 0
    assert main(["batch", str(path), "-o", str(tmp_path / "arc"), "--psf-fwhm", "0.8arcsec", "--method",
                 "bicubic", "--background", "0"]) == 0
    pix = fits.getheader(tmp_path / "pix" / "000000.fits")
    arc = fits.getheader(tmp_path / "arc" / "000000.fits")
    assert pix["GALGENPF"] == pytest.approx(0.8) and arc["GALGENPF"] == pytest.approx(0.8)
    # and the API agrees with restore(): a plain float is pixels in both
    assert BatchOptions(psf_fwhm=4.0).psf_fwhm == 4 * u.pix


def test_scale_without_model_is_an_error_not_a_silent_baseline(pair_file, tmp_path, capsys):
    path, _ = pair_file
    out = tmp_path / "x3.fits"
    assert main(["restore", str(path), "-o", str(out), "--psf-fwhm", "1arcsec", "--scale", "3"]) == 2
    err = capsys.readouterr().err
    assert "no shipped model restores x3" in err and "--method" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    with pytest.raises(GalgenModelError):
        galgen.restore(path, 1.0 * u.arcsec, scale=3)


def test_outputs_get_the_mode_open_would_give(pair_file, tmp_path, tiny):
    path, _ = pair_file
    old = os.umask(0o022)
    try:
        run_batch(expand_inputs([path]), BatchOptions(psf_fwhm=1 * u.arcsec, method="bicubic"),
                  tmp_path / "b", progress=False)
        write_fits(tmp_path / "w.fits", np.zeros((4, 4)))
        save_untrained_model(tmp_path / "m", RestorerConfig(channels=4, blocks=1))
        from galgen.plotting import comparison_panel

        comparison_panel({"a": np.ones((8, 8))}, tmp_path / "p.png", noise_rms=1.0)
        paths = [tmp_path / "b" / "000000.fits", tmp_path / "b" / "manifest.ecsv", tmp_path / "w.fits",
                 tmp_path / "m" / "model.safetensors", tmp_path / "m" / "config.json", tmp_path / "p.png"]
        for p in paths:
            assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    finally:
        os.umask(old)


def test_output_header_describes_the_output(pair_file, tiny):
    path, pair = pair_file
    before = fits.getheader(path)
    assert {"PSFFWHM", "NOISERMS", "SNR", "FLUX"} <= set(before)  # what a survey stamp carries
    result = galgen.restore(path, pair.psf_fwhm * u.arcsec, method=str(tiny), background=0.0)
    header = fits.Header(result.meta)
    assert header["PSFFWHM"] == pytest.approx(0.2)  # the model's target PSF, not the observing one
    assert header["GALGENPF"] == pytest.approx(pair.psf_fwhm, rel=1e-4)
    assert header["GALGENNS"] > 0 and "GALGENSN" in header
    assert not {"NOISERMS", "SNR", "FLUX"} & set(header)
    assert any(f"input NOISERMS = {before['NOISERMS']}" in str(h) for h in header["HISTORY"])
    # Richardson-Lucy leaves no defined PSF: PSFFWHM is not claimed
    rl = fits.Header(galgen.restore(path, pair.psf_fwhm * u.arcsec, method="richardson_lucy").meta)
    assert "PSFFWHM" not in rl and rl["GALGENPF"] == pytest.approx(pair.psf_fwhm, rel=1e-4)


def test_dry_run_touches_nothing(pair_file, tmp_path, tiny, monkeypatch):
    path, _ = pair_file
    out = tmp_path / "never"
    monkeypatch.setattr(LearnedRestorer, "__init__", lambda *a, **k: pytest.fail("dry run loaded the model"))
    table = run_batch(expand_inputs([path]), BatchOptions(psf_fwhm=1 * u.arcsec, method=str(tiny)), out,
                      dry_run=True, progress=False)
    assert list(table["status"]) == ["todo"] and not out.exists()
    out.mkdir()
    stale = out / ".000000.fits.galgen-tmp.abc.fits"
    stale.write_bytes(b"left by a killed run")
    assert main(["batch", str(path), "-o", str(out), "--psf-fwhm", "1arcsec", "--method", str(tiny),
                 "--dry-run"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [stale.name]


# -- no process-wide state from library calls ---------------------------------------------------

def test_library_calls_leave_process_state_alone(pair_file, tiny, tmp_path):
    from galgen.evaluation import run_benchmark
    from galgen.evaluation.figures import metric_trends

    path, _ = pair_file
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # not the Agg that galgen used to force
    torch.set_num_threads(1)
    try:
        rng_state = torch.get_rng_state()
        galgen.restore(path, 1 * u.arcsec, method=str(tiny), samples=2)
        run_batch(expand_inputs([path]), BatchOptions(psf_fwhm=1 * u.arcsec, method=str(tiny)),
                  tmp_path / "b", progress=False)
        table = run_benchmark(2, methods=(str(tiny), "bicubic"), progress=False)
        metric_trends(table, tmp_path)
        save_untrained_model(tmp_path / "m", RestorerConfig(channels=4, blocks=1))
        assert torch.get_num_threads() == 1
        assert torch.equal(torch.get_rng_state(), rng_state)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)


def test_each_caller_gets_its_own_model(tiny):
    a, b = load_model(str(tiny)), load_model(str(tiny))
    assert a is not b and a.generator is not b.generator
    a.generator.to(torch.float64)
    assert next(b.generator.parameters()).dtype == torch.float32
    x = np.random.default_rng(0).normal(size=(16, 16))
    np.testing.assert_array_equal(load_model(str(tiny)).predict(x, 1.0, 1.0, 0.2),
                                  b.predict(x, 1.0, 1.0, 0.2))


def test_a_restoration_that_does_not_explain_its_data_is_flagged(pair_file, tmp_path, capsys):
    path, pair = pair_file
    good = galgen.restore(path, pair.psf_fwhm * u.arcsec, method="richardson_lucy", background=0.0)
    assert good.meta["GALGENFL"] == "OK" and good.meta["GALGENX2"] < 1.5
    # a PSF twice too wide: RL sharpens too much, and re-blurred the result no longer fits
    wrong = galgen.restore(path, 2 * pair.psf_fwhm * u.arcsec, method="richardson_lucy", background=0.0)
    assert wrong.meta["GALGENFL"] == "CHI2HIGH,STRUCT" and wrong.meta["GALGENX2"] > 1.5
    # blurred back through the wrong (too wide) PSF, RL's output is blurrier than the data: z > 0
    assert wrong.meta["GALGENRZ"] > 8.0 > abs(good.meta["GALGENRZ"])
    assert wrong.meta["GALGENRF"] > 0.3  # and large: over 30 % of the fine structure
    table = run_batch(expand_inputs([path]), BatchOptions(psf_fwhm=2 * pair.psf_fwhm * u.arcsec,
                                                          method="richardson_lucy", background=0.0),
                      tmp_path / "b", progress=False)
    assert list(table["flag"]) == ["CHI2HIGH,STRUCT"]
    assert main(["restore", str(path), "-o", str(tmp_path / "w.fits"), "--psf-fwhm",
                 f"{2 * pair.psf_fwhm}arcsec", "--method", "richardson_lucy", "--background", "0"]) == 0
    assert "flag CHI2HIGH" in capsys.readouterr().err
