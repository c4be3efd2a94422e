"""Sources brighter than the training SNR inside large images (galgen.restoration.bright)."""

import json
import shutil

import astropy.units as u
import numpy as np
import pytest

from galgen import restore
from galgen.restoration.bright import blend_weights, bright_regions
from galgen.restoration.registry import find_model


def _blob(shape, x, y, sigma):
    yy, xx = np.indices(shape)
    return np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2)


def test_only_sources_above_the_range_are_found_and_a_faint_neighbour_is_not_one_of_them(rng):
    """A source at SNR ~2,800 (800 x a sigma-2 Gaussian: 800 * 2 sqrt(pi) = 2,836) and a faint one
    30 pixels away (SNR ~10): one region, at the bright one's SNR within 2 % (its
    own pixels' power, noise removed), whose footprint misses the faint source; none when the
    range reaches above it."""
    data = 800 * _blob((200, 200), 60, 60, 2.0) + 3 * _blob((200, 200), 90, 60, 2.0)
    data += rng.normal(0, 1, data.shape)
    (region,) = bright_regions(data, 1.0, 4.7, top=200, window=64)
    assert region.snr == pytest.approx(800 * 2 * np.sqrt(np.pi), rel=0.02)
    footprint = np.zeros(data.shape, bool)
    footprint[region.box] = region.footprint
    assert footprint[60, 60] and not footprint[60, 90]
    assert bright_regions(data, 1.0, 4.7, top=5000, window=64) == []


def test_sources_joined_by_wings_are_restored_again_each_and_a_faint_one_not_at_all(rng):
    """A bright extended source (SNR ~1,060: 100 x a sigma-6 Gaussian), a faint one 26 pixels to its
    right (SNR ~43) and a bright compact one 28 pixels to its left (SNR ~2,100), all in one
    detection at 2 sigma of the smoothed noise: each bright one is restored again over its own
    part brighter than the training range (the PSF-smoothed image above 200 sigma), at its own
    level (the extended one's is its share of the detection's light, the pixels nearer its core:
    its 64-pixel square holds the compact one too, SNR ~2,400); the faint one, which would be
    erased if told a larger noise, is in neither."""
    from scipy import ndimage

    data = (100 * _blob((200, 200), 80, 100, 6.0) + 12 * _blob((200, 200), 106, 100, 2.0)
            + 600 * _blob((200, 200), 52, 100, 2.0))
    data += rng.normal(0, 1, data.shape)
    s = 4.7 / 2.3548
    labels, _ = ndimage.label(ndimage.gaussian_filter(data, s) > 2 / (2 * np.sqrt(np.pi) * s),
                              structure=np.ones((3, 3)))
    assert labels[100, 80] == labels[100, 106] == labels[100, 52] != 0  # one detection
    regions = bright_regions(data, 1.0, 4.7, top=200, window=64)
    assert len(regions) == 2
    footprints = []
    for region in regions:
        footprint = np.zeros(data.shape, bool)
        footprint[region.box] = region.footprint
        footprints.append(footprint)
    assert footprints[0][100, 52] and not footprints[0][100, 80]  # the compact one, brighter
    assert footprints[1][100, 80] and not footprints[1][100, 52]
    assert not any(f[100, 106] for f in footprints)
    assert regions[1].snr == pytest.approx(100 * np.sqrt(np.pi) * 6, rel=0.05)  # its share


def test_a_large_galaxy_s_level_is_its_brightest_training_square():
    """A flat disk of 100 x 100 pixels at 100 sigma a pixel: its own SNR is 10,000, but any
    64 x 64 square of it holds 6,400: the level is the smaller (a large galaxy is no brighter pixel
    by pixel than such a square), without noise to 1e-9; at 10 sigma a pixel no pixel is brighter
    than a source of the training range (the PSF-smoothed disk peaks at ~45 sigma, under 200) and
    nothing is restored again."""
    data = np.zeros((300, 300))
    data[100:200, 100:200] = 100.0
    (region,) = bright_regions(data, 1.0, 3.0, top=200, window=64, noise_factor=1.0)
    assert region.snr == pytest.approx(np.sqrt(64 * 64 * (100**2 - 1)), rel=1e-9)  # d^2 - sigma^2
    assert bright_regions(data / 10, 1.0, 3.0, top=200, window=64) == []


def test_blend_weights_are_one_on_the_footprint_and_fall_to_zero_outside():
    f = np.zeros((40, 40), bool)
    f[15:25, 15:25] = True
    w = blend_weights(f, 2.0, 2)
    assert w.shape == (80, 80)
    assert np.all(w[30:50, 30:50] == 1.0) and w[0, 0] == 0.0 and np.all((w >= 0) & (w <= 1))
    assert 0 < w[30, 56] < 1  # the feathered edge, 3 input pixels outside


def _card_copy(root, suffix, **changes):
    directory = root / f"default_x2_{suffix}"
    shutil.copytree(find_model("default_x2"), directory)
    card = json.loads((directory / "config.json").read_text())
    card.update(name=f"default_x2_{suffix}", **changes)
    (directory / "config.json").write_text(json.dumps(card))
    return str(directory)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """default_x2 with its card's "snr_clamp": false (the networks told every image's own noise),
    and both with and without the light put back from the residual (a step over the whole image)."""
    root = tmp_path_factory.mktemp("copies")
    return {"unclamped": _card_copy(root, "noclamp", snr_clamp=False),
            "no light": _card_copy(root, "nolight", residual_light=False),
            "unclamped, no light": _card_copy(root, "noclamp_nolight", snr_clamp=False, residual_light=False)}


