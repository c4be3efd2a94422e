"""Learned restorers: networks, physics operator, tiling, model cards, uncertainty, training."""

from __future__ import annotations

import time
import warnings

import astropy.units as u
import numpy as np
import pytest
import torch

from galgen import restore, write_restored
from galgen.errors import GalgenModelError, GalgenRegimeWarning, GalgenValueError
from galgen.io import read_image
from galgen.models.serialization import read_config
from galgen.psf import block_sum, convolve_psf, moffat_psf
from galgen.restoration.engine import prepare_observation
from galgen.restoration.model import LearnedRestorer
from galgen.restoration.networks import RestorerConfig, build_generator, conditional_discriminator
from galgen.restoration.physics import forward_operator, moffat_kernels, reduced_chi2
from galgen.restoration.registry import save_untrained_model
from galgen.restoration.tiling import process_tiled
from galgen.simulate import simulate_pair


@pytest.fixture
def tiny_model(tmp_path):
    return save_untrained_model(tmp_path / "tiny_x2", RestorerConfig(channels=8, blocks=2), name="tiny_x2")


@pytest.mark.parametrize(("arch", "scale", "shape"), [("residual", 2, (2, 1, 64, 64)),
                                                       ("residual", 4, (2, 1, 32, 32)),
                                                       ("residual", 1, (2, 1, 16, 16)),
                                                       ("unet", 1, (2, 1, 32, 32))])
def test_generator_shapes(arch, scale, shape):
    g = build_generator(RestorerConfig(arch=arch, scale=scale, channels=8, blocks=2))
    y = g(torch.randn(shape), torch.rand(shape[0], 1))
    assert y.shape == (shape[0], 1, shape[2] * scale, shape[3] * scale)
    assert conditional_discriminator(8)(torch.randn(2, 2, 64, 64)).shape == (2, 1, 8, 8)
    with pytest.raises(GalgenValueError):
        build_generator(RestorerConfig(arch="unet", scale=2))


def test_forward_operator_matches_numpy_and_conserves_flux(rng):
    x = np.zeros((64, 64))
    x[20:40, 25:35] = rng.uniform(0, 1, (20, 10))
    k = moffat_kernels(torch.tensor([6.0], dtype=torch.float64), 21)
    pred = forward_operator(torch.from_numpy(x)[None, None], k, 2)[0, 0].numpy()
    ref = block_sum(convolve_psf(x, moffat_psf(6.0, 21, method="no_pixel")), 2)
    np.testing.assert_allclose(pred, ref, atol=1e-10)
    assert pred.sum() == pytest.approx(x.sum(), rel=1e-10)
    noise = torch.randn(1, 1, 200, 200, dtype=torch.float64)
    # chi^2 of pure unit noise is 1 within ~4 standard errors (sqrt(2/N) = 0.007)
    assert float(reduced_chi2(noise, torch.zeros_like(noise), 1.0)) == pytest.approx(1.0, abs=0.03)


def test_tiled_equals_untiled_in_the_interior(tiny_model, rng):
    model = LearnedRestorer(tiny_model)
    image = rng.normal(0, 1, (150, 170)) + 30 * moffat_psf(6.0, (150, 170))
    whole = model.predict(image, 1.0, 1.0, 0.2, tile=512)
    tiled = model.predict(image, 1.0, 1.0, 0.2, tile=64)
    interior = (slice(8, -8), slice(8, -8))
    # the bound: 1e-4 of the peak (margins exceed the receptive field: equal to rounding)
    assert np.max(np.abs(tiled - whole)[interior]) < 1e-4 * np.max(np.abs(whole))
    blend = process_tiled(image, lambda t: np.kron(t, np.ones((2, 2))), scale=2, tile=40, overlap=20)
    # float32 accumulation (bounded memory): equal to float32 precision
    np.testing.assert_allclose(blend, np.kron(image, np.ones((2, 2))), rtol=1e-5, atol=1e-5)


def test_restore_with_a_model_directory(tiny_model, tmp_path):
    pair = simulate_pair(np.random.default_rng(2), psf_fwhm=1.0, snr=80)
    result = restore(pair.observation, 1.0 * u.arcsec, pixel_scale=0.2, method=str(tiny_model),
                     samples=4, background=0.0)
    assert result.data.shape == (128, 128)
    assert result.uncertainty is not None and np.all(result.uncertainty.array >= 0)
    assert result.meta["GALGENMD"] == "tiny_x2" and len(result.meta["GALGENMH"]) == 64
    out = tmp_path / "r.fits"
    write_restored(result, out)
    from astropy.io import fits

    with fits.open(out) as hdul:
        assert "UNCERT" in hdul and hdul["UNCERT"].data.shape == (128, 128)
    assert read_image(out).pixel_scale == pytest.approx(0.1)


