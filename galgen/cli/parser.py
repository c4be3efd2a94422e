"""The ``galgen`` argument parser: every sub-command's options and help, in one place."""

from __future__ import annotations

import argparse

from galgen._version import __version__
from galgen.cli._args import (
    TOY_DENSITIES,
    TOY_GAN_LOSSES,
    TOY_SOLVERS,
    angle_arg,
    at_least,
    background_arg,
    hdu_arg,
    parse_angle,
    position_arg,
)
from galgen.cli.commands import cmd_demo, cmd_evaluate, cmd_psfcheck, cmd_simulate, cmd_translate, surveys
from galgen.cli.models import cmd_models
from galgen.cli.restore import cmd_batch, cmd_restore
from galgen.cli.training import cmd_toy, cmd_train

__all__ = ["build_parser"]


def add_restoration_options(p: argparse.ArgumentParser) -> None:
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
                        "from its WCS or PIXSCALE/PIXELSCL, else assumed equal to the image's; turned onto "
                        "the image's axes when both WCSs say they differ; any size up to the image's, "
                        "normalised and recentred by galgen), a PSFEx model (.psf) or an SDSS psField file "
                        "(psField-*.fit: the band named by the image's FILTER, or as psField.fit[r]). A "
                        "template names each input's own PSF file from its name and header keywords: "
                        "'psfs/{stem}.psf', '{dir}/{stem}_psf.fits[1]', 'psField-{stem[8:]}.fit' (a slice "
                        "of the name), 'psField-{RUN:06d}-{CAMCOL}-{FIELD:04d}.fit' (quote it for the shell)")
    add_psf_angle_option(p)
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
    p.add_argument("--hdu", type=hdu_arg, default=None, help="HDU index, EXTNAME, or EXTNAME,EXTVER (SCI,2)")
    p.add_argument("--pixel-scale", type=parse_angle, default=None,
                   help="pixel scale when the file has no WCS, e.g. 0.2arcsec")
    p.add_argument("--noise-rms", type=float, default=None,
                   help="background noise rms per pixel in image units (default: measured on the sky "
                        "pixels, GALGENNS; an ERR/VARIANCE/IVAR plane in the file is compared with it, "
                        "GALGENNV, and the log says when they disagree)")
    add_plane_options(p)
    p.add_argument("--background", type=background_arg, default="auto",
                   help="sky to subtract: auto (estimated, source-masked; on a stamp the galaxy fills "
                        "it takes part of its flux: flag SKY) or a number (0 for sky-subtracted images, "
                        "as most survey coadds are; flag SKY when the source-free pixels sit more than "
                        "0.5 sigma from zero after it, GALGENSO)")
    p.add_argument("--device", default=None, help="torch device for learned models (cpu, cuda)")


def add_plane_options(p: argparse.ArgumentParser) -> None:
    """``--noise-map``, ``--noise-map-type`` and ``--mask``: planes in files of their own."""
    p.add_argument("--noise-map", default=None, metavar="FILE",
                   help="the image's noise map in a file of its own (FILE or FILE[EXT]; a template as for "
                        "--psf: '{dir}/{stem[:-8]}-invvar-r.fits.fz'): a Legacy Surveys invvar brick, a "
                        "DECam oow weight map, a Euclid RMS map. Read as an ERR/IVAR plane in the image's "
                        "file is (and replacing one)")
    p.add_argument("--noise-map-type", choices=("ivar", "var", "std"), default=None,
                   help="what --noise-map holds: inverse variance (weight map), variance or standard "
                        "deviation (rms); default: as its EXTNAME or file name says (invvar, weight, oow, "
                        "var, rms, err, ...), else an error")
    p.add_argument("--mask", default=None, metavar="FILE",
                   help="the image's mask in a file of its own (FILE or FILE[EXT], or a template): nonzero "
                        "is bad (for an LSST/HSC-style MASK naming its bit planes, only the bad planes); "
                        "added to the file's own mask in single restores, replacing it in catalog runs")
    p.add_argument("--mask-ignore", default=None, metavar="BITS",
                   help="bits of an integer mask (the file's own DQ/MASK plane, or --mask) that mark usable "
                        "pixels: 64, 64,32 or 0x4000. A mask of no convention galgen knows (HST DQ, "
                        "Pan-STARRS1) counts every bit as bad, masking good data such as HST ACS's warm "
                        "pixels (64) or PS1's CONV.POOR (0x4000); LSST/HSC MASK planes and JWST DQ say which "
                        "bits are bad")


