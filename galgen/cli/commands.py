"""The smaller sub-commands: ``demo``, ``simulate``, ``psfcheck``, ``translate`` and ``evaluate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from galgen.cli._args import check_psf_position, input_and_output, need_psf
from galgen.errors import GalgenError, GalgenValueError

__all__ = ["cmd_demo", "cmd_simulate", "cmd_psfcheck", "cmd_translate", "cmd_evaluate", "surveys"]


def cmd_demo(args: argparse.Namespace) -> int:
    from galgen.demo import run_demo

    table = run_demo(args.output, real=args.real, real_pixel_scale=args.real_pixel_scale)
    print(table)
    print(f"\nwrote {args.output}/restored.fits, comparison.png, metrics.ecsv")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from galgen.simulate import DEFAULT_REGIME, Regime, write_dataset

    regime = Regime(**{**DEFAULT_REGIME.to_dict(), "psf_kind": args.psf_kind,
                       "factor": args.scale, "in_size": args.size})
    table = write_dataset(args.output, args.n, args.seed, regime, overwrite=args.overwrite)
    print(f"wrote {len(table)} pairs to {args.output} (manifest.ecsv)")
    return 0


def cmd_psfcheck(args: argparse.Namespace) -> int:
    from galgen.psf.stars import check_psf_with_stars
    from galgen.psf.templates import own_hdu

    inp = Path(args.input)
    need_psf(args, inp)
    check_psf_position(args)
    result = check_psf_with_stars(inp, args.psf_fwhm, psf=own_hdu(args.psf, inp),
                                  pixel_scale=args.pixel_scale, noise_rms=args.noise_rms,
                                  background=args.background, moffat_beta=args.moffat_beta,
                                  snr_min=args.snr_min, saturation=args.saturation, tolerance=args.tolerance,
                                  hdu=args.hdu, psf_position=args.psf_position, noise_map=args.noise_map,
                                  noise_map_type=args.noise_map_type, mask=args.mask,
                                  psf_angle=args.psf_angle, mask_ignore=args.mask_ignore)
    print(f"{inp}: {result.message()}")
    for x, y in result.positions:
        print(f"  star at x={x + 1:.1f}, y={y + 1:.1f} (1-based pixels)")
    return {"OK": 0, "NO_STARS": 4}.get(result.verdict, 3)


def surveys() -> dict:
    from galgen.translate.presets import SURVEYS

    return SURVEYS


def cmd_translate(args: argparse.Namespace) -> int:
    import numpy as np

    from galgen.psf.templates import own_hdu
    from galgen.restoration.restorer import write_restored
    from galgen.translate import translate

    inp, out = input_and_output(args)
    if args.model is not None:
        from galgen.translate.learned import translate_learned

        physical = ("psf_fwhm", "psf", "psf_angle", "to", "to_pixel_scale", "to_psf_fwhm", "to_psf",
                    "to_psf_angle", "to_noise_rms", "to_noise_like")
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
    preset = surveys()[args.to] if args.to else None
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
                       pixel_scale=args.pixel_scale, to_noise_like=args.to_noise_like,
                       psf_angle=args.psf_angle, to_psf_angle=args.to_psf_angle)
    write_restored(result, out, overwrite=args.overwrite)
    print(f"wrote {out} ({result.data.shape[1]}x{result.data.shape[0]}, PSF FWHM {result.meta['PSFFWHM']}\")")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
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
        from galgen.restoration.methods import check_samples

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
        table["truth_psf_matched_from"].unit = "arcsec"
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
