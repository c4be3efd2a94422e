"""Training a learned survey-to-survey translation (:mod:`galgen.translate.cycle`) from two
folders of FITS stamps: one readable loop, resumable, CSV-logged, like restoration's.

Per step, with ``a`` and ``b`` unpaired batches of the two domains (counts):

* adversarial (``adv_loss``, least squares by default as in CycleGAN): ``D_b`` on
  ``G_ab(a, z)``, ``D_a`` on ``G_ba(b, z)``;
* cycle (``cycle_weight``): L1 of ``G_ba(G_ab(a, 0), 0) - a`` and ``G_ab(G_ba(b, 0), 0) - b``
  in each domain's noise units, on the noise-free branch (``z = 0``): noise synthesised for the
  target domain cannot be undone, and a cycle through it teaches the generators to synthesise
  none (measured: a first run with the cycle through ``G(x, z)`` left B's noise at 0.64 of its
  rms and white);
* flux (``flux_weight``): the squared difference of a translated stamp's total counts and its
  input's, in units of the noise of that total (``sigma sqrt(N)``), on the noise-free branch
  ``G(x, z=0)``;
* PSF consistency (``psf_weight``, when ``psf_a`` and ``psf_b`` are given): with the physical
  translation ``T`` (matching kernel, then a sum over pixel blocks), ``G_ab(a, 0)`` against
  ``T(a)`` and ``T(G_ba(b, 0))`` against ``b``, mean squares in B's noise units;
* identity (``identity_weight``, same pixel scale only): ``G_ab(b) = b``, ``G_ba(a) = a``.

Learning rate: constant for the first half of the run, then linear to zero (Zhu et al.); with
a ``time_budget`` the run's progress is the larger of steps and seconds used.

Run: ``galgen train --config configs/translate_sim_to_survey.toml [--export DIR]``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from galgen.errors import GalgenValueError
from galgen.models.checkpoint import load_checkpoint, save_checkpoint
from galgen.models.gan.objectives import discriminator_loss, generator_loss
from galgen.models.serialization import save_module
from galgen.train.restoration import _append_csv, _device, _prepare_log, read_toml_config
from galgen.translate.cycle import FACTORS, CycleTranslator

__all__ = [
    "TranslateConfig",
    "load_translate_config",
    "train_translation",
    "export_translation",
    "StampFolder",
    "physical_operator",
]

log = logging.getLogger(__name__)


@dataclass
class TranslateConfig:
    """A translation run; read from TOML (``kind = "translation"``, see
    ``configs/translate_sim_to_survey.toml``)."""

    kind: str = "translation"
    name: str = "sim_to_survey"
    out_dir: str = "checkpoints/translate_sim_to_survey"
    domain_a: str = ""  # folder of FITS stamps (the finer pixels)
    domain_b: str = ""
    simulate: dict = field(default_factory=dict)  # {n_a, n_b, seed_a, seed_b}: fill empty folders
    noise_a: float = 0.0  # counts per pixel; 0: from the stamps (NOISERMS keywords or robust rms)
    noise_b: float = 0.0
    psf_a: dict = field(default_factory=dict)  # {profile = "gaussian"|"moffat", fwhm, beta} or {file}
    psf_b: dict = field(default_factory=dict)
    val_stamps: int = 32  # the last stamps of each folder: validation only
    seed: int = 0
    steps: int = 4000
    time_budget: float = 0.0
    batch: int = 8
    lr: float = 2e-4
    disc_lr: float = 2e-4
    adv_loss: str = "lsgan"
    adv_weight: float = 1.0
    cycle_weight: float = 10.0
    flux_weight: float = 0.1
    psf_weight: float = 0.5
    identity_weight: float = 0.0
    architecture: dict = field(default_factory=dict)  # channels, blocks, disc_width, disc_layers
    checkpoint_every: int = 200
    val_every: int = 200
    log_every: int = 25
    device: str = "auto"
    threads: int = 0
    card: dict = field(default_factory=dict)


def load_translate_config(path: str | os.PathLike, **overrides) -> TranslateConfig:
    """Read a translation TOML config; keyword ``overrides`` win (``None`` values ignored).
    Relative folders are taken from the current directory, as the command line does."""
    return read_toml_config(path, TranslateConfig, overrides)


#: columns of ``log.csv``
_LOG_KEYS = ["step", "lr", "loss_g", "loss_d", "adv", "cycle", "flux", "psf", "identity", "seconds",
             "val_cycle"]


class StampFolder:
    """Every FITS stamp of a folder in memory: ``data`` ``(N, H, W)`` float32 counts.

    Unreadable stamps, stamps of another shape or pixel scale and stamps with non-finite
    pixels are skipped, each named in a warning; a folder left with no stamp is an error.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        from galgen.io.fits import read_image

        folder = Path(folder)
        paths = sorted(folder.glob("*.fits")) + sorted(folder.glob("*.fits.gz"))
        if not paths:
            msg = f"{folder}: no FITS stamps (*.fits) in this folder"
            raise GalgenValueError(msg)
        stamps, noise, scales = [], [], []
        for p in paths:
            try:
                img = read_image(p)
            except Exception as exc:  # noqa: BLE001 - one bad stamp is reported, the rest go on
                log.warning("%s: skipped (%s)", p, exc)
                continue
            if stamps and img.shape != stamps[0].shape:
                log.warning(
                    "%s: skipped, shape %s differs from the folder's %s", p, img.shape, stamps[0].shape
                )
                continue
            if not np.all(np.isfinite(img.data)) or np.any(img.mask):
                log.warning("%s: skipped, it has masked or non-finite pixels", p)
                continue
            stamps.append(np.asarray(img.data, dtype=np.float32))
            scales.append(img.pixel_scale)
            if img.header is not None and "NOISERMS" in img.header:
                noise.append(float(img.header["NOISERMS"]))
        if not stamps:
            msg = f"{folder}: none of its {len(paths)} stamps could be used (see the warnings)"
            raise GalgenValueError(msg)
        self.folder, self.data = folder, np.stack(stamps)
        self.pixel_scale = float(np.median([s for s in scales if s])) if any(scales) else None
        if len(noise) == len(stamps):
            self.noise_rms = float(np.median(noise))
        else:  # robust per-stamp rms (sigma-clipped MAD: galaxies are a minority of the pixels)
            from astropy.stats import sigma_clipped_stats

            self.noise_rms = float(
                np.median([sigma_clipped_stats(s, sigma=3.0, stdfunc="mad_std")[2] for s in self.data])
            )

    def __len__(self) -> int:
        return len(self.data)


