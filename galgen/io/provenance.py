"""Provenance keywords (``GALGEN*`` and ``HISTORY``) for galgen's FITS outputs."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from astropy.io import fits

from galgen._version import __version__

__all__ = ["add_provenance"]


def add_provenance(
    header: fits.Header,
    operation: str,
    params: Mapping[str, object] | None = None,
    model_name: str | None = None,
    model_hash: str | None = None,
) -> fits.Header:
    """Record what galgen did to an image in its header (in place, also returned).

    Adds ``GALGENV`` (version), ``GALGENOP`` (operation), ``GALGENMD`` and
    ``GALGENMH`` (model name and sha256, when a model was used), ``GALGENDT``
    (UTC time) and one ``HISTORY`` line per parameter, so that the result can be
    reproduced from the header alone.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header to extend.
    operation : str
        What was done, e.g. ``"restore"`` or ``"simulate"``.
    params : mapping, optional
        Parameters of the operation (values are written with ``str``).
    model_name, model_hash : str, optional
        Name and sha256 of the model weights used.

    Returns
    -------
    astropy.io.fits.Header
    """
    header["GALGENV"] = (__version__, "galgen version")
    header["GALGENOP"] = (operation, "galgen operation")
    if model_name is not None:
        header["GALGENMD"] = (model_name, "galgen model name")
    if model_hash is not None:
        header["GALGENMH"] = model_hash[:64]  # sha256 of the weights (no room for a comment)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    header["GALGENDT"] = (now, "UTC time of the galgen operation")
    header.add_history(f"galgen {__version__} {operation} {now} UTC")
    for key, value in (params or {}).items():
        text = f"galgen {operation}: {key} = {value}"
        header.add_history("".join(c if 32 <= ord(c) < 127 else "?" for c in text))
    return header
