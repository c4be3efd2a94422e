"""The conditional flow-matching posterior sampler of restorations (issue #16)."""

from __future__ import annotations

from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.io import fits

from galgen import restore
from galgen.errors import GalgenModelError, GalgenValueError
from galgen.models.serialization import save_module
from galgen.restoration import write_restored
from galgen.restoration.networks import RestorerConfig
from galgen.restoration.posterior import (
    PosteriorConfig,
    PosteriorSampler,
    PosteriorVelocityNet,
    draw_spread,
    flow_matching_residual_loss,
)
from galgen.restoration.registry import load_model, save_untrained_model
from galgen.simulate import DEFAULT_REGIME


class _GaussianField(torch.nn.Module):
    """The exact marginal velocity of straight paths from r ~ N(mu, s^2) (scaled units) to N(0, 1):
    ``v(z, t) = -mu + (t - (1 - t) s^2) / ((1 - t)^2 s^2 + t^2) (z - (1 - t) mu)``."""

    def __init__(self, config: PosteriorConfig, mu: float, s: float) -> None:
        super().__init__()
        self.config, self.mu, self.s = config, mu, s

    def forward(self, z, t, x, y, condition):  # noqa: ANN001, ANN201
        t = t.reshape(-1, 1, 1, 1)
        var = (1 - t) ** 2 * self.s**2 + t**2
        return -self.mu + (t - (1 - t) * self.s**2) / var * (z - (1 - t) * self.mu)


@pytest.mark.parametrize(("solver", "steps"), [("rk4", 8), ("dopri5", None)])
def test_sampler_with_the_analytic_field_draws_the_gaussian_residual(solver, steps):
    config = PosteriorConfig(scale=2, in_channels=1, residual_scale=0.5)
    sampler = PosteriorSampler(_GaussianField(config, mu=0.6, s=0.3))
    y = torch.full((2, 1, 16, 16), 1.5)
    draws = sampler.sample(
        torch.zeros(2, 1, 8, 8),
        y,
        torch.zeros(2, 1),
        64,
        solver=solver,
        steps=steps,
        generator=torch.Generator().manual_seed(1),
    )
    assert draws.shape == (64, 2, 1, 16, 16)
    r = (draws - y) / config.residual_scale  # back to the scaled residual
    # 32,768 draws: the sample mean and std are within 0.01 of the truth (5 sigma); the
    # solvers' error on this smooth field is far smaller
    assert float(r.mean()) == pytest.approx(0.6, abs=0.01)
    assert float(r.std()) == pytest.approx(0.3, abs=0.01)


