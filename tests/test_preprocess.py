"""Background, stretch, cutouts and bad pixels."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord

from galgen.errors import GalgenValueError
from galgen.io import read_image, simple_tan_wcs
from galgen.io.fits import Image
from galgen.preprocess import (
    AsinhStretch,
    apply_mask,
    estimate_background,
    fill_masked,
    make_cutout,
    upsample_mask,
)
from galgen.psf import gaussian_psf


def _field(rng, shape=(64, 64), sky=100.0, sigma=5.0):
    data = rng.normal(sky, sigma, shape)
    star = 2000.0 * gaussian_psf(4.0, 21)
    cy, cx = shape[0] // 2, shape[1] // 2
    data[cy - 10:cy + 11, cx - 10:cx + 11] += star
    return data


def test_stamp_background_and_noise(rng):
    data = _field(rng)
    est = estimate_background(data)
    # 64x64 = 4096 pixels: the median's standard error is ~1.25*5/64 ~ 0.1; allow 0.5
    assert est.median == pytest.approx(100.0, abs=0.5)
    # the clipped std of ~3500 pixels is within a few percent of sigma
    assert est.median_rms == pytest.approx(5.0, rel=0.05)
    assert est.background.shape == data.shape


def test_stamp_sky_from_the_outer_pixels_takes_less_of_a_large_galaxy(rng):
    """A galaxy of half-light radius a tenth of the stamp: its wings below the source mask's
    threshold bias a sky measured on every source-free pixel; measured beyond 0.4 of the side
    (the default) the sky takes far less of its flux, and flat sky still reads right."""
    import galsim

    seeing = galsim.Moffat(3.5, fwhm=1.0)
    profile = galsim.Convolve(galsim.Exponential(half_light_radius=64 * 0.2 / 10), seeing)
    disk = profile.drawImage(nx=64, ny=64, scale=0.2).array
    disk *= 80 / np.sqrt((disk**2).sum())  # SNR 80 at unit noise
    outer, everywhere = [], []
    for _ in range(20):
        data = disk + rng.normal(0, 1, disk.shape)
        outer.append(estimate_background(data).median * data.size / disk.sum())
        everywhere.append(estimate_background(data, outer=None).median * data.size / disk.sum())
    # measured (benchmarks/sky_flag.py, 30 disks, SNR 30-150): medians 11.5 % and 2.6 %; the
    # median of 20 draws scatters by ~2.5 %
    assert np.median(everywhere) > 0.06
    assert np.median(outer) < 0.5 * np.median(everywhere)
    flat = _field(rng)
    assert estimate_background(flat).median == pytest.approx(100.0, abs=0.5)


def test_background2d_follows_a_gradient(rng):
    y, x = np.mgrid[0:256, 0:256]
    sky = 50.0 + 0.1 * x
    data = rng.normal(0, 2.0, sky.shape) + sky
    est = estimate_background(data, box_size=32)
    # mesh medians of 1024 pixels track a 0.1/px ramp; the photutils interpolator
    # extrapolates poorly within ~1.5 boxes of the edge, so test the interior
    # (measured: max 0.17-0.25 over 3 seeds) against 0.25 sigma = 0.5
    interior = (slice(48, -48), slice(48, -48))
    assert np.max(np.abs(est.background[interior] - sky[interior])) < 0.5
    # the ramp across a 32-pixel box adds its own variance (0.1*32)^2/12 to the noise's
    assert est.median_rms == pytest.approx(np.sqrt(2.0**2 + 3.2**2 / 12), rel=0.05)


@pytest.mark.parametrize(("shape", "box"), [((300, 300), 75), ((517, 389), 32), ((1000, 700), 64)])
def test_mesh_to_image_is_photutils_own_map(rng, shape, box):
    """galgen resizes Background2D's meshes itself (two matrix products instead of a 2-D spline
    zoom, 0.25 s a 1920^2 map): the maps must be photutils' own, to 1e-12 of the mesh's range
    (measured 1e-15 for the background, 1e-13 for the rms), edges, crop and clipping included."""
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, MedianBackground, StdBackgroundRMS

    from galgen.preprocess.background import mesh_to_image

    ramp = np.add.outer(np.linspace(0, 3, shape[0]), np.sin(np.linspace(0, 6, shape[1])))
    bkg = Background2D(rng.normal(size=shape) + ramp, box, sigma_clip=SigmaClip(sigma=3.0),
                       exclude_percentile=50.0, bkg_estimator=MedianBackground(),
                       bkg_rms_estimator=StdBackgroundRMS())
    pairs = ((bkg.background_mesh, bkg.background), (bkg.background_rms_mesh, bkg.background_rms))
    for mesh, theirs in pairs:
        mine = mesh_to_image(np.asarray(mesh), box, shape)
        assert mine.shape == shape
        assert np.max(np.abs(mine - theirs)) < 1e-12 * np.ptp(mesh)
    assert np.all(mesh_to_image(np.full((3, 4), 2.5), 8, (20, 30)) == 2.5)  # a flat mesh


def test_background_refuses_empty():
    with pytest.raises(GalgenValueError, match="fewer than 10"):
        estimate_background(np.full((3, 3), np.nan))


def test_asinh_stretch_round_trip_numpy_and_torch(rng):
    x = np.concatenate([rng.normal(0, 1, 1000), rng.uniform(-5, 1e6, 1000)])
    s = AsinhStretch(noise_rms=1.7)
    np.testing.assert_allclose(s.inverse(s.forward(x)), x, rtol=1e-6, atol=1e-9)
    t = torch.tensor(x, dtype=torch.float64)
    torch.testing.assert_close(s.inverse(s.forward(t)), t, rtol=1e-6, atol=1e-9)
    # float32: round trip to float32 precision (a few ulp of the stretched value)
    t32 = t.float()
    back = s.inverse(s.forward(t32))
    assert torch.all((back - t32).abs() <= 1e-5 * t32.abs() + 1e-5 * s.scale)
    # linear near zero: noise becomes 1/softening
    assert s.forward(np.array([1e-3 * s.noise_rms]))[0] == pytest.approx(1e-3 / 3.0, rel=1e-6)
    with pytest.raises(GalgenValueError):
        AsinhStretch(noise_rms=0.0)


def test_fill_masked_and_restore(rng):
    data = rng.normal(10, 1, (20, 20))
    data[5, 5] = np.nan
    mask = np.zeros_like(data, bool)
    mask[10:12, 10:12] = True
    filled, bad = fill_masked(data, mask)
    assert np.all(np.isfinite(filled))
    assert bad.sum() == 5
    assert filled[5, 5] == pytest.approx(10.0, abs=1.5)
    np.testing.assert_array_equal(filled[~bad], data[~bad])
    big = upsample_mask(bad, 2)
    assert big.shape == (40, 40) and big.sum() == 20
    out = apply_mask(np.ones((40, 40)), big)
    assert np.isnan(out).sum() == 20


def test_fill_masked_equals_astropy_interpolate_replace_nans(rng):
    from astropy.convolution import Gaussian2DKernel, interpolate_replace_nans

    data = rng.normal(size=(48, 48))
    mask = np.zeros_like(data, bool)
    mask[10:13, 20:25] = True
    mask[40, 30] = True  # holes away from the edge: astropy's boundary="fill" counts outside pixels as
    filled, _ = fill_masked(data, mask)  # zeros with full weight, galgen leaves them out
    expected = interpolate_replace_nans(np.where(mask, np.nan, data), Gaussian2DKernel(1.5), boundary="fill",
                                        fill_value=0.0)
    # the same normalised convolution; the tolerance is float64 round-off of two FFT-free sums
    np.testing.assert_allclose(filled, expected, atol=1e-12)


def test_cutout_keeps_wcs_and_flags_edge(rng):
    data = rng.normal(size=(100, 120))
    img = read_image(data, pixel_scale=0.2)
    img = Image(data=img.data, pixel_scale=0.2, wcs=simple_tan_wcs(data.shape, 0.2),
                unit=u.adu, source="field")
    centre = img.wcs.pixel_to_world(40, 60)
    cut = make_cutout(img, centre, 21)
    assert cut.shape == (21, 21)
    np.testing.assert_array_equal(cut.data, data[50:71, 30:51])
    back = cut.wcs.pixel_to_world(10, 10)
    assert back.separation(centre).to_value(u.arcsec) < 1e-6
    edge = make_cutout(img, (2.0, 50.0), 2.0 * u.arcsec)  # 10 pixels, partly off the image
    assert edge.shape == (10, 10)
    assert edge.mask[:, :3].all() and not edge.mask[:, 5:].any()
    with pytest.raises(GalgenValueError, match="too close to the edge"):
        make_cutout(img, (-3.0, -3.0), 10)
    with pytest.raises(GalgenValueError, match="does not overlap"):
        make_cutout(img, (-100.0, -100.0), 10)
    nowcs = Image(data=data, pixel_scale=0.2)
    with pytest.raises(GalgenValueError, match="needs a WCS"):
        make_cutout(nowcs, SkyCoord(150.1, 2.2, unit="deg"), 10)


def test_source_mask_equals_photutils_segmentation(rng):
    """galgen's source mask is photutils' detect_sources + make_source_mask, pixel for pixel
    (written with scipy.ndimage only to keep photutils.segmentation out of the start-up)."""
    from astropy.stats import sigma_clipped_stats
    from photutils.segmentation import detect_sources
    from photutils.utils.exceptions import NoDetectionsWarning

    from galgen.preprocess.background import source_mask

    yy, xx = np.mgrid[:96, :96]
    covered = []
    for trial in range(6):
        data = rng.normal(0.0, 1.0, (96, 96))
        for _ in range(trial * 3):  # 0 to 15 sources of random size and brightness, some tiny
            x0, y0 = rng.uniform(0, 96, 2)
            r, peak = rng.uniform(0.5, 6), rng.uniform(1.5, 30)
            data += peak * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * r**2))
        mask = np.zeros(data.shape, bool)
        if trial % 2:
            mask[10:30, 50:60] = True
        _, median, std = sigma_clipped_stats(data, mask=mask, sigma=3.0)
        with warnings.catch_warnings():  # photutils warns on an empty field
            warnings.simplefilter("ignore", NoDetectionsWarning)
            segm = detect_sources(data - median, 2.0 * std, 5, mask=mask)
        expected = np.zeros(data.shape, bool) if segm is None else segm.make_source_mask(size=11)
        got = source_mask(data, mask)
        np.testing.assert_array_equal(got, expected)
        covered.append(got.mean())
    assert covered[0] == 0.0 and min(covered[1:]) > 0.02  # empty field, then fields with sources


def test_sky_gradient_reads_a_step_toward_the_centre_and_not_flat_sky(rng):
    from galgen.preprocess import sky_gradient

    h = w = 64
    y, x = np.mgrid[:h, :w]
    sky = np.ones((h, w), bool)
    sky[24:40, 24:40] = False  # the galaxy's pixels
    r = np.hypot(x - 31.5, y - 31.5)
    inner = sky & (r <= np.median(r[sky]))
    n_in, n_out = inner.sum(), (sky & ~inner).sum()
    error = np.sqrt(1 / n_in + 1 / n_out)
    zs = []
    for _ in range(200):  # flat white noise with a linear gradient across the stamp: z ~ N(0, 1)
        noise = rng.normal(0, 1, (h, w)) + 0.01 * rng.normal() * (x - 31.5)
        zs.append(sky_gradient(noise, sky, 1.0))
    assert abs(np.mean(zs)) < 0.25 and 0.8 < np.std(zs) < 1.2  # mean of 200: 3.5 sigma; std: 2.5 %
    # a step of delta on the inner half: z = delta / error exactly, without noise
    step = np.where(inner, 0.05, 0.0)
    assert sky_gradient(step, sky, 1.0) == pytest.approx(0.05 / error, rel=1e-12)
    # correlated noise: the mean's error is noise_factor times white's
    assert sky_gradient(step, sky, 1.0, noise_factor=2.0) == pytest.approx(0.025 / error, rel=1e-12)
    assert np.isnan(sky_gradient(step, np.zeros((h, w), bool), 1.0))


def test_target_centre_climbs_to_the_target_s_peak_not_a_neighbour_s():
    from galgen.preprocess import target_centre

    y, x = np.mgrid[:64, :64]
    target = np.exp(-((x - 40.0) ** 2 + (y - 25.0) ** 2) / (2 * 3.0**2))
    neighbour = 5 * np.exp(-((x - 8.0) ** 2 + (y - 55.0) ** 2) / (2 * 2.0**2))  # brighter, farther
    data = target + neighbour
    # the centre pixel (31, 31) is sky: the ascent starts at the nearest detection, the target's
    assert target_centre(data, 5e-4) == (40.0, 25.0)
    moved = np.roll(np.roll(data, -9, axis=1), 6, axis=0)  # the target now covers the centre pixel
    assert target_centre(moved, 5e-4) == (31.0, 31.0)
    # a larger, brighter neighbour whose light covers the centre and merges with the target's
    # detection: the ascent from the centre stops at the target's peak (a centroid would not)
    big = 10 * np.exp(-((x - 58.0) ** 2 + (y - 56.0) ** 2) / (2 * 10.0**2))
    near = 0.5 * np.exp(-((x - 32.0) ** 2 + (y - 31.0) ** 2) / (2 * 1.5**2)) + big
    assert target_centre(near, 0.01) == (32.0, 31.0)
    assert target_centre(big, 0.01) == (58.0, 56.0)  # no target: the light at the centre is its
    assert target_centre(data, 100.0) is None  # nothing detected
    assert target_centre(-data, 5e-4) is None


def test_sky_gradient_from_the_target_sees_an_off_centre_galaxy_s_wings():
    """Measured from the stamp's centre, the wings of a galaxy 14 pixels off it barely brighten
    toward that centre; measured from the target's centroid they do (noise-free, so exact)."""
    import galsim

    from galgen.preprocess import sky_gradient, target_centre

    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    gal = galsim.Convolve(galsim.Exponential(half_light_radius=64 * 0.2 / 10), psf)
    image = gal.drawImage(nx=64, ny=64, scale=0.2, offset=(14, -7)).array
    image /= image.max()
    sources = image > 0.02
    sky = ~sources
    centre = target_centre(image, 0.01)
    assert centre == pytest.approx((31.5 + 14, 31.5 - 7), abs=0.5)
    from_target = sky_gradient(image, sky, 0.01, centre=centre)
    from_stamp = sky_gradient(image, sky, 0.01)
    assert from_target > 2 * from_stamp > 0


