"""The models galgen ships (``galgen/weights/<name>/``) and loading one by name or directory.

A model directory holds ``model.safetensors`` and ``config.json`` (the card: architecture,
regime, training record; :mod:`galgen.models.serialization`); the weights are read from disk
once per process and each loaded :class:`~galgen.restoration.model.LearnedRestorer` builds its
own module from them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from galgen.errors import GalgenModelError
from galgen.models.serialization import read_state
from galgen.restoration.networks import RestorerConfig, build_generator

if TYPE_CHECKING:
    from galgen.restoration.model import LearnedRestorer

__all__ = ["shipped_models", "find_model", "load_model", "save_untrained_model"]


def shipped_models() -> dict[str, Path]:
    """Weight sets shipped inside the package (``galgen/weights/<name>/``)."""
    root = Path(str(resources.files("galgen") / "weights"))
    return {p.name: p for p in sorted(root.iterdir()) if (p / "model.safetensors").is_file()}


@lru_cache(maxsize=4)
def _read_weights(directory: str, modified_ns: int) -> tuple[dict, dict]:
    """The card and weights of a model directory, read once per process (per modification
    time). Never modified: every ``LearnedRestorer`` copies them into its own generator."""
    return read_state(directory)


def find_model(name_or_path: str) -> Path:
    """Directory of a shipped model (by name) or of a model directory (by path)."""
    shipped = shipped_models()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path)
    if (path / "config.json").is_file():
        return path
    msg = (f"no model {name_or_path!r}: shipped models are {sorted(shipped) or 'none'}; "
           "or give a directory holding model.safetensors and config.json")
    raise GalgenModelError(msg)


def load_model(name_or_path: str = "default_x2", device: str = "cpu", **options) -> LearnedRestorer:
    """A new :class:`~galgen.restoration.model.LearnedRestorer` for a shipped model (by name,
    ``galgen/weights/<name>``) or a model directory (by path); ``options`` are those of
    :class:`~galgen.restoration.model.LearnedRestorer`.

    The weights are read from disk once per process; each call builds its own module, so one
    caller moving or compiling it does not change another's.
    """
    from galgen.restoration.model import LearnedRestorer  # the registry is imported by model.py

    directory = find_model(name_or_path).resolve()
    stamp = (directory / "model.safetensors").stat().st_mtime_ns
    return LearnedRestorer(directory, device, _state=_read_weights(str(directory), stamp), **options)


def save_untrained_model(directory: str | os.PathLike, config: RestorerConfig | None = None, *,
                         name: str = "untrained", seed: int = 0, tail_std: float = 0.05,
                         regime=None) -> Path:  # noqa: ANN001
    """Write a randomly initialised restorer (weights + card) for tests and timing benchmarks.

    The generator's last layer starts at zero (it then returns the bicubic
    upsampling); ``tail_std`` perturbs it so the network does something non-trivial.
    The card's regime is ``regime`` (default: the simulator's). Never use it to restore data.
    """
    from galgen.models.serialization import save_module
    from galgen.simulate import DEFAULT_REGIME

    config = config or RestorerConfig()
    with torch.random.fork_rng(devices=[]):  # seeded initialisation; the caller's RNG state is kept
        torch.manual_seed(seed)
        gen = build_generator(config)
        with torch.no_grad():
            gen.tail.weight.normal_(0, tail_std)
    save_module(gen, directory, {"name": name, "architecture": config.to_dict(),
                                 "regime": (regime or DEFAULT_REGIME).to_dict(), "untrained": True})
    return Path(directory)
