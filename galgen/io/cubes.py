"""Data cubes: one plane of a cube, chosen by number or by its band's name.

A Legacy Surveys cutout holds its bands as planes of one cube (``BANDS = 'grz'`` or ``BAND0``,
``BAND1``, ... in the header); galgen restores 2-D images, so a cube needs a plane.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from galgen.errors import GalgenValueError

__all__ = ["plane_names", "describe_plane", "plane_index", "select_plane"]

def plane_names(header: fits.Header) -> list[str] | None:
    """What each plane of a cube holds, from a Legacy Surveys-style header (``BAND0``, ``BAND1``,
    ... or ``BANDS = 'grz'``); ``None`` when the header does not say."""
    n = int(header.get("NAXIS3", 0) or 0)
    if n and all(f"BAND{i}" in header for i in range(n)):
        return [str(header[f"BAND{i}"]).strip() for i in range(n)]
    bands = str(header.get("BANDS", "")).strip()
    return list(bands) if n and len(bands) == n else None


def describe_plane(header: fits.Header, plane: int, n: int) -> None:
    """Make a cube's header describe the one plane taken from it (in place): the band keywords of
    the cube go, ``BAND`` names the plane's band, and ``HISTORY`` says which plane it was."""
    names = plane_names(header)
    for key in ["BANDS", *(f"BAND{i}" for i in range(n))]:
        header.remove(key, ignore_missing=True, remove_all=True)
    if names is not None:
        header["BAND"] = (names[plane], f"band of this image (plane {plane} of the input cube)")
    header.add_history(f"galgen read: plane {plane} of a {n}-plane cube"
                       + (f" (band {names[plane]})" if names is not None else ""))


def plane_index(plane: str, names: list[str] | None, name: str) -> int:
    """The plane a band's name (``"r"``) or a number given as text (``"1"``) picks in a cube
    whose header names its planes (:func:`plane_names`)."""
    if plane.strip().lstrip("-").isdigit():
        return int(plane)
    found = [i for i, b in enumerate(names or []) if b == plane.strip()]
    found = found or [i for i, b in enumerate(names or []) if b.lower() == plane.strip().lower()]
    if len(found) != 1:
        said = (f"its planes are {', '.join(f'{i}: {b}' for i, b in enumerate(names))}" if names
                else "its header does not name its planes (BANDS, BAND0, ...); give the plane's number")
        msg = f"{name}: no plane is band {plane!r}: {said}"
        raise GalgenValueError(msg)
    return found[0]


def select_plane(data: np.ndarray, plane: int | None, name: str,
                  names: list[str] | None = None) -> np.ndarray:
    """The ``(H, W)`` image of ``data``: itself when 2-D, plane ``plane`` of a ``(N, H, W)`` cube.

    Raises
    ------
    GalgenValueError
        A cube without ``plane`` (the message lists the planes' bands, ``names``), a plane outside
        the cube, a plane for a 2-D image, or data of another dimension. ``name`` names the file.
    """
    if data.ndim == 2:
        if plane not in (None, 0):
            msg = f"{name}: the image is 2D; plane={plane} makes no sense, leave it out"
            raise GalgenValueError(msg)
        return data
    if data.ndim == 3:
        if plane is None:
            bands = (f" (planes {', '.join(f'{i}: {b}' for i, b in enumerate(names))}; or name its band: "
                     f"--plane {names[0]})" if names is not None else "")
            msg = (
                f"{name}: the data is a cube of shape {data.shape}, not an image; "
                f"pass plane=<0..{data.shape[0] - 1}> (CLI: --plane) to choose one slice{bands}"
            )
            raise GalgenValueError(msg)
        if not 0 <= plane < data.shape[0]:
            msg = f"{name}: plane={plane} is outside the cube's {data.shape[0]} planes"
            raise GalgenValueError(msg)
        return data[plane]
    msg = f"{name}: data has {data.ndim} dimensions {data.shape}; galgen needs a 2D image"
    raise GalgenValueError(msg)
