"""Argument types and checks shared by galgen's sub-commands (no heavy imports: ``galgen --help``
answers at once)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from galgen.errors import GalgenError

__all__ = ["TOY_DENSITIES", "TOY_SOLVERS", "TOY_GAN_LOSSES", "SEEING_KEYWORDS", "at_least", "parse_angle",
           "hdu_arg", "position_arg", "background_arg", "input_and_output", "need_psf"]


# The toy commands' choices, spelled out so that building the parser imports no torch (``galgen
# --help`` answers at once); tests check them against galgen.models.
TOY_DENSITIES = ("8gaussians", "chessboard", "moons", "pinwheel", "rings", "spirals")
TOY_SOLVERS = ("euler", "midpoint", "rk4", "dopri5")
TOY_GAN_LOSSES = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp", "relativistic")


def at_least(minimum: int):  # noqa: ANN202 - an argparse type
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


def hdu_arg(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def position_arg(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        msg = f"expected X,Y in pixels (e.g. 1023.5,877.0), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return x, y


def angle_arg(text: str) -> float:
    """Degrees (``--psf-angle``): ``37.5`` or ``37.5deg``."""
    try:
        value = float(text.strip().removesuffix("deg"))
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        msg = f"expected an angle in degrees (e.g. 37.5 or 37.5deg), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def background_arg(text: str) -> str | float:
    """``auto`` or a sky level (``--background``)."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        msg = f"{text!r} is neither 'auto' nor a number"
        raise argparse.ArgumentTypeError(msg) from None


def input_and_output(args: argparse.Namespace) -> tuple[Path, Path]:
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


#: Header keywords that often hold a seeing or PSF FWHM (in units that differ between pipelines)
SEEING_KEYWORDS = ("PSFFWHM", "PSF_FWHM", "SEEING", "FWHM")


def need_psf(args: argparse.Namespace, inp: Path | None = None) -> None:
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


def check_psf_position(args: argparse.Namespace) -> None:
    """``--psf-position`` places a PSF model of the exposure (PSFEx, SDSS psField); with a PSF image,
    or no ``--psf``, it would be silently unused: an error."""
    if args.psf_position is None:
        return
    from galgen.io.hdus import first_table_columns, split_extension
    from galgen.psf.psfex import is_psfex
    from galgen.psf.sdss import is_psfield

    psf_file = None if args.psf is None else split_extension(args.psf)[0]
    columns = first_table_columns(psf_file)
    if psf_file is None or not (is_psfex(psf_file, columns) or is_psfield(psf_file, columns)):
        msg = ("--psf-position places a PSFEx model (--psf FILE.psf) or an SDSS psField PSF; "
               + ("without --psf there is none" if args.psf is None else
                  f"{args.psf} is a PSF image, the same at every position") + ": leave it out")
        raise GalgenError(msg)