def _psf_image(spec: dict, pixel_scale: float) -> np.ndarray:
    from galgen.psf.files import read_psf
    from galgen.psf.models import gaussian_psf, moffat_psf

    if "file" in spec:
        return read_psf(spec["file"], (10**6, 10**6), pixel_scale).kernel
    fwhm = float(spec["fwhm"]) / pixel_scale
    size = max(31, int(np.ceil(8 * fwhm)) | 1)
    if spec.get("profile", "gaussian") == "moffat":
        return moffat_psf(fwhm, size, beta=float(spec.get("beta", 3.5)), method="no_pixel")
    return gaussian_psf(fwhm, size, method="no_pixel")


def physical_operator(psf_a: dict, psf_b: dict, pixel_scale_a: float, factor: int) -> torch.Tensor:
    """The matching kernel ``K`` (``P_a * K = P_b`` at domain A's pixels, optical PSFs without
    pixel response) as a ``(1, 1, k, k)`` tensor; ``T(x) = sum_blocks(K * x)``."""
    from galgen.translate.physical import matching_kernel

    kernel, _, _ = matching_kernel(
        pixel_scale_a,
        None,
        None,
        source_psf=_psf_image(psf_a, pixel_scale_a),
        target_psf=_psf_image(psf_b, pixel_scale_a),
    )
    return torch.as_tensor(kernel, dtype=torch.float32)[None, None]


