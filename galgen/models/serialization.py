"""One save/load format: ``model.safetensors`` + ``config.json`` (never pickle)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from galgen._version import __version__
from galgen.errors import GalgenModelError
from galgen.io.atomic import atomic_path, atomic_write_bytes

__all__ = ["save_module", "load_state", "read_state", "read_config", "update_config", "file_sha256"]


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_module(module: nn.Module, directory: str | os.PathLike, config: dict) -> str:
    """Save weights (safetensors) and a JSON config/model card into ``directory``.

    Parameters
    ----------
    module : torch.nn.Module
        Model whose ``state_dict`` (parameters and buffers) is saved.
    directory : path
        Created if needed; receives ``model.safetensors`` and ``config.json``.
    config : dict
        JSON-serialisable description: architecture arguments, training record,
        metrics. ``galgen_version`` and ``sha256`` of the weights are added.

    Returns
    -------
    str
        sha256 of ``model.safetensors``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}
    weights = directory / "model.safetensors"
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    digest = file_sha256(weights)
    card = dict(config, galgen_version=__version__, sha256=digest)
    atomic_write_bytes(directory / "config.json", (json.dumps(card, indent=2, default=str) + "\n").encode())
    return digest


def read_config(directory: str | os.PathLike) -> dict:
    """The ``config.json`` of a saved model."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        msg = f"{path}: no model card; is {directory} a galgen model directory?"
        raise GalgenModelError(msg)
    return json.loads(path.read_text())


def read_state(directory: str | os.PathLike, *, verify: bool = True,
               device: str | torch.device = "cpu") -> tuple[dict, dict[str, torch.Tensor]]:
    """The config and the weights of a saved model, checked against the card's sha256.

    Raises
    ------
    GalgenModelError
        Missing files or a sha256 that does not match the card.
    """
    directory = Path(directory)
    config = read_config(directory)
    weights = directory / "model.safetensors"
    if not weights.is_file():
        msg = f"{weights}: missing weights file"
        raise GalgenModelError(msg)
    if verify and config.get("sha256") and file_sha256(weights) != config["sha256"]:
        msg = f"{weights}: sha256 does not match config.json; the file is corrupt or was replaced"
        raise GalgenModelError(msg)
    return config, load_file(str(weights), device=str(device))


def load_state(module: nn.Module, directory: str | os.PathLike, *, verify: bool = True,
               device: str | torch.device = "cpu") -> dict:
    """Load ``model.safetensors`` into ``module`` (strictly); return the config.

    Raises
    ------
    GalgenModelError
        Missing files, a sha256 that does not match the card, or mismatched keys.
    """
    config, state = read_state(directory, verify=verify, device=device)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        msg = f"{Path(directory) / 'model.safetensors'}: weights do not fit this architecture ({exc})"
        raise GalgenModelError(msg) from exc
    return config


def update_config(directory: str | os.PathLike, updates: dict) -> dict:
    """Add entries (e.g. measured metrics) to a saved model's ``config.json``.

    The weights are not touched; their sha256 is checked against the card first.
    """
    directory = Path(directory)
    card = read_config(directory)
    if file_sha256(directory / "model.safetensors") != card.get("sha256"):
        msg = f"{directory}: weights do not match the card's sha256; re-export instead"
        raise GalgenModelError(msg)
    card.update(updates)
    atomic_write_bytes(directory / "config.json", (json.dumps(card, indent=2, default=str) + "\n").encode())
    return card