def test_regime_warning_and_bad_models(tiny_model, tmp_path):
    pair = simulate_pair(np.random.default_rng(3), psf_fwhm=1.0, snr=80)
    with pytest.warns(GalgenRegimeWarning, match="trained on 0.6-1.4"):
        restore(pair.observation, 2.5 * u.arcsec, pixel_scale=0.2, method=str(tiny_model),
                background=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GalgenRegimeWarning)
        restore(pair.observation, 1.0 * u.arcsec, pixel_scale=0.2, method=str(tiny_model),
                background=0.0)
    # an astronomer's plain 1.0 meant arcsec: read as 1 pixel (0.2"), and the warning says so
    with pytest.warns(GalgenRegimeWarning, match=r"psf_fwhm=1 is a plain number, read as pixels = 0.2 arc"):
        restore(pair.observation, 1.0, pixel_scale=0.2, method=str(tiny_model), background=0.0)
    with pytest.warns(GalgenRegimeWarning) as record:  # a Quantity: no such note
        restore(pair.observation, 2.5 * u.arcsec, pixel_scale=0.2, method=str(tiny_model), background=0.0)
    assert "plain number" not in str(record[0].message)
    with pytest.raises(GalgenValueError, match="unknown restoration method"):
        restore(pair.observation, 1.0, pixel_scale=0.2, method="no-such-model")
    with pytest.raises(GalgenModelError, match="x2, not x4"):
        restore(pair.observation, 1.0, pixel_scale=0.2, method=str(tiny_model), scale=4)
    (tiny_model / "model.safetensors").write_bytes(b"corrupt")
    from galgen.restoration.registry import load_model

    with pytest.raises(GalgenModelError, match="sha256"):
        LearnedRestorer(tiny_model)
    with pytest.raises(GalgenModelError, match="sha256"):  # the weights cache sees the new file
        load_model(str(tiny_model))


