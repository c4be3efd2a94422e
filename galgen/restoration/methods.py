"""Which restorer a method name means: shipped models, model directories and classical baselines
behind the one :class:`~galgen.restoration.engine.Restorer` protocol, and the checks of the
options every path shares (device, samples, ensemble)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from galgen.errors import GalgenModelError, GalgenValueError
from galgen.restoration.baselines import BASELINES
from galgen.restoration.engine import PreparedObservation, Restoration, Restorer

__all__ = [
    "BaselineRestorer",
    "get_method",
    "method_identity",
    "check_device",
    "check_ensemble",
    "check_samples",
    "combined_hash",
]


@dataclass(frozen=True)
class BaselineRestorer:
    """A classical method of :data:`galgen.restoration.BASELINES` behind the :class:`Restorer`
    protocol.

    Parameters
    ----------
    name : str
        ``"richardson_lucy"``, ``"wiener"``, ``"wiener_target"`` or ``"bicubic"``.
    scale : int
        Output pixels per input pixel.
    options : Mapping
        Keyword arguments of the baseline (e.g. ``iterations`` for Richardson-Lucy).
    target_psf_fwhm : float, optional
        Bring the output to this Gaussian PSF FWHM (arcsec), as a learned model's output
        has: Richardson-Lucy and Wiener results are convolved with it
        (:func:`~galgen.restoration.baselines.gaussian_smooth`; their own PSF is unknown and
        narrower), ``wiener_target`` deconvolves to it directly (default 0.2), bicubic
        cannot sharpen and keeps the observing PSF. This is how galgen compares baselines
        with its models: same grid, same target PSF.
    """

    name: str
    scale: int
    options: Mapping[str, object] = field(default_factory=dict)
    target_psf_fwhm: float | None = None
    model_hash: str | None = None

    def __post_init__(self) -> None:
        function = BASELINES[self.name]
        accepted = {p.name for p in inspect.signature(function).parameters.values()
                    if p.kind == inspect.Parameter.KEYWORD_ONLY}
        if unknown := set(self.options) - accepted:
            msg = (f"method {self.name!r} takes no option {', '.join(sorted(unknown))}; it takes "
                   f"{', '.join(sorted(accepted)) or 'none'}")
            raise GalgenValueError(msg)

    def restore_batch(self, observations: Sequence[PreparedObservation], *, samples: int = 1,
                      seed: int | None = 0) -> list[Restoration]:
        """Restore each observation in turn (the baselines are per-image algorithms)."""
        if samples > 1:
            msg = (f"samples={samples}: uncertainty samples need a learned model; {self.name!r} "
                   "is deterministic (leave samples at 1 or use --method default)")
            raise GalgenValueError(msg)
        return [self._restore(o) for o in observations]

    def _restore(self, o: PreparedObservation) -> Restoration:
        from galgen.restoration.baselines import gaussian_smooth

        function, options = BASELINES[self.name], dict(self.options)
        out_scale = o.pixel_scale / self.scale
        target = self.target_psf_fwhm
        if self.name == "wiener_target":
            target = 0.2 if target is None else target
            options.setdefault("target_fwhm_pix", target / out_scale)
        data = function(o.data, o.psf, self.scale, o.noise_rms, **options)
        psf_fwhm = None
        if self.name == "bicubic":
            psf_fwhm = o.psf_fwhm_arcsec  # an interpolation keeps the observing PSF
        elif target is not None:
            if self.name != "wiener_target":
                data = gaussian_smooth(data, target / out_scale)
            psf_fwhm = target
        params = dict(self.options, **({"target_psf_fwhm": target} if target is not None else {}))
        return Restoration(data, None, self.name, psf_fwhm=psf_fwhm, params=params)


def _default_name(method: str, scale: int) -> str:
    from galgen.restoration.registry import shipped_models

    if method != "default":
        return method
    shipped = shipped_models()
    # a model card may claim the default for its scale ("default_for_scale": true); else default_x<scale>
    flagged = [n for n, p in shipped.items()
               if _card(p).get("default_for_scale") and _card_scale(p) == scale]
    name = flagged[0] if flagged else f"default_x{scale}"
    if name not in shipped:
        scales = ", ".join(f"{n} (x{_card_scale(p)})" for n, p in sorted(shipped.items())) or "none"
        msg = (f"no shipped model restores x{scale}: galgen ships {scales}. Use one of those scales, "
               f"or ask for a classical method explicitly (--method {' / '.join(sorted(BASELINES))})")
        raise GalgenModelError(msg)
    return name


def _default_fallbacks(primary: str, scale: int) -> list[str]:
    """Shipped models of ``scale`` whose card says ``"default_fallback": true``: the default
    routes inputs outside the primary model's regime to them (:class:`RegimeRouter`)."""
    from galgen.restoration.registry import shipped_models

    return [n for n, p in shipped_models().items()
            if n != primary and _card(p).get("default_fallback") and _card_scale(p) == scale]


def _card(directory) -> dict:  # noqa: ANN001
    return json.loads((directory / "config.json").read_text())


def _card_scale(directory) -> int:  # noqa: ANN001
    return int(_card(directory)["architecture"]["scale"])


