"""Morphology-rich truth galaxies, scenes and correlated noise (galgen.simulate.morphology)."""

from __future__ import annotations

import galsim
import numpy as np
import pytest

from galgen.errors import GalgenValueError
from galgen.simulate import Regime, simulate_pair
from galgen.simulate.degrade import add_correlated_noise
from galgen.simulate.morphology import (
    FAMILIES,
    HELD_OUT_FAMILY,
    TRAINING_FAMILIES,
    morphology_galaxy,
    scene,
)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_draws_a_unit_flux_galaxy(family):
    rng = np.random.default_rng(7)
    gal, params = morphology_galaxy(rng, (family,), hlr_range=(0.6, 0.6))
    assert params["family"] == family
    image = galsim.Convolve(gal, galsim.Gaussian(fwhm=0.2)).drawImage(nx=160, ny=160, scale=0.1).array
    assert np.all(np.isfinite(image))
    # unit flux: what falls in a 16" stamp of a 0.6" galaxy; 3 % allows for a merger's tails and a
    # COSMOS profile's wings past the edge
    assert image.sum() == pytest.approx(1.0, abs=0.03)
    assert image.min() > -1e-4  # interpolated structure is clipped at zero before GalSim sees it


def test_training_never_draws_the_held_out_family():
    rng = np.random.default_rng(1)
    drawn = {morphology_galaxy(rng)[1]["family"] for _ in range(120)}
    assert HELD_OUT_FAMILY not in drawn and HELD_OUT_FAMILY not in TRAINING_FAMILIES
    assert drawn == set(TRAINING_FAMILIES)  # 120 draws of 7 equally likely families: all appear
    with pytest.raises(GalgenValueError, match="unknown galaxy families"):
        morphology_galaxy(rng, ("spiral", "blob"))


def test_spiral_arms_are_m_fold_symmetric():
    """A face-on two-armed spiral is unchanged by a 180-degree rotation (to the clumps on its
    arms, drawn at random); a one-armed one is not."""
    from galgen.simulate.morphology import _spiral_image

    sym = []
    for arms in (1, 2):
        image, _, _ = _spiral_image(np.random.default_rng(3), 1.0, arms, 20.0, 1.5, 0.5)
        sym.append(np.abs(image - np.rot90(image, 2)).sum() / image.sum())
    assert sym[1] < 1e-6 < 0.05 < sym[0]


def test_scene_keeps_the_target_flux_and_adds_neighbours():
    rng = np.random.default_rng(11)
    gal = galsim.Exponential(half_light_radius=0.5)
    sources, params = scene(rng, gal, 12.8, p_companion=1.0, p_star=1.0, p_neighbour=1.0)
    assert params["neighbours"] == 1 and sources[0] is gal
    assert sum(s.flux for s in sources) == pytest.approx(1.0 + params["extra_flux"], rel=1e-9)


def test_correlated_noise_has_the_requested_rms_and_correlation():
    rng = np.random.default_rng(0)
    noise = add_correlated_noise(np.zeros((256, 256)), 2.0, 0.2, rng, correlation_pixels=1.0)
    # rms of 65,536 correlated samples: a few per cent of sampling error
    assert noise.std() == pytest.approx(2.0, rel=0.05)
    lag1 = np.mean(noise[:, 1:] * noise[:, :-1]) / noise.var()
    assert lag1 > 0.1  # white noise would give 0 +- 0.004


def test_morphology_regime_pairs():
    regime = Regime(galaxies="morphology", scene=True, correlated_noise=1.0, max_offset=3.0)
    pair = simulate_pair(np.random.default_rng(5), regime)
    assert pair.observation.shape == (64, 64) and pair.target.shape == (128, 128)
    assert pair.params["noise"] == "correlated" and pair.params["family"] in TRAINING_FAMILIES
    assert max(abs(pair.params["offset_x"]), abs(pair.params["offset_y"])) <= 3 * 0.2


def test_a_real_image_as_truth_matches_the_profile_it_samples():
    """A well-sampled Gaussian 'real' image (0.03"/px, with a sky pedestal) used as the truth gives
    the same target as GalSim's own Gaussian."""
    from galgen.simulate.real import real_galaxy, real_galaxy_pair

    image = galsim.Gaussian(fwhm=0.6, flux=50.0).drawImage(nx=301, ny=301, scale=0.03).array + 0.01
    gal, params = real_galaxy(image, 0.03)
    assert params["kind"] == "real" and gal.flux == pytest.approx(1.0)
    pair = real_galaxy_pair((gal, params), np.random.default_rng(0), psf_fwhm=1.0, snr=100.0, flux=1e4)
    offset = (pair.params["offset_x"], pair.params["offset_y"])
    direct = (galsim.Convolve(galsim.Gaussian(fwhm=0.6, flux=1e4).shift(*offset), galsim.Gaussian(fwhm=0.2))
              .drawImage(nx=128, ny=128, scale=0.1).array)
    # 0.5 % of the peak: the interpolant and the border-median sky estimate are not exact
    assert np.max(np.abs(pair.target - direct)) < 5e-3 * direct.max()
