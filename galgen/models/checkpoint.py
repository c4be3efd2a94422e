"""Training checkpoints: save and resume model, optimiser and step (weights-only loading)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from galgen.io.atomic import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path: str | os.PathLike, step: int, modules: dict[str, nn.Module],
                    optimizers: dict[str, object], extra: dict | None = None) -> None:
    """Write ``{step, modules' and optimisers'/schedulers' state dicts, extra}`` atomically.

    Checkpoints hold tensors and plain Python values only, so they load with
    ``torch.load(weights_only=True)`` (no arbitrary pickle). Shipped weights use
    safetensors instead (:mod:`galgen.models.serialization`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "step": int(step),
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "extra": extra or {},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, modules: dict[str, nn.Module],
                    optimizers: dict[str, object] | None = None,
                    map_location: str | torch.device = "cpu",
                    fallbacks: dict[str, str] | None = None) -> tuple[int, dict]:
    """Restore a checkpoint written by :func:`save_checkpoint`; return ``(step, extra)``.

    ``fallbacks`` maps a module the checkpoint may lack to a saved module it then starts
    from (e.g. ``{"ema": "generator"}``: a weight average that an older run did not keep
    begins at the resumed weights).
    """
    state = torch.load(path, map_location=map_location, weights_only=True)
    saved = state["modules"]
    for k, m in modules.items():
        m.load_state_dict(saved[k] if k in saved else saved[(fallbacks or {}).get(k, k)])
    for k, o in (optimizers or {}).items():
        o.load_state_dict(state["optimizers"][k])
    return int(state["step"]), state.get("extra", {})