def test_a_bright_galaxy_in_a_field_is_restored_as_at_the_top_of_the_range_and_the_rest_is_kept(copies):
    """A 160 x 160 field (more than twice the training stamp: no stamp clamp) at 0.2"/px, Moffat 1":
    a Sersic galaxy at SNR ~2,000 and a faint one (SNR ~40) 100 pixels away. Restored again as at
    SNR 200 the bright one is >= 6 dB closer to the truth than told its own noise; the faint
    galaxy's core is the same to 1e-6 without the light put back from the residual (a step over the
    whole image, whose regions follow the residual everywhere) and, with it, no further from the
    truth (0.1 dB allowed); HISTORY says what was done, and the field is not flagged REGIME for
    its SNR."""
    import galsim

    from galgen.metrics import psnr

    rng = np.random.default_rng(21)
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    bright = galsim.Sersic(n=1.5, half_light_radius=1.0).shear(e1=0.2, e2=-0.1)
    faint = galsim.Exponential(half_light_radius=0.5)
    where = {"bright": (-6.0, -6.0), "faint": (8.0, 8.0)}  # arcsec from the centre (pixels 50 and 120)
    scene = (bright.shift(*where["bright"]) * 1.0) + faint.shift(*where["faint"]) * 0.011
    clean = galsim.Convolve(scene, psf).drawImage(nx=160, ny=160, scale=0.2).array
    alone = galsim.Convolve(bright, psf).drawImage(nx=64, ny=64, scale=0.2).array
    flux = 2000 * 10.0 / np.sqrt(np.sum(alone**2))
    data = flux * clean + rng.normal(0, 10.0, clean.shape)
    sharp = galsim.Convolve(scene, galsim.Gaussian(fwhm=0.2))
    truth = flux * sharp.drawImage(nx=320, ny=320, scale=0.1).array
    kw = {"psf": psf, "pixel_scale": 0.2 * u.arcsec, "noise_rms": 10.0, "background": 0.0}
    out = restore(data, method="default_x2", **kw)
    with pytest.warns(Warning, match="SNR"):
        old = restore(data, method=copies["unclamped"], **kw)
    box = (slice(40, 160), slice(40, 160))  # the bright galaxy's 12" on the output grid
    gain = psnr(np.asarray(out.data)[box], truth[box]) - psnr(np.asarray(old.data)[box], truth[box])
    assert gain > 6.0
    core = (slice(230, 250), slice(230, 250))  # the faint galaxy's central 2" on the output grid
    assert psnr(np.asarray(out.data)[core], truth[core]) > psnr(np.asarray(old.data)[core], truth[core]) - 0.1
    dark = np.asarray(restore(data, method=copies["no light"], **kw).data)
    with pytest.warns(Warning, match="SNR"):
        old_dark = np.asarray(restore(data, method=copies["unclamped, no light"], **kw).data)
    np.testing.assert_allclose(dark[core], old_dark[core], rtol=1e-6)
    assert "REGIME" not in out.meta["GALGENFL"] and "REGIME" in old.meta["GALGENFL"]
    assert any("snr_clamp = 1 source above the SNR range" in str(h) for h in out.meta["HISTORY"])


def test_a_large_bright_stamp_s_bootstrap_spread_is_the_procedure_s_own():
    """samples > 1 on a 150-pixel stamp of a galaxy at SNR ~3,000: each re-noised copy's bright
    source is restored again over the image's region, so the raw bootstrap spread over the
    galaxy's core is that of the whole procedure over independent noise draws, within a factor
    1.5 (4 draws each: the ratio of two such spreads is within 1.5 in ~90 % of pixels; the
    median over the core is much steadier)."""
    import galsim

    rng = np.random.default_rng(3)
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    gal = galsim.Sersic(n=1.0, half_light_radius=1.2)
    clean = galsim.Convolve(gal, psf).drawImage(nx=150, ny=150, scale=0.2).array
    clean *= 3000 * 10.0 / np.sqrt(np.sum(clean**2))
    kw = {"psf": psf, "pixel_scale": 0.2 * u.arcsec, "noise_rms": 10.0, "background": 0.0,
          "method": "default_x2"}
    out = restore(clean + rng.normal(0, 10.0, clean.shape), samples=4, uncertainty="bootstrap",
                  calibrate_uncertainty=False, **kw)
    assert any("snr_clamp = 1 source" in str(h) for h in out.meta["HISTORY"])
    runs = np.array([np.asarray(restore(clean + rng.normal(0, 10.0, clean.shape), **kw).data)
                     for _ in range(4)])
    core = np.asarray(out.data) > 0.3 * np.nanmax(out.data)
    ratio = np.median(out.uncertainty.array[core]) / np.median(np.std(runs, axis=0, ddof=1)[core])
    assert 1 / 1.5 < ratio < 1.5
