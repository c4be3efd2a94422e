"""Learned unpaired translation: generators, the physical operator, training, CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.wcs import WCS

from galgen.errors import GalgenModelError, GalgenValueError
from galgen.translate.cycle import TranslatorGenerator, resample_flux
from galgen.translate.domains import SIM_DOMAIN, SURVEY_DOMAIN, paired_set, write_domain
from galgen.translate.evaluation import noise_statistics

TINY = """
kind = "translation"
name = "tiny"
out_dir = "{out}"
domain_a = "{out}/a"
domain_b = "{out}/b"
val_stamps = 4
steps = {steps}
batch = 4
log_every = 5
val_every = 10
checkpoint_every = 10
[simulate]
n_a = 16
n_b = 16
seed_a = 1
seed_b = 2
[psf_a]
profile = "gaussian"
fwhm = 0.6
[psf_b]
profile = "moffat"
fwhm = 1.2
beta = 2.5
[architecture]
channels = 8
blocks = 1
disc_width = 8
disc_layers = 2
"""


def _galgen(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "galgen.cli", *args], capture_output=True, text=True, check=check, timeout=300
    )


def test_resample_flux_keeps_totals_and_inverts():
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    for f in (1, 2, 4):
        down = resample_flux(x, f, "down")
        assert down.shape[-1] == 8 // f
        torch.testing.assert_close(down.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=1e-12, atol=0)
        torch.testing.assert_close(
            resample_flux(resample_flux(down, f, "up"), f, "down"), down, rtol=1e-12, atol=0
        )


@pytest.mark.parametrize("direction", ["down", "up"])
def test_untrained_generator_is_the_flux_conserving_resampling(direction):
    g = TranslatorGenerator(2, direction, channels=8, blocks=1, noise_in=1.0, noise_out=3.0)
    x = torch.randn(3, 1, 16, 16)
    y = g(x)
    assert y.shape[-1] == (8 if direction == "down" else 32)
    torch.testing.assert_close(y, resample_flux(x, 2, direction), rtol=1e-6, atol=1e-6)
    with pytest.raises(GalgenValueError):
        TranslatorGenerator(3, direction)


def test_noise_statistics_white_and_correlated():
    rng = np.random.default_rng(0)
    sky = np.ones((20, 32, 32), bool)
    rms, rho = noise_statistics(rng.normal(0, 2.0, sky.shape), sky)
    assert rms == pytest.approx(2.0, rel=0.02)
    assert abs(rho) < 0.02
    s = paired_set(8, 3)  # domain B's noise: correlated over 1.5 pixels
    rms, rho = noise_statistics(s["b"] - s["b_clean"], s["b_clean"] < 0.02 * SURVEY_DOMAIN.noise_rms)
    assert rms == pytest.approx(SURVEY_DOMAIN.noise_rms, rel=0.1)
    assert rho > 0.3


def test_physical_operator_reproduces_galsim_rendering_of_domain_b():
    """T(a) = block sums of the matching-kernel convolution of A's noise-free stamp equals GalSim's
    direct rendering of the same galaxy in domain B (PSF matching error only): measured 0.19-0.26 %
    of the peak and +0.8-0.9 % in total flux (B's Moffat wings that leave the stamp), tested at
    0.5 % and 1.5 %."""
    from galgen.train.translation import _apply_physical, physical_operator

    s = paired_set(6, 11)
    kernel = physical_operator(
        {"profile": "gaussian", "fwhm": SIM_DOMAIN.psf_fwhm},
        {"profile": "moffat", "fwhm": SURVEY_DOMAIN.psf_fwhm, "beta": 2.5},
        SIM_DOMAIN.pixel_scale,
        2,
    )
    t = _apply_physical(torch.as_tensor(s["a_clean"])[:, None], kernel.double(), 2)[:, 0].numpy()
    rms = np.sqrt(np.mean((t - s["b_clean"]) ** 2, axis=(1, 2))) / s["b_clean"].max(axis=(1, 2))
    assert np.median(rms) < 0.005, rms
    flux = t.sum((1, 2)) / s["b_clean"].sum((1, 2)) - 1
    assert np.max(np.abs(flux)) < 0.015, flux


def test_train_resume_export_and_translate(tmp_path):
    out = tmp_path / "run"
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(out=out, steps=10))
    r = _galgen("train", "--config", str(cfg), "--export", str(tmp_path / "m"))
    assert "exported" in r.stdout
    cfg.write_text(TINY.format(out=out, steps=20))
    _galgen("train", "--config", str(cfg), "--export", str(tmp_path / "m"))  # resumes at step 10
    rows = (out / "log.csv").read_text().splitlines()
    steps = [int(line.split(",")[0]) for line in rows[1:]]
    assert steps == [5, 10, 15, 20], steps
    card = json.loads((tmp_path / "m" / "config.json").read_text())
    assert card["kind"] == "translation" and card["factor"] == 2 and card["training"]["steps"] == 20
    assert card["domains"]["b"]["noise_rms"] == pytest.approx(3.0)

    stamp = sorted((out / "a").glob("*.fits"))[0]
    before = stamp.read_bytes()
    o1, o2, o3 = (tmp_path / f"t{i}.fits" for i in range(3))
    _galgen("translate", str(stamp), "-o", str(o1), "--model", str(tmp_path / "m"), "--seed", "3")
    _galgen("translate", str(stamp), "-o", str(o2), "--model", str(tmp_path / "m"), "--seed", "3")
    _galgen("translate", str(stamp), "-o", str(o3), "--model", str(tmp_path / "m"), "--seed", "4")
    assert stamp.read_bytes() == before
    with fits.open(stamp) as a, fits.open(o1) as b1, fits.open(o2) as b2, fits.open(o3) as b3:
        assert b1[0].data.shape == (24, 24)
        np.testing.assert_array_equal(b1[0].data, b2[0].data)
        assert not np.array_equal(b1[0].data, b3[0].data)
        w_in, w_out = WCS(a[0].header), WCS(b1[0].header)
        # the same sky: the centre of the input's grid is the centre of the output's
        c_in = w_in.pixel_to_world(23.5, 23.5)
        x, y = w_out.world_to_pixel(c_in)
        assert abs(x - 11.5) < 1e-6 and abs(y - 11.5) < 1e-6
        assert abs(w_out.proj_plane_pixel_scales()[0].to_value("arcsec") - 0.4) < 1e-9
        h = b1[0].header
        assert h["PSFFWHM"] == pytest.approx(1.2) and h["GALGENOP"] == "translate" and h["GALGENMD"] == "tiny"
        # the flux-conserving start and the flux term keep the total within the noise of a B-sized sum
        assert abs(b1[0].data.sum() - a[0].data.sum()) < 5 * 3.0 * 24
    r = _galgen(
        "translate",
        str(stamp),
        "-o",
        str(tmp_path / "x.fits"),
        "--model",
        str(tmp_path / "m"),
        "--to-psf-fwhm",
        "1arcsec",
        check=False,
    )
    assert r.returncode != 0 and "not used with --model" in r.stderr
    assert not (tmp_path / "x.fits").exists()


def test_translation_model_errors(tmp_path):
    from galgen.translate.learned import translate_learned

    with pytest.raises(GalgenModelError, match="no translation model"):
        translate_learned(np.zeros((8, 8)), str(tmp_path / "nothing"))
    with pytest.raises(GalgenModelError, match="not a translation model"):
        from galgen.restoration.registry import find_model

        translate_learned(np.zeros((8, 8)), str(find_model("default_x2")))


def test_a_bad_stamp_is_skipped_with_a_warning(tmp_path, caplog):
    from galgen.train.translation import StampFolder

    write_domain(tmp_path, SIM_DOMAIN, 3, seed=5)
    bad = tmp_path / "stamp_00001.fits"
    with fits.open(bad) as hdul:
        data, header = hdul[0].data.copy(), hdul[0].header.copy()
    data[3, 4] = np.nan
    fits.PrimaryHDU(data, header).writeto(bad, overwrite=True)
    (tmp_path / "broken.fits").write_bytes(b"not a fits file")
    with caplog.at_level(logging.WARNING):
        folder = StampFolder(tmp_path)
    assert len(folder) == 2
    assert "stamp_00001.fits: skipped" in caplog.text and "broken.fits: skipped" in caplog.text
    assert folder.noise_rms == pytest.approx(1.0) and folder.pixel_scale == pytest.approx(0.2)


def test_shipped_translation_beats_block_sums_and_matches_the_noise():
    """The shipped sim_to_survey model on paired validation galaxies (seed 44,000,000, not in its
    training folders): its A -> B signal is closer to B's noise-free rendering than the plain block
    sums, its total flux within 2 % (the issue's goal), and its synthesised noise has B's rms
    (within 15 %) and B's lag-1 correlation (within 0.15)."""
    from galgen.translate.evaluation import VALIDATION_SEED, evaluate_translation
    from galgen.translate.learned import load_translation

    model, card = load_translation("sim_to_survey")
    scores = evaluate_translation(model, card, 40, VALIDATION_SEED, morphology=False)
    rows = {r["method"].split(" ")[0]: r for r in scores["a2b"]}
    assert rows["learned"]["signal_rms"] < 0.7 * rows["blocks"]["signal_rms"]
    assert rows["learned"]["abs_total_flux_error"] < 0.02
    assert rows["learned"]["noise_ratio"] == pytest.approx(1.0, abs=0.15)
    assert abs(rows["learned"]["noise_rho1"] - rows["domain"]["noise_rho1"]) < 0.15


def test_inputs_outside_the_source_domain_are_warned_about():
    """The shipped model on a domain-A stamp: silent. The same stamp 20x brighter (its noise rms
    20 counts against the domain's 1), or stated in its header to have a 1" PSF (the domain's is
    0.6"): a GalgenRegimeWarning that names the mismatch; the translation is still written."""
    from galgen.errors import GalgenRegimeWarning
    from galgen.io import simple_tan_wcs
    from galgen.translate.learned import translate_learned

    stamp = paired_set(1, 123)["a"][0]
    header = simple_tan_wcs(stamp.shape, 0.2).to_header()
    header["PSFFWHM"] = 0.6
    translate_learned(fits.PrimaryHDU(stamp, header), "sim_to_survey")  # warnings are errors here
    with pytest.warns(GalgenRegimeWarning, match="noise rms 2.*against domain A's 1 "):
        out = translate_learned(fits.PrimaryHDU(20 * stamp, header), "sim_to_survey")
    assert out.data.shape == (24, 24)
    header["PSFFWHM"] = 1.0
    with pytest.warns(GalgenRegimeWarning, match="PSFFWHM 1\" against domain A's 0.6\"") as record:
        translate_learned(fits.PrimaryHDU(stamp, header), "sim_to_survey")
    assert "background noise" not in str(record[0].message)