def add_psf_position_option(p: argparse.ArgumentParser) -> None:
    """``--psf-position``: where a PSF model of the exposure is evaluated."""
    p.add_argument("--psf-position", type=position_arg, default=None, metavar="X,Y",
                   help="with a PSFEx model (--psf FILE.psf): the stamp's position in the pixels of the "
                        "exposure PSFEx was run on (1-based, SExtractor's X_IMAGE,Y_IMAGE). With an SDSS "
                        "psField file (--psf psField-*.fit, its band from the image's FILTER or as "
                        "psField.fit[r]): the position on the SDSS frame (1-based column, row). Default: "
                        "the image's centre on its exposure when its header says where it lies (IRAF "
                        "LTV1/LTV2, as cutouts of imcopy and galgen write), else the model's (frame's) "
                        "centre")


def add_psf_angle_option(p: argparse.ArgumentParser) -> None:
    """``--psf-angle``: a detector-frame PSF turned onto the image's axes."""
    p.add_argument("--psf-angle", type=angle_arg, default=None, metavar="DEG",
                   help="turn --psf by DEG degrees, counter-clockwise as displayed (x right, y up), onto the "
                        "image's pixel axes: a PSF on a detector's axes (STPSF/WebbPSF, TinyTim, a PSFEx "
                        "model of one exposure) for an image resampled onto other axes. For a north-up, "
                        "east-left drizzled mosaic: the position angle of the detector's y axis east of "
                        "north (HST's ORIENTAT of the exposure). A PSF file with a celestial WCS is turned "
                        "by its WCS instead (an error with --psf-angle). The note in the output's "
                        "provenance says how it was turned")


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
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="the shipped models: the inputs each was trained for, the default",
                       description="List the models galgen ships (restoration and translation): the input "
                       "regime each was trained on (pixel scale, PSF FWHM, SNR), its output grid and target "
                       "PSF, and which one --method default uses for each scale. With a NAME, its model "
                       "card: the surveys inside its regime, flux calibration, uncertainty map, held-out "
                       "scores against a tuned Richardson-Lucy, limitations.")
    p.add_argument("name", nargs="?", help="a shipped model's name (e.g. survey_x2)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("simulate", help="write simulated (observation, truth) pairs as FITS",
                       description="Simulate galaxy pairs with GalSim in the default regime "
                       "(0.2\"/px, Moffat FWHM 0.6-1.4\", SNR 20-200 -> 0.1\"/px, 0.2\" target PSF) "
                       "and write observed/ and truth/ FITS stamps plus manifest.ecsv.")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("-n", type=at_least(1), default=100, help="number of pairs (default 100)")
    p.add_argument("--seed", type=at_least(0), default=0, help="data-set seed (default 0)")
    p.add_argument("--scale", type=int, default=2, choices=(1, 2, 4), help="resolution factor")
    p.add_argument("--size", type=int, default=64, help="observation stamp side in pixels")
    p.add_argument("--psf-kind", default="moffat", choices=("moffat", "gaussian", "hst"))
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("restore", help="restore one FITS image",
                       description="Deconvolve and super-resolve a galaxy image. The output FITS "
                       "keeps the header, gets a WCS at the new pixel scale, provenance keywords "
                       "(GALGEN*) and HISTORY, an UNCERT extension when --samples > 1 and, with "
                       "--write-samples, the posterior draws as a SAMPLES cube. Values are flux per output "
                       "pixel in the input's BUNIT (totals kept); a BUNIT per solid angle (MJy/sr, ...) "
                       "stays surface brightness.")
    p.add_argument("input", help="input FITS file (never modified)")
    p.add_argument("-o", "--output", required=True, help="output FITS file")
    add_restoration_options(p)
    add_psf_position_option(p)
    p.add_argument("--plane", type=hdu_arg, default=None,
                   help="plane of a 3D cube: its number, or its band when the header names the planes "
                        "(BANDS/BAND0..: --plane r of a Legacy Surveys grz cutout)")
    p.add_argument("--uncertainty", choices=("auto", "posterior", "bootstrap"), default="auto",
                   help="with --samples N: how UNCERT is made. auto: the posterior sampler when the model "
                        "ships one and the input's noise is not correlated between pixels (GALGENNF <= 1.5), "
                        "else the noise bootstrap (re-noised with the measured correlation)")
    p.add_argument("--write-samples", action="store_true",
                   help="with --samples N and a model with a posterior sampler: also write the N posterior "
                        "draws as a SAMPLES cube extension (N, H, W); for an input with correlated noise "
                        "add --uncertainty posterior")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_restore)

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
    p.add_argument("--steps", type=at_least(0), default=None,
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
    p.add_argument("--simulate-shards", type=at_least(1), default=None, metavar="N",
                   help="instead of training, simulate the first N training shards of a config with "
                        "shard_size > 0 (run it in a second process to keep ahead of the trainer)")
    p.set_defaults(func=cmd_train)

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
    p.add_argument("--truth", help="truth FITS on the restored file's grid; when both headers state "
                   "PSFFWHM, a sharper truth is convolved to the restored file's target PSF first, a "
                   "blurrier one refused")
    p.add_argument("--restored", help="restored FITS (or, with --manifest, a directory)")
    p.add_argument("--observed", help="observed FITS (adds the chi^2 consistency)")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None, help="observing PSF FWHM")
    p.add_argument("--manifest", help="manifest.ecsv written by 'galgen simulate'")
    p.add_argument("--benchmark", choices=("structured", "merger", "cosmos", "sdss", "des", "hsc", "lsst",
                                           "x4", "bright", "sdss_bright", "default"),
                   help="run a held-out benchmark: structured (morphology-rich, in regime; = default), "
                        "merger (the family kept out of training), cosmos (parametric COSMOS-like), "
                        "sdss / des / hsc / lsst (a survey's sampling and seeing, non-Moffat PSF images), "
                        "x4, or bright / sdss_bright (structured / sdss at SNR 300-3000, above the training "
                        "range)")
    p.add_argument("--morphology", action="store_true",
                   help="add Gini, M20, C, A, S (statmorph; ~1 s per image; files only)")
    p.add_argument("-n", type=at_least(1), default=200, help="galaxies in the benchmark (default 200)")
    p.add_argument("--methods", nargs="+", default=None, metavar="M",
                   help="with --benchmark: the methods to compare (default: default richardson_lucy "
                        "wiener wiener_target bicubic; 'default' is the shipped model for the set, "
                        "or name a model, e.g. survey_x2, or a model directory)")
    p.add_argument("--samples", type=int, default=1, metavar="N",
                   help="with --benchmark: learned models also make an uncertainty map from N draws "
                        "(as restore --samples N) and its coverage is measured (default 1: none)")
    p.add_argument("-o", "--output", default="evaluation", help="output directory")
    p.set_defaults(func=cmd_evaluate)

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
    p.add_argument("inputs", nargs="+",
                   help="FITS files, globs, directories or @list files; FILE[EXT] restores one HDU of a "
                        "file (flt.fits[SCI,2]: chip 2), keyed FILE_EXT")
    p.add_argument("-o", "--output", required=True, help="output directory")
    add_restoration_options(p)
    p.add_argument("--catalog", default=None,
                   help="a table of positions: ECSV, FITS (SExtractor FITS_LDAC too), VOTable, CSV or a "
                   "SExtractor ASCII catalog, with columns ra and dec or as pipelines name them "
                   "(ALPHAWIN_J2000/DELTAWIN_J2000, ALPHA_J2000/DELTA_J2000, RAJ2000/DEJ2000, "
                   "coord_ra/coord_dec, ...): degrees, their unit, or sexagesimal text (RA in hours); "
                   "optional id (or objID, NUMBER, name, ...), which names cutout_<id>")
    p.add_argument("--psf-fwhm-column", default=None, metavar="COLUMN",
                   help="with --catalog: each galaxy's PSF FWHM from this column (arcsec, or its unit), "
                        "e.g. psfsize_r of a Legacy Surveys Tractor catalog: a Moffat (beta 3.5) of it, or "
                        "with --psf the FWHM to assume; a row without one falls back on --psf-fwhm/--psf")
    p.add_argument("--cutout-size", type=at_least(8), default=64,
                   help="cutout side, pixels (default 64; with --size-column the smallest side)")
    p.add_argument("--size-column", default=None, metavar="COLUMN",
                   help="with --catalog: cut each galaxy's stamp to its size, --size-factor radii across "
                        "(sides 32, 48, 64, 96, 128, 192, 256, 384 or 512, at least --cutout-size), from "
                        "a column of its radius: a half-light radius such as shape_r (Legacy Surveys, "
                        "arcsec) or FLUX_RADIUS (SExtractor, pixels); arcsec unless its unit says pixels")
    p.add_argument("--size-factor", type=float, default=10.0,
                   help="radii across a stamp cut with --size-column (default 10: 5 half-light radii "
                        "each side hold 99.8 %% of an exponential disk's light, 88 %% of a de "
                        "Vaucouleurs profile's)")
    p.add_argument("--stamps-per-file", type=at_least(1), default=256,
                   help="catalog runs: stamps per stacked output file, and per Dask task (default 256)")
    p.add_argument("--per-stamp-files", action="store_true",
                   help="catalog runs: one FITS file per galaxy (cutout_<id>.fits) instead of stacks")
    p.add_argument("--batch-size", type=at_least(0), default=0,
                   help="stamps per network pass (default: 4 on a CPU, where small batches run fastest, "
                        "256 on a GPU)")
    p.add_argument("--workers", type=at_least(0), default=0,
                   help="Dask LocalCluster worker processes, one per core is fastest on a CPU "
                   "(0: run in this process)")
    p.add_argument("--dask-scheduler", default=None, help="address of a running Dask scheduler")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU runs)")
    p.add_argument("--threads", type=at_least(0), default=0,
                   help="torch threads for the model in this process (default: all cores; Dask "
                   "workers use one each)")
    p.add_argument("--dry-run", action="store_true", help="list what would be done")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("translate", help="what a worse survey would have seen: matched PSF, pixels, noise",
                       description="Translate an image to a survey with a broader PSF and coarser pixels: "
                       "PSF matching (analytic for Gaussians, photutils for PSF images), flux-conserving "
                       "resampling onto the target grid (reproject), optional noise. The output covers the "
                       "same sky, keeps the total flux (a surface-brightness BUNIT, per solid angle such as "
                       "MJy/sr, stays surface brightness), has a WCS at the target scale and PSFFWHM = the "
                       "target PSF. Presets (--to): " + ", ".join(
                           f"{k} ({v.pixel_scale}\"/px, {v.psf_fwhm}\")" for k, v in surveys().items())
                       + "; explicit values override them. With --model NAME, a learned translation instead "
                       "(trained by galgen train on two unpaired folders of stamps): e.g. --model "
                       "sim_to_survey maps the 0.2\"/px simulated domain to a 0.4\"/px survey look (Moffat "
                       "PSF, correlated noise).")
    p.add_argument("input", help="input FITS file (never modified)")
    p.add_argument("-o", "--output", required=True, help="output FITS file")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None, help="the input's PSF FWHM (Gaussian)")
    p.add_argument("--psf", default=None, metavar="PSF.fits",
                   help="the input's PSF as an image instead (or a PSFEx model or SDSS psField, evaluated "
                        "at the image's centre on its exposure; turned onto the image's axes when its WCS "
                        "says so)")
    add_psf_angle_option(p)
    p.add_argument("--to", choices=sorted(surveys()), default=None, help="target survey preset")
    p.add_argument("--to-pixel-scale", type=parse_angle, default=None,
                   help="target pixel scale, e.g. 0.396arcsec")
    p.add_argument("--to-psf-fwhm", type=parse_angle, default=None,
                   help="target PSF FWHM (Gaussian), e.g. 1.4arcsec")
    p.add_argument("--to-psf", default=None, metavar="PSF.fits",
                   help="target PSF image: the survey's effective PSF (including its pixel response)")
    p.add_argument("--to-psf-angle", type=angle_arg, default=None, metavar="DEG",
                   help="turn --to-psf by DEG degrees (counter-clockwise, x right, y up) onto the input's "
                        "axes, which the output keeps: a target PSF on its survey's detector axes (a "
                        "--to-psf with a celestial WCS is turned by its WCS instead)")
    p.add_argument("--to-noise-rms", type=float, default=None,
                   help="background rms per output pixel to reach, input units (white noise is added)")
    p.add_argument("--to-noise-like", default=None, metavar="REF.fits",
                   help="an image of the target survey at its pixel scale: the added noise gets the "
                        "correlation between pixels measured on its background (coadds, drizzled data) and, "
                        "without --to-noise-rms, its background rms (REF must be in the input's units)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the added noise")
    p.add_argument("--allow-sharpen", action="store_true",
                   help="permit a target PSF narrower than the input's (a deconvolution)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help="a learned translation instead (a shipped name, e.g. sim_to_survey, or a model "
                   "directory from galgen train --export): the domains, PSFs and noise are the model's, so "
                   "the physical "
                   "options above are not used")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="with --model: from domain A (finer pixels) to B, or back (default a2b)")
    p.add_argument("--hdu", type=hdu_arg, default=None, help="HDU index, EXTNAME, or EXTNAME,EXTVER (SCI,2)")
    p.add_argument("--pixel-scale", type=parse_angle, default=None, help="input pixel scale if it has no WCS")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("psfcheck", help="check the PSF you would restore with against the field's stars",
                       description="A wrong PSF cannot be seen from one galaxy stamp (a smaller galaxy "
                       "behind a wider PSF fits its pixels as well), but the stars of the field it was cut "
                       "from are images of the PSF. This finds the isolated, unsaturated point sources of "
                       "FIELD (the narrowest sources: a galaxy is never narrower than the PSF), measures "
                       "their size and the PSF's the same way (GalSim adaptive moments on the same pixels) "
                       "and says whether the PSF given is too wide or too narrow; a PSF image or model given "
                       "with --psf is also compared in shape (adaptive-moment ellipticity): PSF_SHAPE, with "
                       "the turn that would match a PSF lying on other axes (--psf-angle). Exit status: 0 "
                       "the PSF agrees with the stars, 3 it does not, 4 too few stars (five) to say. In a "
                       "field with few or no stars, compact galaxies of one size can pass for stars "
                       "(PSF_TOO_NARROW): look at the positions printed.",
                       epilog="Example: galgen psfcheck frame.fits --psf-fwhm 1.4arcsec --saturation 60000")
    p.add_argument("input", help="a field image (or a large cutout) from the exposure the PSF is for")
    p.add_argument("--psf-fwhm", type=parse_angle, default=None,
                   help="the PSF as a Moffat (beta 3.5) FWHM, e.g. 1.4arcsec or 3.5pix")
    p.add_argument("--psf", default=None, metavar="PSF.fits",
                   help="the PSF as a FITS image, a PSFEx model or an SDSS psField file (evaluated at "
                        "--psf-position, by default the image's centre on its exposure when its header "
                        "says where it lies, else the model's centre)")
    p.add_argument("--moffat-beta", type=float, default=3.5,
                   help="beta of the --psf-fwhm Moffat (default 3.5)")
    p.add_argument("--snr-min", type=float, default=30.0, help="peak SNR a star needs (default 30)")
    p.add_argument("--saturation", type=float, default=None,
                   help="skip sources with a pixel at or above this value (input units)")
    p.add_argument("--tolerance", type=float, default=0.1,
                   help="relative size difference called wrong (default 0.1)")
    p.add_argument("--hdu", type=hdu_arg, default=None, help="HDU index, EXTNAME, or EXTNAME,EXTVER (SCI,2)")
    p.add_argument("--pixel-scale", type=parse_angle, default=None, help="pixel scale if the file has no WCS")
    p.add_argument("--noise-rms", type=float, default=None, help="background noise (default: estimated)")
    p.add_argument("--background", type=background_arg, default="auto",
                   help="sky to subtract: auto (estimated) or a number")
    add_plane_options(p)
    add_psf_position_option(p)
    add_psf_angle_option(p)
    p.set_defaults(func=cmd_psfcheck)

    add_toy_parser(sub)
    return parser


