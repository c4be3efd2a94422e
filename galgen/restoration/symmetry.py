"""The symmetries of the square a learned model's geometric self-ensemble averages over.

A restoration of a turned or mirrored image, turned back, is another estimate of the same
truth; :class:`~galgen.restoration.model.LearnedRestorer` (``ensemble=N``) averages the fluxes of
``N`` such views. Square pixels are assumed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIHEDRAL", "dihedral", "turned"]

#: The symmetries a geometric self-ensemble averages over, in the order taken: ``(rotations by
#: 90 degrees, mirrored)``. The first 2 and 4 keep the image's axes (no transpose).
DIHEDRAL = ((0, False), (2, False), (0, True), (2, True), (1, False), (3, False), (1, True), (3, True))


def dihedral(image: np.ndarray, k: int, *, inverse: bool = False) -> np.ndarray:
    """The ``k``-th symmetry of :data:`DIHEDRAL` applied to the last two axes of ``image`` (or
    undone, ``inverse=True``); square pixels are assumed (a view, no copy)."""
    rot, mirror = DIHEDRAL[k]
    if not inverse:
        return np.rot90(image[..., ::-1] if mirror else image, rot, axes=(-2, -1))
    out = np.rot90(image, -rot, axes=(-2, -1))
    return out[..., ::-1] if mirror else out


def turned(psf: np.ndarray | None, k: int) -> np.ndarray | None:
    """A PSF image under the ``k``-th symmetry (``None`` stays ``None``)."""
    return None if psf is None else dihedral(psf, k)
