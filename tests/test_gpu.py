"""GPU checks (skipped without CUDA): AMP inference agrees with the CPU, training steps run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galgen.models.serialization import save_module
from galgen.restore.model import LearnedRestorer
from galgen.restore.networks import RestorerConfig, build_generator
from galgen.simulate import DEFAULT_REGIME, simulate_pair


@pytest.mark.gpu
def test_cuda_bf16_inference_matches_cpu(tmp_path):
    cfg = RestorerConfig(channels=16, blocks=2)
    gen = build_generator(cfg)
    with torch.no_grad():
        gen.tail.weight.normal_(0, 0.05)
    save_module(gen, tmp_path / "m", {"name": "m", "architecture": cfg.to_dict(),
                                      "regime": DEFAULT_REGIME.to_dict()})
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
