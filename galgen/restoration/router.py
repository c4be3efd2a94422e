"""The ``"default"`` method when galgen ships models for different regimes: route each stamp.

The primary default model (``default_x2``) knows one sampling (0.2"/px) and round Moffat PSFs
(beta 3.5), of which it is told only the FWHM; a pixel-unit model such as ``survey_x2`` covers
every survey's sampling and reads the PSF image, but was not chosen as the default on
validation data at 0.2"/px with Moffat PSFs. A PSF image that is not such a Moffat
(:func:`galgen.psf.shape.moffat_mismatch`) is outside ``default_x2``'s regime, so those stamps go
to ``survey_x2`` at any sampling. :class:`RegimeRouter` gives each
observation to the first model (in order of preference) whose training regime contains it;
when none does, to the first whose sampling and PSF range contain it (an SNR outside every
model's range does not send an SDSS frame to the 0.2"/px model), and when none does to the model
nearest to holding it (one that knows the sampling, then the PSF family, then a clearly nearer
PSF range: undersampled PSFs go to ``survey_x2``; flagged ``REGIME``). Which model restored
a stamp is in its header (``GALGENMD``) and the batch manifest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from galgen.restoration.engine import PreparedObservation, Restoration, snr_estimate
from galgen.restoration.methods import combined_hash

__all__ = ["RegimeRouter"]

#: Among models none of which holds a stamp, one later in the order of preference is chosen only
#: when its trained PSF FWHM range is nearer by more than this in ln(FWHM) (a factor 1.25). On
#: validation pairs (seed 9,000,000, 60 a set) PSFs under every range (1.25-1.9 pixels at 0.2, 0.1
#: and 0.05"/px) did better with ``survey_x2`` (range 2-8 pixels, nearer by a factor 1.5-2 than
#: ``default_x2``'s 3-7): 43.2-43.4 dB and 3.1-3.8 % flux error against 29.7-40.3 dB and
#: 5.6-61 %; wide round Moffats (8-10 pixels at 0.2"/px, nearer to ``survey_x2``'s range by a
#: factor 1.1-1.15 only) did better with ``default_x2``: 36.50 dB / 2.03 % against 35.85 / 2.95 %.
NEARER = float(np.log(1.25))


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
        or a field, whose SNR sums all its sources); else the one nearest to holding it
        (:meth:`galgen.restoration.model.LearnedRestorer.regime_distance`: a model that knows the
        sampling before one that does not, then the PSF family; among equals the first in order of
        preference unless another's PSF FWHM range is nearer by more than :data:`NEARER`)."""
        snr = snr_estimate(o.data, o.noise_rms, o.noise_correlation.sum_factor, o.mask,
                           window=max(m.regime.in_size for m in self.models))
        for model_snr in (snr, None):
            for m in self.models:
                if not m.regime_problems(o.psf_fwhm_arcsec, o.pixel_scale, model_snr, o.psf, o.psf_model):
                    return m
        # none holds it (an undersampled or very wide PSF): the primary model used to take all of these at
        # any sampling (at 0.05"/px it lost 60 % of the flux where survey_x2 lost 4 %)
        scored = [(m.regime_distance(o.psf_fwhm_arcsec, o.pixel_scale, o.psf, o.psf_model), m)
                  for m in self.models]
        best = min(d[:2] for d, _ in scored)
        group = [(d[2], m) for d, m in scored if d[:2] == best]
        (distance, choice), rest = group[0], group[1:]
        for d, m in rest:  # a later model only when its PSF range is clearly nearer
            if d < distance - NEARER:
                distance, choice = d, m
        return choice

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
