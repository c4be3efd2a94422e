"""Flux calibration of a restoration: the scale that brings its flux to the observation's.

Each estimate compares the restoration ``x`` with the observation ``d`` through ``A(x)``, the
restoration blurred back to the observed PSF and grid (:mod:`galgen.restoration.physics`), in a
circular aperture about the stamp centre; :class:`~galgen.restoration.model.LearnedRestorer`
picks one by its model card's ``"flux_calibration"``. All are pure functions of arrays: flux
per pixel, any unit, ``d`` and ``A(x)`` on the input grid ``(h, w)``, ``x`` on the output grid
``(s h, s w)``. A scale the data do not constrain (the blurred-back flux in the aperture under
5 sigma of the noise summed there), or one outside 0.5-2 (a failure, not a calibration), is 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["central_distance2", "too_faint", "bounded_scale", "least_squares_scale", "aperture_scale",
           "residual_scale"]


def central_distance2(shape: tuple[int, int]) -> np.ndarray:
    """Each pixel's squared distance from the centre of an image of ``shape`` ``(h, w)``, in pixels^2.

    Examples
    --------
    >>> central_distance2((3, 3))
    array([[2., 1., 2.],
           [1., 0., 1.],
           [2., 1., 2.]])
    """
    yy, xx = np.indices(shape)
    return (yy - (shape[0] - 1) / 2) ** 2 + (xx - (shape[1] - 1) / 2) ** 2


def too_faint(predicted: np.ndarray, inside: np.ndarray, noise_rms: float) -> bool:
    """Whether the blurred-back restoration's flux in the aperture ``inside`` (a boolean mask of
    ``predicted``'s shape) is under 5 sigma of the noise summed there: too faint for the data to
    calibrate its flux reliably."""
    return bool(np.sum(predicted[inside]) < 5 * noise_rms * np.sqrt(inside.sum()))


def bounded_scale(alpha: float) -> float:
    """A flux scale outside 0.5-2 is not a calibration but a failure: 1 instead.

    >>> bounded_scale(1.03), bounded_scale(2.5)
    (1.03, 1.0)
    """
    return alpha if 0.5 < alpha < 2.0 else 1.0


def least_squares_scale(observation: np.ndarray, predicted: np.ndarray, inside: np.ndarray,
                        noise_rms: float) -> float:
    """``alpha = sum(m A(x) d) / sum(m A(x)^2)`` over the aperture ``m`` (``inside``): the
    chi^2-optimal, noise-weighted flux scale through the PSF.

    Parameters
    ----------
    observation, predicted : numpy.ndarray
        ``(h, w)``: the sky-subtracted observation ``d`` and the restoration blurred back ``A(x)``.
    inside : numpy.ndarray
        ``(h, w)`` bool, the aperture.
    noise_rms : float
        Noise rms per input pixel, in ``observation``'s unit.

    Returns
    -------
    float
    """
    denom = float(np.sum(predicted[inside] ** 2))
    if denom <= 0 or too_faint(predicted, inside, noise_rms):
        return 1.0
    return bounded_scale(float(np.sum(predicted[inside] * observation[inside]) / denom))


def aperture_scale(observation: np.ndarray, predicted: np.ndarray, inside: np.ndarray,
                   noise_rms: float) -> float:
    """``alpha = sum(m d) / sum(m A(x))``: the observation's own flux in the aperture over that of
    the restoration blurred back (``A`` conserves flux, so both lose the same light past the
    aperture's edge); NaN pixels of ``observation`` count as 0. Arguments as
    :func:`least_squares_scale`."""
    own = float(np.sum(predicted[inside]))
    if not own > 0 or too_faint(predicted, inside, noise_rms):
        return 1.0
    return bounded_scale(float(np.sum(np.nan_to_num(observation[inside]))) / own)


def residual_scale(observation: np.ndarray, predicted: np.ndarray, own_flux: float, distance2: np.ndarray,
                   window: float, weight: float) -> float:
    """``alpha = 1 + w sum(g (d - A(x))) / F(x)``: the restoration's own aperture flux ``F(x)``
    corrected by a share ``w`` of the light it leaves in the residual ``d - A(x)``, summed in a
    Gaussian window ``g`` about the centre.

    ``A`` conserves flux, so the residual summed is the flux the restoration misses (plus noise);
    the window keeps it to the bright parts, where the restored shape is least exact and the data
    most informative, and ``w < 1`` shrinks its noise. The caller checks :func:`too_faint` first.

    Parameters
    ----------
    observation, predicted : numpy.ndarray
        ``(h, w)``: ``d`` and ``A(x)``; NaN pixels of ``d`` add nothing.
    own_flux : float
        ``F(x)``, the restoration's flux in the aperture.
    distance2 : numpy.ndarray
        ``(h, w)`` squared distance of each pixel from the window's centre, pixels^2
        (:func:`central_distance2`).
    window : float
        The Gaussian window's sigma, input pixels.
    weight : float
        ``w``.

    Returns
    -------
    float
        1 when ``own_flux`` is not positive or the scale leaves 0.5-2.

    Examples
    --------
    A restoration that misses 10 % of a point source's flux, all of it in the window's centre:

    >>> d = np.zeros((9, 9)); d[4, 4] = 100.0
    >>> round(residual_scale(d, 0.9 * d, 90.0, central_distance2(d.shape), 2.0, 1.0), 6)
    1.111111
    """
    if not own_flux > 0:
        return 1.0
    left = np.where(np.isfinite(observation), observation - predicted, 0.0)
    return bounded_scale(1.0 + weight * float(np.sum(np.exp(-0.5 * distance2 / window**2) * left)) / own_flux)
