"""The data recipes, run offline on the committed fixtures: WCS, units and fluxes of outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from galgen.io import read_image

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(ROOT))

pytest.importorskip("reproject")
from data_recipes import hst_cosmos, legacy_survey, sdss_cutouts, survey_pairs  # noqa: E402


def test_sdss_cutout(tmp_path):
    assert sdss_cutouts.main(["--ra", "150.1", "--dec", "2.2", "--bands", "r", "--size", "48",
                              "--frame", str(DATA / "sdss_frame.fits"), "-o", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("sdss_*_r.fits")
    stamp = read_image(path)
    assert stamp.shape == (48, 48) and stamp.unit == u.nmgy
    assert stamp.pixel_scale == pytest.approx(0.396, rel=1e-6)
    centre = stamp.wcs.pixel_to_world(23.5, 23.5)
    assert abs(centre.ra.deg - 150.1) * 3600 < 0.396 and abs(centre.dec.deg - 2.2) * 3600 < 0.396
    assert "Sloan" in str(stamp.header["COMMENT"])


def test_legacy_survey_cube_split(tmp_path):
    assert legacy_survey.main(["--ra", "150.1", "--dec", "2.2", "--cube", str(DATA / "ls_cube.fits"),
                               "-o", str(tmp_path)]) == 0
    stamps = {p.stem[-1]: read_image(p) for p in tmp_path.glob("ls_*.fits")}
    assert set(stamps) == {"g", "r", "z"}
    assert all(s.pixel_scale == pytest.approx(0.262, rel=1e-6) for s in stamps.values())
    # the fixture's bands hold fluxes 10, 20, 30: the split keeps their order
    sums = [stamps[b].data.sum() for b in "grz"]
    assert sums[0] < sums[1] < sums[2]


def test_hst_cosmos_example(tmp_path):
    assert hst_cosmos.main(["--example", "-n", "3", "-o", str(tmp_path)]) == 0
    stamps = sorted(tmp_path.glob("cosmos_*.fits"))
    assert len(stamps) == 3
    img = read_image(stamps[0])
    assert img.pixel_scale == pytest.approx(0.1) and img.unit == u.electron / u.s


def test_survey_pairs_align_and_conserve_flux(tmp_path):
    low, high = read_image(DATA / "pair_low.fits"), read_image(DATA / "pair_high.fits")
    matched = survey_pairs.match_high_to_low(low, high, 2, 0.1, 0.2)
    assert matched.pixel_scale == pytest.approx(0.131, rel=1e-6)
    # the same sky: centres coincide, total flux conserved by the flux-conserving reprojection
    assert low.wcs.pixel_to_world(31.5, 31.5).separation(matched.wcs.pixel_to_world(63.5, 63.5)).arcsec < 1e-6
    # both images hold the same 100-unit galaxy; the 16.8" field misses ~1-2 % of the wings
    assert matched.data.sum() == pytest.approx(high.data.sum(), rel=0.02)
    assert survey_pairs.main(["--low", str(DATA / "pair_low.fits"), "--high", str(DATA / "pair_high.fits"),
                              "--high-psf", "0.1", "--factor", "2", "--size", "32", "-o", str(tmp_path)]) == 0
    obs = sorted((tmp_path / "observed").glob("*.fits"))
    assert len(obs) == 4
    o, t = read_image(obs[0]), read_image(tmp_path / "truth" / obs[0].name)
    assert t.shape == (64, 64) and np.isfinite(t.data).all()
    assert o.wcs.pixel_to_world(-0.5, -0.5).separation(t.wcs.pixel_to_world(-0.5, -0.5)).arcsec < 1e-6
    with pytest.raises(Exception, match="sharper"):
        survey_pairs.match_high_to_low(low, high, 2, 0.3, 0.2)


def test_recipe_docstrings_name_only_flags_that_exist():
    import importlib
    import re
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    try:
        for path in sorted((root / "data_recipes").glob("[a-z]*.py")):
            module = importlib.import_module(f"data_recipes.{path.stem}")
            if not hasattr(module, "main"):
                continue
            text = path.read_text()
            known = set(re.findall(r"add_argument\(\s*\"(-[-\w]+)\"", text))
            known |= set(re.findall(r"add_argument\(\s*\"-\w\",\s*\"(--[-\w]+)\"", text))
            named = set(re.findall(r"(?<![\w-])(--[a-z][-a-z]*)", module.__doc__ or ""))
            assert named <= known | {"--help"}, (path.name, named - known)
    finally:
        sys.path.remove(str(root))