def _apply_physical(x: torch.Tensor, kernel: torch.Tensor, factor: int) -> torch.Tensor:
    from galgen.translate.cycle import resample_flux

    return resample_flux(F.conv2d(x, kernel, padding=kernel.shape[-1] // 2), factor, "down")


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k = rng.integers(0, 4, len(batch))
    flip = rng.random(len(batch)) < 0.5
    return np.stack(
        [np.rot90(s[:, ::-1] if f else s, int(r)) for s, r, f in zip(batch, k, flip, strict=True)]
    )


def _batch(stamps: np.ndarray, n: int, rng: np.random.Generator, device: torch.device) -> torch.Tensor:
    idx = rng.integers(0, len(stamps), n)
    return torch.as_tensor(np.ascontiguousarray(_augment(stamps[idx], rng)), device=device)[:, None]


def _domains(cfg: TranslateConfig) -> tuple[StampFolder, StampFolder, int]:
    if cfg.simulate:
        from galgen.translate.domains import SIM_DOMAIN, SURVEY_DOMAIN, write_domain

        sim = cfg.simulate
        for folder, dom, other, n, seed in (
            (cfg.domain_a, SIM_DOMAIN, SURVEY_DOMAIN, sim["n_a"], sim["seed_a"]),
            (cfg.domain_b, SURVEY_DOMAIN, SIM_DOMAIN, sim["n_b"], sim["seed_b"]),
        ):
            if len(list(Path(folder).glob("*.fits"))) < n:
                write_domain(folder, dom, n, seed, other=other, progress=True)
    a, b = StampFolder(cfg.domain_a), StampFolder(cfg.domain_b)
    if a.pixel_scale is None or b.pixel_scale is None:
        msg = "the stamps need a pixel scale (a celestial WCS or PIXSCALE keyword) in both folders"
        raise GalgenValueError(msg)
    factor = int(round(b.pixel_scale / a.pixel_scale))
    if factor not in FACTORS or abs(b.pixel_scale / a.pixel_scale - factor) > 0.01 * factor:
        msg = (
            f"domain B's pixels ({b.pixel_scale:.4g}\") must be 1, 2 or 4 times domain A's "
            f'({a.pixel_scale:.4g}"); resample one folder first (galgen translate)'
        )
        raise GalgenValueError(msg)
    if a.data.shape[1] % factor or a.data.shape[2] % factor:
        msg = f"domain A's stamps ({a.data.shape[1:]}) must be a multiple of {factor} pixels"
        raise GalgenValueError(msg)
    for f in (a, b):
        if len(f) <= cfg.val_stamps:
            msg = f"{f.folder}: {len(f)} stamps, but {cfg.val_stamps} are kept for validation; add stamps"
            raise GalgenValueError(msg)
    return a, b, factor


def _architecture(cfg: TranslateConfig) -> dict:
    return {"channels": 32, "blocks": 4, "disc_width": 32, "disc_layers": 3, **cfg.architecture}


def _build(
    cfg: TranslateConfig, factor: int, noise_a: float, noise_b: float, discriminators: bool = True
) -> CycleTranslator:
    return CycleTranslator(factor, noise_a, noise_b, discriminators=discriminators, **_architecture(cfg))


def _generator_losses(
    model: CycleTranslator,
    a: torch.Tensor,
    b: torch.Tensor,
    cfg: TranslateConfig,
    kernel: torch.Tensor | None,
    factor: int,
) -> tuple[torch.Tensor, dict, tuple]:
    na, nb = model.g_ab.noise_in, model.g_ab.noise_out
    fake_b, fake_a = model.g_ab(a), model.g_ba(b)  # with noise: what the critics judge
    mean_b = model.g_ab(a, torch.zeros_like(a))  # the noise-free branch: content, flux, PSF
    mean_a = model.g_ba(b, torch.zeros_like(b))
    # cycle consistency on the noise-free branch: noise synthesised for the other domain cannot be
    # undone, and a cycle through it teaches the generators not to synthesise any
    rec_a = model.g_ba(mean_b, torch.zeros_like(mean_b))
    rec_b = model.g_ab(mean_a, torch.zeros_like(mean_a))
    terms = {
        "adv": generator_loss(model.judge("b", fake_b), cfg.adv_loss)
        + generator_loss(model.judge("a", fake_a), cfg.adv_loss),
        "cycle": (rec_a - a).abs().mean() / na + (rec_b - b).abs().mean() / nb,
    }
    sums = (
        (mean_b.sum((1, 2, 3)) - a.sum((1, 2, 3))) / (nb * mean_b[0].numel() ** 0.5),
        (mean_a.sum((1, 2, 3)) - b.sum((1, 2, 3))) / (na * mean_a[0].numel() ** 0.5),
    )
    terms["flux"] = sums[0].pow(2).mean() + sums[1].pow(2).mean()
    if kernel is not None:
        terms["psf"] = ((mean_b - _apply_physical(a, kernel, factor)) / nb).pow(2).mean() + (
            (_apply_physical(mean_a, kernel, factor) - b) / nb
        ).pow(2).mean()
    if cfg.identity_weight > 0 and factor == 1:
        terms["identity"] = (model.g_ab(b) - b).abs().mean() / nb + (model.g_ba(a) - a).abs().mean() / na
    weights = {
        "adv": cfg.adv_weight,
        "cycle": cfg.cycle_weight,
        "flux": cfg.flux_weight,
        "psf": cfg.psf_weight,
        "identity": cfg.identity_weight,
    }
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {k: float(v.detach()) for k, v in terms.items()}, (fake_a.detach(), fake_b.detach())


def train_translation(cfg: TranslateConfig, *, resume: bool = True, progress: bool = True) -> Path:
    """Run (or resume) a translation training; returns the checkpoint path."""
    from tqdm.auto import tqdm

    dom_a, dom_b, factor = _domains(cfg)
    noise_a = cfg.noise_a or dom_a.noise_rms
    noise_b = cfg.noise_b or dom_b.noise_rms
    device = _device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = _build(cfg, factor, noise_a, noise_b).to(device)
    opt_g = torch.optim.Adam(
        [p for g in model.generators() for p in g.parameters()], lr=cfg.lr, betas=(0.5, 0.999)
    )
    opt_d = torch.optim.Adam(
        [p for d in model.discriminators() for p in d.parameters()], lr=cfg.disc_lr, betas=(0.5, 0.999)
    )
    ckpt = out / "checkpoint.pt"
    step, elapsed = 0, 0.0
    if resume and ckpt.exists():
        step, extra = load_checkpoint(ckpt, {"model": model}, {"g": opt_g, "d": opt_d}, map_location=device)
        elapsed = float(extra.get("elapsed", 0.0))
        log.info("resumed %s at step %d", ckpt, step)
    kernel = (
        physical_operator(cfg.psf_a, cfg.psf_b, dom_a.pixel_scale, factor).to(device)
        if cfg.psf_a and cfg.psf_b and cfg.psf_weight > 0
        else None
    )
    train_a, val_a = dom_a.data[: -cfg.val_stamps], dom_a.data[-cfg.val_stamps :]
    train_b, val_b = dom_b.data[: -cfg.val_stamps], dom_b.data[-cfg.val_stamps :]
    logfile = out / "log.csv"
    header = not logfile.exists() or step == 0
    if not header:
        _prepare_log(logfile, step, _LOG_KEYS)  # rows after the checkpoint's step are run again
    t0 = time.perf_counter() - elapsed
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc=f"train {cfg.name}")

    def _done() -> bool:
        return step >= cfg.steps or (cfg.time_budget > 0 and time.perf_counter() - t0 >= cfg.time_budget)

    while not _done():
        progress_frac = max(
            step / cfg.steps, (time.perf_counter() - t0) / cfg.time_budget if cfg.time_budget else 0
        )
        scale = min(1.0, 2.0 * (1.0 - progress_frac))
        for o, base in ((opt_g, cfg.lr), (opt_d, cfg.disc_lr)):
            for group in o.param_groups:
                group["lr"] = base * scale
        rng = np.random.default_rng((cfg.seed, step))  # a resumed run draws the batches it would have
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        a = _batch(train_a, cfg.batch, rng, device)
        b = _batch(train_b, cfg.batch, rng, device)
        loss_g, terms, (fake_a, fake_b) = _generator_losses(model, a, b, cfg, kernel, factor)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        loss_d = discriminator_loss(
            model.judge("b", b), model.judge("b", fake_b), cfg.adv_loss
        ) + discriminator_loss(model.judge("a", a), model.judge("a", fake_a), cfg.adv_loss)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        step += 1
        bar.update(1)
        row = None
        if step % cfg.log_every == 0 or _done():
            row = {
                "step": step,
                "lr": cfg.lr * scale,
                "loss_g": float(loss_g),
                "loss_d": float(loss_d),
                **terms,
                "seconds": time.perf_counter() - t0,
            }
        if step % cfg.val_every == 0 or _done():
            row = row or {"step": step}
            row["val_cycle"] = validate_cycle(model, val_a, val_b, device)
        if row is not None:
            _append_csv(logfile, row, header, _LOG_KEYS)
            header = False
        if step % cfg.checkpoint_every == 0 or _done():
            save_checkpoint(
                ckpt,
                step,
                {"model": model},
                {"g": opt_g, "d": opt_d},
                extra={"elapsed": time.perf_counter() - t0, "noise_a": noise_a, "noise_b": noise_b},
            )
    bar.close()
    return ckpt


@torch.no_grad()
def validate_cycle(
    model: CycleTranslator, val_a: np.ndarray, val_b: np.ndarray, device: torch.device
) -> float:
    """Mean cycle L1 (noise units) on validation stamps, on the noise-free branch (``z = 0``)."""
    a = torch.as_tensor(val_a, device=device)[:, None]
    b = torch.as_tensor(val_b, device=device)[:, None]
    fb = model.g_ab(a, torch.zeros_like(a))
    fa = model.g_ba(b, torch.zeros_like(b))
    rec_a, rec_b = model.g_ba(fb, torch.zeros_like(fb)), model.g_ab(fa, torch.zeros_like(fa))
    return float(
        (rec_a - a).abs().mean() / model.g_ab.noise_in + (rec_b - b).abs().mean() / model.g_ab.noise_out
    )


def export_translation(cfg: TranslateConfig, directory: str | os.PathLike, extra: dict | None = None) -> str:
    """Write the two generators of the latest checkpoint as ``model.safetensors`` + model card."""
    dom_a, dom_b, factor = _domains(cfg)
    state = torch.load(Path(cfg.out_dir) / "checkpoint.pt", map_location="cpu", weights_only=True)
    noise_a, noise_b = state["extra"]["noise_a"], state["extra"]["noise_b"]
    model = _build(cfg, factor, noise_a, noise_b, discriminators=False)
    model.load_state_dict({k: v for k, v in state["modules"]["model"].items() if k.startswith("g_")})
    arch = {k: v for k, v in _architecture(cfg).items() if k in ("channels", "blocks")}

    def _dom(folder: StampFolder, noise: float, psf: dict, n_val: int) -> dict:
        return {
            "folder": str(folder.folder),
            "stamps": len(folder) - n_val,
            "pixel_scale": round(folder.pixel_scale, 6),
            "stamp_shape": list(folder.data.shape[1:]),
            "noise_rms": noise,
            "psf": psf or None,
        }

    card = {
        "name": cfg.name,
        "kind": "translation",
        "factor": factor,
        "architecture": arch,
        "domains": {
            "a": _dom(dom_a, noise_a, cfg.psf_a, cfg.val_stamps),
            "b": _dom(dom_b, noise_b, cfg.psf_b, cfg.val_stamps),
        },
        "training": {
            "steps": int(state["step"]),
            "seconds": round(float(state["extra"]["elapsed"]), 1),
            "batch": cfg.batch,
            "lr": cfg.lr,
            "adv_loss": cfg.adv_loss,
            "weights": {
                "adversarial": cfg.adv_weight,
                "cycle": cfg.cycle_weight,
                "flux": cfg.flux_weight,
                "psf": cfg.psf_weight if cfg.psf_a and cfg.psf_b else 0.0,
                "identity": cfg.identity_weight,
            },
            "simulate": cfg.simulate or None,
            "seed": cfg.seed,
        },
        **cfg.card,
        **(extra or {}),
    }
    return save_module(model, directory, card)
