"""Training utilities: checkpoints (and, for restoration, the training loop)."""

from galgen.models.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["save_checkpoint", "load_checkpoint"]
