"""The GalSim degradation simulator and training pairs."""

from __future__ import annotations

import galsim
import numpy as np
import pytest
import torch
from astropy.table import Table

from galgen.io import read_image
from galgen.psf import gaussian_psf, moffat_psf
from galgen.simulate import (
    DEFAULT_REGIME,
    PairDataset,
    Regime,
    cosmos_catalog,
    degrade_image,
    random_galaxy,
    simulate_pair,
    write_dataset,
)


def test_catalog_is_bundled():
    assert cosmos_catalog().nobjects == 100


def test_degrade_conserves_flux_noise_free(rng):
    hr = galsim.Sersic(n=1.5, half_light_radius=0.5, flux=1234.0).drawImage(
        nx=128, ny=128, scale=0.1).array
    for factor in (1, 2, 4):
        obs = degrade_image(hr, moffat_psf(8.0, 61), factor)
        assert obs.shape == (128 // factor, 128 // factor)
        # issue tolerance 0.5 %: only flux convolved past the stamp edge is lost
        assert obs.sum() == pytest.approx(hr.sum(), rel=5e-3)


def test_default_regime_pair(rng):
    pair = simulate_pair(rng)
    assert pair.observation.shape == (64, 64) and pair.observation.dtype == np.float32
    assert pair.target.shape == (128, 128)
    assert 0.6 <= pair.psf_fwhm <= 1.4 and 20 <= pair.snr <= 200
    assert pair.psf.sum() == pytest.approx(1.0)
    # the target holds the galaxy's flux up to what falls outside the 12.8" stamp
    assert pair.target.sum() == pytest.approx(pair.flux, rel=0.05)


def test_noise_matches_requested_snr(rng):
    gal = (galsim.Exponential(half_light_radius=0.4), {"kind": "exp", "hlr": 0.4})
    pair = simulate_pair(rng, galaxy=gal, psf_fwhm=1.0, snr=50.0, flux=1e4)
    clean = simulate_pair(np.random.default_rng(1), galaxy=gal, psf_fwhm=1.0, snr=1e9,
                          flux=1e4).observation
    # background noise: corners of the stamp, 4 x 16x16 pixels -> std error ~2.5 %
    corners = np.concatenate([pair.observation[:16, :16].ravel(), pair.observation[-16:, -16:].ravel(),
                              pair.observation[:16, -16:].ravel(), pair.observation[-16:, :16].ravel()])
    assert corners.std() == pytest.approx(pair.noise_rms, rel=0.08)
    snr = np.sqrt(np.sum(clean.astype(float) ** 2)) / pair.noise_rms
    assert snr == pytest.approx(50.0, rel=0.03)  # the offset differs between the two draws


def test_pairs_reproducible_and_independent_of_order():
    ds = PairDataset(6, seed=7)
    a = ds[4]
    b = PairDataset(6, seed=7)[4]
    torch.testing.assert_close(a["observation"], b["observation"])
    c = PairDataset(6, seed=8)[4]
    assert not torch.equal(a["observation"], c["observation"])
    assert a["observation"].shape == (1, 64, 64) and a["target"].shape == (1, 128, 128)
    with pytest.raises(IndexError):
        ds.pair(6)
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    batch = next(iter(loader))
    assert batch["observation"].shape == (3, 1, 64, 64)
    torch.testing.assert_close(batch["noise_rms"][1], ds[1]["noise_rms"])


@pytest.mark.parametrize("kind", ["gaussian", "hst"])
def test_other_psf_kinds(kind, rng):
    pair = simulate_pair(rng, Regime(psf_kind=kind), psf_fwhm=1.0)
    assert pair.observation.shape == (64, 64)
    assert np.isfinite(pair.observation).all()


def test_random_galaxies_vary(rng):
    kinds = {random_galaxy(rng)[1]["kind"] for _ in range(40)}
    assert {"cosmos", "sersic"} & kinds and any("knots" in k for k in kinds)


def test_write_dataset(tmp_path):
    table = write_dataset(tmp_path / "set", 3, seed=1, progress=False)
    again = Table.read(tmp_path / "set" / "manifest.ecsv")
    assert len(again) == 3 and again["psf_fwhm"].unit == "arcsec"
    obs = read_image(tmp_path / "set" / again["observed"][0])
    truth = read_image(tmp_path / "set" / again["truth"][0])
    assert obs.pixel_scale == pytest.approx(0.2) and truth.pixel_scale == pytest.approx(0.1)
    assert obs.header["PSFFWHM"] == pytest.approx(table["psf_fwhm"][0])
    # each header describes its own file: the noise-free truth is at the 0.2" target PSF
    assert truth.header["PSFFWHM"] == pytest.approx(0.2) and "NOISERMS" not in truth.header
    assert truth.header["OBSPSF"] == pytest.approx(table["psf_fwhm"][0])
    assert str(obs.unit) == "adu"
    # both grids cover the same sky: their centres coincide
    c_obs = obs.wcs.pixel_to_world(31.5, 31.5)
    c_truth = truth.wcs.pixel_to_world(63.5, 63.5)
    assert c_obs.separation(c_truth).arcsec < 1e-6
    np.testing.assert_allclose(obs.data, PairDataset(3, 1).pair(0).observation, rtol=1e-6)
    with pytest.raises(Exception, match="exists"):
        write_dataset(tmp_path / "set", 3, seed=1, progress=False)
    assert DEFAULT_REGIME.out_size == 128


def test_gaussian_psf_helper_used_in_simulator_is_consistent():
    # a Gaussian observing PSF of the simulator has the FWHM asked for (1 %)
    from galgen.psf import measure_fwhm
    from galgen.simulate import observing_psf

    prof = observing_psf(1.0, Regime(psf_kind="gaussian"))
    img = prof.drawImage(nx=41, ny=41, scale=0.05, method="no_pixel").array
    assert measure_fwhm(img, 0.05) == pytest.approx(1.0, rel=0.01)
    assert gaussian_psf(2.0).sum() == pytest.approx(1.0)
