"""Fields with one galaxy above the training SNR: what restoring it again costs its faint neighbours.

Each field is 256 x 256 pixels at 0.2"/px (more than twice the training stamp, so the stamp
clamp does not apply) through a Moffat PSF of 1" (beta 3.5), white noise of rms 10: one Sersic
galaxy (n 1-2.5, half-light radius 0.5-2", ellipticity up to 0.3) at SNR 1,500 or 5,000 at a
random place, and five exponential galaxies (half-light radius 0.3-1") at SNR 30-150, at least
3" from it. The truth is the scene through the 0.2" target PSF at 0.1"/px. Methods: the shipped
``default_x2`` (sources above the range restored again, :mod:`galgen.restoration.bright`), a copy
whose card says ``"snr_clamp": false`` (every pixel told the field's own noise, as before), and
Richardson-Lucy at its default settings (a reference, not tuned).

Printed, per group of galaxies (the bright ones; the faint ones within 6" of the bright one; the
others): median PSNR in a box of six half-light radii plus 2" about each galaxy, and the median
signed and absolute flux errors in an aperture of three half-light radii plus 0.5" (the truth's
flux in the same aperture, neighbours' light included in both).

Run: ``python benchmarks/bright_fields.py [-n 12] [--seed 14500000]``; ``--figure PNG`` draws the
first field's bright galaxy instead (docs/_static/bright_field.png): the observation, the
restoration told the field's noise, the shipped one, and the truth.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
from _report import card_copy, machine

import galgen
from galgen.metrics import psnr

SIDE, SCALE, SIGMA = 256, 0.2, 10.0


def _unclamped(root: Path) -> str:
    return card_copy("default_x2", root, "noclamp", snr_clamp=False)


def _flux_for(profile, psf, snr: float) -> float:  # noqa: ANN001 - GalSim objects
    """The flux at which ``profile`` through ``psf`` has matched-filter SNR ``snr`` on noise ``SIGMA``."""
    import galsim

    image = galsim.Convolve(profile, psf).drawImage(nx=128, ny=128, scale=SCALE).array
    return snr * SIGMA / float(np.sqrt(np.sum(image**2)))


def field(rng: np.random.Generator):  # noqa: ANN201 - (data, truth, galaxies)
    """One field: ``(data (SIDE, SIDE), truth (2 SIDE, 2 SIDE), [(kind, x", y", hlr"), ...])``,
    positions in arcsec from the field's centre."""
    import galsim

    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    half = SIDE * SCALE / 2
    hlr = float(rng.uniform(0.5, 2.0))
    bright = galsim.Sersic(n=float(rng.choice([1.0, 1.5, 2.5])), half_light_radius=hlr)
    bright = bright.shear(e1=rng.uniform(-0.3, 0.3), e2=rng.uniform(-0.3, 0.3))
    bright = bright.withFlux(_flux_for(bright, psf, float(rng.choice([1500.0, 5000.0]))))
    bx, by = rng.uniform(-half + 10, half - 10, 2)
    parts, galaxies = [bright.shift(bx, by)], [("bright", bx, by, hlr)]
    while len(galaxies) < 6:
        x, y = rng.uniform(-half + 4, half - 4, 2)
        crowded = any(np.hypot(x - g[1], y - g[2]) < 3.0 for g in galaxies[1:])
        if np.hypot(x - bx, y - by) < 3.0 + hlr or crowded:
            continue
        r = float(rng.uniform(0.3, 1.0))
        faint = galsim.Exponential(half_light_radius=r)
        faint = faint.shear(e1=rng.uniform(-0.3, 0.3), e2=rng.uniform(-0.3, 0.3))
        parts.append(faint.withFlux(_flux_for(faint, psf, float(rng.uniform(30, 150)))).shift(x, y))
        galaxies.append(("faint", x, y, r))
    scene = galsim.Add(parts)
    data = galsim.Convolve(scene, psf).drawImage(nx=SIDE, ny=SIDE, scale=SCALE).array
    data = data + rng.normal(0, SIGMA, data.shape)
    truth = galsim.Convolve(scene, galsim.Gaussian(fwhm=0.2)).drawImage(nx=2 * SIDE, ny=2 * SIDE,
                                                                        scale=SCALE / 2).array
    return data, truth, galaxies


def scores(image: np.ndarray, truth: np.ndarray, x: float, y: float, hlr: float) -> tuple[float, float]:
    """``(PSNR in the galaxy's box, signed flux error in its aperture)`` on the output grid."""
    pix = SCALE / 2
    cx, cy = (truth.shape[1] - 1) / 2 + x / pix, (truth.shape[0] - 1) / 2 + y / pix
    half = int(np.ceil((3 * hlr + 1.0) / pix))
    box = (slice(max(int(cy) - half, 0), int(cy) + half), slice(max(int(cx) - half, 0), int(cx) + half))
    yy, xx = np.indices(truth.shape)
    inside = np.hypot(xx - cx, yy - cy) <= (3 * hlr + 0.5) / pix
    image = np.nan_to_num(image)
    return psnr(image[box], truth[box]), float(image[inside].sum() / truth[inside].sum() - 1)


def figure(path: str, seed: int) -> None:
    """The first field's bright galaxy, 16" a side: observation, the two restorations, truth."""
    from galgen.plotting import comparison_panel

    data, truth, galaxies = field(np.random.default_rng(seed))
    _, bx, by, _ = galaxies[0]
    cx, cy = int(round((SIDE - 1) / 2 + bx / SCALE)), int(round((SIDE - 1) / 2 + by / SCALE))
    half = 40  # input pixels: 8"
    crop = (slice(max(cy - half, 0), cy + half), slice(max(cx - half, 0), cx + half))
    fine = (slice(2 * crop[0].start, 2 * crop[0].stop), slice(2 * crop[1].start, 2 * crop[1].stop))
    with tempfile.TemporaryDirectory() as tmp:
        kw = {"psf_fwhm": 1.0 * u.arcsec, "pixel_scale": SCALE * u.arcsec, "background": 0.0,
              "noise_rms": SIGMA}
        told = np.asarray(galgen.restore(data, method=_unclamped(Path(tmp)), **kw).data, float)
        shipped = np.asarray(galgen.restore(data, method="default_x2", **kw).data, float)
    panels = {"observation (0.2\"/px, 1\" PSF)": data[crop], "told the field's noise": told[fine],
              "restored again as at SNR 200": shipped[fine], "truth (0.2\" PSF)": truth[fine]}
    again, truth_name = "restored again as at SNR 200", "truth (0.2\" PSF)"
    comparison_panel(panels, path, noise_rms=SIGMA, residual_of=(again, truth_name),
                     title="a galaxy above the training SNR in a 256-pixel field (asinh stretch)")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=12, help="fields")
    parser.add_argument("--seed", type=int, default=14_500_000)
    parser.add_argument("--figure", metavar="PNG", help="draw the first field's bright galaxy instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if args.figure:
        figure(args.figure, args.seed)
        return
    rng = np.random.default_rng(args.seed)
    print(f"machine: {machine()}; {args.n} fields, seed {args.seed}\n")
    t0 = time.perf_counter()
    groups: dict[tuple[str, str], list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        methods = {"default_x2 (bright sources restored again)": "default_x2",
                   "default_x2 told the field's noise (no clamp)": _unclamped(Path(tmp)),
                   "Richardson-Lucy (default settings)": "richardson_lucy"}
        for _ in range(args.n):
            data, truth, galaxies = field(rng)
            _, bx, by, _ = galaxies[0]
            for label, method in methods.items():
                out = np.asarray(galgen.restore(data, psf_fwhm=1.0 * u.arcsec, pixel_scale=SCALE * u.arcsec,
                                                background=0.0, noise_rms=SIGMA, method=method).data, float)
                for kind, x, y, hlr in galaxies:
                    group = kind if kind == "bright" else ("faint, within 6\"" if np.hypot(x - bx, y - by) < 6
                                                           else "faint, farther")
                    groups.setdefault((group, label), []).append(scores(out, truth, x, y, hlr))
    print("| galaxies | method | N | PSNR (dB) | median flux err | median abs flux err |")
    print("| --- | --- | --- | --- | --- | --- |")
    order = list(methods)
    for (group, label), values in sorted(groups.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))):
        v = np.array(values)
        print(f"| {group} | {label} | {len(v)} | {np.median(v[:, 0]):.2f} | {np.median(v[:, 1]):+.2%} | "
              f"{np.median(np.abs(v[:, 1])):.2%} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
