"""Large, faint galaxies: the flux a learned restoration leaves out, with and without the light
put back from the residual (:mod:`galgen.restoration.residual_light`).

Sersic galaxies (n drawn from 1, 1.5, 2.5; ellipticity up to 0.3) of half-light radius 1-4"
(5-20 pixels) at 0.2"/px through a Moffat PSF of 1" (beta 3.5), white noise of rms 10, a total
SNR ``snr * ...`` as in docs/limitations.md (``flux = SNR x sigma x sqrt(4 pi r_px^2 + 30)``);
stamps of 64-256 pixels (five half-light radii a side at least). Each is restored by the
shipped models as they ship and with ``residual_light`` off (a copy of the card), and by
Richardson-Lucy at its default settings (not tuned per bin: a reference, not a fair baseline);
the truth is the galaxy through the 0.2" target PSF at 0.1"/px. Printed: median PSNR and
median signed aperture-flux error (aperture of 3 half-light radii) per size and SNR.

Run: ``python benchmarks/large_galaxies.py [-n 4] [--seed 14000000]``; ``--bright --snr 1500 5000``
compares the shipped cards with copies whose card says ``"snr_clamp": false`` instead (sources above
the training SNR of stamps over twice the training size restored again or not); ``--figure PNG`` draws
one such galaxy instead (4", SNR 60): the observation, ``default_x2`` with the light put back and
without, the truth, and their curves of growth (docs/_static/large_galaxy.png).
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
from galgen.evaluation import measure_galaxy


def _without_light(name: str, root: Path) -> str:
    """A copy of a shipped model whose card turns the residual-light step off."""
    return card_copy(name, root, "nolight", residual_light=False)


def figure(path: str, seed: int) -> None:
    """One 4" Sersic galaxy at SNR 60 restored with and without the light put back, and the curves
    of growth (flux within radius) of each, the truth's and Richardson-Lucy's."""
    import galsim

    from galgen.plotting import comparison_panel, new_figure, save_figure

    rng = np.random.default_rng(seed)
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    gal = galsim.Sersic(n=1.0, half_light_radius=4.0).shear(e1=0.15, e2=-0.1)
    side, snr = 256, 60.0
    flux = snr * 10 * np.sqrt(4 * np.pi * (4.0 / 0.2) ** 2 + 30)
    data = galsim.Convolve(gal, psf).drawImage(nx=side, ny=side, scale=0.2).array * flux
    data = data + rng.normal(0, 10, data.shape)
    sharp = galsim.Convolve(gal, galsim.Gaussian(fwhm=0.2))
    truth = sharp.drawImage(nx=2 * side, ny=2 * side, scale=0.1).array * flux
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"default_x2": "default_x2", "default_x2, no light": _without_light("default_x2", Path(tmp)),
                "Richardson-Lucy": "richardson_lucy"}
        out = {label: np.asarray(galgen.restore(data, psf=psf, pixel_scale=0.2 * u.arcsec, background=0.0,
                                                noise_rms=10.0, method=m).data, float)
               for label, m in runs.items()}
    stem = Path(path)
    panels = {"observation (0.2\"/px, 1\" PSF)": data, "default_x2, no light": out["default_x2, no light"],
              "default_x2": out["default_x2"], "truth": truth}
    comparison_panel(panels, stem, noise_rms=10.0,
                     title='a 4" Sersic galaxy at SNR 60 (asinh stretch down to the noise)')
    fig, ax = new_figure(figsize=(5.0, 3.6))
    yy, xx = np.indices(truth.shape)
    r = np.hypot(yy - (truth.shape[0] - 1) / 2, xx - (truth.shape[1] - 1) / 2) * 0.1  # arcsec
    radii = np.linspace(0.5, 12.0, 47)
    total = truth.sum()
    for label, image, style in (("truth", truth, "k-"), ("default_x2", out["default_x2"], "C1-"),
                                ("default_x2, no light", out["default_x2, no light"], "C0--"),
                                ("Richardson-Lucy (default settings)", out["Richardson-Lucy"], "C2:")):
        ax.plot(radii, [image[r < q].sum() / total for q in radii], style, label=label)
    ax.set_xlabel("radius (arcsec)")
    ax.set_ylabel("flux within radius / truth's total")
    ax.axvline(12.0, color="0.8", lw=0.8)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, stem.with_name(stem.stem + "_growth" + stem.suffix))
    print(f"wrote {stem} and {stem.with_name(stem.stem + '_growth' + stem.suffix)}")


def main() -> None:
    import galsim

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=4, help="galaxies per size and SNR")
    parser.add_argument("--seed", type=int, default=14_000_000)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0, 2.0, 3.0, 4.0], help="hlr, arcsec")
    parser.add_argument("--snr", type=float, nargs="+", default=[30.0, 60.0, 300.0])
    parser.add_argument("--figure", metavar="PNG", help="draw one 4\" galaxy at SNR 60 instead of the table")
    parser.add_argument("--bright", action="store_true",
                        help="compare the models with copies whose card says snr_clamp: false (the sources "
                             "above the training SNR of stamps over twice the training size restored again, "
                             "galgen.restoration.bright) instead of the residual-light copies")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if args.figure:
        figure(args.figure, args.seed)
        return
    rng = np.random.default_rng(args.seed)
    psf = galsim.Moffat(beta=3.5, fwhm=1.0)
    print(f"machine: {machine()}; {args.n} galaxies per cell, seed {args.seed}\n")
    print("| hlr | SNR | method | PSNR (dB) | median flux err |")
    print("| --- | --- | --- | --- | --- |")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.bright:
            root = Path(tmp)
            methods = {"default_x2": "default_x2",
                       "default_x2, no clamp": card_copy("default_x2", root, "noclamp", snr_clamp=False),
                       "survey_x2": "survey_x2",
                       "survey_x2, no clamp": card_copy("survey_x2", root, "noclamp", snr_clamp=False),
                       "Richardson-Lucy (default settings)": "richardson_lucy"}
        else:
            methods = {"default_x2": "default_x2",
                       "default_x2, no light": _without_light("default_x2", Path(tmp)),
                       "survey_x2": "survey_x2",
                       "survey_x2, no light": _without_light("survey_x2", Path(tmp)),
                       "Richardson-Lucy (default settings)": "richardson_lucy"}
        for hlr in args.sizes:
            for snr in args.snr:
                scores: dict[str, list] = {m: [] for m in methods}
                for _ in range(args.n):
                    gal = galsim.Sersic(n=float(rng.choice([1.0, 1.5, 2.5])), half_light_radius=hlr)
                    gal = gal.shear(e1=rng.uniform(-0.3, 0.3), e2=rng.uniform(-0.3, 0.3))
                    side = int(max(64, 2 ** np.ceil(np.log2(hlr * 5 / 0.2 * 2))))
                    flux = snr * 10 * np.sqrt(4 * np.pi * (hlr / 0.2) ** 2 + 30)
                    clean = galsim.Convolve(gal, psf).drawImage(nx=side, ny=side, scale=0.2).array * flux
                    data = clean + rng.normal(0, 10, clean.shape)
                    sharp = galsim.Convolve(gal, galsim.Gaussian(fwhm=0.2))
                    truth = sharp.drawImage(nx=2 * side, ny=2 * side, scale=0.1).array * flux
                    for label, method in methods.items():
                        out = galgen.restore(data, psf=psf, pixel_scale=0.2 * u.arcsec, background=0.0,
                                             noise_rms=10.0, method=method)
                        m = measure_galaxy(np.asarray(out.data), truth, 0.1, aperture=max(3.0, 3 * hlr))
                        scores[label].append((m["psnr"], m["flux_error"]))
                for label, values in scores.items():
                    v = np.median(np.array(values), axis=0)
                    print(f"| {hlr:g}\" | {snr:g} | {label} | {v[0]:.2f} | {v[1]:+.1%} |", flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