def test_training_runs_resumes_and_exports(tmp_path):
    from galgen.train.restoration import TrainConfig, export, train

    cfg = TrainConfig(name="t", out_dir=str(tmp_path / "run"), train_pairs=12, val_pairs=4, steps=4,
                      batch=2, patch=32, adv_weight=0.01, adv_start=2, checkpoint_every=2,
                      val_every=2, log_every=1, linear_weight=5.0, cog_weight=0.5,
                      architecture={"channels": 8, "blocks": 1})
    train(cfg, progress=False)
    log_path = tmp_path / "run" / "log.csv"
    log = log_path.read_text().splitlines()
    assert len(log) == 5 and "val_psnr" in log[0] and "linear" in log[0]
    assert all(float(line.split(",")[4]) > 0 for line in log[1:])  # the linear-flux loss is logged
    # a log written before the "linear" column existed is migrated, not misaligned
    import csv

    with open(log_path, newline="") as f:
        rows = list(csv.DictReader(f))
    old_keys = [k for k in rows[0] if k != "linear"]
    with open(log_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=old_keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with open(log_path, "a") as f:  # a run killed after logging step 5 but before checkpointing it
        f.write("5" + ",0" * (len(old_keys) - 1) + "\n")
    cfg.steps = 6
    cfg.ema = 0.9  # a weight average the step-4 checkpoint did not keep: started at its weights
    train(cfg, progress=False)  # resumes at step 4 and drops the orphan row
    with open(log_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and list(rows[0]) == list(rows[-1]) and "linear" in rows[0]
    assert rows[0]["linear"] == "" and float(rows[-1]["linear"]) > 0
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    digest = export(cfg, tmp_path / "exported")
    model = LearnedRestorer(tmp_path / "exported")
    assert model.sha256 == digest and model.card["training"]["steps"] == 6
    assert model.card["training"]["loss"]["linear_flux_mse"] == 5.0
    assert model.card["training"]["loss"]["curve_of_growth"] == 0.5
    assert all(float(r["cog"]) > 0 for r in rows[4:])  # logged since the column exists
    assert model.card["training"]["weight_average"] == {"ema_decay": 0.9}
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["modules"]
    exported = model.generator.state_dict()
    assert all(torch.equal(exported[k], state["ema"][k]) for k in exported)  # the average is exported
    assert not all(torch.equal(state["ema"][k], state["generator"][k]) for k in exported)
    # the command line exports a run's checkpoint without training it further: --steps 0
    from galgen.cli import main

    config = tmp_path / "run.toml"
    config.write_text(f'name = "t"\nout_dir = "{tmp_path / "run"}"\ntrain_pairs = 12\nval_pairs = 4\n'
                      f'steps = 100\nbatch = 2\npatch = 32\nema = 0.9\n'
                      '[architecture]\nchannels = 8\nblocks = 1\n')
    assert main(["train", "--config", str(config), "--steps", "0", "--export", str(tmp_path / "cli")]) == 0
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 6
    assert LearnedRestorer(tmp_path / "cli").sha256 == digest


def test_a_run_keeps_its_best_validation_step_across_resumes_and_exports_it(tmp_path):
    """Runs have peaked mid-way in validation PSNR (survey_x2 stages three and four): ``best.pt``
    keeps the weight average of the best validated step, through a resume, for --export-best."""
    import csv

    from galgen.cli import main
    from galgen.train.restoration import BEST_CHECKPOINT, TrainConfig, export, train

    run = tmp_path / "run"
    cfg = TrainConfig(name="t", out_dir=str(run), train_pairs=12, val_pairs=4, steps=4, batch=2, patch=32,
                      checkpoint_every=2, val_every=1, log_every=1, ema=0.5, lr=3e-3,
                      architecture={"channels": 8, "blocks": 1})
    train(cfg, progress=False)
    with open(run / "log.csv", newline="") as f:
        scores = {int(r["step"]): float(r["val_psnr"]) for r in csv.DictReader(f) if r["val_psnr"]}
    assert sorted(scores) == [1, 2, 3, 4] and len(set(scores.values())) > 1
    best_step = max(scores, key=scores.get)
    kept = torch.load(run / BEST_CHECKPOINT, weights_only=True)
    assert kept["step"] == best_step
    assert kept["extra"]["val_psnr"] == pytest.approx(scores[best_step], abs=1e-9)
    # resumed, the run remembers its best score (here one that nothing beats) and keeps best.pt
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["extra"]["best_val_psnr"] == pytest.approx(scores[best_step], abs=1e-9)
    state["extra"]["best_val_psnr"] = 1e9
    torch.save(state, run / "checkpoint.pt")
    cfg.steps = 8
    train(cfg, progress=False)
    assert torch.load(run / BEST_CHECKPOINT, weights_only=True)["step"] == best_step
    export(cfg, tmp_path / "best", best=True)
    model = LearnedRestorer(tmp_path / "best")
    exported = model.generator.state_dict()
    assert all(torch.equal(exported[k], kept["modules"]["ema"][k]) for k in exported)
    assert model.card["training"]["steps"] == best_step
    assert f"step {best_step}" in model.card["training"]["exported"]
    config = tmp_path / "run.toml"
    config.write_text(f'name = "t"\nout_dir = "{run}"\ntrain_pairs = 12\nval_pairs = 4\nsteps = 8\n'
                      'batch = 2\npatch = 32\nema = 0.5\n[architecture]\nchannels = 8\nblocks = 1\n')
    assert main(["train", "--config", str(config), "--steps", "0", "--export-best"]) == 2  # no --export
    assert main(["train", "--config", str(config), "--steps", "0", "--export", str(tmp_path / "cli"),
                 "--export-best"]) == 0
    assert LearnedRestorer(tmp_path / "cli").sha256 == model.sha256
    (run / BEST_CHECKPOINT).unlink()
    with pytest.raises(GalgenValueError, match="best.pt: no such checkpoint"):
        export(cfg, tmp_path / "none", best=True)


def test_curve_of_growth_loss_against_a_gaussian():
    from galgen.train.restoration import COG_RADII, curve_of_growth_loss

    sigma, n = 4.0, 96
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    gauss = torch.tensor(np.exp(-(xx**2 + yy**2) / (2 * sigma**2)), dtype=torch.float32)[None, None] * 50
    assert curve_of_growth_loss(gauss, gauss).item() == 0.0
    # 10% more flux everywhere: 0.1 times the mean enclosed fraction 1 - exp(-r^2 / 2 sigma^2)
    # (within 2%: pixelised apertures with a one-pixel soft edge)
    r = np.array(COG_RADII)
    enclosed = 1 - np.exp(-(r**2) / (2 * sigma**2))
    expected = 0.1 * np.mean(enclosed / enclosed[-1])
    assert curve_of_growth_loss(1.1 * gauss, gauss).item() == pytest.approx(expected, rel=0.02)
    # a wider galaxy of the same flux: a loss, with a gradient towards the truth's size
    wide = torch.tensor(np.exp(-(xx**2 + yy**2) / (2 * (1.2 * sigma) ** 2)) / 1.44, dtype=torch.float32)
    wide = (wide[None, None] * 50).requires_grad_(True)
    loss = curve_of_growth_loss(wide, gauss)
    loss.backward()
    assert loss.item() > 0.02 and wide.grad[0, 0, n // 2, n // 2] < 0  # raise the core


def test_flux_calibration_reconvolution_is_reused_for_chi2(tiny_model):
    from galgen.metrics import data_consistency

    pair = simulate_pair(np.random.default_rng(4), psf_fwhm=1.1, snr=100)
    model = LearnedRestorer(tiny_model)
    image = read_image(pair.observation, pixel_scale=0.2)
    prepared = prepare_observation(image, 1.1 * u.arcsec, noise_rms=pair.noise_rms, background=0.0)
    (result,) = model.restore_batch([prepared])
    restored = result.data
    fresh, _ = data_consistency(restored, pair.observation, pair.noise_rms, 1.1, 0.1, 2,
                                target_psf_fwhm=0.2)
    reused, _ = data_consistency(restored, pair.observation, pair.noise_rms, 1.1, 0.1, 2,
                                 target_psf_fwhm=0.2, predicted=result.reconvolved)
    assert result.flux_scale != 1.0  # the calibration ran, so A(alpha x) = alpha A(x) is tested
    assert reused == pytest.approx(fresh, rel=1e-10)


def test_sharded_bank_grows_with_the_steps_and_is_recorded(tmp_path):
    from galgen.train.restoration import TrainConfig, export, simulate_shards, train

    cfg = TrainConfig(name="t", out_dir=str(tmp_path / "run"), seed=5, val_pairs=2, steps=6, batch=2,
                      patch=32,
                      shard_size=2, shards_start=1, shard_every=2, keep_shards=2, checkpoint_every=3,
                      val_every=3, log_every=1, architecture={"channels": 8, "blocks": 1},
                      regime={"galaxies": "morphology", "scene": True, "max_offset": 3.0})
    assert simulate_shards(cfg, 2, progress=False) == 2 and simulate_shards(cfg, 2, progress=False) == 0
    bank = cfg.training_pairs()
    assert bank.shards_at(0) == (0, 1) and bank.shards_at(5) == (1, 3)  # start 1, +1 every 2, keep 2
    assert len(bank.at(5)) == 4
    train(cfg, progress=False)
    assert sorted(p.name for p in (tmp_path / "run" / "shards").iterdir()) == [
        "shard_00000.npz", "shard_00001.npz", "shard_00002.npz"]
    export(cfg, tmp_path / "model")
    data = read_config(tmp_path / "model")["training"]["data"]
    assert data["distinct_pairs"] == 6 and data["regime"]["galaxies"] == "morphology"
    # a fine-tune starts from another run's generator at step 0
    tuned = TrainConfig(**{**cfg.__dict__, "out_dir": str(tmp_path / "tuned"), "steps": 1,
                           "init_from": str(tmp_path / "run" / "checkpoint.pt")})
    train(tuned, progress=False)
    assert torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=True)["step"] == 1


def test_time_budget_anneals_over_wall_clock_and_stops(tmp_path):
    import csv

    from galgen.train.restoration import TrainConfig, train

    cfg = TrainConfig(name="t", out_dir=str(tmp_path / "run"), train_pairs=8, val_pairs=2, steps=100_000,
                      batch=2, patch=32, lr=1e-3, lr_min=1e-5, time_budget=3.0, checkpoint_every=10_000,
                      val_every=10_000, log_every=1, architecture={"channels": 8, "blocks": 1})
    t0 = time.perf_counter()
    train(cfg, progress=False)
    assert time.perf_counter() - t0 < 60  # stopped by the budget, not by the 100,000 steps
    with open(tmp_path / "run" / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    step = int(rows[-1]["step"])
    assert 2 < step < 100_000 and rows[-1]["val_psnr"] != ""  # the last step validates
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] == pytest.approx(1e-3, rel=0.05) and lrs[-1] == pytest.approx(1e-5, rel=1e-6)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))  # cosine, decreasing
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == step  # the checkpoint holds the last step
    assert saved["extra"]["seconds"] >= 3.0  # and the wall-clock time the run spent
    # run again (as `galgen train --config X --export DIR` does): the budget is spent, nothing trains
    train(cfg, progress=False)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == step
    with open(tmp_path / "run" / "log.csv", newline="") as f:
        assert int(list(csv.DictReader(f))[-1]["step"]) == step


