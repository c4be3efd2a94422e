"""Deconvolution and super-resolution of galaxy images: the engine, learned models, baselines.

The function :func:`galgen.restore` lives in :mod:`galgen.restoration.restorer`; this
subpackage holds the engine every path shares (:mod:`galgen.restoration.engine`), what a
method name means (:mod:`galgen.restoration.methods`), the learned models
(:mod:`galgen.restoration.model`) and the classical baselines.
"""

from galgen.restoration.baselines import BASELINES, bicubic_upsample, richardson_lucy, wiener
from galgen.restoration.engine import (
    PreparedObservation,
    Restoration,
    Restorer,
    finalize,
    prepare_observation,
)
from galgen.restoration.methods import BaselineRestorer, get_method
from galgen.restoration.restorer import restore, write_restored

__all__ = [
    "restore",
    "write_restored",
    "get_method",
    "prepare_observation",
    "finalize",
    "Restorer",
    "PreparedObservation",
    "Restoration",
    "BaselineRestorer",
    "BASELINES",
    "bicubic_upsample",
    "richardson_lucy",
    "wiener",
]
