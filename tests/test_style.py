"""Neural style transfer on random features (galgen.models.style)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galgen.errors import GalgenValueError
from galgen.models.style import RandomFeatures, gram_matrix, style_transfer


def _stripes(n: int, period: float, rng) -> np.ndarray:
    x = np.arange(n)
    return np.sin(2 * np.pi * x / period)[None, :] * np.ones((n, 1)) + 0.05 * rng.normal(size=(n, n))


def _gaussian_blob(n: int) -> np.ndarray:
    yy, xx = np.indices((n, n)) - (n - 1) / 2
    return 10.0 * np.exp(-(xx**2 + yy**2) / (2 * 6.0**2))


def test_gram_matrix_of_known_features():
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]]])  # (1, 2, 2, 2)
    g = gram_matrix(f)
    torch.testing.assert_close(g, torch.tensor([[[30 / 4, 10 / 4], [10 / 4, 1.0]]]))


def test_style_transfer_imposes_the_style_statistics_and_keeps_flux(rng):
    content = _gaussian_blob(48) + 0.1 * rng.normal(size=(48, 48))
    style = _stripes(48, 4.0, rng)
    out = style_transfer(content, style, steps=120, style_weight=5.0, stretch=False, seed=1)
    # the style loss falls by more than 5x while the content term stays bounded
    assert out.style_loss[-1] < out.style_loss[0] / 5
    assert np.isfinite(out.image).all() and out.image.shape == content.shape
    assert out.image.sum() == pytest.approx(content.sum(), rel=1e-9)
    # the stripes' period (4 px) now carries power in the result's horizontal spectrum
    spec = np.abs(np.fft.rfft(out.image - out.image.mean(), axis=1)).mean(axis=0)
    base = np.abs(np.fft.rfft(content - content.mean(), axis=1)).mean(axis=0)
    assert spec[12] > 3 * base[12]  # frequency 48 / 4 = 12
    again = style_transfer(content, style, steps=120, style_weight=5.0, stretch=False, seed=1)
    np.testing.assert_array_equal(out.image, again.image)


def test_without_style_weight_the_content_comes_back(rng):
    content = _gaussian_blob(32) + rng.normal(0, 0.1, (32, 32))
    out = style_transfer(content, _stripes(32, 4.0, rng), steps=60, style_weight=0.0, seed=0)
    assert np.abs(out.image - content).max() < 0.1 * content.max()


def test_features_are_frozen_and_multiscale():
    net = RandomFeatures(channels=8, layers=3)
    feats = net(torch.randn(1, 1, 32, 32))
    assert [f.shape[-1] for f in feats] == [32, 16, 8]
    assert not any(p.requires_grad for p in net.parameters())


def test_bad_inputs_are_typed_errors():
    with pytest.raises(GalgenValueError, match="finite 2-D"):
        style_transfer(np.full((32, 32), np.nan), np.ones((32, 32)))
    with pytest.raises(GalgenValueError, match="16 x 16"):
        style_transfer(np.ones((8, 8)), np.ones((32, 32)))
