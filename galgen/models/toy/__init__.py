"""2D toy densities and the readable training loops used to teach and test the models."""

from galgen.models.toy.densities import DENSITIES, ToyDensity, get_density
from galgen.models.toy.train import (
    ToyTrainConfig,
    test_nll,
    test_samples,
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
    "test_nll",
    "test_samples",
]