def test_a_galaxy_filling_the_stamp_is_flagged_sky_with_auto_background(rng, caplog):
    """A galaxy whose wings reach the stamp's edges: the automatic sky takes part of its flux,
    which galgen says (GALGENSZ, flag SKY, a warning); a sky given (0) is not tested."""
    import galsim

    from galgen import restore

    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    big = galsim.Convolve(galsim.Exponential(half_light_radius=64 * 0.2 / 6), psf)
    image = big.drawImage(nx=64, ny=64, scale=0.2).array
    data = image * 100 / np.sqrt((image**2).sum()) + rng.normal(0, 1, image.shape)  # SNR 100
    with caplog.at_level("WARNING", logger="galgen"):
        auto = restore(data, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2)
    assert auto.meta["GALGENSZ"] > 4.0 and "SKY" in auto.meta["GALGENFL"]
    assert "brighten toward the target" in caplog.text and "background=0" in caplog.text
    given = restore(data, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2, background=0.0)
    assert "GALGENSZ" not in given.meta and "SKY" not in given.meta["GALGENFL"]
    small = galsim.Convolve(galsim.Exponential(half_light_radius=0.4), psf).drawImage(nx=64, ny=64, scale=0.2)
    data = small.array * 100 / np.sqrt((small.array**2).sum()) + rng.normal(0, 1, image.shape)
    compact = restore(data, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2)
    assert abs(compact.meta["GALGENSZ"]) < 4.0 and "SKY" not in compact.meta["GALGENFL"]


