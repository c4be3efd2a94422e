"""``galgen restore`` and ``galgen batch``: one image, or many on Dask."""

from __future__ import annotations

import argparse
import sys

from galgen.cli._args import check_psf_position, input_and_output, need_psf
from galgen.errors import GalgenError

__all__ = ["cmd_restore", "cmd_batch", "explain_flags"]


def explain_flags(meta) -> str:  # noqa: ANN001 - a header or a CCDData's meta
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
        elif flag == "SKY" and "GALGENSO" in meta:
            z = float(meta["GALGENSO"])
            way = "high" if z > 0 else "low"
            said.append(f"SKY, the image is not sky-subtracted as the background given says (its source-free "
                        f"pixels sit at {z:+.2f} sigma after it, GALGENSO): the flux is {way}; "
                        "give the sky level, or --background auto")
        elif flag == "SKY":
            z = float(meta.get("GALGENSZ", float("nan")))
            said.append(f"SKY, the automatic sky took part of the galaxy's light (the sky pixels brighten "
                        f"toward the target, GALGENSZ {z:.1f} sigma): "
                        "the flux is low; give --background 0 for sky-subtracted data, or the sky level, "
                        "or cut a larger stamp")
        elif flag == "PSF":
            said.append(f"PSF, the stars of the field say the PSF given is wrong ({meta.get('GALGENPS', '')}"
                        f"; GALGENPR {meta.get('GALGENPR', '')})")
    return "; ".join(said) + ". Compare with --method richardson_lucy (docs: What galgen writes)"


#: Failed items a batch names one by one on the terminal; the rest are counted (the manifest has all).
FAILURES_SHOWN = 20


def report_failures(failed: object, stacked: bool) -> None:  # noqa: FBT001
    """Name the failed items (manifest rows) on stderr: catalog positions on none of the images
    as one count (a survey-wide catalog over a few images has millions), the others one a line
    up to :data:`FAILURES_SHOWN`, then a count."""
    off = [str(r["key"]) for r in failed if "lies on none of the images" in str(r["error"])]
    if off:
        print(f"FAILED {len(off)} catalog position(s) lie on none of the images ({', '.join(off[:3])}"
              f"{', ...' if len(off) > 3 else ''}): not restored", file=sys.stderr)
    others = [r for r in failed if "lies on none of the images" not in str(r["error"])]
    for row in others[:FAILURES_SHOWN]:
        name, error = str(row["key"] if stacked else row["input"]), str(row["error"])
        error = error.removeprefix(f"{name}: ")  # the errors name their file already
        print(f"FAILED {name}: {error}", file=sys.stderr)
    if len(others) > FAILURES_SHOWN:
        print(f"... and {len(others) - FAILURES_SHOWN} more failed (the manifest's error column says why)",
              file=sys.stderr)


