"""Shared helpers of the data recipes: write stamps with provenance and licence text."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits

from galgen.io import Image, add_provenance, write_fits

__all__ = ["write_stamp"]


def write_stamp(image: Image, path: str | os.PathLike, recipe: str, acknowledgement: str,
                extra: dict | None = None, overwrite: bool = False) -> Path:
    """Write a stamp with its WCS, unit, the recipe's provenance and acknowledgement."""
    header = image.header.copy() if image.header is not None else fits.Header()
    for key, value in (extra or {}).items():
        header[key] = value
    add_provenance(header, f"recipe {recipe}", {"source": image.source})
    for line in acknowledgement.split(". "):
        header.add_comment(line.strip()[:70])
    data = np.where(image.mask, np.nan, image.data)
    return write_fits(path, data, header=header, wcs=image.wcs, unit=image.unit, overwrite=overwrite)