def test_pair_bank_is_the_same_for_any_number_of_workers():
    from galgen.simulate.degrade import DEFAULT_REGIME
    from galgen.train.data import PairBank

    one = PairBank(5, 7, DEFAULT_REGIME, progress=False)
    two = PairBank(5, 7, DEFAULT_REGIME, progress=False, workers=2)
    assert np.array_equal(one.observations, two.observations) and np.array_equal(one.targets, two.targets)
    assert np.array_equal(one.noise_rms, two.noise_rms) and np.array_equal(one.psf_fwhm, two.psf_fwhm)


def test_a_cached_bank_of_another_regime_is_simulated_again(tmp_path):
    """A shard cached for one regime is not reused for another (it once was: the cache knew only
    the seed and the size), and an unchanged regime reads it back."""
    from dataclasses import replace

    from galgen.simulate.degrade import DEFAULT_REGIME
    from galgen.train.data import PairBank, regime_fingerprint

    small = replace(DEFAULT_REGIME, in_size=24)
    cache = tmp_path / "bank.npz"
    first = PairBank(2, 11, small, cache=cache, progress=False)
    again = PairBank(2, 11, small, cache=cache, progress=False)
    assert np.array_equal(first.observations, again.observations)
    wider = replace(small, psf_fwhm_range=(1.2, 1.4))
    other = PairBank(2, 11, wider, cache=cache, progress=False)
    assert not np.allclose(other.psf_fwhm, first.psf_fwhm)
    assert np.array_equal(other.psf_fwhm, PairBank(2, 11, wider, progress=False).psf_fwhm)
    with np.load(cache) as f:
        assert str(f["regime"]) == regime_fingerprint(wider)
    assert regime_fingerprint(DEFAULT_REGIME) == "{}"


