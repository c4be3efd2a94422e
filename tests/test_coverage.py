"""Uncertainty coverage and its calibration (galgen.evaluation.coverage)."""

from __future__ import annotations

import numpy as np
import pytest

from galgen.evaluation.coverage import (
    NOMINAL,
    apply_uncertainty_calibration,
    coverage,
    fit_uncertainty_calibration,
    galaxy_pixels,
    reliability,
)


def test_gaussian_errors_with_their_own_sigma_are_covered_at_nominal_rates(rng):
    truth = np.zeros((200, 200))
    std = rng.uniform(0.5, 2.0, truth.shape)
    restored = truth + rng.normal(0, std)
    cov = coverage(restored, std, truth, np.ones(truth.shape, bool))
    # 40,000 pixels: binomial scatter of a coverage is < 0.3 %
    assert cov[1.0] == pytest.approx(NOMINAL[1.0], abs=0.01)
    assert cov[2.0] == pytest.approx(NOMINAL[2.0], abs=0.01)
    nominal, observed = reliability(np.abs(restored - truth) / std)
    np.testing.assert_allclose(observed, nominal, atol=0.015)


def test_calibration_recovers_the_error_model(rng):
    n = 60_000
    boot = rng.uniform(0.5, 1.5, n)
    signal = rng.exponential(10.0, n)
    true_sigma = np.sqrt((2.0 * boot) ** 2 + (0.1 * signal) ** 2)
    residual = rng.normal(0, true_sigma)
    fit = fit_uncertainty_calibration(residual, boot, signal)
    assert fit["coverage_1sigma"] == pytest.approx(NOMINAL[1.0], abs=0.01)
    assert fit["coverage_2sigma"] == pytest.approx(NOMINAL[2.0], abs=0.01)
    # the two terms are degenerate only where both are small: each is recovered within 15 %
    assert fit["a"] == pytest.approx(2.0, rel=0.15)
    assert fit["b"] == pytest.approx(0.1, rel=0.15)
    calibrated = apply_uncertainty_calibration(boot, signal, fit)
    assert np.mean(np.abs(residual) <= calibrated) == pytest.approx(NOMINAL[1.0], abs=0.01)
    assert apply_uncertainty_calibration(boot, signal, None) is boot


def test_brightness_bins_rescale_the_pixels_whose_errors_the_pooled_fit_misses(rng):
    """Pixels brighter than 20 % of the peak err 1.6x more than the error model says: the
    pooled (a, b) absorb only part of it (those pixels are a fifth of all), leaving the bright
    ones under-covered; the per-bin scales bring each bin to a Gaussian's rates within 1.5 %
    (binomial scatter of 20,000 pixels: 0.3 %)."""
    from galgen.evaluation.coverage import relative_brightness

    n = 100_000
    relative = np.r_[rng.uniform(0.0, 0.2, n - 20_000), rng.uniform(0.2, 1.0, 20_000)]
    std = rng.uniform(0.5, 1.5, n)
    signal = 100.0 * relative
    sigma = np.sqrt(std**2 + (0.05 * signal) ** 2) * np.where(relative >= 0.2, 1.6, 1.0)
    residual = rng.normal(0, sigma)
    bright = relative >= 0.2
    pooled = fit_uncertainty_calibration(residual, std, signal)
    z = np.abs(residual[bright]) / apply_uncertainty_calibration(std, signal, pooled)[bright]
    assert np.mean(z <= 2) < NOMINAL[2.0] - 0.02
    fit = fit_uncertainty_calibration(residual, std, signal, relative)
    assert (fit["a"], fit["b"]) == (pooled["a"], pooled["b"])
    assert fit["brightness_edges"] == [0.0, 0.01, 0.05, 0.2] and len(fit["brightness_scale"]) == 4
    calibrated = apply_uncertainty_calibration(std, signal, fit, relative)
    for sel in (~bright, bright):
        z = np.abs(residual[sel]) / calibrated[sel]
        assert np.mean(z <= 1) == pytest.approx(NOMINAL[1.0], abs=0.015)
        assert np.mean(z <= 2) == pytest.approx(NOMINAL[2.0], abs=0.015)
    # applied to a whole stamp, relative brightness comes from the stamp itself
    stamp = np.outer(np.hanning(9), np.hanning(9))
    np.testing.assert_allclose(relative_brightness(stamp).max(), 1.0)
    np.testing.assert_allclose(apply_uncertainty_calibration(np.ones((9, 9)), stamp, fit),
                               apply_uncertainty_calibration(np.ones((9, 9)), stamp, fit,
                                                             relative_brightness(stamp)))
    # per_bin=False (a mosaic): the pooled (a, b) alone
    np.testing.assert_allclose(apply_uncertainty_calibration(std, signal, fit, relative, per_bin=False),
                               apply_uncertainty_calibration(std, signal, pooled))


def test_galaxy_pixels_is_a_centred_disc():
    m = galaxy_pixels((21, 21), 5.0)
    assert m[10, 10] and m[10, 15] and not m[10, 16] and m.sum() == 81


def test_coverage_metrics_on_gaussian_errors_skips_masked_pixels_and_pools_exactly(rng):
    from galgen.evaluation.coverage import RELIABILITY_LEVELS, coverage_metrics, pooled_reliability

    truth = rng.exponential(1.0, (240, 240))
    std = rng.uniform(0.5, 2.0, truth.shape)
    restored = truth + rng.normal(0, std)
    restored[:40] = np.nan  # a masked strip: left out, not counted as covered or missed
    # 0.02"/px, 2" radius: a 100-pixel disc, ~31,000 pixels, binomial scatter < 0.3 %
    m = coverage_metrics(restored, std, truth, 0.02)
    disc = galaxy_pixels(truth.shape, 100.0)
    assert m["coverage_pixels"] == int((disc & np.isfinite(restored)).sum()) < disc.sum()
    assert m["coverage_1sigma"] == pytest.approx(NOMINAL[1.0], abs=0.01)
    assert m["coverage_2sigma"] == pytest.approx(NOMINAL[2.0], abs=0.01)
    np.testing.assert_allclose(m["reliability"], RELIABILITY_LEVELS, atol=0.015)
    # an uncertainty map twice too small covers at 1 sigma what a Gaussian covers at 0.5 sigma
    half = coverage_metrics(restored, std / 2, truth, 0.02)
    assert half["coverage_1sigma"] == pytest.approx(0.3829, abs=0.01)
    # pooling per-image curves by their pixel counts equals the curve of the pooled pixels
    noise = rng.normal(0, 1.0, (60, 60))
    small = coverage_metrics(truth[:60, :60] + noise, np.full((60, 60), 0.7), truth[:60, :60], 0.02)
    assert small["coverage_pixels"] == 3600  # the 2" disc holds the whole 1.2" stamp
    z = np.concatenate([(np.abs(restored - truth) / std)[disc & np.isfinite(restored)],
                        np.abs(noise).ravel() / 0.7])
    pooled = pooled_reliability(np.stack([m["reliability"], small["reliability"]]),
                                np.array([m["coverage_pixels"], small["coverage_pixels"]]))
    np.testing.assert_allclose(pooled, reliability(z, RELIABILITY_LEVELS)[1], rtol=1e-12)
    empty = coverage_metrics(np.full((8, 8), np.nan), np.ones((8, 8)), np.zeros((8, 8)), 0.1)
    assert empty["coverage_pixels"] == 0 and np.isnan(empty["coverage_1sigma"])
