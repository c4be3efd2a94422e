"""The PSF given, checked against the field's stars (galgen.psf.stars)."""

from __future__ import annotations

import galsim
import numpy as np
import pytest

from galgen.psf.stars import check_psf_with_stars

FWHM = 4.0  # pixels: the sampling of an SDSS-like survey at 0.396"/px and 1.6" seeing


def _field(seed: int = 7, n_stars: int = 8, n_galaxies: int = 12, size: int = 320):
    """A field of Moffat (beta 3) stars and Sersic galaxies through the same PSF, white noise
    rms 1; returns the image and the true PSF drawn on the same pixels."""
    rng = np.random.default_rng(seed)
    psf = galsim.Moffat(3.0, fwhm=FWHM)
    img = galsim.ImageD(size, size, scale=1.0)
    taken: list[tuple[float, float]] = []

    def place() -> tuple[float, float]:
        while True:  # keep sources apart: the check uses isolated ones only
            x, y = rng.uniform(30, size - 30, 2)
            if all(np.hypot(x - a, y - b) > 40 for a, b in taken):
                taken.append((x, y))
                return x, y

    for _ in range(n_stars):
        x, y = place()
        psf.withFlux(rng.uniform(3e3, 3e4)).drawImage(img, center=galsim.PositionD(x, y), add_to_image=True)
    for _ in range(n_galaxies):
        x, y = place()
        gal = galsim.Sersic(rng.uniform(1, 3), half_light_radius=rng.uniform(2.5, 5)).shear(
            e1=rng.uniform(-0.3, 0.3), e2=rng.uniform(-0.3, 0.3)).withFlux(rng.uniform(5e3, 4e4))
        galsim.Convolve(gal, psf).drawImage(img, center=galsim.PositionD(x, y), add_to_image=True)
    data = img.array + rng.normal(0, 1.0, img.array.shape)
    kernel = psf.drawImage(nx=41, ny=41, scale=1.0).array
    return data, kernel


def test_stars_measure_the_right_psf_and_catch_one_30_percent_off():
    """With the true PSF image the stars' size ratio is 1 within 0.5 % (these stars have peak
    SNR 150-1500: measured 1.0001-1.0003 on three fields, scatter <= 0.1 %); a Moffat 1.3x too
    wide reads 1/1.3 = 0.769 and one 0.7x too narrow 1/0.7 = 1.429, within 3 % (measured 0.774
    and 1.406: the adaptive moments of a PSF of 2.8 pixels feel the pixel, which does not
    shrink with it); galaxies, all wider, are not taken as stars."""
    data, kernel = _field()
    right = check_psf_with_stars(data, psf=kernel, pixel_scale=0.2, noise_rms=1.0, background=0.0)
    assert right.verdict == "OK" and right.ratio == pytest.approx(1.0, abs=0.005)
    assert 6 <= right.n_stars <= 8 and right.scatter < 0.01
    wide = check_psf_with_stars(data, 1.3 * FWHM, pixel_scale=0.2, noise_rms=1.0, background=0.0,
                                moffat_beta=3.0)
    narrow = check_psf_with_stars(data, 0.7 * FWHM, pixel_scale=0.2, noise_rms=1.0, background=0.0,
                                  moffat_beta=3.0)
    assert wide.verdict == "PSF_TOO_WIDE" and wide.ratio == pytest.approx(1 / 1.3, rel=0.03)
    assert narrow.verdict == "PSF_TOO_NARROW" and narrow.ratio == pytest.approx(1 / 0.7, rel=0.03)
    assert "too wide" in wide.message() and "stars" in narrow.message()


def test_a_field_without_stars_or_with_saturated_ones_gives_no_verdict():
    """No stars: the galaxies alone are refused only when fewer than ``min_stars`` are isolated;
    saturated stars (flat tops) are skipped when ``saturation`` is given."""
    data, kernel = _field(n_stars=0, n_galaxies=2)
    empty = check_psf_with_stars(data, psf=kernel, pixel_scale=0.2, noise_rms=1.0, background=0.0)
    assert empty.verdict == "NO_STARS" and np.isnan(empty.ratio) and "too few" in empty.message()
    noise = np.random.default_rng(2).normal(0, 1, (128, 128))  # no source at all: an answer, no warning
    assert check_psf_with_stars(noise, 4.0, pixel_scale=0.2, noise_rms=1.0, background=0.0).n_stars == 0
    data, kernel = _field(n_galaxies=0)
    saturated = check_psf_with_stars(np.minimum(data, 50.0), psf=kernel, pixel_scale=0.2, noise_rms=1.0,
                                     background=0.0, saturation=50.0)
    assert saturated.verdict == "NO_STARS" and saturated.n_stars == 0


