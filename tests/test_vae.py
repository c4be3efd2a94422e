"""VAEs: KL, likelihoods, ELBO and the IWAE bound."""

from __future__ import annotations

import math

import pytest
import torch

from galgen.models.toy import ToyTrainConfig, get_density, held_out_samples, train_vae
from galgen.models.vae import conv_vae, gaussian_kl, mlp_vae


def test_analytic_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.randn(3, 4, dtype=torch.float64)
    log_var = 0.5 * torch.randn(3, 4, dtype=torch.float64)
    n = 200_000
    z = mu + torch.exp(0.5 * log_var) * torch.randn(n, 3, 4, dtype=torch.float64)
    log_q = (-0.5 * ((z - mu) ** 2) / log_var.exp() - 0.5 * log_var - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_p = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    mc = (log_q - log_p)
    se = mc.std(0) / math.sqrt(n)
    # Monte Carlo mean within 3 standard errors of the analytic KL
    assert torch.all((mc.mean(0) - gaussian_kl(mu, log_var)).abs() < 3 * se)


def test_gaussian_likelihood_formula_and_noise_map():
    vae = mlp_vae(features=3, latent=2, learn_variance=False, fixed_std=0.5)
    x = torch.tensor([[0.0, 1.0, -1.0]])
    mean = torch.zeros(1, 3)
    expected = sum(-0.5 * (v / 0.5) ** 2 - math.log(0.5) - 0.5 * math.log(2 * math.pi) for v in (0, 1, -1))
    assert float(vae.decoder.log_likelihood(x, mean)) == pytest.approx(expected, rel=1e-6)
    noise = torch.tensor([[1.0, 2.0, 4.0]])
    expected = sum(-0.5 * (v / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
                   for v, s in ((0, 1.0), (1, 2.0), (-1, 4.0)))
    assert float(vae.decoder.log_likelihood(x, mean, noise)) == pytest.approx(expected, rel=1e-6)


def test_bernoulli_and_conv_vae_shapes():
    vae = mlp_vae(features=5, latent=2, likelihood="bernoulli")
    x = torch.randint(0, 2, (4, 5)).float()
    assert vae.elbo(x).shape == (4,)
    assert vae.sample(3, mean=False).unique().tolist() in ([0.0], [1.0], [0.0, 1.0])
    cv = conv_vae(channels=1, size=32, latent=8, width=8, context=2)
    img = torch.randn(2, 1, 32, 32)
    ctx = torch.randn(2, 2)
    assert cv.elbo(img, ctx, noise_std=torch.full_like(img, 0.3)).shape == (2,)
    assert cv.iwae(img, 4, ctx).shape == (2,)
    assert cv.sample(2, ctx).shape == (2, 1, 32, 32)


def test_iwae_bound_tightens_with_k_on_a_trained_model():
    torch.manual_seed(0)
    density = get_density("8gaussians")
    vae = mlp_vae(features=2, latent=2, hidden=(64, 64))
    train_vae(vae, density, ToyTrainConfig(steps=400, batch=256, lr=2e-3, progress=False))
    x = held_out_samples(density, 2000)
    vae.eval()
    with torch.no_grad():
        bounds = [float(vae.iwae(x, k).mean()) for k in (1, 8, 64)]
    # IWAE_1 = ELBO <= IWAE_8 <= IWAE_64 <= log p(x); the gaps here are ~0.1 nats, far
    # above the Monte Carlo noise of 2000 points (~0.01)
    assert bounds[0] < bounds[1] < bounds[2]
    with torch.no_grad():
        assert float(vae.elbo(x).mean()) == pytest.approx(bounds[0], abs=0.05)
