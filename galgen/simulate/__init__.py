"""GalSim truth galaxies, their degradation, and training pairs."""

from galgen.simulate.degrade import (
    DEFAULT_REGIME,
    Pair,
    Regime,
    add_ccd_noise,
    degrade_image,
    observing_psf,
    simulate_pair,
)
from galgen.simulate.galaxies import cosmos_catalog, cosmos_galaxy, random_galaxy
from galgen.simulate.pairs import PairDataset, pair_rng, write_dataset

__all__ = [
    "Regime",
    "DEFAULT_REGIME",
    "Pair",
    "simulate_pair",
    "degrade_image",
    "add_ccd_noise",
    "observing_psf",
    "cosmos_catalog",
    "cosmos_galaxy",
    "random_galaxy",
    "PairDataset",
    "pair_rng",
    "write_dataset",
]