def test_psf_shear_of_the_zoo_is_set_by_the_regime():
    """``psf_sheared_fraction`` and ``psf_max_ellipticity`` reach the zoo; the defaults keep the
    zoo's random stream (the benchmark sets' PSFs do not change)."""
    import galsim

    from galgen.psf.zoo import random_psf

    def draw(**kw):
        rng = np.random.default_rng(5)
        return [random_psf(rng, 1.0, 0.2, **kw)[1] for _ in range(60)]

    assert draw() == draw(max_ellipticity=0.12, sheared_fraction=0.5)
    many = draw(max_ellipticity=0.2, sheared_fraction=0.9)
    sheared = [p["e"] for p in many if "e" in p]
    assert len(sheared) >= 45 and max(sheared) > 0.15 and max(sheared) <= 0.2
    assert not [p for p in draw(sheared_fraction=0.0) if "e" in p]
    assert galsim  # the zoo's profiles are GalSim objects


def test_every_shipped_model_calibrates_its_uncertainty_map():
    """Each shipped card carries the calibration its bootstrap map needs (default_x2, morph_x2
    and survey_x4 once had none, so their UNCERT was the raw spread, half as wide as it should
    be); applied, it widens the raw map by the card's formula."""
    from galgen.demo import sample_paths
    from galgen.evaluation.coverage import apply_uncertainty_calibration
    from galgen.restoration.registry import load_model, shipped_models

    for name in shipped_models():
        cal = load_model(name).card.get("uncertainty_calibration")
        assert cal and cal["a"] > 0 and cal["b"] >= 0, name
        assert len(cal["brightness_scale"]) == len(cal["brightness_edges"]) == 4, name
    observed, _ = sample_paths()
    image = read_image(observed)
    prepared = prepare_observation(image, 1.0 * u.arcsec, background=0.0)
    raw, = load_model("default_x2", calibrate_uncertainty=False).restore_batch([prepared], samples=4)
    model = load_model("default_x2")
    cal, = model.restore_batch([prepared], samples=4)
    expected = apply_uncertainty_calibration(raw.std, raw.data, model.card["uncertainty_calibration"])
    np.testing.assert_allclose(cal.std, expected, rtol=1e-6)
    assert np.median(cal.std / raw.std) > 1.2  # a = 1.35: the raw bootstrap covers 48 / 77 % held out


def _with_card(directory, **entries):
    import json

    card_path = directory / "config.json"
    card = json.loads(card_path.read_text())
    card.update(entries)
    card_path.write_text(json.dumps(card))
    return directory