def test_psfcheck_command_exit_status_says_which(tmp_path, capsys):
    """``galgen psfcheck``: 0 when the PSF agrees with the stars, 3 when it does not (and says
    which way), 4 without stars; the field file is left as it was."""
    from astropy.io import fits

    from galgen.cli import main

    data, _ = _field()
    path = tmp_path / "field.fits"
    fits.PrimaryHDU(data.astype(np.float32), header=fits.Header({"PIXSCALE": 0.4})).writeto(path)
    before = path.read_bytes()
    common = ["--noise-rms", "1", "--background", "0", "--moffat-beta", "3"]
    assert main(["psfcheck", str(path), "--psf-fwhm", f"{FWHM * 0.4}arcsec", *common]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["psfcheck", str(path), "--psf-fwhm", f"{1.3 * FWHM}pix", *common]) == 3
    out = capsys.readouterr().out
    assert "PSF_TOO_WIDE" in out and out.count("star at") >= 6
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU(_field(n_stars=0, n_galaxies=1)[0], header=fits.Header({"PIXSCALE": 0.4})).writeto(empty)
    assert main(["psfcheck", str(empty), "--psf-fwhm", f"{FWHM}pix", *common]) == 4
    assert path.read_bytes() == before


def test_the_stellar_locus_is_not_anchored_by_a_sharp_artefact_nor_made_of_galaxies():
    """A cosmic-ray-like source (Gaussian of sigma 0.8 px, far narrower than the PSF's 1.95 px)
    leaves the ratio at 1 within 0.5 %; with two stars among twelve galaxies there is no
    verdict (the galaxies, 1.3-2.5x the PSF's size here, are not taken for stars)."""
    data, kernel = _field()
    yy, xx = np.mgrid[:data.shape[0], :data.shape[1]]
    data = data + 400.0 * np.exp(-((xx - 160.3) ** 2 + (yy - 12.6) ** 2) / (2 * 0.8**2))
    right = check_psf_with_stars(data, psf=kernel, pixel_scale=0.2, noise_rms=1.0, background=0.0)
    assert right.verdict == "OK" and right.ratio == pytest.approx(1.0, abs=0.005)
    few, kernel = _field(seed=11, n_stars=2)
    got = check_psf_with_stars(few, psf=kernel, pixel_scale=0.2, noise_rms=1.0, background=0.0)
    assert got.verdict == "NO_STARS", got


def test_an_undersampled_field_is_checked_by_a_pixel_gaussian_fit():
    """Euclid VIS / HST at native sampling: an obscured Airy of ~1.4 pixels is too small for
    GalSim's adaptive moments (the check used to give up); the PSF and the stars are then both
    measured by a pixel-integrated Gaussian fit. The right PSF reads 1 within 3 % (measured 0.989
    here, 0.987 on a 600-pixel field of 15 stars); one 20 % wider is too wide (0.806)."""
    rng = np.random.default_rng(3)
    airy = galsim.Airy(lam_over_diam=1.4, obscuration=0.3)
    img = galsim.ImageD(240, 240, scale=1.0)
    for i in range(9):
        x, y = 30 + 60 * (i % 3) + rng.uniform(-5, 5), 30 + 60 * (i // 3) + rng.uniform(-5, 5)
        airy.withFlux(rng.uniform(2e3, 2e4)).drawImage(img, center=galsim.PositionD(x, y), add_to_image=True)
    data = img.array + rng.normal(0, 1.0, img.array.shape)
    right = check_psf_with_stars(data, psf=airy.drawImage(nx=25, ny=25, scale=1.0).array, pixel_scale=0.1,
                                 noise_rms=1.0, background=0.0)
    assert right.verdict == "OK" and right.ratio == pytest.approx(1.0, abs=0.03) and right.n_stars >= 7
    wide = galsim.Airy(lam_over_diam=1.4 * 1.2, obscuration=0.3).drawImage(nx=25, ny=25, scale=1.0).array
    assert check_psf_with_stars(data, psf=wide, pixel_scale=0.1, noise_rms=1.0,
                                background=0.0).verdict == "PSF_TOO_WIDE"


def test_the_header_saturation_level_keeps_saturated_stars_out_by_default():
    """Without ``saturation=``, a star reaching the header's ``SATURATE`` (or ``SATLEVEL``) is
    skipped, as the catalog runs' checks do: 6 of these 10 stars peak above 600."""
    from astropy.io import fits

    data, kernel = _field(n_galaxies=0, n_stars=10)
    kwargs = {"psf": kernel, "noise_rms": 1.0, "background": 0.0}
    plain = check_psf_with_stars(fits.PrimaryHDU(data, fits.Header({"PIXSCALE": 0.2})), **kwargs)
    for key in ("SATURATE", "SATLEVEL"):
        header = fits.Header({"PIXSCALE": 0.2, key: 600.0})
        saturated = check_psf_with_stars(fits.PrimaryHDU(data, header), **kwargs)
        assert plain.n_stars == 10 and saturated.n_stars == 4 and saturated.verdict == "NO_STARS"
        given = check_psf_with_stars(fits.PrimaryHDU(data, header), saturation=1e5, **kwargs)
        assert given.n_stars == 10  # a level given wins
