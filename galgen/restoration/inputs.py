"""What a restoration network sees, defined once for training and inference.

* the **stretch**: ``y = asinh(x / (softening * sigma))`` of the observation (flux per
  observed pixel) and of the target, expressed as flux per *observed* pixel area
  (``target * scale**2``) so that both share one stretch;
* its **inverse** for the network's output, back to flux per output pixel;
* the **condition vector**: the observing PSF FWHM in output pixels, divided by 10;
* for models with ``deconvolved_input``, a **classical deconvolution** of the observation with
  the PSF it was given (Tikhonov to the target PSF on the output grid,
  :func:`deconvolved_channel`), stretched like the target and folded to the input grid
  (``scale**2`` channels, :func:`space_to_depth`): the PSF's shape reaches the network through
  it, and where the learned prior is wrong the network can fall back on it (Tikhonet and
  Galaxy-Deconv do the same).

Every function works on numpy arrays and torch tensors alike (``noise_rms`` may be a
scalar or an array/tensor that broadcasts against the images).
"""

from __future__ import annotations

import numpy as np

__all__ = ["stretch_observation", "stretch_target", "unstretch_output", "condition_vector",
           "deconvolved_channel", "space_to_depth", "network_input", "DECONV_BALANCE"]

#: Regularisation of the deconvolved input channel (fixed: training and inference must agree).
DECONV_BALANCE = 0.03


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


def deconvolved_channel(observation: np.ndarray, psf: np.ndarray, scale: int,
                        target_fwhm_pix: float = 2.0) -> np.ndarray:
    """Tikhonov deconvolution of ``observation`` (``(H, W)``) with ``psf`` (at the observation's
    pixel scale) to a Gaussian of ``target_fwhm_pix`` output pixels on the x``scale`` grid:
    ``(sH, sW)`` flux per output pixel (:func:`galgen.restoration.baselines.wiener_to_target`
    with ``balance`` :data:`DECONV_BALANCE`)."""
    from galgen.restoration.baselines import wiener_to_target

    return wiener_to_target(observation, psf, scale, balance=DECONV_BALANCE, target_fwhm_pix=target_fwhm_pix)


def space_to_depth(image, scale: int):  # noqa: ANN001, ANN201
    """``(..., sH, sW)`` -> ``(..., s*s, H, W)``, channel ``i*s + j`` holding pixels ``(s*h + i, s*w + j)``
    (the order of ``torch.nn.functional.pixel_unshuffle``); numpy or torch."""
    if scale == 1:
        return image[..., None, :, :]
    if not _is_numpy(image):
        import torch.nn.functional as F

        lead = image.shape[:-2]
        flat = image.reshape(-1, 1, *image.shape[-2:])
        return F.pixel_unshuffle(flat, scale).reshape(*lead, scale * scale, image.shape[-2] // scale,
                                                      image.shape[-1] // scale)
    *lead, sh, sw = image.shape
    h, w = sh // scale, sw // scale
    out = image.reshape(*lead, h, scale, w, scale)
    out = np.moveaxis(out, (-3, -1), (-4, -3))  # (..., s_i, s_j, h, w)
    return out.reshape(*lead, scale * scale, h, w)


def network_input(observation, noise_rms, softening: float, scale: int, deconvolved=None):  # noqa: ANN001, ANN201
    """What the generator is fed: ``(..., C, H, W)`` with ``C = 1`` (the stretched observation)
    or ``1 + scale**2`` (and the stretched, folded ``deconvolved`` channel, ``(..., sH, sW)``
    flux per output pixel). ``noise_rms`` broadcasts against ``(..., H, W)``."""
    x = stretch_observation(observation, noise_rms, softening)[..., None, :, :]
    if deconvolved is None:
        return x
    d = space_to_depth(stretch_target(deconvolved, noise_rms, softening, scale), scale)
    if _is_numpy(x):
        return np.concatenate([x, d], axis=-3)
    import torch

    return torch.cat([x, d.to(x.dtype)], dim=-3)