def test_residual_flux_scale_adds_a_share_of_the_windowed_residual(tiny_model):
    """alpha = 1 + w sum(g (d - A x)) / F(x), exactly, with F the 3" aperture flux of x on the
    output grid and g a Gaussian of the card's window about the centre; too faint -> 1."""
    from galgen.metrics.photometry import aperture_flux

    model = LearnedRestorer(_with_card(tiny_model, flux_calibration="residual",
                                       flux_residual={"window_arcsec": 1.2, "weight": 0.5}))
    assert model.flux_mode == "residual" and model.flux_calibrate
    yy, xx = np.indices((128, 128))
    restored = 50.0 * np.exp(-((xx - 63.5) ** 2 + (yy - 63.5) ** 2) / (2 * 6.0**2))
    predicted = model.reconvolve(restored, 1.0, 0.2)
    y, x = np.indices((64, 64))
    g = np.exp(-((x - 31.5) ** 2 + (y - 31.5) ** 2) / (2 * 6.0**2))  # 1.2" at 0.2"/px
    bump = 60.0 * np.exp(-((x - 31.5) ** 2 + (y - 31.5) ** 2) / (2 * 2.0**2))  # light the output lacks
    alpha = model.residual_flux_scale(predicted + bump, restored, 1.0, 1.0, 0.2, predicted=predicted)
    expected = 1 + 0.5 * np.sum(g * bump) / aperture_flux(restored, 30.0)
    assert alpha == pytest.approx(expected, rel=1e-10) and alpha > 1.03
    assert model.residual_flux_scale(predicted, restored, 1.0, 1.0, 0.2, predicted=predicted) == 1.0
    faint = restored * 1e-4
    assert model.residual_flux_scale(predicted * 1e-4 + bump, faint, 1.0, 1.0, 0.2) == 1.0  # below 5 sigma
    # the mode goes through restore_batch and into the provenance
    pair = simulate_pair(np.random.default_rng(4), psf_fwhm=1.1, snr=100)
    prepared = prepare_observation(read_image(pair.observation, pixel_scale=0.2), 1.1 * u.arcsec,
                                   noise_rms=pair.noise_rms, background=0.0)
    (result,) = model.restore_batch([prepared])
    assert result.params["flux_calibrate"] == "residual" and result.flux_scale != 1.0
    assert LearnedRestorer(tiny_model, flux_calibrate=False).flux_mode == "none"


def test_a_faint_target_beside_a_bright_star_keeps_its_noise():
    """A galaxy at SNR 50 in the stamp's centre and a star at SNR 2,000 14 pixels away: the stamp
    reads SNR ~2,000, but its target is not its brightest source (target_dominates), so the
    network keeps the true noise (no snr_clamp; flagged REGIME as before) instead of being told
    the star's SNR (which erased such a galaxy: -75 % of its flux); the galaxy alone is clamped
    when it is the bright one."""
    import galsim

    from galgen.restoration.bright import target_dominates

    rng = np.random.default_rng(12)
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    blurred = galsim.Convolve(galsim.Sersic(n=1.5, half_light_radius=0.6), psf)
    gal = blurred.drawImage(nx=64, ny=64, scale=0.2).array
    star = psf.drawImage(nx=64, ny=64, scale=0.2, offset=(13, 5)).array
    data = (50 * 10 / np.sqrt(np.sum(gal**2))) * gal + (2000 * 10 / np.sqrt(np.sum(star**2))) * star
    data += rng.normal(0, 10.0, data.shape)
    prepared = prepare_observation(read_image(data, pixel_scale=0.2), 1.0 * u.arcsec, noise_rms=10.0,
                                   background=0.0)
    assert not target_dominates(prepared)
    with pytest.warns(GalgenRegimeWarning, match="SNR"):
        out = restore(data, psf=psf, pixel_scale=0.2 * u.arcsec, noise_rms=10.0, background=0.0,
                      method="default_x2")
    assert "REGIME" in out.meta["GALGENFL"] and not any("snr_clamp" in str(h) for h in out.meta["HISTORY"])
    alone = (2000 * 10 / np.sqrt(np.sum(gal**2))) * gal + rng.normal(0, 10.0, data.shape)
    assert target_dominates(prepare_observation(read_image(alone, pixel_scale=0.2), 1.0 * u.arcsec,
                                                noise_rms=10.0, background=0.0))