def add_toy_parser(sub: argparse._SubParsersAction) -> None:
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
        p.add_argument("--steps", type=at_least(1), default=None,
                       help="training steps (default: a few minutes)")
        p.add_argument("--seed", type=at_least(0), default=0)
        p.add_argument("-o", "--output", default=".", help="directory for the PNG (default: .)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        if name == "flow":
            p.add_argument("--flow", choices=("coupling", "spline", "ode"), default="spline")
            p.add_argument("--solver", choices=SOLVERS, default="rk4", help="ODE solver (--flow ode)")
            p.add_argument("--layers", type=at_least(1), default=None,
                           help="coupling layers (coupling, spline)")
            p.add_argument("--bins", type=at_least(2), default=None, help="spline bins (spline)")
            p.add_argument("--hidden", type=at_least(1), default=None,
                           help="width of the conditioners' two hidden layers (coupling, spline)")
            p.add_argument("--fourier-features", type=at_least(0), default=None, metavar="N",
                           help="random Fourier features (sin, cos of N random projections) fed to the "
                                "spline conditioners or the ODE velocity net (default: 0 for spline, 64 "
                                "for a flow-matching ODE flow; sharper densities in the same time)")
            p.add_argument("--batch", type=at_least(1), default=None, help="samples per step")
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
        p.set_defaults(func=cmd_toy)
