"""Evaluation on files and the benchmark machinery (small sizes)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from galgen.cli import main
from galgen.evaluation import (
    BENCHMARK_SETS,
    VALIDATION_SEED,
    evaluate_files,
    measure_galaxy,
    run_benchmark,
    summarize,
    summarize_by_bin,
    tune_baselines,
)
from galgen.io.fits import read_image
from galgen.simulate import simulate_pair


def test_measure_perfect_restoration_is_exact():
    p = simulate_pair(np.random.default_rng(4), snr=100)
    row = measure_galaxy(p.target.astype(float), p.target, 0.1)
    assert row["psnr"] == np.inf and row["flux_error"] == 0 and row["hlr_error"] == 0
    assert row["e_error"] < 1e-6 and row["centroid_offset"] < 1e-6 and row["flag"] == ""


def test_failures_become_flagged_rows(tmp_path):
    p = simulate_pair(np.random.default_rng(5))
    row = measure_galaxy(np.zeros_like(p.target), p.target, 0.1)
    assert np.isnan(row["hlr_error"]) and "hsm failed" in row["flag"]
    bad = tmp_path / "bad.fits"
    bad.write_text("not fits")
    row = evaluate_files(bad, bad)
    assert np.isnan(row["psnr"]) and "not a readable FITS" in row["flag"]


def test_benchmark_tables(tmp_path):
    regime = BENCHMARK_SETS["cosmos"]
    tuning = tune_baselines(regime, VALIDATION_SEED, n=4, methods=("richardson_lucy",))
    assert len(tuning.table()) == 9  # every PSF/SNR bin gets a value, empty ones the overall best
    table = run_benchmark(3, methods=("richardson_lucy", "bicubic"), regime=regime, tuning=tuning,
                          progress=False)
    assert len(table) == 6 and table["psnr"].unit == "dB"
    assert table.meta["baselines_at_target_psf_fwhm"] == 0.2
    summary = summarize(table)
    assert set(summary["method"]) == {"richardson_lucy", "bicubic"}
    assert np.all(np.isfinite(summary["median_psnr"]))
    assert len(summarize_by_bin(table)) > 0


def test_evaluate_cli_on_a_simulated_manifest(tmp_path, capsys):
    assert main(["simulate", "-o", str(tmp_path / "s"), "-n", "2", "--seed", "9"]) == 0
    restored = tmp_path / "r"
    restored.mkdir()
    manifest = Table.read(tmp_path / "s" / "manifest.ecsv")
    for entry in manifest:
        obs = tmp_path / "s" / entry["observed"]
        assert main(["restore", str(obs), "-o", str(restored / obs.name), "--method", "wiener",
                     "--psf-fwhm", f"{entry['psf_fwhm']}arcsec", "--background", "0"]) == 0
    assert main(["evaluate", "--manifest", str(tmp_path / "s" / "manifest.ecsv"), "--restored",
                 str(restored), "-o", str(tmp_path / "ev")]) == 0
    table = Table.read(tmp_path / "ev" / "evaluation.ecsv")
    assert len(table) == 2 and table["hlr_truth"].unit == "arcsec"
    assert set(Table.read(tmp_path / "ev" / "summary_by_bin.ecsv")["bin"]) <= {"snr", "psf_fwhm"}
    # a restoration consistent with its data: chi^2 ~ 1 (Wiener keeps the noise)
    assert np.all(np.asarray(table["chi2"]) < 2.0)
    assert main(["evaluate"]) == 2
    assert "give --truth" in capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_report_writes_figures(tmp_path):
    assert main(["evaluate", "--benchmark", "default", "-n", "6", "-o", str(tmp_path)]) == 0
    for name in ("benchmark.ecsv", "summary.ecsv", "summary_by_bin.ecsv", "metrics_vs_conditions.png",
                 "metrics_vs_conditions.pdf", "flux_recovery.png", "examples.png"):
        assert (tmp_path / name).exists(), name


def test_evaluate_files_with_morphology(tmp_path):
    assert main(["simulate", "-o", str(tmp_path / "s"), "-n", "1", "--seed", "2"]) == 0
    obs, truth = tmp_path / "s" / "observed" / "000000.fits", tmp_path / "s" / "truth" / "000000.fits"
    out = tmp_path / "r.fits"
    fwhm = Table.read(tmp_path / "s" / "manifest.ecsv")["psf_fwhm"][0]
    assert main(["restore", str(obs), "-o", str(out), "--method", "wiener", "--psf-fwhm",
                 f"{fwhm}arcsec", "--background", "0"]) == 0
    row = evaluate_files(truth, out, observed=obs, nonparametric=True)
    assert {"gini_error", "m20_error", "asymmetry_error"} <= set(row)
    assert np.isfinite(row["petro_flux_error"]) and np.isfinite(row["power_ratio_high"])


def test_evaluate_reports_the_coverage_of_an_uncertainty_map(tmp_path, rng):
    """Restored files carrying UNCERT get coverage columns, a pooled summary and a reliability
    diagram. Here the 'restorations' are the truths plus Gaussian errors of a known sigma, so the
    coverage must be a Gaussian's (about 1,250 galaxy pixels a file: scatter ~1.3 %)."""
    from galgen.io.fits import read_image, write_fits

    assert main(["simulate", "-o", str(tmp_path / "s"), "-n", "3", "--seed", "4"]) == 0
    restored = tmp_path / "r"
    restored.mkdir()
    manifest = Table.read(tmp_path / "s" / "manifest.ecsv")
    for entry in manifest:
        truth = read_image(tmp_path / "s" / entry["truth"])
        sigma = 0.05 * np.max(truth.data) + np.abs(truth.data) * 0.1
        write_fits(restored / (tmp_path / "s" / entry["observed"]).name, truth.data + rng.normal(0, sigma),
                   header=truth.header, wcs=truth.wcs, extensions={"UNCERT": sigma})
    assert main(["evaluate", "--manifest", str(tmp_path / "s" / "manifest.ecsv"), "--restored",
                 str(restored), "-o", str(tmp_path / "ev")]) == 0
    table = Table.read(tmp_path / "ev" / "evaluation.ecsv")
    assert np.all(np.asarray(table["coverage_pixels"]) > 1000)
    summary = Table.read(tmp_path / "ev" / "summary.ecsv")
    assert summary["coverage_1sigma"][0] == pytest.approx(0.683, abs=0.04)
    assert summary["coverage_2sigma"][0] == pytest.approx(0.954, abs=0.02)
    assert (tmp_path / "ev" / "reliability.png").stat().st_size > 10_000
    # a file without UNCERT gets none
    row = evaluate_files(tmp_path / "s" / manifest[0]["truth"], tmp_path / "s" / manifest[0]["truth"])
    assert "coverage_1sigma" not in row