def test_a_bright_stamp_s_flux_is_calibrated_by_its_aperture_sum(tiny_model):
    """alpha = sum(m d) / sum(m A x) in the 3" aperture, exactly; too faint -> 1; with a card
    saying "bright_flux_calibration": "aperture", a stamp above the card's SNR range gets it
    through restore_batch (provenance "aperture (bright)"), one in range keeps the card's
    calibration; by default ("card") bright stamps keep it too."""
    default = LearnedRestorer(tiny_model)
    model = LearnedRestorer(_with_card(tiny_model, bright_flux_calibration="aperture"))
    yy, xx = np.indices((128, 128))
    restored = 50.0 * np.exp(-((xx - 63.5) ** 2 + (yy - 63.5) ** 2) / (2 * 6.0**2))
    predicted = model.reconvolve(restored, 1.0, 0.2)
    y, x = np.indices((64, 64))
    inside = (x - 31.5) ** 2 + (y - 31.5) ** 2 <= 15.0**2
    data = 1.07 * predicted + np.where(inside, 0.0, 5.0)  # 7 % brighter; light outside does not count
    alpha = model.aperture_flux_scale(data, restored, 1.0, 1.0, 0.2, predicted=predicted)
    assert alpha == pytest.approx(1.07, rel=1e-10)
    assert model.aperture_flux_scale(data * 1e-4, restored * 1e-4, 1.0, 1.0, 0.2) == 1.0  # below 5 sigma
    pair = simulate_pair(np.random.default_rng(4), psf_fwhm=1.1, snr=100)
    for scale, how in ((1.0, "least_squares"), (30.0, "aperture (bright)")):  # SNR ~100 and ~3,000
        prepared = prepare_observation(read_image(scale * pair.observation, pixel_scale=0.2), 1.1 * u.arcsec,
                                       noise_rms=pair.noise_rms, background=0.0)
        (result,) = model.restore_batch([prepared])
        assert result.params["flux_calibrate"] == how
    (result,) = default.restore_batch([prepared])
    assert result.params["flux_calibrate"] == "least_squares" and "snr_clamp" in result.params


def test_a_card_with_an_unknown_flux_calibration_or_no_residual_window_is_refused(tiny_model):
    with pytest.raises(GalgenModelError, match="flux_calibration"):
        LearnedRestorer(_with_card(tiny_model, flux_calibration="magic"))
    model = LearnedRestorer(_with_card(tiny_model, flux_calibration="residual"))  # no flux_residual
    restored = np.ones((128, 128))
    with pytest.raises(GalgenModelError, match="flux_residual"):
        model.residual_flux_scale(np.full((64, 64), 4.0), restored, 0.01, 1.0, 0.2)


@pytest.mark.parametrize(("tty", "side", "shown"),
                         [(True, 600, True), (False, 600, False), (True, 200, False)])
def test_tiles_show_progress_on_a_terminal_for_large_images(monkeypatch, tty, side, shown):
    """A field of many tiles shows a progress bar on a terminal (600 px: 81 tiles), none in pipes
    and logs, none for a few tiles (200 px: 9); the result is the same either way."""
    import io
    import sys

    class Stderr(io.StringIO):
        def isatty(self) -> bool:
            return tty

    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    image = np.arange(side * side, dtype=float).reshape(side, side)
    out = process_tiled(image, lambda t: np.kron(t, np.ones((2, 2))), scale=2)
    np.testing.assert_allclose(out, np.kron(image, np.ones((2, 2))), rtol=1e-6)
    assert ("tiles:" in err.getvalue()) is shown


