"""Figures people would rather look at than read: comparison panels."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["comparison_panel", "comparison_rows", "new_figure", "save_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **subplot_kw):  # noqa: ANN201
    """A matplotlib ``Figure`` and its axes, made without pyplot.

    No backend is selected and no global figure manager keeps a reference: calling
    galgen leaves matplotlib's state (``matplotlib.get_backend()``, pyplot's open
    figures) as it found it. ``subplot_kw`` goes to ``Figure.subplots``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **subplot_kw)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> Path:  # noqa: ANN001
    """Write ``fig`` atomically to ``path`` (format from its suffix: PNG, PDF, ...)."""
    from galgen.io.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or None)
    return path


def comparison_panel(images: Mapping[str, np.ndarray], path: str | os.PathLike, *,
                     noise_rms: float, residual_of: tuple[str, str] | None = None,
                     title: str | None = None) -> Path:
    """Side-by-side images on one asinh stretch, plus an optional residual.

    Parameters
    ----------
    images : mapping of str to numpy.ndarray
        Panel title -> ``(H, W)`` image. Images of different sizes are shown
        over the same angular extent when they cover the same sky.
    path : path
        Output PNG (or PDF) file.
    noise_rms : float
        Noise level per pixel of the *first* image; sets the stretch softening.
    residual_of : (str, str), optional
        Names of two images ``(a, b)`` of equal shape; adds a panel ``a - b``.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    return comparison_rows([{"images": images, "noise_rms": noise_rms, "residual_of": residual_of}], path,
                           title=title)


def comparison_rows(rows: list[Mapping], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Several :func:`comparison_panel` rows in one figure (e.g. a simulated and a real galaxy).

    Parameters
    ----------
    rows : list of mapping
        Each with ``images`` (title -> ``(H, W)`` image), ``noise_rms`` (of the first image),
        optional ``residual_of`` ``(a, b)`` and ``label`` (written left of the row).
    path : path
        Output PNG (or PDF) file.
    title : str, optional
        Figure title.
    """
    ncol = max(len(r["images"]) + (1 if r.get("residual_of") else 0) for r in rows)
    fig, axes = new_figure(len(rows), ncol, figsize=(3.0 * ncol, 3.3 * len(rows)), squeeze=False)
    for row_axes, row in zip(axes, rows, strict=True):
        _draw_row(fig, row_axes, row["images"], row["noise_rms"], row.get("residual_of"))
        if row.get("label"):
            row_axes[0].set_ylabel(row["label"], fontsize=10)
        for ax in row_axes[len(row["images"]) + (1 if row.get("residual_of") else 0):]:
            ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def _draw_row(fig, axes, images: Mapping[str, np.ndarray], noise_rms: float,  # noqa: ANN001
              residual_of: tuple[str, str] | None) -> None:
    names = list(images)
    # show surface brightness (flux per pixel area of the first image) so that
    # images at different pixel scales share one colour scale
    ref_npix = np.asarray(images[names[0]]).shape[0]
    sb = {k: np.asarray(v, dtype=np.float64) * (v.shape[0] / ref_npix) ** 2 for k, v in images.items()}
    soft = 3.0 * noise_rms
    vmax = np.arcsinh(np.nanpercentile(sb[names[-1]], 99.8) / soft)
    vmin = np.arcsinh(-2 * noise_rms / soft)
    for ax, name in zip(axes, names, strict=False):
        ax.imshow(np.arcsinh(sb[name] / soft), origin="lower", cmap="magma", vmin=vmin,
                  vmax=vmax, extent=(0, 1, 0, 1))
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if residual_of:
        a, b = residual_of
        ax = axes[len(names)]
        lim = 5 * noise_rms
        im = ax.imshow(sb[a] - sb[b], origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=(0, 1, 0, 1))
        ax.set_title(f"{a} - {b}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, label="surface brightness (obs. pixel units)")
