"""The settings of a batch run, shared by every item, and the digest that says when an output is stale."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import astropy.units as u
import numpy as np

__all__ = ["BatchOptions"]


@dataclass(frozen=True)
class BatchOptions:
    """Settings shared by every item of a batch run (see ``galgen batch --help``).

    ``psf_fwhm`` is the observing PSF FWHM: an angle (``1.0 * u.arcsec``), a Quantity in
    ``u.pix``, or a plain float in pixels, as in :func:`galgen.restore`; it is converted
    for each image with that image's pixel scale. ``pixel_scale`` (arcsec, for inputs
    without WCS) may be a Quantity or a float in arcsec.
    """

    psf_fwhm: u.Quantity | float | None = None
    psf: str | None = None            # PSF file for every item, '[EXT]' (HDU EXT of each item) or a
    #                                   template naming each item's file ('{stem}.psf'; psf.templates.own_hdu)
    scale: int = 2
    method: str = "default"
    samples: int = 1
    pixel_scale: float | None = None  # arcsec, for inputs without WCS
    background: float | str = "auto"
    noise_rms: float | None = None
    moffat_beta: float = 3.5
    batch_size: int = 0               # stamps per network pass; 0: 4 on a CPU, 256 on a GPU
    device: str = "cpu"
    read_workers: int | None = None   # reader threads; None: 0 on a CPU, 2 on a GPU (see ``readers``)
    compile: bool = False             # torch.compile the model (GPU runs)
    check_psf: bool = True            # the PSF vs the stars of each field (catalog images, large files)
    ensemble: int = 1                 # learned models: symmetries averaged over (1, 2, 4, 8)
    noise_map: str | None = None      # a noise-map file per item: a path or a template (as psf)
    noise_map_type: str | None = None  # ivar, var or std; None: as its EXTNAME or file name says
    mask: str | None = None           # a mask file per item: a path or a template (as psf)
    psf_fwhm_column: str | None = None  # catalog runs: each galaxy's PSF FWHM (arcsec) from this column
    psf_angle: float | None = None    # degrees to turn psf by onto each image's axes (counter-clockwise)
    mask_ignore: int | str | None = None  # mask bits of usable pixels (io.fits.mask_bits: 64 or "0x4000")

    def __post_init__(self) -> None:
        from galgen.psf.models import as_fwhm_quantity

        if self.psf_fwhm is None and self.psf is None and self.psf_fwhm_column is None:
            from galgen.errors import GalgenPSFError

            msg = ("give the observing PSF: psf_fwhm= (e.g. 1.0 * u.arcsec) or psf= (a PSF FITS file); for a "
                   "catalog run also psf_fwhm_column= (a column of each galaxy's PSF FWHM)")
            raise GalgenPSFError(msg)
        from galgen.psf.files import check_angle, require_psf_to_turn

        require_psf_to_turn(self.psf_angle, self.psf)
        object.__setattr__(self, "psf_angle", check_angle(self.psf_angle, "psf_angle"))  # 0: None
        from galgen.io.masks import mask_bits

        object.__setattr__(self, "mask_ignore", mask_bits(self.mask_ignore) or None)  # an int; 0: None
        from galgen.restoration.methods import check_ensemble, check_samples

        object.__setattr__(self, "samples", check_samples(self.samples))
        object.__setattr__(self, "ensemble", check_ensemble(self.ensemble))
        # the device is checked where the model loads (a Dask worker's GPU, not this machine's)
        if self.psf_fwhm is not None:
            object.__setattr__(self, "psf_fwhm", as_fwhm_quantity(self.psf_fwhm))
        from galgen.psf.templates import check_psf_template, is_own_hdu, is_psf_template

        for name in ("psf", "noise_map", "mask"):  # a file for every item, '[EXT]' or a template
            value = getattr(self, name)
            if is_psf_template(value):
                check_psf_template(value)
            # '[EXT]' (each item's own HDU) and '{dir}/...' are filled per item; other paths made absolute
            if value is not None and not is_own_hdu(value) and not value.startswith("{"):
                object.__setattr__(self, name, str(Path(value).resolve()))
        from galgen.io.planes import check_noise_map_type

        check_noise_map_type(self.noise_map_type)
        if isinstance(self.pixel_scale, u.Quantity):
            from galgen.io.fits import as_pixel_scale

            object.__setattr__(self, "pixel_scale", as_pixel_scale(self.pixel_scale))

    def checking(self, fwhms: list) -> BatchOptions:
        """These options for the star check of an image whose galaxies have the catalog FWHMs
        ``fwhms`` (arcsec): with no PSF of the run's own, the PSF checked is a Moffat of their
        median (the image's typical seeing)."""
        known = [f for f in fwhms if f is not None and np.isfinite(f)]
        if self.psf_fwhm is not None or self.psf is not None or not known:
            return self
        return replace(self, psf_fwhm=float(np.median(known)) * u.arcsec)

    def fwhm_for(self, fwhm: float | None) -> u.Quantity | None:
        """The PSF FWHM to restore a galaxy with: its own from the catalog (arcsec; see
        ``psf_fwhm_column``) when it has one, else the run's ``psf_fwhm``.

        Raises
        ------
        GalgenPSFError
            The galaxy has none and the run has neither ``psf_fwhm`` nor ``psf`` to fall back on.
        """
        if fwhm is not None and np.isfinite(fwhm):
            return fwhm * u.arcsec
        if self.psf_fwhm is None and self.psf is None:
            from galgen.errors import GalgenPSFError

            msg = (f"no PSF FWHM in the catalog's column {self.psf_fwhm_column!r} for this galaxy (masked, "
                   "NaN or not positive), and no psf_fwhm= or psf= to fall back on (CLI: --psf-fwhm, --psf)")
            raise GalgenPSFError(msg)
        return self.psf_fwhm

    @property
    def method_options(self) -> dict:
        """The options given to :func:`~galgen.restoration.methods.get_method` besides the method."""
        return {"ensemble": self.ensemble} if self.ensemble != 1 else {}

    @property
    def stamps_per_pass(self) -> int:
        """``batch_size``, or its automatic value: small batches run fastest on a CPU (cache),
        large ones keep a GPU busy."""
        if self.batch_size > 0:
            return self.batch_size
        return 256 if self._on_gpu else 4

    @property
    def readers(self) -> int:
        """``read_workers``, or its automatic value. With 0, each pass reads, restores and writes
        its stamps one after another in the calling thread: on a CPU the cores are busy with the
        model anyway, and threads would only contend for them and for the GIL (run one process
        per core for parallel work: ``local_workers`` or a Dask cluster). With ``n > 0``, ``n``
        threads read ahead and one writes while the model runs: a GPU computes meanwhile."""
        if self.read_workers is not None:
            return self.read_workers
        return 2 if self._on_gpu else 0

    @property
    def _on_gpu(self) -> bool:
        return str(self.device).split(":")[0] == "cuda"

    def digest(self, model_hash: str | None) -> str:
        """Hash of everything that changes an output (not device or batch size)."""
        d = {k: v for k, v in asdict(self).items()
             if k not in ("batch_size", "device", "read_workers", "compile", "check_psf")}
        for key in ("psf_angle", "mask_ignore"):  # runs without them keep the digest they had before
            if d[key] is None:
                del d[key]
        d["model_hash"] = model_hash
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