def get_method(method: str = "default", scale: int = 2, *, device: str = "cpu",
               **options) -> Restorer:
    """The :class:`Restorer` for a method name.

    Parameters
    ----------
    method : str, default "default"
        ``"default"`` (the shipped model whose card claims ``default_for_scale`` for ``scale``,
        else ``default_x<scale>``; with models whose cards say ``default_fallback``, a
        :class:`~galgen.restoration.router.RegimeRouter` that gives each stamp outside the
        default's regime to the first of them whose regime contains it), a shipped model's
        name, a model directory, or a baseline:
        ``"richardson_lucy"``, ``"wiener"``, ``"wiener_target"``, ``"bicubic"``.
    scale : int, default 2
        Output pixels per input pixel.
    device : str, default "cpu"
        Torch device of a learned model (baselines run on the CPU).
    **options
        The method's settings: for baselines their keyword arguments (``iterations``,
        ``balance``) and ``target_psf_fwhm`` (see :class:`BaselineRestorer`); for learned models those of
        :class:`~galgen.restoration.model.LearnedRestorer` (``amp``, ``flux_calibrate``,
        ``tile``, ``batch_size``, ``ensemble``, ...).

    Returns
    -------
    Restorer
        A new object each call (learned models share only their immutable weights).

    Raises
    ------
    GalgenModelError
        ``"default"`` at a scale no shipped model restores, or a model of another scale.
    GalgenValueError
        An unknown method or option.
    """
    from galgen.restoration.model import LEARNED_OPTIONS
    from galgen.restoration.registry import load_model, shipped_models

    if int(scale) != scale or scale < 1:
        msg = f"scale must be a positive integer, got {scale}"
        raise GalgenValueError(msg)
    scale = int(scale)
    if method in BASELINES:
        if "ensemble" in options:
            msg = f"ensemble averages a learned model over symmetries; {method!r} is a classical baseline"
            raise GalgenValueError(msg)
        target = options.pop("target_psf_fwhm", None)
        return BaselineRestorer(method, scale, dict(options), target_psf_fwhm=target)
    check_device(device)
    name = _default_name(method, scale)
    if unknown := set(options) - set(LEARNED_OPTIONS):
        msg = (f"a learned model takes no option {', '.join(sorted(unknown))}; it takes "
               f"{', '.join(LEARNED_OPTIONS)} (baseline options such as iterations need --method "
               f"{' / '.join(sorted(BASELINES))})")
        raise GalgenValueError(msg)
    if method == "default" and (fallbacks := _default_fallbacks(name, scale)):
        from galgen.restoration.router import RegimeRouter

        return RegimeRouter([load_model(n, device, **options) for n in (name, *fallbacks)])
    try:
        model = load_model(name, device, **options)
    except GalgenModelError:
        if name in shipped_models():
            raise
        msg = (f"unknown restoration method {method!r}; choose 'default', a baseline "
               f"({', '.join(sorted(BASELINES))}), a shipped model "
               f"({', '.join(sorted(shipped_models())) or 'none installed'}) or a model directory")
        raise GalgenValueError(msg) from None
    if model.scale != scale:
        msg = f"model {model.name!r} restores x{model.scale}, not x{scale}; pass scale={model.scale}"
        raise GalgenModelError(msg)
    return model


def method_identity(method: str, scale: int) -> tuple[str, str | None]:
    """``(name, weights sha256)`` of a method without building it (read from a model card)."""
    from galgen.restoration.registry import find_model

    if method in BASELINES:
        return method, None
    name = _default_name(method, int(scale))
    names = [name, *(_default_fallbacks(name, int(scale)) if method == "default" else [])]
    cards = [_card(find_model(n)) for n in names]
    if len(cards) == 1:
        return cards[0].get("name", names[0]), cards[0].get("sha256")
    return ("+".join(c.get("name", n) for c, n in zip(cards, names, strict=True)),
            combined_hash([c.get("sha256", "") for c in cards]))


def check_device(device: str) -> None:
    """Raise :class:`~galgen.errors.GalgenValueError` unless ``device`` names a torch device this
    machine has (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), saying what to use instead."""
    import torch

    try:
        d = torch.device(device)
    except (RuntimeError, TypeError):
        msg = f"device {device!r} is not a torch device; use cpu, cuda or cuda:N"
        raise GalgenValueError(msg) from None
    if d.type == "cuda" and not torch.cuda.is_available():
        msg = (f"device {device!r}: this torch ({torch.__version__}) sees no CUDA GPU (a CPU build, or no "
               "driver); use --device cpu")
        raise GalgenValueError(msg)
    if d.type == "cuda" and d.index is not None and d.index >= torch.cuda.device_count():
        msg = f"device {device!r}: there are {torch.cuda.device_count()} CUDA GPUs (cuda:0...)"
        raise GalgenValueError(msg)
    if d.type == "mps" and not torch.backends.mps.is_available():
        msg = f"device {device!r}: Apple's MPS is not available here; use --device cpu"
        raise GalgenValueError(msg)


def check_ensemble(ensemble: object) -> int:
    """``ensemble`` (symmetries a learned model averages over) as 1, 2, 4 or 8, or
    :class:`~galgen.errors.GalgenValueError`."""
    if ensemble not in (1, 2, 4, 8):
        msg = f"ensemble must be 1, 2, 4 or 8 symmetries of the square, got {ensemble!r}"
        raise GalgenValueError(msg)
    return int(ensemble)


def check_samples(samples: object) -> int:
    """``samples`` as an int >= 1, or :class:`~galgen.errors.GalgenValueError`."""
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 1:
        msg = (f"samples={samples!r}: give a whole number of samples, at least 2 for an uncertainty map "
               "(1, the default, makes none)")
        raise GalgenValueError(msg)
    return int(samples)


def combined_hash(hashes: Sequence[str]) -> str:
    """sha256 of several models' weight hashes in order: the identity of a routed default."""
    import hashlib

    return hashlib.sha256("".join(hashes).encode()).hexdigest()