def cmd_restore(args: argparse.Namespace) -> int:
    from galgen.psf.templates import own_hdu
    from galgen.restoration import restore, write_restored
    from galgen.restoration.model import SAMPLER_MAX_NOISE_FACTOR

    inp, out = input_and_output(args)
    need_psf(args, inp)
    check_psf_position(args)
    result = restore(inp, args.psf_fwhm, psf=own_hdu(args.psf, inp), scale=args.scale, method=args.method,
                     samples=args.samples, hdu=args.hdu, plane=args.plane,
                     pixel_scale=args.pixel_scale, noise_rms=args.noise_rms,
                     background=args.background, device=args.device or "cpu",
                     psf_position=args.psf_position, check_psf=None if args.psf_check else False,
                     noise_map=args.noise_map, noise_map_type=args.noise_map_type, mask=args.mask,
                     psf_angle=args.psf_angle, mask_ignore=args.mask_ignore,
                     **({"uncertainty": args.uncertainty} if args.uncertainty != "auto" else {}),
                     **({"ensemble": args.ensemble} if args.ensemble != 1 else {}))
    write_restored(result, out, overwrite=args.overwrite, write_samples=args.write_samples)
    print(f"wrote {out} ({result.data.shape[1]}x{result.data.shape[0]}, {result.meta['GALGENMD']}, "
          f"chi^2 {result.meta['GALGENX2']:.2f}, flag {result.meta['GALGENFL']})")
    if result.meta["GALGENFL"] != "OK":
        print("galgen restore: warning: flag " + explain_flags(result.meta), file=sys.stderr)
    factor = result.meta.get("GALGENNF", 1.0)
    if factor > SAMPLER_MAX_NOISE_FACTOR:
        how = result.meta.get("GALGENUQ") if args.samples > 1 else None
        print(f"galgen restore: note: the input's noise is correlated between pixels (GALGENNF {factor:.2f}: "
              "on a galaxy's scale it is that much stronger than its rms per pixel); the SNR (GALGENSN) is "
              "divided by it" + ("; UNCERT re-noises with it" if how == "bootstrap" else "")
              + ("; UNCERT is from the posterior sampler, which assumes white noise" if how == "posterior"
                 else ""), file=sys.stderr)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from galgen.batch import BatchOptions, catalog_items, expand_inputs, run_batch

    stacked = bool(args.catalog) and not args.per_stamp_files
    if args.psf_fwhm_column and not args.catalog:
        msg = "--psf-fwhm-column reads a column of --catalog; without a catalog give --psf-fwhm or --psf"
        raise GalgenError(msg)
    if args.size_column and not args.catalog:
        msg = "--size-column reads a column of --catalog; each file is restored whole without one"
        raise GalgenError(msg)
    if not args.size_factor > 0:
        raise GalgenError(f"--size-factor {args.size_factor}: give a positive number of radii (default 10)")
    if args.catalog and not stacked:
        items = catalog_items(args.catalog, args.inputs, args.cutout_size, args.hdu, args.psf_fwhm_column,
                              size_column=args.size_column, size_factor=args.size_factor)
    elif not args.catalog:
        items = expand_inputs(args.inputs, args.hdu)
    if not args.psf_fwhm_column:
        need_psf(args)
    options = BatchOptions(
        psf_fwhm=args.psf_fwhm, psf=args.psf, scale=args.scale, method=args.method, samples=args.samples,
        pixel_scale=args.pixel_scale, background=args.background,
        noise_rms=args.noise_rms, batch_size=args.batch_size, device=args.device or "cpu",
        compile=args.compile, check_psf=args.psf_check, ensemble=args.ensemble, noise_map=args.noise_map,
        noise_map_type=args.noise_map_type, mask=args.mask, psf_fwhm_column=args.psf_fwhm_column,
        psf_angle=args.psf_angle, mask_ignore=args.mask_ignore)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # this process's model; Dask workers use one thread each
    if stacked:
        from galgen.batch.catalog import run_catalog

        table = run_catalog(args.catalog, args.inputs, options, args.output, size=args.cutout_size,
                            hdu=args.hdu, chunk_size=args.stamps_per_file, dask_scheduler=args.dask_scheduler,
                            local_workers=args.workers, dry_run=args.dry_run, size_column=args.size_column,
                            size_factor=args.size_factor)
    else:
        table = run_batch(items, options, args.output, dask_scheduler=args.dask_scheduler,
                          local_workers=args.workers, dry_run=args.dry_run)
    if args.dry_run:
        for row in table:
            print(f"{row['status']:>4}  " + (f"{row['key']} -> {row['output']}[{row['index']}]" if stacked
                                             else row["input"]))
        return 0
    failed = table[table["status"] != "ok"]
    report_failures(failed, stacked)
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
        if str(args.background) == "auto":
            print(f"{sky} output(s) come from stamps whose automatic sky took part of the galaxy's light "
                  "(flag SKY; their flux is low): for sky-subtracted data run again with --background 0, "
                  "else cut larger stamps", file=sys.stderr)
        else:
            print(f"{sky} output(s) come from images that are not sky-subtracted as --background "
                  f"{float(args.background):g} says (flag SKY, GALGENSO in their headers: the median of "
                  "their source-free pixels after it, in sigma): give their sky level, or --background auto",
                  file=sys.stderr)
    print(f"{len(table) - len(failed)} restored, {len(failed)} failed; manifest: "
          f"{args.output}/manifest.ecsv")
    if odd:
        print(f"{odd} input(s) lie outside the model's training regime: see the manifest's "
              "'warning' column", file=sys.stderr)
    return min(len(failed), 125)
