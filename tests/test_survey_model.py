"""Restoration for real surveys: the PSF zoo, PSF-image input channel, pixel units, PSF errors."""

from __future__ import annotations

from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
import torch

from galgen import restore
from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.psf.models import measure_fwhm, moffat_psf
from galgen.psf.zoo import PSF_FAMILIES, random_psf
from galgen.restoration.inputs import network_input, space_to_depth
from galgen.restoration.networks import RestorerConfig, build_generator
from galgen.restoration.registry import load_model, save_untrained_model
from galgen.simulate import DEFAULT_REGIME, simulate_pair
from galgen.train.restoration import load_matching, load_widened


@pytest.mark.parametrize("family", sorted(PSF_FAMILIES))
def test_zoo_psfs_have_the_requested_fwhm_and_unit_flux(family):
    rng = np.random.default_rng(3)
    for fwhm, scale in ((0.5, 0.2), (1.4, 0.396), (0.7, 0.168)):
        psf, params = random_psf(rng, fwhm, scale, families={family: 1.0})
        image = psf.drawImage(nx=63, ny=63, scale=scale).array
        # measured the way galgen measures a user's PSF file; 2 % is what scale_to_fwhm guarantees
        assert measure_fwhm(image / image.sum()) * scale == pytest.approx(fwhm, rel=0.02)
        assert psf.flux == pytest.approx(1.0, abs=1e-6)
        assert params["family"] in (family, "moffat")


@pytest.mark.parametrize("family", sorted(PSF_FAMILIES))
def test_undersampled_zoo_psfs_are_scaled_as_galgen_reads_an_undersampled_psf(family):
    """At 1.0-1.6 pixels (Euclid VIS, HST) the core has no half maximum to read; the FWHM is the
    pixel-integrated Gaussian fit galgen applies to such a PSF image, to 2 % (before, every
    draw and the Moffat fallback raised)."""
    rng = np.random.default_rng(5)
    for pixels in (1.0, 1.3, 1.6):
        psf, params = random_psf(rng, 0.1 * pixels, 0.1, families={family: 1.0})
        image = psf.drawImage(nx=31, ny=31, scale=0.1).array
        try:
            measured = measure_fwhm(image / image.sum())
        except GalgenPSFError:
            measured = measure_fwhm(image / image.sum(), method="fit")
        assert measured == pytest.approx(pixels, rel=0.02), (family, pixels)
        assert params["family"] in (family, "moffat")


def test_zoo_is_deterministic_and_variants_differ():
    def draw(seed, variant):
        psf, _ = random_psf(np.random.default_rng(seed), 1.0, 0.2, families={"kolmogorov": 1.0},
                            variant=variant)
        return psf.drawImage(nx=25, ny=25, scale=0.2).array

    np.testing.assert_array_equal(draw(1, 0), draw(1, 0))
    assert np.abs(draw(1, 0) - draw(1, 1)).max() > 1e-4


def test_regime_draws_psf_optics_from_its_variants():
    from galgen.simulate.degrade import HELD_OUT_PSF_VARIANTS, observing_psf
    from galgen.train.restoration import TrainConfig

    def draw(regime, seed):
        psf = observing_psf(1.0, regime, np.random.default_rng(seed))
        return psf.drawImage(nx=25, ny=25, scale=0.2).array

    one = replace(DEFAULT_REGIME, psf_kind="zoo", psf_families=("kolmogorov",))
    # without psf_variants the random stream is the one random_psf always drew (shards stay reproducible)
    expected, _ = random_psf(np.random.default_rng(4), 1.0, 0.2, families={"kolmogorov": 1.0})
    np.testing.assert_array_equal(draw(one, 4), expected.drawImage(nx=25, ny=25, scale=0.2).array)
    # one listed variant is that variant; several are drawn from, so most draws change
    two, _ = random_psf(np.random.default_rng(4), 1.0, 0.2, families={"kolmogorov": 1.0}, variant=2)
    np.testing.assert_array_equal(draw(replace(one, psf_variants=(2,)), 4),
                                  two.drawImage(nx=25, ny=25, scale=0.2).array)
    many = replace(one, psf_variants=(0, 2, 3))
    differs = [np.abs(draw(many, s) - draw(one, s)).max() > 1e-4 for s in range(12)]
    assert sum(differs) >= 6
    # a training regime never draws the benchmark sets' optics
    for field in ({"psf_variants": [0, *HELD_OUT_PSF_VARIANTS]}, {"psf_variant": HELD_OUT_PSF_VARIANTS[0]}):
        cfg = TrainConfig(name="t", out_dir="unused", regime={"psf_kind": "zoo", **field})
        with pytest.raises(GalgenValueError, match="held out"):
            cfg.specs()