def test_a_stamp_brighter_than_the_training_regime_is_restored_as_at_its_top():
    """Two Sersic galaxies at SNR ~1,300-1,500 (training: 20-200), 0.2"/px, Moffat 1": the shipped
    default_x2 given the true noise (its card with "snr_clamp": false) measured +5.4 and +7.5 %
    aperture-flux errors and 40.1 dB against RL's 43.1 dB on the first; given a noise SNR/200
    times larger (LearnedRestorer.network_noise) it restores them as at SNR 200: flux within 3 %
    and PSNR above RL's, without a REGIME flag, the clamp in HISTORY."""
    import galsim

    from galgen.evaluation import measure_galaxy
    from galgen.restoration import get_method

    model = get_method("default_x2", 2)
    assert model.network_noise(10.0, 150.0) == 10.0
    assert model.network_noise(10.0, 1000.0) == pytest.approx(50.0)
    assert model.network_noise(10.0, float("nan")) == 10.0
    rng = np.random.default_rng(8)
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    for n_sersic, hlr in ((1.0, 0.6), (2.5, 1.0)):
        gal = galsim.Sersic(n=n_sersic, half_light_radius=hlr).shear(e1=0.2, e2=-0.1)
        clean = galsim.Convolve(gal, psf).drawImage(nx=64, ny=64, scale=0.2).array
        flux = 1500 * 10.0 / np.sqrt(np.sum(clean**2))
        data = flux * clean + rng.normal(0, 10.0, clean.shape)
        sharp = galsim.Convolve(gal, galsim.Gaussian(fwhm=0.2))
        truth = flux * sharp.drawImage(nx=128, ny=128, scale=0.1).array
        out = restore(data, psf=psf, pixel_scale=0.2 * u.arcsec, noise_rms=10.0, background=0.0,
                      method="default_x2")
        rl = restore(data, psf=psf, pixel_scale=0.2 * u.arcsec, noise_rms=10.0, background=0.0,
                     method="richardson_lucy")
        scores = measure_galaxy(np.asarray(out.data), truth, 0.1)
        baseline = measure_galaxy(np.asarray(rl.data), truth, 0.1)
        assert abs(scores["flux_error"]) < 0.03 and scores["psnr"] > baseline["psnr"]
        assert "REGIME" not in out.meta["GALGENFL"]
        assert any("snr_clamp = SNR 1" in str(h) and "restored as 200" in str(h) for h in out.meta["HISTORY"])


def test_a_moffat_trained_model_calls_other_psf_images_out_of_its_regime(tmp_path):
    from dataclasses import replace

    import galsim

    from galgen.restoration.networks import RestorerConfig
    from galgen.restoration.registry import load_model, save_untrained_model
    from galgen.simulate import DEFAULT_REGIME

    def psf(profile):
        return profile.drawImage(nx=31, ny=31, scale=0.2).array

    kolmogorov, moffat = psf(galsim.Kolmogorov(fwhm=1.0)), psf(galsim.Moffat(beta=2.6, fwhm=1.0))
    tiny = RestorerConfig(channels=8, blocks=1)
    one = load_model(save_untrained_model(tmp_path / "one", tiny))
    assert "not a round Moffat (beta 3.5)" in one.regime_problems(1.0, 0.2, 50.0, kolmogorov)
    assert "not a round Moffat (beta 3.5)" in one.regime_problems(1.0, 0.2, 50.0, moffat)
    assert one.regime_problems(1.0, 0.2, 50.0, psf(galsim.Moffat(beta=3.5, fwhm=1.0))) == ""
    # a Moffat galgen drew from a FWHM is not measured; a model trained on a range of betas takes any
    assert one.regime_problems(1.0, 0.2, 50.0, kolmogorov, "moffat(beta=3.5)") == ""
    betas = replace(DEFAULT_REGIME, moffat_beta_range=(2.0, 5.0))
    many = load_model(save_untrained_model(tmp_path / "many", tiny, regime=betas))
    assert many.regime_problems(1.0, 0.2, 50.0, moffat) == ""
    assert many.regime_problems(1.0, 0.2, 50.0, moffat, "moffat(beta=2.6)") == ""
    assert "not a round Moffat (beta 2-5)" in many.regime_problems(1.0, 0.2, 50.0, kolmogorov)
    # a model that reads the PSF image is not limited to one family
    survey = replace(DEFAULT_REGIME, psf_kind="zoo")
    zoo = load_model(save_untrained_model(tmp_path / "zoo", tiny, regime=survey))
    assert zoo.regime_problems(1.0, 0.2, 50.0, kolmogorov) == ""


def test_a_stamp_fainter_than_the_training_range_is_flagged_with_what_it_costs(rng):
    # benchmarks/faint_galaxies.py: at SNR 6-14 the restorations' fluxes came out a median
    # 14-27 % low (held out), so the warning says so and where to measure the flux instead
    y, x = np.mgrid[:48, :48]
    galaxy = 1.2 * np.exp(-((x - 24) ** 2 + (y - 23) ** 2) / (2 * 3.0**2))  # SNR ~9
    with pytest.warns(match=r"SNR ~\d+ \(trained on 20-200; fainter galaxies come out with fluxes biased"):
        out = restore(galaxy + rng.normal(0, 1.0, galaxy.shape), psf_fwhm=1.0 * u.arcsec,
                      pixel_scale=0.2 * u.arcsec, noise_rms=1.0, background=0.0)
    assert "REGIME" in out.meta["GALGENFL"]
