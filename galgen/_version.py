"""galgen's version string (single source of truth, read by pyproject)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
