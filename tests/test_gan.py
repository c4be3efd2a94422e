"""GAN objectives, regularisers and networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galgen.errors import GalgenValueError
from galgen.models.gan import (
    GAN_LOSSES,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PatchDiscriminator,
    clip_weights,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
)
from galgen.models.toy import ToyTrainConfig, get_density, train_gan
from galgen.models.toy.densities import eight_gaussians_coverage


def test_minimax_values_and_saturation():
    real, fake = torch.tensor([10.0]), torch.tensor([-10.0])
    # a perfect discriminator: D loss ~ 0
    assert float(discriminator_loss(real, fake, "minimax")) < 1e-3
    # the original generator loss log(1 - D(G(z))) saturates: tiny gradient when D wins,
    # the non-saturating -log D(G(z)) keeps a gradient of ~ -1
    f1 = fake.clone().requires_grad_(True)
    generator_loss(f1, "minimax").backward()
    f2 = fake.clone().requires_grad_(True)
    generator_loss(f2, "nonsaturating").backward()
    assert abs(float(f1.grad)) < 1e-4 and float(f2.grad) == pytest.approx(-1.0, abs=1e-4)
    # at D's equilibrium (logits 0) the minimax D loss is 2 log 2
    zero = torch.zeros(4)
    assert float(discriminator_loss(zero, zero, "minimax")) == pytest.approx(2 * np.log(2))


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_every_loss_is_finite_and_differentiable(kind):
    real = torch.randn(8, requires_grad=True)
    fake = torch.randn(8, requires_grad=True)
    d = discriminator_loss(real, fake, kind)
    g = generator_loss(fake, kind, real)
    (d + g).backward()
    assert torch.isfinite(d) and torch.isfinite(g) and fake.grad is not None
    with pytest.raises(GalgenValueError):
        discriminator_loss(real, fake, "nope")


def test_wasserstein_hinge_lsgan_values():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 1.0])
    assert float(discriminator_loss(real, fake, "wgan")) == pytest.approx(0.0 - 3.0)
    assert float(generator_loss(fake, "wgan")) == pytest.approx(0.0)
    assert float(discriminator_loss(real, fake, "hinge")) == pytest.approx(0.0 + 1.0)
    assert float(discriminator_loss(real, fake, "lsgan")) == pytest.approx(0.5 * 5.0 + 0.5 * 1.0)


def test_gradient_and_r1_penalties_on_a_linear_critic():
    w = torch.tensor([0.6, 0.8])  # unit norm: 1-Lipschitz, gradient norm exactly 1

    def critic(x):
        return x @ w

    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert float(gradient_penalty(critic, real, fake)) == pytest.approx(0.0, abs=1e-10)
    assert float(r1_penalty(lambda x: 3 * critic(x), real)) == pytest.approx(9.0)


def test_clipping_and_spectral_norm():
    d = MLPDiscriminator(spectral_norm=False)
    clip_weights(d, 0.01)
    assert all(p.abs().max() <= 0.01 for p in d.parameters())
    sn = MLPDiscriminator(spectral_norm=True)
    sn.train()
    x = torch.randn(64, 2)
    for _ in range(30):  # power iterations converge during forward passes
        sn(x)
    sn.eval()
    for m in sn.modules():
        if isinstance(m, torch.nn.Linear):
            sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2)
            assert float(sigma) == pytest.approx(1.0, abs=0.05)


def test_network_shapes():
    g = DCGANGenerator(latent=16, width=8)
    assert g(torch.randn(2, 16)).shape == (2, 1, 32, 32)
    assert DCGANDiscriminator(width=8)(torch.randn(2, 1, 32, 32)).shape == (2,)
    assert PatchDiscriminator(2, width=8)(torch.randn(2, 2, 64, 64)).shape == (2, 1, 8, 8)
    assert MLPGenerator()(torch.randn(5, 2)).shape == (5, 2)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["wgan-gp", "nonsaturating"])
def test_gan_covers_all_eight_modes(loss):
    torch.manual_seed(0)
    gen, disc = MLPGenerator(), MLPDiscriminator()
    lr = 1e-4 if loss == "wgan-gp" else 2e-4
    train_gan(gen, disc, get_density("8gaussians"),
              ToyTrainConfig(steps=4000, batch=256, lr=lr, progress=False), loss=loss)
    with torch.no_grad():
        x = gen(torch.randn(20_000, 2)).numpy()
    hq, per_mode = eight_gaussians_coverage(x)
    assert hq >= 0.90
    assert per_mode.min() >= 0.05
