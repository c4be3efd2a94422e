"""Survey-to-survey translation: physical (PSF matching, resampling, noise).

The presets (:data:`SURVEYS`) import nothing heavy; :func:`translate` and
:func:`matching_kernel` are loaded on first use.
"""

from galgen.translate.presets import SURVEYS, Survey

__all__ = ["translate", "matching_kernel", "SURVEYS", "Survey"]


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attributes
    if name in ("translate", "matching_kernel"):
        from galgen.translate import physical

        return getattr(physical, name)
    msg = f"module 'galgen.translate' has no attribute {name!r}"
    raise AttributeError(msg)