def test_space_to_depth_is_pixel_unshuffle(rng):
    a = rng.normal(size=(3, 8, 12))
    expected = torch.nn.functional.pixel_unshuffle(torch.from_numpy(a)[:, None], 2)[:, :]
    np.testing.assert_array_equal(space_to_depth(a, 2), expected.numpy())
    np.testing.assert_array_equal(space_to_depth(torch.from_numpy(a), 2).numpy(), expected.numpy())
    x = network_input(a[:, :4, :6], 1.0, 3.0, 2, deconvolved=a)
    assert x.shape == (3, 5, 4, 6)


def test_widened_network_computes_what_the_narrow_one_did():
    torch.manual_seed(0)
    narrow = build_generator(RestorerConfig(channels=8, blocks=2))
    wide = build_generator(RestorerConfig(channels=8, blocks=2, deconvolved_input=True))
    assert load_widened(wide, narrow.state_dict()) == ["head.weight"]
    x, c = torch.randn(2, 5, 16, 16), torch.rand(2, 1)
    with torch.no_grad():
        torch.testing.assert_close(wide(x, c), narrow(x[:, :1], c), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        load_widened(narrow, wide.state_dict())


def test_simulated_psf_bias_is_measured_on_the_given_psf():
    regime = replace(DEFAULT_REGIME, psf_bias=0.1)
    true = simulate_pair(np.random.default_rng(5), DEFAULT_REGIME, psf_fwhm=1.0)
    given = simulate_pair(np.random.default_rng(5), regime, psf_fwhm=1.0)
    np.testing.assert_array_equal(true.observation, given.observation)  # the data are the same
    # measured on the pixelated images: the pixel response widens both by about the same
    assert given.psf_fwhm / (measure_fwhm(true.psf) * 0.2) == pytest.approx(1.1, rel=0.01)
    assert given.params["true_psf_fwhm"] == 1.0


@pytest.fixture
def pixel_unit_model(tmp_path):
    regime = replace(DEFAULT_REGIME, psf_fwhm_range=(0.4, 1.6), any_pixel_scale=True)
    config = RestorerConfig(channels=8, blocks=2, deconvolved_input=True)
    return save_untrained_model(tmp_path / "px_x2", config, name="px_x2", regime=regime)


def test_pixel_unit_model_at_sdss_sampling_uses_the_psf_image(pixel_unit_model, rng):
    obs = rng.normal(0, 1.0, (48, 48))
    obs[20:28, 20:28] += 30.0
    psf_a = moffat_psf(3.5, 21, beta=2.5)
    psf_b = moffat_psf(3.5, 21, beta=4.5)
    kwargs = {"pixel_scale": 0.396 * u.arcsec, "noise_rms": 1.0, "method": str(pixel_unit_model)}
    a = restore(obs, psf=psf_a, **kwargs)
    b = restore(obs, psf=psf_b, **kwargs)
    assert a.shape == (96, 96)
    assert np.abs(np.asarray(a.data) - np.asarray(b.data)).max() > 1e-3  # the PSF's shape matters
    # target PSF: 2 output pixels at the observation's own sampling; a 3.5-pixel PSF is in regime
    assert a.meta["PSFFWHM"] == pytest.approx(0.396, rel=1e-6)
    assert "REGIME" not in a.meta["GALGENFL"]
    with pytest.warns(match="pixels"):
        c = restore(obs, psf_fwhm=12.0 * 0.396 * u.arcsec, **kwargs)  # 12 pixels: outside 2-8
    assert "REGIME" in c.meta["GALGENFL"]


def test_deconvolved_channel_model_without_psf_image_uses_a_moffat(pixel_unit_model, rng):
    model = load_model(str(pixel_unit_model))
    obs = rng.normal(0, 1.0, (32, 32))
    fwhm = 0.7
    explicit = model.predict(obs, 1.0, fwhm, 0.2, psf=moffat_psf(fwhm / 0.2, 21, beta=3.5))
    implicit = model.predict(obs, 1.0, fwhm, 0.2)
    np.testing.assert_allclose(implicit, explicit, atol=1e-4 * np.abs(explicit).max())


def test_unet_refuses_a_deconvolved_input():
    with pytest.raises(GalgenValueError, match="deconvolved_input"):
        build_generator(RestorerConfig(arch="unet", scale=1, deconvolved_input=True))


def test_an_x4_network_starts_from_what_fits_of_an_x2_one():
    x2 = build_generator(RestorerConfig(channels=8, blocks=2, deconvolved_input=True))
    x4 = build_generator(RestorerConfig(scale=4, channels=8, blocks=2, deconvolved_input=True))
    fresh = load_matching(x4, x2.state_dict())
    assert fresh == ["upsample.3.weight", "upsample.3.bias"]  # the second x2 stage is new
    torch.testing.assert_close(x4.state_dict()["body.0.conv1.weight"], x2.state_dict()["body.0.conv1.weight"])
    head4, head2 = x4.state_dict()["head.weight"], x2.state_dict()["head.weight"]
    torch.testing.assert_close(head4[:, :1], head2[:, :1])
    assert head4.shape[1] == 17 and float(head4[:, 1:].abs().max()) == 0.0


def test_reconvolution_through_the_psf_image_reproduces_the_observation():
    from galgen.evaluation.benchmark import survey_regime
    from galgen.metrics.consistency import reconvolve_with_psf

    regime = survey_regime(0.396, (1.2, 1.6), psf_families=("double_gauss",))
    chi2 = []
    for seed in range(4):
        p = simulate_pair(np.random.default_rng(seed), regime, snr=150.0)
        predicted = reconvolve_with_psf(p.target, p.psf, regime.in_pixel_scale, 2, regime.target_psf_fwhm)
        r = (predicted - p.observation)[4:-4, 4:-4] / p.noise_rms
        chi2.append(float(np.mean(r**2)))
    # the truth blurred back through its own PSF explains a bright observation down to its noise
    # (reduced chi^2 of pure noise on 56 x 56 pixels: 1 +- 0.03)
    assert max(abs(c - 1) for c in chi2) < 0.1, chi2


def test_the_default_routes_other_samplings_to_the_pixel_unit_model(rng):
    from galgen.restoration import get_method
    from galgen.restoration.methods import method_identity
    from galgen.restoration.registry import shipped_models

    if "survey_x2" not in shipped_models():
        pytest.skip("survey_x2 is not shipped")
    default = get_method("default", 2)
    obs = rng.normal(0, 1.0, (48, 48))
    obs[20:28, 20:28] += 20.0
    sdss = restore(obs, psf_fwhm=1.4 * u.arcsec, pixel_scale=0.396 * u.arcsec, noise_rms=1.0,
                   background=0.0)
    assert sdss.meta["GALGENMD"] == "survey_x2" and "REGIME" not in sdss.meta["GALGENFL"]
    assert sdss.meta["PSFFWHM"] == pytest.approx(0.396)
    native = restore(obs, psf_fwhm=1.0 * u.arcsec, pixel_scale=0.2 * u.arcsec, noise_rms=1.0, background=0.0)
    assert native.meta["GALGENMD"] == "default_x2"
    assert method_identity("default", 2) == (default.name, default.sha256)
    # in no model's regime: the nearest takes it and flags it. 1.25 pixels is nearer survey_x2's 2-8
    # pixels than default_x2's 3-7 (by a factor 1.5: once the primary model took it, and at 0.05"/px
    # lost 60 % of the flux where survey_x2 lost 4 %); so are undersampled PSFs at other samplings,
    # where default_x2 does not know the pixel scale; 10 pixels is only a little nearer survey_x2's
    # range (a factor 1.14), and the primary model, better on wide Moffats, keeps it
    for fwhm, scale, model in ((0.25, 0.2, "survey_x2"), (0.17, 0.1, "survey_x2"), (0.09, 0.05, "survey_x2"),
                               (2.0, 0.2, "default_x2")):
        with pytest.warns(match="outside its training regime"):
            far = restore(obs, psf_fwhm=fwhm * u.arcsec, pixel_scale=scale * u.arcsec, noise_rms=1.0,
                          background=0.0)
        assert far.meta["GALGENMD"] == model and "REGIME" in far.meta["GALGENFL"], (fwhm, scale)
    # an SDSS stamp brighter than every model's SNR range goes to the model whose sampling holds it,
    # not to the 0.2"/px model (it once did: PSFFWHM 0.2" at 0.198"/px), and is restored as at the
    # range's top, SNR 200: not flagged REGIME, the clamp in its HISTORY
    bright = obs * 50.0
    loud = restore(bright, psf_fwhm=1.4 * u.arcsec, pixel_scale=0.396 * u.arcsec, noise_rms=1.0,
                   background=0.0)
    assert loud.meta["GALGENMD"] == "survey_x2" and "REGIME" not in loud.meta["GALGENFL"]
    assert loud.meta["PSFFWHM"] == pytest.approx(0.396)
    clamp = [str(h) for h in loud.meta["HISTORY"] if "snr_clamp" in str(h)]
    assert len(clamp) == 1 and "restored as 200" in clamp[0]


def test_the_default_gives_psf_images_that_are_not_moffats_to_the_psf_aware_model(rng):
    import galsim

    from galgen.restoration.registry import shipped_models

    if "survey_x2" not in shipped_models():
        pytest.skip("survey_x2 is not shipped")
    obs = rng.normal(0, 1.0, (48, 48))
    obs[20:28, 20:28] += 20.0
    kw = {"pixel_scale": 0.2 * u.arcsec, "noise_rms": 1.0, "background": 0.0}

    def psf(profile):  # 1" at 0.2"/px: inside default_x2's sampling and seeing
        return profile.drawImage(nx=31, ny=31, scale=0.2).array

    # default_x2 was trained on round Moffats (beta 3.5) and is told only the FWHM: it keeps the
    # stamps whose PSF image is one (or only a FWHM); survey_x2, which reads the image, takes the rest
    moffat = restore(obs, psf=psf(galsim.Moffat(beta=3.5, fwhm=1.0)), **kw)
    assert moffat.meta["GALGENMD"] == "default_x2" and "REGIME" not in moffat.meta["GALGENFL"]
    assert restore(obs, psf_fwhm=1.0 * u.arcsec, **kw).meta["GALGENMD"] == "default_x2"
    for profile in (galsim.Kolmogorov(fwhm=1.0), galsim.Gaussian(fwhm=1.0),
                    galsim.Moffat(beta=3.5, fwhm=1.0).shear(g=0.05, beta=30 * galsim.degrees)):
        out = restore(obs, psf=psf(profile), **kw)
        assert out.meta["GALGENMD"] == "survey_x2" and "REGIME" not in out.meta["GALGENFL"], profile
        assert out.meta["PSFFWHM"] == pytest.approx(0.2)
    # asked for by name, default_x2 restores it and says why it is outside its regime
    with pytest.warns(match=r"not a round Moffat \(beta 3.5\)"):
        forced = restore(obs, psf=psf(galsim.Kolmogorov(fwhm=1.0)), method="default_x2", **kw)
    assert forced.meta["GALGENMD"] == "default_x2" and "REGIME" in forced.meta["GALGENFL"]


def test_scale_4_uses_the_shipped_x4_model(rng):
    from galgen.restoration.registry import shipped_models

    if "survey_x4" not in shipped_models():
        pytest.skip("survey_x4 is not shipped")
    obs = rng.normal(0, 1.0, (32, 32))
    obs[12:20, 12:20] += 20.0
    out = restore(obs, psf_fwhm=1.0 * u.arcsec, pixel_scale=0.2 * u.arcsec, noise_rms=1.0, background=0.0,
                  scale=4)
    assert out.shape == (128, 128) and out.meta["GALGENMD"] == "survey_x4"
    assert out.meta["PSFFWHM"] == pytest.approx(0.1)  # 2 output pixels of 0.05"


@pytest.mark.parametrize("k", range(8))
def test_dihedral_symmetries_are_undone(k, rng):
    from galgen.restoration.symmetry import dihedral

    a = rng.normal(size=(2, 5, 7))
    np.testing.assert_array_equal(dihedral(dihedral(a, k), k, inverse=True), a)


def test_the_ensemble_is_exactly_equivariant_and_averages_the_views(pixel_unit_model, rng):
    from galgen.restoration.symmetry import dihedral

    single, ensemble = load_model(str(pixel_unit_model)), load_model(str(pixel_unit_model), ensemble=8)
    obs = rng.normal(0, 1.0, (32, 32))
    obs[10:20, 12:18] += 25.0
    psf = random_psf(np.random.default_rng(3), 0.6, 0.2, families={"kolmogorov": 1.0})[0]
    psf = psf.shear(e=0.2, beta=30 * __import__("galsim").degrees).drawImage(nx=21, ny=21, scale=0.2).array
    args = (1.0, 0.6, 0.2)
    views = [dihedral(single.predict(dihedral(obs, k).copy(), *args, psf=dihedral(psf, k).copy()), k,
                      inverse=True) for k in range(8)]
    # the network alone is not symmetric
    assert np.abs(views[1] - views[0]).max() > 1e-3 * np.abs(views[0]).max()
    mean = ensemble.predict_many([obs], [1.0], [0.6], 0.2, psfs=[psf])[0]
    np.testing.assert_allclose(mean, np.mean(views, axis=0), rtol=1e-5, atol=1e-6 * np.abs(mean).max())
    np.testing.assert_allclose(ensemble.predict(obs, *args, psf=psf), mean, rtol=1e-5,
                               atol=1e-6 * np.abs(mean).max())
    oblong = obs[:, :24]  # quarter turns transpose it: restored view by view, the same answer
    one_by_one = ensemble.predict(oblong, *args, psf=psf)
    assert one_by_one.shape == (64, 48)
    np.testing.assert_allclose(ensemble.predict_many([oblong], [1.0], [0.6], 0.2, psfs=[psf])[0], one_by_one,
                               rtol=1e-5, atol=1e-6 * np.abs(mean).max())
    # an image turned with its PSF is restored turned: exactly, for every symmetry
    for k in range(1, 8):
        turned = ensemble.predict_many([dihedral(obs, k).copy()], [1.0], [0.6], 0.2,
                                       psfs=[dihedral(psf, k).copy()])[0]
        np.testing.assert_allclose(dihedral(turned, k, inverse=True), mean, rtol=1e-5,
                                   atol=1e-5 * np.abs(mean).max())


def test_ensemble_option_is_recorded_and_checked(pixel_unit_model, rng):
    from galgen.batch import BatchOptions
    from galgen.restoration import get_method

    obs = rng.normal(0, 1.0, (32, 32))
    obs[12:20, 12:20] += 20.0
    kwargs = {"psf_fwhm": 0.6 * u.arcsec, "pixel_scale": 0.2 * u.arcsec, "noise_rms": 1.0, "background": 0.0,
              "method": str(pixel_unit_model)}
    four = restore(obs, ensemble=4, **kwargs)
    one = restore(obs, **kwargs)
    assert "ensemble = 4" in str(four.meta["HISTORY"]) and "ensemble" not in str(one.meta["HISTORY"])
    assert not np.allclose(np.asarray(four.data), np.asarray(one.data))
    with pytest.raises(GalgenValueError, match="1, 2, 4 or 8"):
        load_model(str(pixel_unit_model), ensemble=3)
    with pytest.raises(GalgenValueError, match="classical baseline"):
        get_method("richardson_lucy", 2, ensemble=2)
    with pytest.raises(GalgenValueError, match="1, 2, 4 or 8"):
        BatchOptions(psf_fwhm=0.6 * u.arcsec, ensemble=5)
