"""The ``galgen`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from astropy.table import Table

from galgen import __version__
from galgen.cli import main, parse_angle
from galgen.demo import sample_paths


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "restore" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "galgen.cli", "--help"], capture_output=True,
                         text=True, check=True)
    assert "deconvolution" in out.stdout


def test_a_reader_that_closes_the_pipe_gets_no_traceback():
    """``galgen models default_x2 | head -1`` when the reader has gone before the command writes:
    the command stops quietly (exit 141, as for SIGPIPE) instead of a BrokenPipeError traceback
    (or Python's "Exception ignored ... BrokenPipeError" at exit)."""
    proc = subprocess.Popen([sys.executable, "-m", "galgen.cli", "models", "default_x2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away while the command is still starting up
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()[-500:]
    assert proc.returncode == 141


def test_parse_angle():
    assert parse_angle("1.0arcsec").to_value("arcsec") == 1.0
    assert parse_angle("0.5").to_value("arcsec") == 0.5
    assert str(parse_angle("3pix").unit) == "pix"


def test_demo_writes_outputs(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"restored.fits", "comparison.png", "metrics.ecsv"} <= names
    table = Table.read(tmp_path / "metrics.ecsv")
    assert {"richardson_lucy", "wiener", "bicubic"} <= set(table["method"])
    assert (tmp_path / "comparison.png").stat().st_size > 10_000


def test_restore_cli_and_bad_input(tmp_path, capsys):
    observed, _ = sample_paths()
    out = tmp_path / "r.fits"
    assert main(["restore", str(observed), "-o", str(out), "--psf-fwhm", "1.0arcsec",
                 "--method", "bicubic", "--background", "0"]) == 0
    assert out.exists()
    assert main(["restore", str(observed), "-o", str(out), "--psf-fwhm", "1.0arcsec",
                 "--method", "bicubic"]) == 2
    assert "already exists" in capsys.readouterr().err
    bad = tmp_path / "bad.fits"
    bad.write_text("garbage")
    assert main(["restore", str(bad), "-o", str(tmp_path / "x.fits"), "--psf-fwhm", "1"]) == 2
    assert "not a readable FITS" in capsys.readouterr().err
    assert not (tmp_path / "x.fits").exists()
    assert main(["restore", str(out), "-o", str(out), "--psf-fwhm", "1"]) == 2


def test_restore_without_psf_names_a_seeing_keyword(tmp_path, capsys):
    """No PSF given: the error says how to give one and, when the header holds a seeing-like
    keyword, quotes it without guessing its unit; nothing is written."""
    import numpy as np
    from astropy.io import fits

    plain, seeing = tmp_path / "plain.fits", tmp_path / "seeing.fits"
    data = np.zeros((32, 32), np.float32)
    fits.writeto(plain, data)
    header = fits.Header()
    header["SEEING"] = (1.2, "FWHM seeing [arcsec]")
    fits.writeto(seeing, data, header)
    assert main(["restore", str(plain), "-o", str(tmp_path / "a.fits")]) == 2
    err = capsys.readouterr().err
    assert "give the observing PSF" in err and "header has" not in err
    assert main(["restore", str(seeing), "-o", str(tmp_path / "b.fits")]) == 2
    err = capsys.readouterr().err
    assert "SEEING = 1.2 / FWHM seeing [arcsec]" in err and "--psf-fwhm 1.2arcsec" in err
    assert not (tmp_path / "a.fits").exists() and not (tmp_path / "b.fits").exists()


def test_a_file_with_its_own_psf_hdu_is_pointed_to_it_and_file_ext_reads_it(tmp_path, capsys):
    """The sample stamp carries its PSF in HDU 'PSF': the error names it, and --psf FILE[PSF] (or
    FILE[1], CFITSIO's syntax) restores with it, as passing that HDU's image does."""
    from astropy.io import fits

    from galgen.psf.files import read_psf, split_extension

    observed, _ = sample_paths()
    assert main(["restore", str(observed), "-o", str(tmp_path / "a.fits")]) == 2
    assert f"--psf '{observed}[PSF]'" in capsys.readouterr().err
    common = ["--method", "bicubic", "--background", "0"]
    assert main(["restore", str(observed), "-o", str(tmp_path / "b.fits"), "--psf", f"{observed}[PSF]",
                 *common]) == 0
    kernel = fits.getdata(observed, "PSF")
    fits.writeto(tmp_path / "psf.fits", kernel, fits.getheader(observed, "PSF"))
    separate = str(tmp_path / "psf.fits")
    assert main(["restore", str(observed), "-o", str(tmp_path / "c.fits"), "--psf", separate, *common]) == 0
    assert fits.getheader(tmp_path / "b.fits")["GALGENPH"] == fits.getheader(tmp_path / "c.fits")["GALGENPH"]
    assert split_extension("a.fits[2]") == ("a.fits", 2) and split_extension("a.fits") == ("a.fits", None)
    assert read_psf(f"{observed}[1]", (64, 64), 0.2).kernel.shape == read_psf(
        f"{observed}[PSF]", (64, 64), 0.2).kernel.shape


def test_simulate_cli(tmp_path):
    assert main(["simulate", "-o", str(tmp_path / "s"), "-n", "2", "--seed", "3"]) == 0
    assert len(Table.read(tmp_path / "s" / "manifest.ecsv")) == 2



@pytest.mark.parametrize(("args", "match"), [
    (["-n", "0"], "argument -n: expected a whole number >= 1, got 0"),
    (["-n", "2", "--seed", "-5"], "argument --seed: expected a whole number >= 0, got -5"),
    (["-n", "2", "--size", "100000"], "stamps of 100000 pixels"),
])
def test_simulate_bad_options_are_one_line_errors(args, match, tmp_path, capsys):
    try:
        code = main(["simulate", "-o", str(tmp_path / "s"), *args])
    except SystemExit as exc:  # argparse's own errors (usage line + message)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert match in err.splitlines()[-1] and not (tmp_path / "s").exists()


def test_counts_are_checked_when_parsed():
    from galgen.cli._args import at_least

    assert at_least(0)("0") == 0 and at_least(1)("7") == 7
    for text in ("0", "-3", "2.5", "many"):
        with pytest.raises(Exception, match="expected a whole number"):
            at_least(1)(text)


def test_help_and_version_import_no_heavy_stack():
    """``galgen --help`` and ``--version`` answer without importing torch, astropy, scipy or GalSim
    (they took 5-6 s on a 2-core VM when the whole stack was imported up front)."""
    heavy = "('torch', 'astropy', 'scipy', 'galsim', 'photutils')"
    code = ("import sys\nfrom galgen.cli import build_parser\nbuild_parser().format_help()\n"
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_restoring_a_stamp_imports_only_what_it_uses(tmp_path):
    """A one-stamp ``galgen restore`` does not import scipy.signal/scipy.stats (0.44 s of start-up,
    for the correlated-noise bootstrap only), scikit-image, or galgen's morphology metrics (measured
    2.93-3.22 s wall with them, 2.39-2.55 s without, on the 2-core VM)."""
    heavy = "('scipy.signal', 'scipy.stats', 'skimage', 'galgen.metrics.morphology')"
    sample = sample_paths()[0]
    code = ("import sys\nfrom galgen.cli import main\n"
            f"rc = main(['restore', {str(sample)!r}, '-o', {str(tmp_path / 'r.fits')!r}, "
            "'--psf-fwhm', '1arcsec', '--background', '0'])\n"
            f"print(rc, sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def test_toy_choices_match_the_library():
    from galgen.cli import TOY_DENSITIES, TOY_GAN_LOSSES, TOY_SOLVERS
    from galgen.models.gan.objectives import GAN_LOSSES
    from galgen.models.ode import SOLVERS
    from galgen.models.toy.densities import DENSITIES

    assert set(TOY_DENSITIES) == set(DENSITIES)
    assert tuple(TOY_SOLVERS) == tuple(SOLVERS) and set(TOY_GAN_LOSSES) == set(GAN_LOSSES)


def test_a_flag_is_explained_with_its_numbers_and_nothing_else():
    from galgen.cli.restore import explain_flags

    text = explain_flags({"GALGENFL": "STRUCT", "GALGENRZ": 8.2, "GALGENRF": 0.52, "GALGENX2": 1.05})
    assert text.startswith("STRUCT") and "+8.2 sigma" in text and "blurrier" in text
    assert "CHI2HIGH" not in text and "REGIME" not in text
    both = explain_flags({"GALGENFL": "CHI2HIGH,REGIME", "GALGENX2": 99.27})
    assert "chi^2 99.27" in both and "REGIME" in both and "STRUCT" not in both
    assert "sharper" in explain_flags({"GALGENFL": "STRUCT", "GALGENRZ": -9.0, "GALGENRF": -0.4})
    sky = explain_flags({"GALGENFL": "SKY", "GALGENSZ": 6.37})
    assert sky.startswith("SKY") and "6.4 sigma" in sky and "--background 0" in sky


def test_the_console_command_prints_galgen_warnings_plainly(tmp_path):
    """The console command (``main()`` from the ``galgen`` script) prints a regime warning as
    ``galgen restore: warning: ...``, not as Python's ``file:line: Category`` and source line."""
    observed, _ = sample_paths()
    code = ("import sys; from galgen.cli import main; sys.argv = ['galgen', 'restore', sys.argv[1], '-o', "
            "sys.argv[2], '--psf-fwhm', '1.0arcsec', '--background', '0', '--noise-rms', '1e6']; "
            "sys.exit(main())")
    out = subprocess.run([sys.executable, "-c", code, str(observed), str(tmp_path / "r.fits")],
                         capture_output=True, text=True, check=True)
    assert "galgen restore: warning: model 'default_x2': input outside its training regime" in out.stderr
    assert "GalgenRegimeWarning" not in out.stderr and "result = restore(" not in out.stderr


@pytest.mark.parametrize(("args", "match"), [
    (["--samples", "0"], "samples=0: give a whole number"),
    (["--samples=-3"], "samples=-3"),
    (["--background", "nan"], "background=nan: give 'auto'"),
    (["--hdu", "5"], "no HDU 5; it has 2 HDUs"),
    (["--device", "gpu"], "'gpu' is not a torch device"),
])
def test_bad_restore_options_are_one_line_errors_and_write_nothing(args, match, tmp_path, capsys):
    observed, _ = sample_paths()
    out = tmp_path / "r.fits"
    assert main(["restore", str(observed), "-o", str(out), "--psf-fwhm", "1.0arcsec", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1 and not out.exists()


def test_a_cuda_device_without_cuda_is_a_typed_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    observed, _ = sample_paths()
    assert main(["restore", str(observed), "-o", str(tmp_path / "r.fits"), "--psf-fwhm", "1.0arcsec",
                 "--device", "cuda"]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "r.fits").exists()


def test_evaluate_with_a_truth_on_another_grid_says_so(tmp_path, capsys):
    """One pair that cannot be measured is an error with the reason, not a table of NaNs."""
    observed, truth = sample_paths()
    assert main(["evaluate", "--truth", str(truth), "--restored", str(observed), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "the truth must be on the restored image's grid" in err and "64x64 pixels of 0.2\"" in err


def test_train_with_a_missing_or_broken_config_says_so(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text('kind = "restoration"\n[model\n')
    assert main(["train", "--config", str(tmp_path / "bad.toml")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    # valid TOML, wrong content: one line naming the key and what it should be (tracebacks once)
    for text, says in (('kind = "restoration"\nsteps = "ten"\n', "steps = 'ten' should be a whole number"),
                       ("steps = 1e4\n", "steps = 10000.0 should be a whole number"),
                       ("amp = 1\n", "amp = 1 should be true or false"),
                       ('kind = "translation"\nlr = "fast"\n', "lr = 'fast' should be a number"),
                       ('kind = "transaltion"\n', "is not a training kind"),
                       ("stepz = 10\n", "unknown keys ['stepz']")):
        (tmp_path / "bad.toml").write_text(text)
        assert main(["train", "--config", str(tmp_path / "bad.toml")]) == 2
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, err


def test_psf_position_without_a_psfex_model_and_a_missing_manifest_are_errors(tmp_path, capsys):
    observed, _ = sample_paths()
    assert main(["restore", str(observed), "-o", str(tmp_path / "r.fits"), "--psf", f"{observed}[PSF]",
                 "--psf-position", "10,20"]) == 2
    assert "is a PSF image, the same at every position" in capsys.readouterr().err
    assert not (tmp_path / "r.fits").exists()
    assert main(["evaluate", "--manifest", str(tmp_path / "none.ecsv"), "--restored", str(tmp_path),
                 "-o", str(tmp_path / "e")]) == 2
    assert "no such manifest" in capsys.readouterr().err


def test_models_lists_each_shipped_model_its_regime_and_the_default(capsys):
    import json

    from galgen.cli.models import headline_metrics
    from galgen.restoration.registry import shipped_models

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines[1:] if line.strip() and not line.startswith("'")}
    assert set(shipped_models()) | {"sim_to_survey"} <= set(rows)
    # what --method default does (the router: default_x2 in its regime, survey_x2 outside it)
    assert "default at x2 inside its regime" in rows["default_x2"]
    assert "default at x2 outside default_x2's regime" in rows["survey_x2"]
    assert '0.2"/px, round Moffat PSF (beta 3.5) FWHM 0.6-1.4", SNR 20-200' in rows["default_x2"]
    assert "any pixel scale, PSF FWHM 2-8 input px" in rows["survey_x4"] and "opt-in" in rows["morph_x2"]
    # every card's held-out scores are read, whichever of the three layouts it uses
    for name, path in shipped_models().items():
        metrics = headline_metrics(json.loads((path / "config.json").read_text()))
        assert metrics and all(rl is not None and 25 < psnr < 60 for _, psnr, rl, _, _ in metrics), name
    card = json.loads((shipped_models()["survey_x2"] / "config.json").read_text())
    sdss = card["metrics"]["sets"]["sdss"]
    assert main(["models", "survey_x2"]) == 0
    out = capsys.readouterr().out
    assert f"sdss: {sdss['psnr']:.2f} dB ({sdss['psnr'] - sdss['rl_psnr']:+.2f} dB over tuned RL)" in out
    assert "0.17\" (outside)" in out  # Euclid VIS's typical PSF is under 2 pixels
    assert main(["models", "nope"]) == 2
    assert "no shipped model 'nope'" in capsys.readouterr().err
