"""GPU checks (skipped without CUDA): AMP inference agrees with the CPU, training steps run."""

from __future__ import annotations

import numpy as np
import pytest

from galgen.restoration.model import LearnedRestorer
from galgen.restoration.networks import RestorerConfig
from galgen.restoration.registry import save_untrained_model
from galgen.simulate import simulate_pair


@pytest.mark.gpu
def test_cuda_bf16_inference_matches_cpu(tmp_path):
    save_untrained_model(tmp_path / "m", RestorerConfig(channels=16, blocks=2), name="m")
    p = simulate_pair(np.random.default_rng(0), psf_fwhm=1.0, snr=100)
    cpu = LearnedRestorer(tmp_path / "m", "cpu").predict(p.observation, p.noise_rms, 1.0, 0.2)
    gpu = LearnedRestorer(tmp_path / "m", "cuda").predict(p.observation, p.noise_rms, 1.0, 0.2)
    # bf16 autocast keeps ~3 significant digits in the stretched space
    assert np.max(np.abs(gpu - cpu)) < 2e-2 * np.max(np.abs(cpu))


@pytest.mark.gpu
def test_cuda_training_steps(tmp_path):
    from galgen.train.restoration import TrainConfig, train

    cfg = TrainConfig(out_dir=str(tmp_path / "run"), train_pairs=8, val_pairs=4, steps=3, batch=4,
                      patch=32, device="cuda", adv_weight=0.01, adv_start=1, val_every=3,
                      architecture={"channels": 8, "blocks": 1})
    train(cfg, progress=False)
    assert (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.gpu
def test_cuda_fp32_matches_bf16_and_cpu(tmp_path):
    save_untrained_model(tmp_path / "m", RestorerConfig(channels=16, blocks=2), name="m")
    p = simulate_pair(np.random.default_rng(1), psf_fwhm=0.9, snr=60)
    cpu = LearnedRestorer(tmp_path / "m", "cpu").predict(p.observation, p.noise_rms, 0.9, 0.2)
    fp32 = LearnedRestorer(tmp_path / "m", "cuda", amp=False).predict(p.observation, p.noise_rms, 0.9, 0.2)
    bf16 = LearnedRestorer(tmp_path / "m", "cuda").predict(p.observation, p.noise_rms, 0.9, 0.2)
    peak = np.max(np.abs(cpu))
    assert np.max(np.abs(fp32 - cpu)) < 1e-3 * peak  # TF32 convolutions at most
    assert np.max(np.abs(bf16 - fp32)) < 2e-2 * peak