def test_a_sky_given_that_the_image_does_not_have_is_flagged_sky(rng, caplog):
    """background=0 on an image whose sky was not subtracted (+0.3, +2.6 sigma): the source-free
    pixels' median after it (GALGENSO, in sigma) says so, and beyond 0.5 the output is flagged
    SKY with a warning that the flux comes out high; the right sky clears it."""
    import galsim

    from galgen import restore

    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    image = galsim.Convolve(galsim.Exponential(half_light_radius=0.5), psf).drawImage(nx=64, ny=64, scale=0.2)
    data = image.array * 60 / np.sqrt((image.array**2).sum()) + rng.normal(0, 1, image.array.shape)
    small = restore(data + 0.3, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2, background=0.0,
                    noise_rms=1.0)
    assert small.meta["GALGENSO"] == pytest.approx(0.3, abs=0.1) and "SKY" not in small.meta["GALGENFL"]
    with caplog.at_level("WARNING", logger="galgen"):
        wrong = restore(data + 2.6, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2, background=0.0)
    assert wrong.meta["GALGENSO"] == pytest.approx(2.6, abs=0.15) and "SKY" in wrong.meta["GALGENFL"]
    assert "not sky-subtracted as said" in caplog.text and "fluxes come out high" in caplog.text
    right = restore(data + 2.6, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2, background=2.6)
    assert abs(right.meta["GALGENSO"]) < 0.1 and "SKY" not in right.meta["GALGENFL"]
    assert "GALGENSO" not in restore(data, 1.0 * u.arcsec, method="bicubic", pixel_scale=0.2).meta