def test_benchmark_with_samples_measures_learned_coverage_only(tmp_path):
    from galgen.restoration.networks import RestorerConfig
    from galgen.restoration.registry import save_untrained_model

    model = save_untrained_model(tmp_path / "tiny_x2", RestorerConfig(channels=8, blocks=2), name="tiny_x2")
    table = run_benchmark(2, methods=(str(model), "bicubic"), regime=BENCHMARK_SETS["cosmos"],
                          progress=False, samples=3)
    learned = table[table["method"] == "tiny_x2"]
    baseline = table[table["method"] == "bicubic"]
    assert np.all(np.asarray(learned["coverage_pixels"]) > 0)
    c1, c2 = np.asarray(learned["coverage_1sigma"]), np.asarray(learned["coverage_2sigma"])
    assert np.all((c1 >= 0) & (c1 <= c2) & (c2 <= 1))
    assert np.all(np.asarray(baseline["coverage_pixels"]) == 0)
    assert np.all(np.isnan(baseline["coverage_1sigma"]))
    summary = summarize(table)
    assert np.isfinite(summary[summary["method"] == "tiny_x2"]["coverage_1sigma"][0])
    from galgen.evaluation.figures import reliability_diagram

    (png, _) = reliability_diagram(table, tmp_path)
    assert png.name == "reliability.png" and png.stat().st_size > 10_000


def test_a_sharper_truth_is_brought_to_the_restored_target_psf(tmp_path):
    """A Gaussian galaxy (sigma 0.25") drawn through a 0.1" Gaussian PSF as the truth, and through
    the restored file's 0.2" target PSF as the 'restoration': Gaussian widths add in quadrature,
    so after the truth is convolved to 0.2" the two agree to the pixelisation (PSNR > 50 dB, flux
    to 1e-3; measured 73.6 dB); compared as they are (what evaluate did before): 45.5 dB. A truth
    blurrier than the target is refused with the reason in the row's flag."""
    import galsim
    from astropy.io import fits

    from galgen.io import simple_tan_wcs, write_fits

    gal = galsim.Gaussian(sigma=0.25, flux=1000.0)

    def draw(fwhm: float, name: str) -> object:
        image = galsim.Convolve(gal, galsim.Gaussian(fwhm=fwhm)).drawImage(nx=96, ny=96, scale=0.05).array
        path = tmp_path / name
        write_fits(path, image, wcs=simple_tan_wcs(image.shape, 0.05), header=fits.Header({"PSFFWHM": fwhm}))
        return path

    sharp, target, blurry = draw(0.1, "sharp.fits"), draw(0.2, "target.fits"), draw(0.4, "blurry.fits")
    row = evaluate_files(sharp, target)
    assert row["truth_psf_matched_from"] == pytest.approx(0.1)
    assert row["psnr"] > 50 and abs(row["flux_error"]) < 1e-3
    as_is = measure_galaxy(read_image(target).data, read_image(sharp).data, 0.05)
    assert as_is["psnr"] < row["psnr"] - 15
    same = evaluate_files(target, target)
    assert np.isnan(same["truth_psf_matched_from"]) and same["psnr"] == np.inf
    refused = evaluate_files(blurry, target)
    assert np.isnan(refused["psnr"]) and "wider than the restored image's target PSF" in refused["flag"]
