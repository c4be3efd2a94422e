"""The ``"default"`` method when galgen ships models for different regimes: route each stamp.

The primary default model (``default_x2``) knows one sampling (0.2"/px) and round Moffat PSFs
(beta 3.5), of which it is told only the FWHM; a pixel-unit model such as ``survey_x2`` covers
every survey's sampling and reads the PSF image, but was not chosen as the default on
validation data at 0.2"/px with Moffat PSFs. A PSF image that is not such a Moffat
(:func:`galgen.psf.shape.moffat_mismatch`) is outside ``default_x2``'s regime, so those stamps go
to ``survey_x2`` at any sampling. :class:`RegimeRouter` gives each
observation to the first model (in order of preference) whose training regime contains it;
when none does, to the first whose sampling and PSF range contain it (an SNR outside every
model's range does not send an SDSS frame to the 0.2"/px model), and to the primary model when
none does (each flags the output ``REGIME``). Which model restored
a stamp is in its header (``GALGENMD``) and the batch manifest.
"""

from __future__ import annotations

from collections.abc import Sequence

from galgen.restoration.engine import PreparedObservation, Restoration, snr_estimate
from galgen.restoration.methods import combined_hash

__all__ = ["RegimeRouter"]


class RegimeRouter:
    """Route each observation to the first of ``models`` whose regime contains it.

    Parameters
    ----------
    models : sequence of LearnedRestorer
        In order of preference, one scale; the first takes what no model's regime contains.
    """

    def __init__(self, models: Sequence) -> None:  # noqa: ANN001
        self.models = list(models)
        self.scale = self.models[0].scale
        self.name = "+".join(m.name for m in self.models)
        self.sha256 = self.model_hash = combined_hash([m.sha256 for m in self.models])

    @property
    def batch_size(self) -> int:
        """Stamps per network pass (set on every model)."""
        return self.models[0].batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        for m in self.models:
            m.batch_size = int(value)

    def compile(self) -> RegimeRouter:
        """``torch.compile`` every model."""
        for m in self.models:
            m.compile()
        return self

    def choose(self, o: PreparedObservation):  # noqa: ANN201
        """The model that restores ``o``: the first whose regime holds it; else the first whose
        sampling and PSF regime hold it (its SNR alone is outside every model's: a bright galaxy,
        or a field, whose SNR sums all its sources); else the primary model."""
        snr = snr_estimate(o.data, o.noise_rms, o.noise_correlation.sum_factor, o.mask,
                           window=max(int(m.regime.get("in_size", 64)) for m in self.models))
        for model_snr in (snr, None):
            for m in self.models:
                if not m.regime_problems(o.psf_fwhm_arcsec, o.pixel_scale, model_snr, o.psf, o.psf_model):
                    return m
        return self.models[0]

    def restore_batch(self, observations: Sequence[PreparedObservation], *, samples: int = 1,
                      seed: int | None = 0) -> list[Restoration]:
        """Each model restores its share, in batches; results come back in input order."""
        groups: dict[int, list[int]] = {}
        for i, o in enumerate(observations):
            groups.setdefault(self.models.index(self.choose(o)), []).append(i)
        out: list[Restoration | None] = [None] * len(observations)
        for k, indices in groups.items():
            results = self.models[k].restore_batch([observations[i] for i in indices], samples=samples,
                                                   seed=seed)
            for i, r in zip(indices, results, strict=True):
                out[i] = r
        return out  # type: ignore[return-value]
