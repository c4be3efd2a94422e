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


def test_simulate_cli(tmp_path):
    assert main(["simulate", "-o", str(tmp_path / "s"), "-n", "2", "--seed", "3"]) == 0
    assert len(Table.read(tmp_path / "s" / "manifest.ecsv")) == 2


def test_help_and_version_import_no_heavy_stack():
    """``galgen --help`` and ``--version`` answer without importing torch, astropy, scipy or GalSim
    (they took 5-6 s on a 2-core VM when the whole stack was imported up front)."""
    heavy = "('torch', 'astropy', 'scipy', 'galsim', 'photutils')"
    code = ("import sys\nfrom galgen.cli import build_parser\nbuild_parser().format_help()\n"
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_toy_choices_match_the_library():
    from galgen.cli import TOY_DENSITIES, TOY_GAN_LOSSES, TOY_SOLVERS
    from galgen.models.gan.objectives import GAN_LOSSES
    from galgen.models.ode import SOLVERS
    from galgen.models.toy.densities import DENSITIES

    assert set(TOY_DENSITIES) == set(DENSITIES)
    assert tuple(TOY_SOLVERS) == tuple(SOLVERS) and set(TOY_GAN_LOSSES) == set(GAN_LOSSES)
