"""What a restoration network sees, defined once for training and inference.

* the **stretch**: ``y = asinh(x / (softening * sigma))`` of the observation (flux per
  observed pixel) and of the target, expressed as flux per *observed* pixel area
  (``target * scale**2``) so that both share one stretch;
* its **inverse** for the network's output, back to flux per output pixel;
* the **condition vector**: the observing PSF FWHM in output pixels, divided by 10.

Every function works on numpy arrays and torch tensors alike (``noise_rms`` may be a
scalar or an array/tensor that broadcasts against the images).
"""

from __future__ import annotations

import numpy as np

__all__ = ["stretch_observation", "stretch_target", "unstretch_output", "condition_vector"]


def _is_numpy(x) -> bool:  # noqa: ANN001
    return isinstance(x, np.ndarray | float | int | np.floating)


def stretch_observation(observation, noise_rms, softening: float):  # noqa: ANN001, ANN201
    """``asinh(observation / (softening * noise_rms))``: ``(..., H, W)`` in, same shape out."""
    unit = softening * noise_rms
    return np.arcsinh(observation / unit) if _is_numpy(observation) else (observation / unit).asinh()


def stretch_target(target, noise_rms, softening: float, scale: int):  # noqa: ANN001, ANN201
    """The target (flux per output pixel, ``(..., sH, sW)``) in the observation's stretch."""
    return stretch_observation(target * scale**2, noise_rms, softening)


def unstretch_output(y, noise_rms, softening: float, scale: int, *, out=None):  # noqa: ANN001, ANN201
    """Inverse of :func:`stretch_target`: network output -> flux per output pixel.

    ``out`` (numpy only) receives the result in place, for mosaics.
    """
    factor = softening * noise_rms / scale**2
    if _is_numpy(y):
        result = np.sinh(y, out=out)
        result *= factor
        return result
    return y.sinh() * factor


def condition_vector(psf_fwhm_arcsec, out_pixel_scale: float):  # noqa: ANN001, ANN201
    """Conditioning of the generator: observing PSF FWHM in *output* pixels, divided by 10.

    A float gives a ``(1,)`` float32 array; a ``(B,)`` tensor of FWHMs gives ``(B, 1)``.
    """
    if _is_numpy(psf_fwhm_arcsec):
        return np.array([psf_fwhm_arcsec / out_pixel_scale / 10.0], np.float32).reshape(-1)
    return (psf_fwhm_arcsec / out_pixel_scale / 10.0)[:, None]