def test_analytic_field_minimises_the_flow_matching_loss():
    config = PosteriorConfig(scale=2, in_channels=1, residual_scale=1.0)
    g = torch.Generator().manual_seed(0)
    r = 0.6 + 0.3 * torch.randn((64, 1, 16, 16), generator=g)
    args = (torch.zeros(64, 1, 8, 8), torch.zeros(64, 1, 16, 16), torch.zeros(64, 1))
    exact = flow_matching_residual_loss(
        _GaussianField(config, 0.6, 0.3), r, *args, generator=torch.Generator().manual_seed(2)
    )
    worse = flow_matching_residual_loss(
        _GaussianField(config, 0.3, 0.6), r, *args, generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        zero = flow_matching_residual_loss(
            PosteriorVelocityNet(config), r, *args, generator=torch.Generator().manual_seed(2)
        )
    # the zero field's loss is E|eps - r|^2 = 1 + mu^2 + s^2 = 1.45 (16,384 pixels: +-0.03)
    assert float(zero) == pytest.approx(1.45, abs=0.05)
    assert float(exact) < float(worse) < float(zero)


def test_velocity_net_shapes_and_zero_start():
    config = PosteriorConfig(scale=2, in_channels=5, channels=8, blocks=2)
    net = PosteriorVelocityNet(config)
    v = net(
        torch.randn(3, 1, 32, 32),
        torch.rand(3),
        torch.randn(3, 5, 16, 16),
        torch.randn(3, 1, 32, 32),
        torch.rand(3, 1),
    )
    assert v.shape == (3, 1, 32, 32)
    assert torch.count_nonzero(v) == 0  # an untrained field does not move the state


def test_draw_spread_is_the_rms_error_of_the_main_image(rng):
    draws = rng.normal(2.0, 0.5, (20000, 3))
    # variance plus squared offset: sqrt(0.25 + 1.0) for a main image 1 below the draws' mean
    assert draw_spread(draws, np.full(3, 1.0)) == pytest.approx(np.sqrt(1.25), rel=0.02)


@pytest.fixture
def model_with_posterior(tmp_path):
    regime = replace(DEFAULT_REGIME, psf_fwhm_range=(0.4, 1.6), any_pixel_scale=True)
    directory = save_untrained_model(
        tmp_path / "px_x2",
        RestorerConfig(channels=8, blocks=2, deconvolved_input=True),
        name="px_x2",
        regime=regime,
    )
    sha = load_model(str(directory)).sha256
    config = PosteriorConfig(scale=2, in_channels=5, channels=8, blocks=2, residual_scale=0.2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = PosteriorVelocityNet(config)
        with torch.no_grad():
            net.tail.weight.normal_(0, 0.05)
    save_module(
        net,
        directory / "posterior",
        {
            "kind": "posterior",
            "name": "px_x2_posterior",
            "architecture": config.to_dict(),
            "restorer_sha256": sha,
        },
    )
    return directory


def _observation(rng):
    obs = rng.normal(0, 1.0, (32, 32))
    obs[12:20, 12:20] += 30.0
    return obs


def test_restore_draws_from_the_posterior_and_writes_them(model_with_posterior, rng, tmp_path):
    obs = _observation(rng)
    kwargs = {
        "psf_fwhm": 3.0 * 0.396 * u.arcsec,
        "pixel_scale": 0.396 * u.arcsec,
        "noise_rms": 1.0,
        "method": str(model_with_posterior),
        "samples": 6,
    }
    a = restore(obs, **kwargs, seed=3)
    b = restore(obs, **kwargs, seed=3)
    c = restore(obs, **kwargs, seed=4)
    assert a.meta["GALGENUQ"] == "posterior"
    assert a.draws.shape == (6, 64, 64)
    np.testing.assert_array_equal(a.draws, b.draws)  # seeded: reproducible
    assert not np.array_equal(a.draws, c.draws)
    # the main image stays the deterministic restoration; UNCERT is the draws' rms about it, and
    # where light was put back from the residual (this untrained model leaves much of it: GALGENLA)
    # that light's own noise, one constant, in quadrature
    det = restore(obs, **{**kwargs, "samples": 1})
    np.testing.assert_allclose(a.data, det.data, rtol=1e-6, atol=1e-9)
    spread = draw_spread(a.draws, np.asarray(a.data))
    extra = a.uncertainty.array**2 - spread**2
    assert a.meta["GALGENLA"] != 0 and extra.min() > -1e-6 * spread.max() ** 2
    added = extra > 1e-6 * spread.max() ** 2
    assert 0 < added.mean() < 1 and np.ptp(extra[added]) < 1e-4 * extra[added].max()
    path = tmp_path / "out.fits"
    write_restored(a, path, write_samples=True)
    with fits.open(path) as hdul:
        assert hdul["SAMPLES"].data.shape == (6, 64, 64)
        np.testing.assert_allclose(hdul["SAMPLES"].data, a.draws, rtol=1e-6)
        np.testing.assert_allclose(np.std(hdul["SAMPLES"].data, axis=0), np.std(a.draws, axis=0), rtol=1e-5)
    boot = restore(obs, **kwargs, uncertainty="bootstrap")
    assert boot.meta["GALGENUQ"] == "bootstrap"
    assert getattr(boot, "draws", None) is None
    with pytest.raises(GalgenValueError, match="no posterior draws"):
        write_restored(boot, tmp_path / "boot.fits", write_samples=True)


def test_correlated_noise_gets_the_bootstrap_unless_the_posterior_is_asked_for(model_with_posterior, rng,
                                                                              tmp_path, capsys):
    """The sampler knows only the rms per pixel: under "auto" an input whose noise is correlated
    (here over 2x2 pixels: GALGENNF ~2) gets the bootstrap re-noised with that correlation; asked
    for, the posterior still draws. The CLI's --uncertainty passes the choice on."""
    from scipy import signal

    from galgen.cli import main

    obs = signal.fftconvolve(rng.normal(0, 1.0, (65, 65)), np.ones((2, 2)), mode="valid") / 2
    obs[28:36, 28:36] += 30.0
    kwargs = {"psf_fwhm": 3.0 * 0.396 * u.arcsec, "pixel_scale": 0.396 * u.arcsec, "noise_rms": 1.0,
              "method": str(model_with_posterior), "samples": 3}
    auto = restore(obs, **kwargs)
    assert auto.meta["GALGENNF"] > 1.5 and auto.meta["GALGENUQ"] == "bootstrap"
    assert restore(obs, **kwargs, uncertainty="posterior").meta["GALGENUQ"] == "posterior"
    white = restore(_observation(rng), **kwargs)
    assert white.meta["GALGENNF"] == 1.0 and white.meta["GALGENUQ"] == "posterior"
    path = tmp_path / "in.fits"
    fits.writeto(path, obs.astype(np.float32))
    for how in ("posterior", "bootstrap"):
        out = tmp_path / f"{how}.fits"
        assert main(["restore", str(path), "-o", str(out), "--psf-fwhm", "3pix", "--pixel-scale",
                     "0.396arcsec", "--noise-rms", "1", "--method", str(model_with_posterior),
                     "--samples", "3", "--uncertainty", how]) == 0
        assert fits.getheader(out)["GALGENUQ"] == how
        note = capsys.readouterr().err  # the CLI says the noise is correlated and what it did with it
        assert "GALGENNF" in note and ("assumes white noise" in note) == (how == "posterior")


def test_a_sampler_for_other_weights_is_refused(model_with_posterior, tmp_path, rng):
    other = save_untrained_model(
        tmp_path / "other",
        RestorerConfig(channels=8, blocks=2, deconvolved_input=True),
        name="other",
        seed=1,
        regime=replace(DEFAULT_REGIME, psf_fwhm_range=(0.4, 1.6), any_pixel_scale=True),
    )
    (other / "posterior").symlink_to(model_with_posterior / "posterior")
    with pytest.raises(GalgenModelError, match="other weights"):
        restore(
            _observation(rng),
            psf_fwhm=1.2 * u.arcsec,
            pixel_scale=0.396 * u.arcsec,
            noise_rms=1.0,
            method=str(other),
            samples=4,
        )
    plain = save_untrained_model(tmp_path / "plain")
    with pytest.raises(GalgenModelError, match="ships no posterior"):
        load_model(str(plain), uncertainty="posterior")


def test_training_loop_runs_resumes_and_exports(tmp_path):
    from galgen.restoration.posterior import load_posterior
    from galgen.train.posterior import PosteriorTrainConfig, export_posterior, train_posterior

    cfg = PosteriorTrainConfig(
        restorer="survey_x2", restorer_config="configs/survey_x2.toml", out_dir=str(tmp_path / "run"),
        shard_seed=77_000_000, shard_size=3, shards=[0, 1], val_seed=78_000_000, val_pairs=2, val_draws=2,
        steps=3, batch=2, patch=16, val_every=3, log_every=1, checkpoint_every=3, device="cpu",
        architecture={"channels": 8, "blocks": 1, "steps": 2},
    )
    train_posterior(cfg, progress=False)
    cfg.steps = 5
    train_posterior(cfg, progress=False)  # resumes at step 3
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert rows[3].split(",")[-1] != ""  # step 3 validated: coverage logged
    # under a time budget, a finished run run again (as `--export` does) trains nothing more
    timed = PosteriorTrainConfig(**{**cfg.__dict__, "out_dir": str(tmp_path / "timed"), "steps": 100_000,
                                    "time_budget": 2.0, "val_every": 100_000, "checkpoint_every": 100_000})
    train_posterior(timed, progress=False)
    done = torch.load(tmp_path / "timed" / "checkpoint.pt", weights_only=True)
    assert done["extra"]["seconds"] >= 2.0 and 0 < done["step"] < 100_000
    train_posterior(timed, progress=False)
    assert torch.load(tmp_path / "timed" / "checkpoint.pt", weights_only=True)["step"] == done["step"]
    export_posterior(cfg, tmp_path / "exported")
    sampler = load_posterior(tmp_path / "exported")
    assert sampler.card["training"]["steps"] == 5
    assert sampler.card["restorer_sha256"] == load_model("survey_x2").sha256
    assert sampler.config.residual_scale > 0
    # a fine-tune starts from that run's weight average and keeps its residual scale
    tuned = PosteriorTrainConfig(**{**cfg.__dict__, "out_dir": str(tmp_path / "tuned"), "steps": 1, "lr": 0.0,
                                    "lr_min": 0.0, "init_from": str(tmp_path / "run" / "checkpoint.pt")})
    train_posterior(tuned, progress=False)
    export_posterior(tuned, tmp_path / "tuned_export")
    start = load_posterior(tmp_path / "tuned_export")
    assert start.card["training"]["initialised_from"] == tuned.init_from
    assert start.config.residual_scale == sampler.config.residual_scale
    for name, value in sampler.net.state_dict().items():
        torch.testing.assert_close(start.net.state_dict()[name], value, rtol=1e-6, atol=1e-7)


def test_the_shipped_survey_x2_sampler_covers_validation_galaxies():
    """The shipped sampler belongs to the shipped restorer, carries its calibration, and its
    calibrated map covers galaxy pixels of fresh validation-regime pairs (not the benchmark's
    seeds) near the Gaussian fractions. Four stamps, eight draws: pooled over ~5,000 correlated
    pixels, so the window is wide (68 % -> 0.50-0.86, 95 % -> 0.80-0.995); a sampler that
    collapsed (no spread) or exploded (spread >> error) falls outside it."""
    from galgen.evaluation import BENCHMARK_SETS
    from galgen.evaluation.benchmark import restore_pair
    from galgen.evaluation.coverage import galaxy_pixels
    from galgen.restoration.posterior import posterior_directory
    from galgen.restoration.registry import find_model, shipped_models
    from galgen.simulate import PairDataset

    if "survey_x2" not in shipped_models() or posterior_directory(find_model("survey_x2")) is None:
        pytest.skip("survey_x2 ships no posterior sampler")
    model = load_model("survey_x2", uncertainty="posterior")  # the sampler, whatever the noise's correlation
    sampler = model.posterior
    assert sampler is not None and sampler.card["restorer_sha256"] == model.sha256
    calibration = sampler.card["uncertainty_calibration"]
    assert calibration["a"] > 0 and calibration["b"] >= 0
    regime = BENCHMARK_SETS["structured"]
    radius = 2.0 * regime.galaxy_scale / regime.out_pixel_scale
    dataset = PairDataset(4, 9_400_000, regime)
    r, s = [], []
    for i in range(4):
        pair = dataset.pair(i)
        result = restore_pair(model, pair, samples=8)
        assert result.meta["GALGENUQ"] == "posterior"
        mask = galaxy_pixels(pair.target.shape, radius)
        r.append(np.abs(np.asarray(result.data) - pair.target)[mask])
        s.append(np.asarray(result.uncertainty.array)[mask])
    r, s = np.concatenate(r), np.concatenate(s)
    assert 0.50 <= np.mean(r <= s) <= 0.86
    assert 0.80 <= np.mean(r <= 2 * s) <= 0.995
