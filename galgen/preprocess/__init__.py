"""Pure, unit-aware preprocessing: background, stretch, cutouts, bad pixels."""

from galgen.preprocess.background import (
    BackgroundEstimate,
    estimate_background,
    sky_gradient,
    source_mask,
    target_centre,
)
from galgen.preprocess.cutouts import make_cutout
from galgen.preprocess.masks import apply_mask, fill_masked, upsample_mask
from galgen.preprocess.noise import NoiseCorrelation, estimate_noise_correlation
from galgen.preprocess.normalize import AsinhStretch

__all__ = [
    "AsinhStretch",
    "NoiseCorrelation",
    "estimate_noise_correlation",
    "BackgroundEstimate",
    "estimate_background",
    "sky_gradient",
    "source_mask",
    "target_centre",
    "make_cutout",
    "fill_masked",
    "upsample_mask",
    "apply_mask",
]
