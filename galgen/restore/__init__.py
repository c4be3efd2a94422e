"""Deconvolution and super-resolution of galaxy images: API, baselines."""

from galgen.restore.baselines import BASELINES, bicubic_upsample, richardson_lucy, wiener
from galgen.restore.restorer import RESTORE_METHODS, prepare_observation, restore, write_restored

__all__ = [
    "restore",
    "write_restored",
    "prepare_observation",
    "RESTORE_METHODS",
    "BASELINES",
    "bicubic_upsample",
    "richardson_lucy",
    "wiener",
]
