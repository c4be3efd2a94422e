"""Which PSF belongs to each input of a run: one HDU of the input itself (``'[PSF]'``) or a file
named by a template of the input's name and header keywords (``'psField-{stem[8:]}.fit'``,
``'psfs/{EXPNUM}_{CCDNUM:02d}.psf'``)."""

from __future__ import annotations

import re
from pathlib import Path

from galgen.errors import GalgenPSFError
from galgen.io.fits import fits_stem
from galgen.io.hdus import hdu_key

__all__ = ["own_hdu", "is_own_hdu", "is_psf_template", "check_psf_template"]


def is_own_hdu(psf: object) -> bool:
    """Whether ``psf`` is ``"[EXT]"`` alone: HDU ``EXT`` of each input itself (:func:`own_hdu`)."""
    return isinstance(psf, str) and psf.startswith("[") and psf.endswith("]")


def is_psf_template(psf: object) -> bool:
    """Whether ``psf`` names a file for each input (:func:`own_hdu`): ``"{stem}.psf"``,
    ``"psField-{RUN:06d}-{CAMCOL}-{FIELD:04d}.fit"``."""
    return isinstance(psf, str) and "{" in psf


#: ``{stem[a:b]}`` or ``{name[a:b]}`` in a PSF template: a slice of the input's file name.
_SLICE = re.compile(r"\{(stem|name)\[(-?\d*):(-?\d*)\]\}")


def check_psf_template(psf: str) -> None:
    """Raise :class:`~galgen.errors.GalgenValueError` when a PSF template's braces do not parse
    (before a batch starts, not once per item)."""
    import string

    from galgen.errors import GalgenValueError

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(_SLICE.sub("{slice}", psf)) if f is not None]
    except ValueError as exc:
        msg = (f"--psf {psf!r}: {exc}; a template names fields in braces: {{stem}}, {{name}}, {{dir}}, "
               "{KEYWORD}")
        raise GalgenValueError(msg) from None
    if not fields or any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", f) for f in fields):
        msg = (f"--psf {psf!r}: each field in braces must be stem, name, dir, a slice of stem or name "
               "({stem[8:]}) or a header keyword (e.g. {RUN:06d}), without attributes or indices")
        raise GalgenValueError(msg)


def own_hdu(psf: object, path: object, header: object = None, hdu: int | str | None = None) -> object:
    """The PSF of the input at ``path`` when ``psf`` names one per input; any other ``psf`` unchanged.

    * ``"[EXT]"`` (brackets only) -> ``"<path>[EXT]"``: that HDU of the input itself.
    * A template (:func:`is_psf_template`), filled with the input's ``{stem}`` (its file name
      without ``.fits``, ``.fits.gz``, ``.fits.fz``, ...), ``{name}`` (its file name), ``{dir}`` (its
      directory) and any keyword of its headers in capitals with a format spec if wanted
      (``{RUN:06d}``; looked up in ``header`` when given, then in the file's HDU ``hdu`` (a chip's
      ``{EXTNAME}``, ``{CCDNUM:02d}``), then its primary header, then its other HDUs): an SDSS
      frame's ``psField-{RUN:06d}-{CAMCOL}-{FIELD:04d}.fit``, ``{dir}/{stem}_psf.fits[1]``.
      ``{stem[a:b]}`` and ``{name[a:b]}`` are slices, as in Python: ``frame-r-003918-3-0213.fits``
      with ``psField-{stem[8:]}.fit`` is ``psField-003918-3-0213.fit``.

    Raises
    ------
    GalgenPSFError
        A template that needs a keyword the input's headers lack, or whose format spec does not
        fit the keyword's value.
    """
    if is_own_hdu(psf):
        return f"{path}{psf}"
    if not is_psf_template(psf):
        return psf
    import string

    where = Path(str(path))
    name = where.name
    stem = fits_stem(name)
    values: dict[str, object] = {"stem": stem, "name": name, "dir": str(where.parent)}

    def cut(match: re.Match) -> str:  # '{stem[8:]}': str.format indexes but does not slice
        start, stop = (int(v) if v else None for v in match.group(2, 3))
        return str(values[match.group(1)])[start:stop].replace("{", "{{").replace("}", "}}")

    psf = _SLICE.sub(cut, psf)
    wanted = {f for _, f, _, _ in string.Formatter().parse(psf) if f} - set(values)
    if wanted:
        headers = [header] if header is not None else []
        if not headers or not wanted <= set(header):  # the file's own: its chip's, primary, the rest
            from astropy.io import fits

            with fits.open(where, memmap=False) as hdul:
                chosen = [hdul[hdu_key(hdu)].header] if hdu is not None else []
                headers += chosen + [h.header for h in hdul]
        for key in wanted:
            found = next((h[key] for h in headers if key in h), None)
            if found is None:
                msg = (f"{path}: the PSF template {psf!r} needs the header keyword {key}, which the file "
                       "does not have")
                raise GalgenPSFError(msg)
            values[key] = found.strip() if isinstance(found, str) else found
    try:
        return psf.format(**values)
    except (ValueError, TypeError) as exc:
        msg = f"{path}: the PSF template {psf!r} does not fit its values {values} ({exc})"
        raise GalgenPSFError(msg) from None
