"""galgen's command line: thin sub-commands that parse arguments and call the library."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from galgen._version import __version__
from galgen.errors import GalgenError, GalgenValueError

__all__ = ["main", "build_parser", "parse_angle", "TOY_DENSITIES", "TOY_SOLVERS", "TOY_GAN_LOSSES"]

# The toy commands' choices, spelled out so that building the parser imports no torch (``galgen
# --help`` answers at once); tests check them against galgen.models.
TOY_DENSITIES = ("8gaussians", "chessboard", "moons", "pinwheel", "rings", "spirals")
TOY_SOLVERS = ("euler", "midpoint", "rk4", "dopri5")
TOY_GAN_LOSSES = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp", "relativistic")

log = logging.getLogger("galgen")


def _at_least(minimum: int):  # noqa: ANN202 - an argparse type
    """An argparse ``type``: a whole number >= ``minimum`` (argparse prints the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            msg = f"expected a whole number, got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if value < minimum:
            msg = f"expected a whole number >= {minimum}, got {value}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = f"int>={minimum}"
    return parse


def parse_angle(text: str):  # noqa: ANN201 - an astropy Quantity (astropy is imported here, not at start-up)
    """Parse ``"1.0arcsec"``, ``"0.5 arcsec"``, ``"3pix"`` or ``"1.0"`` (arcsec) to a Quantity."""
    import astropy.units as u

    try:
        q = u.Quantity(text)
    except (TypeError, ValueError):
        msg = f"cannot read {text!r} as an angle; write e.g. 1.0arcsec or 3pix"
        raise argparse.ArgumentTypeError(msg) from None
    if q.unit == u.dimensionless_unscaled:
        q = q.value * u.arcsec
    if q.unit != u.pix and q.unit.physical_type != "angle":
        msg = f"{text!r} is not an angle or a number of pixels"
        raise argparse.ArgumentTypeError(msg)
    return q


def _hdu(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def _position(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        msg = f"expected X,Y in pixels (e.g. 1023.5,877.0), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return x, y


def _background(text: str) -> str | float:
    """``auto`` or a sky level (``--background``)."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        msg = f"{text!r} is neither 'auto' nor a number"
        raise argparse.ArgumentTypeError(msg) from None


def _cmd_demo(args: argparse.Namespace) -> int:
    from galgen.demo import run_demo

    table = run_demo(args.output, real=args.real, real_pixel_scale=args.real_pixel_scale)
    print(table)
    print(f"\nwrote {args.output}/restored.fits, comparison.png, metrics.ecsv")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from galgen.simulate import DEFAULT_REGIME, Regime, write_dataset

    regime = Regime(**{**DEFAULT_REGIME.to_dict(), "psf_kind": args.psf_kind,
                       "factor": args.scale, "in_size": args.size})
    table = write_dataset(args.output, args.n, args.seed, regime, overwrite=args.overwrite)
    print(f"wrote {len(table)} pairs to {args.output} (manifest.ecsv)")
    return 0


def _input_and_output(args: argparse.Namespace) -> tuple[Path, Path]:
    """The command's input and output paths, refusing to overwrite the input or (without
    ``--overwrite``) an existing file before any work is done."""
    inp, out = Path(args.input), Path(args.output)
    if out.resolve() == inp.resolve():
        msg = f"{out}: refusing to overwrite the input; choose another output name"
        raise GalgenError(msg)
    if out.exists() and not args.overwrite:
        msg = f"{out}: already exists; choose another name or pass --overwrite"
        raise GalgenError(msg)
    return inp, out


def _explain_flags(meta) -> str:  # noqa: ANN001 - a header or a CCDData's meta
    """What each flag raised in ``GALGENFL`` means for this output, with its numbers, and what to
    do (only the flags raised; all of them are described in docs: What galgen writes)."""
    said = []
    chi2 = float(meta.get("GALGENX2", float("nan")))
    for flag in str(meta.get("GALGENFL", "")).split(","):
        if flag == "CHI2HIGH":
            said.append(f"CHI2HIGH, the output blurred back does not reproduce the observation (chi^2 "
                        f"{chi2:.2f}): check the PSF and --noise-rms")
        elif flag == "CHI2LOW":
            said.append(f"CHI2LOW, it reproduces the noise too (chi^2 {chi2:.2f}: an interpolation, or a "
                        "noise level given too high)")
        elif flag == "STRUCT":
            z = float(meta.get("GALGENRZ", float("nan")))
            how = "blurrier" if z > 0 else "sharper"
            said.append(f"STRUCT, the galaxy's structure is left in the residual (GALGENRZ {z:+.1f} sigma, "
                        f"GALGENRF {float(meta.get('GALGENRF', float('nan'))):+.2f}): the output is {how} "
                        "than the data say; distrust its fine structure")
        elif flag == "REGIME":
            said.append("REGIME, the input lies outside the model's training regime (the warning above "
                        "says how)")
        elif flag == "SKY":
            z = float(meta.get("GALGENSZ", float("nan")))
            said.append(f"SKY, the automatic sky took part of the galaxy's light (the sky pixels brighten "
                        f"toward the centre, GALGENSZ {z:.1f} sigma): "
                        "the flux is low; give --background 0 for sky-subtracted data, or the sky level, "
                        "or cut a larger stamp")
        elif flag == "PSF":
            said.append(f"PSF, the stars of the field say the PSF given is wrong ({meta.get('GALGENPS', '')}"
                        f"; GALGENPR {meta.get('GALGENPR', '')})")
    return "; ".join(said) + ". Compare with --method richardson_lucy (docs: What galgen writes)"


def _cmd_restore(args: argparse.Namespace) -> int:
    from galgen.psf.files import own_hdu
    from galgen.restoration import restore, write_restored
    from galgen.restoration.model import SAMPLER_MAX_NOISE_FACTOR

    inp, out = _input_and_output(args)
    _need_psf(args, inp)
    if args.psf_position is not None:
        from galgen.psf.psfex import is_psfex

        if args.psf is None or not is_psfex(args.psf):
            msg = ("--psf-position places a PSFEx model (--psf FILE.psf); "
                   + ("without --psf there is none" if args.psf is None else
                      f"{args.psf} is a PSF image, the same at every position") + ": leave it out")
            raise GalgenError(msg)
    result = restore(inp, args.psf_fwhm, psf=own_hdu(args.psf, inp), scale=args.scale, method=args.method,
                     samples=args.samples, hdu=args.hdu, plane=args.plane,
                     pixel_scale=args.pixel_scale, noise_rms=args.noise_rms,
                     background=args.background, device=args.device or "cpu",
                     psf_position=args.psf_position, check_psf=None if args.psf_check else False,
                     **({"uncertainty": args.uncertainty} if args.uncertainty != "auto" else {}),
                     **({"ensemble": args.ensemble} if args.ensemble != 1 else {}))
    write_restored(result, out, overwrite=args.overwrite, write_samples=args.write_samples)
    print(f"wrote {out} ({result.data.shape[1]}x{result.data.shape[0]}, {result.meta['GALGENMD']}, "
          f"chi^2 {result.meta['GALGENX2']:.2f}, flag {result.meta['GALGENFL']})")
    if result.meta["GALGENFL"] != "OK":
        print("galgen restore: warning: flag " + _explain_flags(result.meta), file=sys.stderr)
    factor = result.meta.get("GALGENNF", 1.0)
    if factor > SAMPLER_MAX_NOISE_FACTOR:
        how = result.meta.get("GALGENUQ") if args.samples > 1 else None
        print(f"galgen restore: note: the input's noise is correlated between pixels (GALGENNF {factor:.2f}: "
              "on a galaxy's scale it is that much stronger than its rms per pixel); the SNR (GALGENSN) is "
              "divided by it" + ("; UNCERT re-noises with it" if how == "bootstrap" else "")
              + ("; UNCERT is from the posterior sampler, which assumes white noise" if how == "posterior"
                 else ""), file=sys.stderr)
    return 0


#: Header keywords that often hold a seeing or PSF FWHM (in units that differ between pipelines)
SEEING_KEYWORDS = ("PSFFWHM", "PSF_FWHM", "SEEING", "FWHM")


def _need_psf(args: argparse.Namespace, inp: Path | None = None) -> None:
    if args.psf_fwhm is None and args.psf is None:
        msg = ("give the observing PSF: --psf-fwhm 1.0arcsec (a Moffat of that width) or --psf PSF.fits"
               + (_seeing_hint(inp, args.hdu) if inp is not None else ""))
        raise GalgenError(msg)


def _seeing_hint(path: Path, hdu: str | None) -> str:
    """A hint naming the input's own PSF HDU (an image HDU whose name holds "PSF"), else a
    seeing-like keyword of its header (its units are not guessed: a pipeline's FWHM may be in
    pixels or arcsec, so galgen never reads it on its own)."""
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            index = 0 if hdu is None else (int(hdu) if str(hdu).isdigit() else hdu)
            header = hdul[index].header
            if index == 0 and header.get("NAXIS", 0) == 0 and len(hdul) > 1:
                header = hdul[1].header
            psf_hdus = [h.name for h in hdul[1:] if "PSF" in h.name.upper() and h.is_image
                        and h.header.get("NAXIS", 0) == 2]
    except Exception:  # noqa: BLE001 - only a hint: the read that follows reports a broken file
        return ""
    if psf_hdus:  # the file carries its own PSF image: say how to use it
        return (f"; {path.name} has a PSF image in HDU {psf_hdus[0]!r}: pass --psf '[{psf_hdus[0]}]' "
                f"(each input's own) or --psf '{path}[{psf_hdus[0]}]' to restore with it")
    for key in SEEING_KEYWORDS:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            comment = header.comments[key]
            about = f" / {comment}" if comment else ""
            return (f"; the header has {key} = {value}{about}: if that is the PSF FWHM in arcsec, pass "
                    f"--psf-fwhm {value}arcsec (in pixels: --psf-fwhm {value}pix)")
    return ""


def _add_restoration_options(p: argparse.ArgumentParser) -> None:
    """The options ``restore`` and ``batch`` share (one definition, one help text)."""
    p.add_argument("--no-psf-check", dest="psf_check", action="store_false",
                   help="do not check the PSF against the field's stars. By default, as galgen psfcheck "
                        "does, it is checked on every field: an input of at least 512 pixels a side, and "
                        "once per image in catalog runs (on a 2048-pixel region around the catalog's "
                        "galaxies); the verdict is the header's GALGENPS (and the manifest's psf_check), "
                        "and a PSF the stars call too wide or too narrow adds the flag PSF. A stamp has "
                        "no stars to check with")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None,
                   help="observing PSF FWHM, e.g. 1.0arcsec or 4pix (a bare number is arcsec): a Moffat "
                        "(beta 3.5) of that width; with --psf, the FWHM to assume instead of measuring it")
    p.add_argument("--psf", default=None, metavar="PSF.fits",
                   help="the observing PSF as a FITS image (FILE, or FILE[EXT] for one HDU, e.g. "
                        "stamp.fits[PSF], or '[EXT]' alone for that HDU of each input; its pixel scale "
                        "from its WCS or PIXSCALE/PIXELSCL, else assumed equal to the image's; any size up "
                        "to the image's, normalised by galgen) or a PSFEx model (.psf)")
    p.add_argument("--scale", type=int, default=2, help="resolution factor (default 2)")
    p.add_argument("--method", default="default",
                   help="default (the shipped model for --scale: at x2 default_x2 for 0.2\"/px stamps and "
                        "survey_x2 for other samplings, at x4 survey_x4; an error if galgen ships none), a "
                        "shipped model's name, a model directory, or a classical baseline: richardson_lucy, "
                        "wiener, wiener_target, bicubic")
    p.add_argument("--samples", type=int, default=1,
                   help="learned models only: an UNCERT extension from N samples. A model that ships a "
                        "posterior sampler (<model>/posterior: survey_x2) draws N images from "
                        "p(truth | observation, PSF, noise) "
                        "and UNCERT is their rms about the main image (which stays the deterministic "
                        "restoration); other models restore N re-noised copies (a noise bootstrap). Either "
                        "map is calibrated on validation data when the card says how (GALGENUQ tells which)")
    p.add_argument("--ensemble", type=int, choices=(1, 2, 4, 8), default=1, metavar="{1,2,4,8}",
                   help="learned models only: also restore the image turned and mirrored (2, 4 or 8 "
                        "symmetries of the square, with its PSF), undo each and average: that many times the "
                        "network's work for a slightly better restoration (8 with survey_x2 on validation "
                        "pairs: +0.02 to +0.19 dB, half-light radii a little closer, fluxes no closer; "
                        "docs/benchmarks.md); default 1")
    p.add_argument("--hdu", type=_hdu, default=None, help="HDU index or EXTNAME")
    p.add_argument("--pixel-scale", type=parse_angle, default=None,
                   help="pixel scale when the file has no WCS, e.g. 0.2arcsec")
    p.add_argument("--noise-rms", type=float, default=None,
                   help="background noise rms per pixel in image units (default: measured on the sky "
                        "pixels, GALGENNS; an ERR/VARIANCE/IVAR plane in the file is compared with it, "
                        "GALGENNV, and the log says when they disagree)")
    p.add_argument("--background", type=_background, default="auto",
                   help="sky to subtract: auto (estimated, source-masked; on a stamp the galaxy fills "
                        "it takes part of its flux: flag SKY) or a number (0 for sky-subtracted images, "
                        "as most survey coadds are)")
    p.add_argument("--device", default=None, help="torch device for learned models (cpu, cuda)")


def build_parser() -> argparse.ArgumentParser:
    """The ``galgen`` argument parser (sub-commands register themselves here)."""
    parser = argparse.ArgumentParser(
        prog="galgen",
        description=(
            "Recover sharper, higher-resolution galaxy images from FITS observations "
            "(GAN-based deconvolution and super-resolution), validate them photometrically, "
            "and explore the generative models underneath."
        ),
        epilog="Run 'galgen COMMAND --help' for each command's options. Angles accept units: "
               "1.0arcsec, 0.2arcsec, 3pix (a bare number is arcsec).",
    )
    parser.add_argument("--version", action="version", version=f"galgen {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="restore the bundled sample galaxy; write FITS, PNG, metrics",
                       description="Restore galgen's bundled (simulated) sample observation with "
                       "the default method and every baseline; write restored.fits, "
                       "comparison.png and metrics.ecsv.")
    p.add_argument("-o", "--output", default="demo_output", help="output directory")
    p.add_argument("--real", default=None, metavar="FITS",
                   help="a well-resolved real galaxy image for the figure's second row (default: "
                        "statmorph's face-on spiral, when statmorph is installed)")
    p.add_argument("--real-pixel-scale", type=float, default=0.06, metavar="ARCSEC",
                   help="pixel scale of --real in arcsec (default 0.06, for statmorph's image)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("simulate", help="write simulated (observation, truth) pairs as FITS",
                       description="Simulate galaxy pairs with GalSim in the default regime "
                       "(0.2\"/px, Moffat FWHM 0.6-1.4\", SNR 20-200 -> 0.1\"/px, 0.2\" target PSF) "
                       "and write observed/ and truth/ FITS stamps plus manifest.ecsv.")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("-n", type=_at_least(1), default=100, help="number of pairs (default 100)")
    p.add_argument("--seed", type=_at_least(0), default=0, help="data-set seed (default 0)")
    p.add_argument("--scale", type=int, default=2, choices=(1, 2, 4), help="resolution factor")
    p.add_argument("--size", type=int, default=64, help="observation stamp side in pixels")
    p.add_argument("--psf-kind", default="moffat", choices=("moffat", "gaussian", "hst"))
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("restore", help="restore one FITS image",
                       description="Deconvolve and super-resolve a galaxy image. The output FITS "
                       "keeps the header, gets a WCS at the new pixel scale, provenance keywords "
                       "(GALGEN*) and HISTORY, an UNCERT extension when --samples > 1 and, with "
                       "--write-samples, the posterior draws as a SAMPLES cube. Values are flux per output "
                       "pixel in the input's BUNIT (totals kept); a BUNIT per solid angle (MJy/sr, ...) "
                       "stays surface brightness.")
    p.add_argument("input", help="input FITS file (never modified)")
    p.add_argument("-o", "--output", required=True, help="output FITS file")
    _add_restoration_options(p)
    p.add_argument("--psf-position", type=_position, default=None, metavar="X,Y",
                   help="with a PSFEx model (--psf FILE.psf): the stamp's position in the pixels of the "
                        "exposure PSFEx was run on (1-based, SExtractor's X_IMAGE,Y_IMAGE); default the "
                        "model's centre")
    p.add_argument("--plane", type=int, default=None, help="plane of a 3D cube")
    p.add_argument("--uncertainty", choices=("auto", "posterior", "bootstrap"), default="auto",
                   help="with --samples N: how UNCERT is made. auto: the posterior sampler when the model "
                        "ships one and the input's noise is not correlated between pixels (GALGENNF <= 1.5), "
                        "else the noise bootstrap (re-noised with the measured correlation)")
    p.add_argument("--write-samples", action="store_true",
                   help="with --samples N and a model with a posterior sampler: also write the N posterior "
                        "draws as a SAMPLES cube extension (N, H, W); for an input with correlated noise "
                        "add --uncertainty posterior")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_cmd_restore)

    p = sub.add_parser("train",
                       help="train (or resume training) a restoration, translation or posterior model",
                       description="Train the restoration GAN from a TOML config, or a learned "
                       "survey-to-survey translation (a config with kind = \"translation\": a CycleGAN "
                       "between two folders of FITS stamps, see configs/translate_sim_to_survey.toml), "
                       "or a restorer's "
                       "posterior sampler (kind = \"posterior\": conditional flow matching, see "
                       "configs/posterior_survey_x2.toml); "
                       "resumes from the checkpoint in the "
                       "config's out_dir. Logs to out_dir/log.csv. For several processes (restoration) run: "
                       "torchrun --nproc_per_node N -m galgen.cli train --config ...")
    p.add_argument("--config", required=True, help="TOML file, e.g. configs/default_x2.toml")
    p.add_argument("--steps", type=_at_least(0), default=None,
                   help="override the total number of steps (0 with --export: export the checkpoint, "
                        "train nothing)")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this much wall-clock time, with the learning-rate schedule run over it "
                        "(for a fixed lease on a GPU machine)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default from the config)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="after training, write model.safetensors + config.json to DIR")
    p.add_argument("--export-best", action="store_true",
                   help="with --export (restoration configs): export the weights of the step with the best "
                        "validation PSNR (out_dir/best.pt, kept as the run validates) instead of the last")
    p.add_argument("--simulate-shards", type=_at_least(1), default=None, metavar="N",
                   help="instead of training, simulate the first N training shards of a config with "
                        "shard_size > 0 (run it in a second process to keep ahead of the trainer)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="photometric validation of restored images",
                       description="Measure restored images against truths: PSNR, SSIM, aperture "
                       "flux and magnitude error, half-light radius, ellipticity (adaptive moments), "
                       "centroid, and the chi^2 data consistency with the observation. Writes an ECSV "
                       "table (one row per galaxy, units in the columns) and a summary. "
                       "--benchmark runs galgen's model and every baseline (on the model's grid and target "
                       "PSF, parameters tuned per PSF/SNR bin on validation pairs) on a held-out "
                       "simulated set and writes tables and figures. Restored files with an UNCERT "
                       "map (restore --samples N), and --benchmark with --samples N, add the map's "
                       "coverage of the truth on galaxy pixels (2\" around the centre, scaled with a "
                       "benchmark set's galaxy sizes; want 68.3% at 1 sigma, 95.4% at 2 sigma) and a "
                       "reliability diagram (reliability.png).")
    p.add_argument("--truth", help="truth FITS")
    p.add_argument("--restored", help="restored FITS (or, with --manifest, a directory)")
    p.add_argument("--observed", help="observed FITS (adds the chi^2 consistency)")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None, help="observing PSF FWHM")
    p.add_argument("--manifest", help="manifest.ecsv written by 'galgen simulate'")
    p.add_argument("--benchmark", choices=("structured", "merger", "cosmos", "sdss", "des", "hsc", "x4",
                                           "default"),
                   help="run a held-out benchmark: structured (morphology-rich, in regime; = default), "
                        "merger (the family kept out of training), cosmos (parametric COSMOS-like), "
                        "sdss / des / hsc (a survey's sampling and seeing, non-Moffat PSF images) or x4")
    p.add_argument("--morphology", action="store_true",
                   help="add Gini, M20, C, A, S (statmorph; ~1 s per image; files only)")
    p.add_argument("-n", type=_at_least(1), default=200, help="galaxies in the benchmark (default 200)")
    p.add_argument("--methods", nargs="+", default=None, metavar="M",
                   help="with --benchmark: the methods to compare (default: default richardson_lucy "
                        "wiener wiener_target bicubic; 'default' is the shipped model for the set, "
                        "or name a model, e.g. survey_x2, or a model directory)")
    p.add_argument("--samples", type=int, default=1, metavar="N",
                   help="with --benchmark: learned models also make an uncertainty map from N draws "
                        "(as restore --samples N) and its coverage is measured (default 1: none)")
    p.add_argument("-o", "--output", default="evaluation", help="output directory")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("batch", help="restore many files (or catalog cutouts), resumable, on Dask",
                       description="Restore a set of FITS files (paths, globs, directories, @list.txt) "
                       "or the galaxies of a catalog (--catalog, with the big images as INPUTS: each "
                       "image is memory-mapped once, stamps are written a chunk at a time as stacked "
                       "files stamps_NNNNN.fits, read them with galgen.io.read_stamps) "
                       "into OUTDIR, with a manifest.ecsv of per-item status (and, for catalogs, the "
                       "stack file and index of each galaxy), "
                       "time, chi^2 consistency, error and training-regime warning. Re-running skips "
                       "what is done; a bad file is reported and the rest go on; the exit code is the "
                       "number of failures.")
    p.add_argument("inputs", nargs="+", help="FITS files, globs, directories or @list files")
    p.add_argument("-o", "--output", required=True, help="output directory")
    _add_restoration_options(p)
    p.add_argument("--catalog", default=None, help="ECSV/FITS table with ra, dec (deg) [and id]")
    p.add_argument("--cutout-size", type=_at_least(8), default=64, help="cutout side, pixels")
    p.add_argument("--stamps-per-file", type=_at_least(1), default=256,
                   help="catalog runs: stamps per stacked output file, and per Dask task (default 256)")
    p.add_argument("--per-stamp-files", action="store_true",
                   help="catalog runs: one FITS file per galaxy (cutout_<id>.fits) instead of stacks")
    p.add_argument("--batch-size", type=_at_least(0), default=0,
                   help="stamps per network pass (default: 4 on a CPU, where small batches run fastest, "
                        "256 on a GPU)")
    p.add_argument("--workers", type=_at_least(0), default=0,
                   help="Dask LocalCluster worker processes, one per core is fastest on a CPU "
                   "(0: run in this process)")
    p.add_argument("--dask-scheduler", default=None, help="address of a running Dask scheduler")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU runs)")
    p.add_argument("--threads", type=_at_least(0), default=0,
                   help="torch threads for the model in this process (default: all cores; Dask "
                   "workers use one each)")
    p.add_argument("--dry-run", action="store_true", help="list what would be done")
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("translate", help="what a worse survey would have seen: matched PSF, pixels, noise",
                       description="Translate an image to a survey with a broader PSF and coarser pixels: "
                       "PSF matching (analytic for Gaussians, photutils for PSF images), flux-conserving "
                       "resampling onto the target grid (reproject), optional noise. The output covers the "
                       "same sky, keeps the total flux (a surface-brightness BUNIT, per solid angle such as "
                       "MJy/sr, stays surface brightness), has a WCS at the target scale and PSFFWHM = the "
                       "target PSF. Presets (--to): " + ", ".join(
                           f"{k} ({v.pixel_scale}\"/px, {v.psf_fwhm}\")" for k, v in _surveys().items())
                       + "; explicit values override them. With --model NAME, a learned translation instead "
                       "(trained by galgen train on two unpaired folders of stamps): e.g. --model "
                       "sim_to_survey maps the 0.2\"/px simulated domain to a 0.4\"/px survey look (Moffat "
                       "PSF, correlated noise).")
    p.add_argument("input", help="input FITS file (never modified)")
    p.add_argument("-o", "--output", required=True, help="output FITS file")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None, help="the input's PSF FWHM (Gaussian)")
    p.add_argument("--psf", default=None, metavar="PSF.fits", help="the input's PSF as an image instead")
    p.add_argument("--to", choices=sorted(_surveys()), default=None, help="target survey preset")
    p.add_argument("--to-pixel-scale", type=parse_angle, default=None,
                   help="target pixel scale, e.g. 0.396arcsec")
    p.add_argument("--to-psf-fwhm", type=parse_angle, default=None,
                   help="target PSF FWHM (Gaussian), e.g. 1.4arcsec")
    p.add_argument("--to-psf", default=None, metavar="PSF.fits",
                   help="target PSF image: the survey's effective PSF (including its pixel response)")
    p.add_argument("--to-noise-rms", type=float, default=None,
                   help="background rms per output pixel to reach, input units (white noise is added)")
    p.add_argument("--to-noise-like", default=None, metavar="REF.fits",
                   help="an image of the target survey at its pixel scale: the added noise gets the "
                        "correlation between pixels measured on its background (coadds, drizzled data) and, "
                        "without --to-noise-rms, its background rms (REF must be in the input's units)")
    p.add_argument("--seed", type=_at_least(0), default=0, help="seed of the added noise")
    p.add_argument("--allow-sharpen", action="store_true",
                   help="permit a target PSF narrower than the input's (a deconvolution)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help="a learned translation instead (a shipped name, e.g. sim_to_survey, or a model "
                   "directory from galgen train --export): the domains, PSFs and noise are the model's, so "
                   "the physical "
                   "options above are not used")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="with --model: from domain A (finer pixels) to B, or back (default a2b)")
    p.add_argument("--hdu", type=_hdu, default=None, help="HDU index or EXTNAME")
    p.add_argument("--pixel-scale", type=parse_angle, default=None, help="input pixel scale if it has no WCS")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_cmd_translate)

    p = sub.add_parser("psfcheck", help="check the PSF you would restore with against the field's stars",
                       description="A wrong PSF cannot be seen from one galaxy stamp (a smaller galaxy "
                       "behind a wider PSF fits its pixels as well), but the stars of the field it was cut "
                       "from are images of the PSF. This finds the isolated, unsaturated point sources of "
                       "FIELD (the narrowest sources: a galaxy is never narrower than the PSF), measures "
                       "their size and the PSF's the same way (GalSim adaptive moments on the same pixels) "
                       "and says whether the PSF given is too wide or too narrow. Exit status: 0 the PSF "
                       "agrees with the stars, 3 it does not, 4 too few stars (five) to say. In a field "
                       "with few or no stars, compact galaxies of one size can pass for stars "
                       "(PSF_TOO_NARROW): look at the positions printed.",
                       epilog="Example: galgen psfcheck frame.fits --psf-fwhm 1.4arcsec --saturation 60000")
    p.add_argument("input", help="a field image (or a large cutout) from the exposure the PSF is for")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None,
                   help="the PSF as a Moffat (beta 3.5) FWHM, e.g. 1.4arcsec or 3.5pix")
    p.add_argument("--psf", default=None, metavar="PSF.fits",
                   help="the PSF as a FITS image or a PSFEx model")
    p.add_argument("--moffat-beta", type=float, default=3.5,
                   help="beta of the --psf-fwhm Moffat (default 3.5)")
    p.add_argument("--snr-min", type=float, default=30.0, help="peak SNR a star needs (default 30)")
    p.add_argument("--saturation", type=float, default=None,
                   help="skip sources with a pixel at or above this value (input units)")
    p.add_argument("--tolerance", type=float, default=0.1,
                   help="relative size difference called wrong (default 0.1)")
    p.add_argument("--hdu", type=_hdu, default=None, help="HDU index or EXTNAME")
    p.add_argument("--pixel-scale", type=parse_angle, default=None, help="pixel scale if the file has no WCS")
    p.add_argument("--noise-rms", type=float, default=None, help="background noise (default: estimated)")
    p.add_argument("--background", type=_background, default="auto",
                   help="sky to subtract: auto (estimated) or a number")
    p.set_defaults(func=_cmd_psfcheck)

    _add_toy_parser(sub)
    return parser


def _cmd_psfcheck(args: argparse.Namespace) -> int:
    from galgen.psf.files import own_hdu
    from galgen.psf.stars import check_psf_with_stars

    inp = Path(args.input)
    _need_psf(args, inp)
    result = check_psf_with_stars(inp, args.psf_fwhm, psf=own_hdu(args.psf, inp),
                                  pixel_scale=args.pixel_scale, noise_rms=args.noise_rms,
                                  background=args.background, moffat_beta=args.moffat_beta,
                                  snr_min=args.snr_min, saturation=args.saturation, tolerance=args.tolerance,
                                  hdu=args.hdu)
    print(f"{inp}: {result.message()}")
    for x, y in result.positions:
        print(f"  star at x={x + 1:.1f}, y={y + 1:.1f} (1-based pixels)")
    return {"OK": 0, "NO_STARS": 4}.get(result.verdict, 3)


def _surveys() -> dict:
    from galgen.translate.presets import SURVEYS

    return SURVEYS


def _cmd_translate(args: argparse.Namespace) -> int:
    import numpy as np

    from galgen.psf.files import own_hdu
    from galgen.restoration.restorer import write_restored
    from galgen.translate import translate

    inp, out = _input_and_output(args)
    if args.model is not None:
        from galgen.translate.learned import translate_learned

        physical = ("psf_fwhm", "psf", "to", "to_pixel_scale", "to_psf_fwhm", "to_psf", "to_noise_rms",
                    "to_noise_like")
        given = [f"--{k.replace('_', '-')}" for k in physical
                 if getattr(args, k) is not None]
        if given:
            raise GalgenValueError(f"{', '.join(given)}: not used with --model (the model's domains fix the "
                                   "PSFs, pixels and noise); drop them or drop --model")
        result = translate_learned(inp, args.model, direction=args.direction, seed=args.seed, hdu=args.hdu,
                                   pixel_scale=args.pixel_scale)
        write_restored(result, out, overwrite=args.overwrite)
        print(f"wrote {out} ({result.data.shape[1]}x{result.data.shape[0]}, learned {args.direction} with "
              f"{args.model})")
        return 0
    preset = _surveys()[args.to] if args.to else None
    to_scale = args.to_pixel_scale if args.to_pixel_scale is not None else (
        preset.pixel_scale if preset else None)
    to_fwhm = args.to_psf_fwhm if args.to_psf_fwhm is not None else (
        preset.psf_fwhm if preset and args.to_psf is None else None)
    if to_scale is None:
        raise GalgenValueError("give the target pixel scale: --to-pixel-scale 0.396arcsec (or --to sdss)")
    if args.psf_fwhm is None and args.psf is None:
        raise GalgenValueError("give the input's PSF: --psf-fwhm 0.12arcsec or --psf PSF.fits")
    result = translate(inp, args.psf_fwhm, to_pixel_scale=to_scale, to_psf_fwhm=to_fwhm,
                       source_psf=own_hdu(args.psf, inp), to_psf=args.to_psf, to_noise_rms=args.to_noise_rms,
                       rng=np.random.default_rng(args.seed), allow_sharpen=args.allow_sharpen, hdu=args.hdu,
                       pixel_scale=args.pixel_scale, to_noise_like=args.to_noise_like)
    write_restored(result, out, overwrite=args.overwrite)
    print(f"wrote {out} ({result.data.shape[1]}x{result.data.shape[0]}, PSF FWHM {result.meta['PSFFWHM']}\")")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from galgen.batch import BatchOptions, catalog_items, expand_inputs, run_batch

    stacked = bool(args.catalog) and not args.per_stamp_files
    if args.catalog and not stacked:
        items = catalog_items(args.catalog, args.inputs, args.cutout_size, args.hdu)
    elif not args.catalog:
        items = expand_inputs(args.inputs, args.hdu)
    _need_psf(args)
    options = BatchOptions(
        psf_fwhm=args.psf_fwhm, psf=args.psf, scale=args.scale, method=args.method, samples=args.samples,
        pixel_scale=args.pixel_scale, background=args.background,
        noise_rms=args.noise_rms, batch_size=args.batch_size, device=args.device or "cpu",
        compile=args.compile, check_psf=args.psf_check, ensemble=args.ensemble)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # this process's model; Dask workers use one thread each
    if stacked:
        from galgen.batch.catalog import run_catalog

        table = run_catalog(args.catalog, args.inputs, options, args.output, size=args.cutout_size,
                            hdu=args.hdu, chunk_size=args.stamps_per_file, dask_scheduler=args.dask_scheduler,
                            local_workers=args.workers, dry_run=args.dry_run)
    else:
        table = run_batch(items, options, args.output, dask_scheduler=args.dask_scheduler,
                          local_workers=args.workers, dry_run=args.dry_run)
    if args.dry_run:
        for row in table:
            print(f"{row['status']:>4}  " + (f"{row['key']} -> {row['output']}[{row['index']}]" if stacked
                                             else row["input"]))
        return 0
    failed = table[table["status"] != "ok"]
    for row in failed:
        print(f"FAILED {row['key'] if stacked else row['input']}: {row['error']}", file=sys.stderr)
    odd = int(sum(1 for w in table["warning"] if w)) if "warning" in table.colnames else 0
    flags = list(table["flag"]) if "flag" in table.colnames else []
    inconsistent = sum(any(k in f for k in ("CHI2HIGH", "CHI2LOW", "STRUCT")) for f in flags)
    if inconsistent:
        print(f"{inconsistent} output(s) are not supported by their observation (flags CHI2HIGH, CHI2LOW or "
              "STRUCT in the manifest): compare them with --method richardson_lucy and check the PSF and "
              "noise", file=sys.stderr)
    wrong_psf = sum("PSF" in f.split(",") for f in flags)
    if wrong_psf:
        print(f"{wrong_psf} output(s) come from images whose stars say the PSF given is wrong (flag PSF; the "
              "manifest's psf_check column says which way): measure the PSF from the stars (galgen psfcheck "
              "lists them) or give the survey's PSF model for the exposure, and restore again",
              file=sys.stderr)
    sky = sum("SKY" in f.split(",") for f in flags)
    if sky:
        print(f"{sky} output(s) come from stamps whose automatic sky took part of the galaxy's light "
              "(flag SKY; their flux is low): for sky-subtracted data run again with --background 0, else "
              "cut larger stamps", file=sys.stderr)
    print(f"{len(table) - len(failed)} restored, {len(failed)} failed; manifest: "
          f"{args.output}/manifest.ecsv")
    if odd:
        print(f"{odd} input(s) lie outside the model's training regime: see the manifest's "
              "'warning' column", file=sys.stderr)
    return min(len(failed), 125)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from astropy.table import Table

    from galgen.evaluation import (
        benchmark_report,
        evaluate_files,
        evaluate_manifest,
        summarize,
        summarize_by_bin,
    )

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.benchmark:
        name = "structured" if args.benchmark == "default" else args.benchmark
        from galgen.evaluation.benchmark import DEFAULT_METHODS
        from galgen.restoration.engine import check_samples

        check_samples(args.samples)
        methods = tuple(args.methods) if args.methods else DEFAULT_METHODS
        _, summary = benchmark_report(out, args.n, benchmark=name, samples=args.samples, methods=methods)
    elif args.manifest:
        if not args.restored:
            raise GalgenError("--manifest needs --restored DIR holding the restored files")
        table = evaluate_manifest(args.manifest, args.restored, nonparametric=args.morphology)
        table.write(out / "evaluation.ecsv", format="ascii.ecsv", overwrite=True)
        summary = summarize(table)
        summarize_by_bin(table).write(out / "summary_by_bin.ecsv", format="ascii.ecsv",
                                      overwrite=True)
        if "coverage_pixels" in table.colnames:
            from galgen.evaluation.figures import reliability_diagram

            reliability_diagram(table, out, title=Path(args.restored).name)
    elif args.truth and args.restored:
        fwhm = None if args.psf_fwhm is None else args.psf_fwhm.to_value("arcsec")
        row = evaluate_files(args.truth, args.restored, observed=args.observed, psf_fwhm=fwhm,
                             nonparametric=args.morphology)
        if row.get("flag") and not row.get("psnr", 0) == row.get("psnr", 0):  # NaN: nothing measured
            raise GalgenError(row["flag"])
        table = Table(rows=[dict(row, method="restored")])
        table.write(out / "evaluation.ecsv", format="ascii.ecsv", overwrite=True)
        summary = summarize(table)
    else:
        raise GalgenError("give --truth and --restored, --manifest and --restored, or --benchmark NAME")
    summary.write(out / "summary.ecsv", format="ascii.ecsv", overwrite=True)
    for col in summary.colnames:
        if summary[col].dtype.kind == "f":
            summary[col].info.format = ".4g"
    summary.pprint(max_width=-1, max_lines=-1)
    print(f"wrote {out}/")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import tomllib

    try:
        with open(args.config, "rb") as f:
            kind = tomllib.load(f).get("kind", "restoration")
    except FileNotFoundError:
        msg = f"{args.config}: no such config file (the shipped ones are in configs/)"
        raise GalgenError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{args.config}: not valid TOML ({exc})"
        raise GalgenError(msg) from None
    if kind == "translation":
        return _train_translation(args)
    if kind == "posterior":
        return _train_posterior(args)
    from galgen.train.restoration import export, load_config, train

    cfg = load_config(args.config, steps=args.steps, device=args.device, time_budget=args.time_budget)
    if args.simulate_shards is not None:
        from galgen.train.restoration import simulate_shards

        made = simulate_shards(cfg, args.simulate_shards)
        print(f"{made} shard(s) simulated into {cfg.out_dir}/shards")
        return 0
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    if args.export_best and not args.export:
        raise GalgenValueError("--export-best says which weights --export DIR writes; give --export DIR")
    train(cfg, resume=not args.fresh)
    if args.export and int(os.environ.get("RANK", "0")) == 0:
        digest = export(cfg, args.export, best=args.export_best)
        print(f"exported {args.export} (sha256 {digest[:12]}" + (", best validation step)" if args.export_best
                                                                  else ")"))
    return 0


def _train_translation(args: argparse.Namespace) -> int:
    from galgen.train import translation

    return _train_other_kind(args, translation.load_translate_config, translation.train_translation,
                             translation.export_translation,
                             "a translation config's [simulate] table fills its stamp folders")


def _train_posterior(args: argparse.Namespace) -> int:
    from galgen.train import posterior

    return _train_other_kind(args, posterior.load_posterior_config, posterior.train_posterior,
                             posterior.export_posterior,
                             "a posterior config simulates the shards it names that are missing")


def _train_other_kind(args: argparse.Namespace, load, train, export, shards_note: str) -> int:  # noqa: ANN001
    """``galgen train`` for a config whose ``kind`` is not restoration: read it with ``load``, run
    ``train`` (resuming unless ``--fresh``), then ``export`` to ``--export``."""
    if args.simulate_shards is not None:
        raise GalgenValueError(f"--simulate-shards is for restoration configs; {shards_note}")
    if args.export_best:
        raise GalgenValueError("--export-best is for restoration configs (their runs keep best.pt)")
    cfg = load(args.config, steps=args.steps, device=args.device, time_budget=args.time_budget)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    train(cfg, resume=not args.fresh)
    if args.export:
        digest = export(cfg, args.export)
        print(f"exported {args.export} (sha256 {digest[:12]})")
    return 0


def _cmd_toy(args: argparse.Namespace) -> int:
    from galgen.models.toy import run

    common = {"steps": args.steps, "outdir": args.output, "seed": args.seed,
              "progress": not args.quiet}
    if args.family == "flow":
        sizes = {"layers": args.layers, "bins": args.bins,
                 "hidden": None if args.hidden is None else (args.hidden, args.hidden),
                 "fourier_features": args.fourier_features}
        sizes = {k: v for k, v in sizes.items() if v is not None}
        allowed = {"coupling": {"layers", "hidden"},
                   "spline": {"layers", "bins", "hidden", "fourier_features"}, "ode": {"fourier_features"}}
        if unknown := set(sizes) - allowed[args.flow]:
            def flag(k: str) -> str:
                return "--" + k.replace("_", "-")

            msg = (f"{' '.join(flag(k) for k in sorted(unknown))} do(es) not apply to --flow {args.flow} "
                   f"(it takes: {', '.join(flag(k) for k in sorted(allowed[args.flow])) or 'none'})")
            raise GalgenValueError(msg)
        r = run.run_toy_flow(args.density, args.flow, args.solver, batch=args.batch,
                             flow_kwargs=sizes, checkpoint=args.checkpoint, objective=args.objective,
                             coupling=args.coupling, **common)
        limit = f" (analytic limit {r['entropy']:.3f})" if r["entropy"] is not None else ""
        how = f", {args.objective}" if args.flow == "ode" else ""
        print(f"{args.flow} flow on {args.density}{how}: held-out NLL {r['nll']:.3f} nats{limit}, "
              f"{r['seconds']:.0f} s of training")
        for row in r.get("solver_comparison", []):
            print(f"  {row['solver']:>5} at {row['nfe']:>3} function evaluations: NLL {row['nll']:.3f}")
    elif args.family == "vae":
        r = run.run_toy_vae(args.density, **common)
        print(f"VAE on {args.density}: held-out -ELBO {r['neg_elbo']:.3f} nats, "
              f"-IWAE(k=64) {r['neg_iwae64']:.3f} nats, {r['seconds']:.0f} s")
    else:
        r = run.run_toy_gan(args.density, args.loss, **common)
        extra = (f": {r['high_quality']:.1%} of samples within 3 sigma of a mode, "
                 f"{r['modes_covered']}/8 modes hold >= 5 %") if "high_quality" in r else ""
        print(f"GAN ({args.loss}) on {args.density}{extra}, {r['seconds']:.0f} s")
    print(f"figure: {r['figure']}" + (f", {r['solver_figure']}" if r.get("solver_figure") else ""))
    return 0


def _add_toy_parser(sub: argparse._SubParsersAction) -> None:
    GAN_LOSSES, SOLVERS, DENSITIES = TOY_GAN_LOSSES, TOY_SOLVERS, TOY_DENSITIES  # noqa: N806

    toy = sub.add_parser("toy", help="train a flow, VAE or GAN on a 2D toy density",
                         description="Teach-yourself generative models: train on a 2D density, "
                         "print the held-out score and write a PNG panel (data | samples | "
                         "density | ODE trajectories).")
    fam = toy.add_subparsers(dest="family", metavar="MODEL", required=True)
    for name, helptext in (("flow", "normalizing flow (coupling, spline or ODE)"),
                           ("vae", "variational autoencoder (ELBO, IWAE)"),
                           ("gan", "generative adversarial network")):
        p = fam.add_parser(name, help=helptext, description=f"Train a {helptext} on a 2D density.")
        p.add_argument("--density", choices=sorted(DENSITIES),
                       default="8gaussians" if name == "gan" else "chessboard")
        p.add_argument("--steps", type=_at_least(1), default=None,
                       help="training steps (default: a few minutes)")
        p.add_argument("--seed", type=_at_least(0), default=0)
        p.add_argument("-o", "--output", default=".", help="directory for the PNG (default: .)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        if name == "flow":
            p.add_argument("--flow", choices=("coupling", "spline", "ode"), default="spline")
            p.add_argument("--solver", choices=SOLVERS, default="rk4", help="ODE solver (--flow ode)")
            p.add_argument("--layers", type=_at_least(1), default=None,
                           help="coupling layers (coupling, spline)")
            p.add_argument("--bins", type=_at_least(2), default=None, help="spline bins (spline)")
            p.add_argument("--hidden", type=_at_least(1), default=None,
                           help="width of the conditioners' two hidden layers (coupling, spline)")
            p.add_argument("--fourier-features", type=_at_least(0), default=None, metavar="N",
                           help="random Fourier features (sin, cos of N random projections) fed to the "
                                "spline conditioners or the ODE velocity net (default: 0 for spline, 64 "
                                "for a flow-matching ODE flow; sharper densities in the same time)")
            p.add_argument("--batch", type=_at_least(1), default=None, help="samples per step")
            p.add_argument("--checkpoint", default=None,
                           help="checkpoint file: resumed from if it exists (long runs)")
            p.add_argument("--objective", choices=("flow-matching", "likelihood"), default="flow-matching",
                           help="how --flow ode trains: flow matching (regress the velocity of straight "
                                "data-noise paths, no ODE solves; default) or maximum likelihood through "
                                "the solver (slow)")
            p.add_argument("--coupling", choices=("independent", "ot"), default="independent",
                           help="flow matching: pair data and noise at random or by minibatch optimal "
                                "transport (straighter paths, slower steps)")
        if name == "gan":
            p.add_argument("--loss", choices=GAN_LOSSES, default="wgan-gp")
        p.set_defaults(func=_cmd_toy)


def _plain_warnings(prog: str) -> None:
    """Print galgen's own warnings (:class:`~galgen.errors.GalgenRegimeWarning`, ...) as
    ``galgen restore: warning: ...`` instead of Python's ``file:line: Category: ...`` and the
    source line; other packages' warnings keep Python's format. Only for the console command
    (``main()`` with no arguments), whose process it is."""
    import warnings

    default = warnings.formatwarning

    def formatwarning(message, category, filename, lineno, line=None):  # noqa: ANN001, ANN202
        if category.__module__.startswith("galgen"):
            return f"{prog}: warning: {message}\n"
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = formatwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``galgen`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if argv is None:  # the console command, whose process this is: galgen's warnings read as the CLI's
        _plain_warnings(f"galgen {getattr(args, 'command', '') or ''}".strip())
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except GalgenError as exc:
        print(f"galgen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"galgen {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
