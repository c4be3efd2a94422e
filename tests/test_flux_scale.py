"""The flux scales of galgen.restoration.flux_scale against cases whose answer is known."""

import numpy as np
import pytest

from galgen.restoration.flux_scale import (
    aperture_scale,
    bounded_scale,
    central_distance2,
    least_squares_scale,
    residual_scale,
    too_faint,
)


@pytest.fixture
def blob():
    """A Gaussian blob of total flux 1000 on a 33 x 33 grid and a 10-pixel aperture about it."""
    r2 = central_distance2((33, 33))
    model = 1000 * np.exp(-0.5 * r2 / 3.0**2) / (2 * np.pi * 3.0**2)
    return model, r2 <= 10.0**2


def test_central_distance_is_from_the_middle_of_even_and_odd_grids():
    # the centre of a 4 x 6 grid lies between pixels: (1.5, 2.5)
    r2 = central_distance2((4, 6))
    assert r2[0, 0] == pytest.approx(1.5**2 + 2.5**2)
    assert r2.min() == pytest.approx(0.5**2 + 0.5**2)
    np.testing.assert_array_equal(r2, r2[::-1, ::-1])  # symmetric about the centre


def test_scales_recover_a_known_factor_without_noise(blob):
    model, inside = blob
    for scale in (0.8, 1.0, 1.3):
        # noise-free data that are the model times a factor: both estimators return the factor
        # to rounding (1e-12)
        assert least_squares_scale(scale * model, model, inside, 1e-3) == pytest.approx(scale, rel=1e-12)
        assert aperture_scale(scale * model, model, inside, 1e-3) == pytest.approx(scale, rel=1e-12)


def test_least_squares_scale_is_unbiased_in_noise(blob, rng):
    # 400 noise draws at SNR ~ 100 in the aperture: the mean scale is 1.2 within 4 standard errors
    model, inside = blob
    scales = [least_squares_scale(1.2 * model + rng.normal(0, 0.5, model.shape), model, inside, 0.5)
              for _ in range(400)]
    assert np.mean(scales) == pytest.approx(1.2, abs=4 * np.std(scales) / 20)


def test_too_faint_is_five_sigma_of_the_summed_noise(blob):
    model, inside = blob
    noise_sum = np.sqrt(inside.sum())
    flux = model[inside].sum()
    assert not too_faint(model, inside, 0.99 * flux / (5 * noise_sum))
    assert too_faint(model, inside, 1.01 * flux / (5 * noise_sum))
    assert least_squares_scale(2 * model, model, inside, flux) == 1.0  # unconstrained: no scale


def test_scales_outside_half_to_double_are_refused(blob):
    model, inside = blob
    assert bounded_scale(1.99) == 1.99 and bounded_scale(2.0) == 1.0 and bounded_scale(0.5) == 1.0
    assert aperture_scale(3 * model, model, inside, 1e-3) == 1.0


def test_residual_scale_adds_the_windowed_residual(blob):
    model, inside = blob
    # data with 5 % more light than the restoration, all of it in a point at the centre, and a
    # window wide enough that its weight there is 1: alpha = 1 + w * 50 / F
    data = model.copy()
    data[16, 16] += 50.0
    r2 = central_distance2(model.shape)
    own = model[inside].sum()
    assert residual_scale(data, model, own, r2, 4.0, 0.75) == pytest.approx(1 + 0.75 * 50 / own, rel=1e-12)
    # NaN pixels of the data add nothing; a restoration without flux gets no scale
    data[0, 0] = np.nan
    assert residual_scale(data, model, own, r2, 4.0, 0.75) == pytest.approx(1 + 0.75 * 50 / own, rel=1e-12)
    assert residual_scale(data, model, 0.0, r2, 4.0, 0.75) == 1.0
