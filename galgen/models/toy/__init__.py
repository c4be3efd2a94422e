"""2D toy densities and the readable training loops used to teach and test the models."""

from galgen.models.toy.densities import DENSITIES, ToyDensity, get_density
from galgen.models.toy.train import (
    ToyTrainConfig,
    held_out_nll,
    held_out_samples,
    train_flow,
    train_gan,
    train_vae,
)

__all__ = [
    "DENSITIES",
    "ToyDensity",
    "get_density",
    "ToyTrainConfig",
    "train_flow",
    "train_vae",
    "train_gan",
    "held_out_nll",
    "held_out_samples",
]
