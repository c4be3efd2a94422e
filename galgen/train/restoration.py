"""Training the restoration GAN: one readable loop, resumable, CSV-logged, DDP-ready.

Loss (all per batch, stretched space unless noted):

* content: Charbonnier ``sqrt((y - t)^2 + eps^2)`` against the stretched target;
* linear flux (``linear_weight``): mean squared error of the output in flux units,
  relative to each target's peak (the PSNR's own measure). The stretched-space
  Charbonnier alone learns a per-pixel median of compressed values, which blurs the
  cores of bright galaxies; a squared error in flux learns the posterior mean, whose
  flux-weighted moments (and so sizes) are unbiased;
* data consistency: reduced chi^2 of ``A(x)`` (re-convolved, binned output in
  noise units) against the observation (see :mod:`galgen.restoration.physics`);
* curve of growth (``cog_weight``): mean absolute difference of the output's and the
  target's enclosed flux in circular apertures of 1-30 target pixels around the
  target's centroid, relative to the target's flux in the largest: the quantity the
  half-light radius and aperture flux are measured from (use whole stamps, ``patch``
  = the observation's size, so that apertures are not cut by the crop);
* adversarial (after ``adv_start`` steps): relativistic-average GAN loss of a
  conditional PatchGAN with spectral norm fed ``[bicubic(observation), image]``.

Multi-process: run under ``torchrun --nproc_per_node N``; gloo on CPU, NCCL on GPU.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from galgen.errors import GalgenValueError
from galgen.metrics.image import psnr
from galgen.models.checkpoint import load_checkpoint, save_checkpoint
from galgen.models.gan.objectives import discriminator_loss, generator_loss
from galgen.models.serialization import save_module
from galgen.restoration.inputs import condition_vector, unstretch_output
from galgen.restoration.networks import RestorerConfig, build_generator, conditional_discriminator
from galgen.restoration.physics import (
    data_consistency_kernel_fwhm,
    forward_operator,
    moffat_kernels,
    reduced_chi2,
)
from galgen.simulate.degrade import HELD_OUT_PSF_VARIANTS, Regime
from galgen.train.data import PairBank, ShardedBank, stretch_pair_batch

__all__ = ["TrainConfig", "load_config", "train", "export", "simulate_shards", "curve_of_growth_loss",
           "load_widened", "load_matching", "pixel_unit_regime"]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Everything a training run needs; read from TOML (see ``configs/default_x2.toml``)."""

    kind: str = "restoration"  # what galgen train dispatches on (the default when a config omits it)
    name: str = "default_x2"
    out_dir: str = "runs/default_x2"
    seed: int = 0
    train_pairs: int = 4000
    val_pairs: int = 48
    val_seed: int = 9_000_000
    regime: dict = field(default_factory=dict)
    architecture: dict = field(default_factory=dict)
    steps: int = 20_000
    batch: int = 32
    patch: int = 48
    lr: float = 2e-4
    lr_min: float = 2e-5
    charbonnier_eps: float = 1e-3
    linear_weight: float = 0.0
    cog_weight: float = 0.0
    dc_weight: float = 0.02
    dc_kernel: int = 21
    adv_weight: float = 0.0
    adv_start: int = 0
    adv_loss: str = "relativistic"
    disc_lr: float = 1e-4
    ema: float = 0.0  # decay of an exponential moving average of the generator's weights (0: none)
    time_budget: float = 0.0  # seconds; > 0: the cosine schedule runs over wall-clock time, stop at it
    sim_workers: int = 1  # processes simulating the training pairs (0: one per CPU)
    # a rolling bank of shards instead of train_pairs fixed pairs (shard_size > 0; see ShardedBank)
    shard_size: int = 0
    shards_start: int = 4
    shard_every: int = 200
    keep_shards: int = 16
    max_shards: int = 0
    init_from: str = ""  # checkpoint whose generator (its weight average if kept) starts a fresh run
    checkpoint_every: int = 250
    val_every: int = 1000
    log_every: int = 50
    device: str = "auto"
    amp: bool = True
    threads: int = 0  # torch threads; set by ``galgen train`` (the library leaves the process's setting)
    card: dict = field(default_factory=dict)  # free text for the model card (intended use, ...)

    def specs(self) -> tuple[Regime, RestorerConfig]:
        """The simulator regime and the generator architecture this config describes."""
        regime = Regime(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.regime.items()})
        held_out = sorted(set(HELD_OUT_PSF_VARIANTS) & {regime.psf_variant, *regime.psf_variants})
        if regime.psf_kind == "zoo" and held_out:
            msg = (f"the training regime draws PSF aberration variant {held_out[0]}, which the benchmark "
                   f"sets keep held out; use psf_variants without {list(HELD_OUT_PSF_VARIANTS)}")
            raise GalgenValueError(msg)
        return regime, RestorerConfig(**{**self.architecture, "scale": regime.factor})

    def training_pairs(self, progress: bool = True) -> PairBank | ShardedBank:
        """The training pairs, read from (or simulated into) their cache in ``out_dir``: a fixed
        :class:`PairBank`, or a :class:`ShardedBank` when ``shard_size > 0``."""
        if self.shard_size > 0:
            return ShardedBank(Path(self.out_dir) / "shards", self.specs()[0], self.seed, self.shard_size,
                               start=self.shards_start, every=self.shard_every, keep=self.keep_shards,
                               total=self.max_shards)
        cache = Path(self.out_dir) / f"pairs_{self.seed}_{self.train_pairs}.npz"
        return PairBank(self.train_pairs, self.seed, self.specs()[0], cache=cache, progress=progress,
                        workers=self.sim_workers)


def load_config(path: str | os.PathLike, **overrides) -> TrainConfig:
    """Read a TOML config; keyword ``overrides`` win (``None`` values are ignored)."""
    return read_toml_config(path, TrainConfig, overrides)


def read_toml_config(path: str | os.PathLike, cls: type, overrides: dict):  # noqa: ANN201 - an instance of cls
    """The dataclass ``cls`` from a TOML file; unknown keys are a typed error naming the file,
    ``overrides`` win (``None`` values are ignored). Shared by every training loop's config."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        from galgen.errors import GalgenValueError

        msg = f"{path}: unknown keys {sorted(unknown)}; known keys are {sorted(known)}"
        raise GalgenValueError(msg)
    data.update({k: v for k, v in overrides.items() if v is not None})
    for f in fields(cls):  # the types the defaults have: a TOML slip is a typed error, not a traceback
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if f.name not in data or default is None or default is MISSING:
            continue
        value, want = data[f.name], type(default)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) if want is float
              else isinstance(value, int) and not isinstance(value, bool) if want is int
              else isinstance(value, want))
        if not ok:
            from galgen.errors import GalgenValueError

            msg = (f"{path}: {f.name} = {value!r} should be {_TOML_TYPE_NAMES.get(want, want.__name__)} "
                   f"(default {default!r})")
            raise GalgenValueError(msg)
    return cls(**data)


_TOML_TYPE_NAMES = {int: "a whole number", float: "a number", str: "a quoted string", bool: "true or false",
                    dict: "a table ([section])", list: "an array"}


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _losses(gen, batch, cfg: TrainConfig, arch: RestorerConfig, regime: Regime, kernels_fwhm,  # noqa: ANN001
            device: torch.device):
    s = arch.scale
    x, t = stretch_pair_batch(batch, s, arch.softening, arch.deconvolved_input)
    x, t = x.to(device), t.to(device)
    fwhm = batch["psf_fwhm"].to(device)
    y = gen(x, condition_vector(fwhm, regime.out_pixel_scale))
    content = torch.sqrt((y - t) ** 2 + cfg.charbonnier_eps**2).mean()
    flux = unstretch_output(y.float(), 1.0, arch.softening, s)  # flux per target pixel, noise units
    obs = batch["observation"].to(device) / batch["noise_rms"].to(device)[:, None, None, None]
    pred = forward_operator(flux, kernels_fwhm(fwhm), s)
    chi2 = reduced_chi2(pred, obs, 1.0, crop=dc_crop(cfg.dc_kernel, s)).mean()
    target = batch["target"].to(device) / batch["noise_rms"].to(device)[:, None, None, None]
    peak = target.amax(dim=(1, 2, 3)).clamp(min=1.0)
    linear = (((flux - target) ** 2).mean(dim=(1, 2, 3)) / peak**2).mean()
    cog = curve_of_growth_loss(flux, target) if cfg.cog_weight else torch.zeros((), device=device)
    return y, x, t, content, chi2, linear, cog


def load_widened(module: torch.nn.Module, state: dict) -> list[str]:
    """Load ``state`` into ``module`` where a weight of ``module`` may have *more* input channels
    (or condition features) than the stored one: the stored weights fill the first ones and the
    new ones start at zero, so the widened network computes exactly what the stored one did
    (e.g. a model given a new input channel, fine-tuned from one without it). Returns the names
    of the widened weights."""
    own = module.state_dict()
    widened = []
    for name, value in state.items():
        target = own.get(name)
        if target is not None and target.shape != value.shape:
            if (target.dim() != value.dim() or target.shape[0] != value.shape[0]
                    or any(a < b for a, b in zip(target.shape, value.shape, strict=True))):
                msg = f"{name}: stored shape {tuple(value.shape)} does not fit {tuple(target.shape)}"
                raise ValueError(msg)
            grown = torch.zeros_like(target)
            grown[tuple(slice(0, n) for n in value.shape)] = value
            state = {**state, name: grown}
            widened.append(name)
    module.load_state_dict(state, strict=True)
    return widened


def load_matching(module: torch.nn.Module, state: dict) -> list[str]:
    """Initialise ``module`` from the weights of a *different* architecture (e.g. an x4 network from
    an x2 one): every weight of the same name and shape is copied; the first convolution takes
    the observation channel's filters (input channel 0) and starts the others at zero; the rest
    keeps its fresh initialisation. Returns the names left fresh."""
    own = module.state_dict()
    fresh = []
    with torch.no_grad():
        for name, target in own.items():
            value = state.get(name)
            if value is not None and value.shape == target.shape:
                target.copy_(value)
            elif (value is not None and name.startswith("head.") and target.dim() == 4
                  and target.shape[0] == value.shape[0] and target.shape[2:] == value.shape[2:]):
                target.zero_()
                target[:, :1] = value[:, :1]
            else:
                fresh.append(name)
    module.load_state_dict(own)
    return fresh


def dc_crop(kernel: int, scale: int) -> int:
    """Observed pixels dropped at each edge of the chi^2: where the zero-padded convolution with a
    ``kernel``-sided kernel (target pixels) reaches past the stamp."""
    return kernel // (2 * scale) + 1


COG_RADII = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 15.0, 20.0, 25.0, 30.0)  # target pixels


def curve_of_growth_loss(image: torch.Tensor, target: torch.Tensor,
                         radii: tuple[float, ...] = COG_RADII) -> torch.Tensor:
    """Mean ``|C_image(r) - C_target(r)| / C_target(r_max)`` over apertures and images.

    Parameters
    ----------
    image, target : torch.Tensor
        ``(B, 1, H, W)`` output and truth, same (linear flux) units.
    radii : tuple of float
        Aperture radii in pixels, increasing; the last defines the total flux.

    Returns
    -------
    torch.Tensor
        Scalar. ``C(r)`` is the flux in a circle of radius ``r`` (edge pixels weighted by
        ``clip(r + 1/2 - d, 0, 1)``) centred on the target's flux-weighted centroid; the
        target's total is floored at 1 (one noise sigma in the noise units training uses).
    """
    h, w = target.shape[-2:]
    yy, xx = torch.meshgrid(torch.arange(h, device=target.device, dtype=torch.float32),
                            torch.arange(w, device=target.device, dtype=torch.float32), indexing="ij")
    weight = target[:, 0].float().clamp(min=0)                                  # (B, H, W)
    total = weight.sum(dim=(1, 2)).clamp(min=1e-6)
    cx = (weight * xx).sum(dim=(1, 2)) / total
    cy = (weight * yy).sum(dim=(1, 2)) / total
    dist = torch.sqrt((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2)  # (B, H, W)
    r = torch.tensor(radii, device=target.device)[:, None, None, None]
    apertures = (r + 0.5 - dist[None]).clamp(0.0, 1.0)                            # (K, B, H, W)
    c_image = (apertures * image[None, :, 0].float()).sum(dim=(2, 3))             # (K, B)
    c_target = (apertures * target[None, :, 0].float()).sum(dim=(2, 3))
    return ((c_image - c_target).abs() / c_target[-1].clamp(min=1.0)).mean()


def train(cfg: TrainConfig, *, resume: bool = True, progress: bool = True) -> Path:
    """Run (or resume) training; returns the checkpoint path. Rank 0 logs and checkpoints."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = _device(cfg.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    else:
        rank = 0
    regime, arch = cfg.specs()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation; the caller's RNG state is kept
        torch.manual_seed(cfg.seed)
        gen = build_generator(arch).to(device)
        disc = conditional_discriminator().to(device) if cfg.adv_weight > 0 else None
    if device.type == "cuda":
        gen = gen.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.99)) if disc else None
    ckpt = out / "checkpoint.pt"
    start = 0
    spent = 0.0  # wall-clock seconds a resumed run already spent: its time budget's clock goes on
    best = -math.inf  # the best validation PSNR so far: its weights are kept in best.pt
    ema = None
    if cfg.ema > 0:  # exported instead of the raw weights: averages out the last steps' jitter
        ema = build_generator(arch).to(device).requires_grad_(False)
        ema.load_state_dict(gen.state_dict())
    modules = {"generator": gen, **({"discriminator": disc} if disc else {}),
               **({"ema": ema} if ema is not None else {})}
    optims = {"opt": opt, **({"opt_d": opt_d} if opt_d else {})}
    if resume and ckpt.exists():
        # a checkpoint without a weight average starts one at the resumed weights
        start, extra = load_checkpoint(ckpt, modules, optims, map_location=device,
                                       fallbacks={"ema": "generator"})
        spent = float(extra.get("seconds", 0.0))
        best = float(extra.get("best_val_psnr", best))
        log.info("resumed %s at step %d", ckpt, start)
    elif cfg.init_from:  # fine-tune: start from another run's generator, fresh optimiser, step 0
        state = torch.load(cfg.init_from, map_location=device, weights_only=True)["modules"]
        source = state["ema" if "ema" in state else "generator"]
        try:
            load_widened(gen, source)
        except (ValueError, RuntimeError):  # another architecture (e.g. x2 -> x4): what fits
            fresh = load_matching(gen, source)
            log.info("initialised what fits from %s; fresh: %s", cfg.init_from, ", ".join(fresh))
        if ema is not None:
            ema.load_state_dict(gen.state_dict())
        if disc is not None and "discriminator" in state:
            disc.load_state_dict(state["discriminator"])
        log.info("initialised from %s", cfg.init_from)
    model = torch.nn.parallel.DistributedDataParallel(gen) if distributed else gen
    if disc is not None and distributed:
        disc = torch.nn.parallel.DistributedDataParallel(disc)
    if distributed and rank != 0:
        dist.barrier()  # rank 0 simulates and caches the pairs first; the others then load them
    bank = cfg.training_pairs(progress=progress and rank == 0)
    if distributed and rank == 0:
        dist.barrier()
    val = PairBank(cfg.val_pairs, cfg.val_seed, regime, cache=out / f"val_{cfg.val_seed}_{cfg.val_pairs}.npz",
                   progress=False) if rank == 0 else None
    def kernels(fwhm: torch.Tensor) -> torch.Tensor:
        k_fwhm = data_consistency_kernel_fwhm(fwhm, regime.target_psf_fwhm) / regime.out_pixel_scale
        return moffat_kernels(k_fwhm.float(), cfg.dc_kernel, regime.moffat_beta)

    log_path = out / "log.csv"
    new_log = not log_path.exists() or start == 0
    if not new_log and rank == 0:
        _prepare_log(log_path, start)
    amp = cfg.amp and device.type == "cuda"
    t0, start = resumed_clock(spent, start, cfg.steps, cfg.time_budget, ckpt)
    for step in range(start, cfg.steps):
        # schedule progress: by steps, or by wall-clock time under a time budget (a fixed device
        # lease); then the last step is the first one past the budget (all ranks agree on it)
        progress_frac = step / cfg.steps
        if cfg.time_budget > 0:
            elapsed = torch.tensor(time.perf_counter() - t0, device=device if distributed else "cpu")
            if distributed:
                dist.broadcast(elapsed, 0)
            progress_frac = min(1.0, float(elapsed) / cfg.time_budget)
        last = step + 1 == cfg.steps or progress_frac >= 1.0
        lr = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * progress_frac))
        for g in opt.param_groups:
            g["lr"] = lr
        pairs = bank.at(step) if isinstance(bank, ShardedBank) else bank
        batch = pairs.batch(np.random.default_rng([cfg.seed, step, rank]), cfg.batch, cfg.patch)
        model.train()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            y, x, t, content, chi2, linear, cog = _losses(model, batch, cfg, arch, regime, kernels, device)
        loss = content + cfg.dc_weight * chi2 + cfg.linear_weight * linear + cfg.cog_weight * cog
        adv = d_loss = torch.zeros((), device=device)
        use_adv = disc is not None and step >= cfg.adv_start
        if use_adv:
            up = F.interpolate(x[:, :1], scale_factor=arch.scale, mode="bicubic", align_corners=False)
            real_out = disc(torch.cat([up, t], 1))
            fake_out = disc(torch.cat([up, y.detach()], 1))
            d_loss = discriminator_loss(real_out, fake_out, cfg.adv_loss)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            adv = generator_loss(disc(torch.cat([up, y], 1)), cfg.adv_loss,
                                 disc(torch.cat([up, t], 1)).detach())
            loss = loss + cfg.adv_weight * adv
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for p_avg, p in zip(ema.parameters(), gen.parameters(), strict=True):
                    p_avg.lerp_(p, 1.0 - cfg.ema)
        if rank != 0:
            if last:
                break
            continue
        row = {"step": step + 1, "lr": lr, "loss": loss.item(), "content": content.item(),
               "linear": linear.item(), "cog": cog.item(), "chi2": chi2.item(), "adv": adv.item(),
               "d_loss": d_loss.item(),
               "seconds": time.perf_counter() - t0}
        if (step + 1) % cfg.val_every == 0 or last:
            row.update(validate(ema if ema is not None else gen, val, arch, regime, device, cfg.dc_kernel))
            log.info("step %d: %s", step + 1, {k: round(v, 4) for k, v in row.items()})
            if row["val_psnr"] > best:  # runs have peaked mid-way: keep that generator for --export-best
                best = row["val_psnr"]
                kept = {"ema": ema} if ema is not None else {"generator": gen}
                save_checkpoint(out / BEST_CHECKPOINT, step + 1, kept, {}, {"val_psnr": best})
        if (step + 1) % cfg.log_every == 0 or "val_psnr" in row:
            _append_csv(log_path, row, new_log)
            new_log = False
            if progress:
                print(f"step {step + 1}/{cfg.steps} loss {row['loss']:.4f} content {row['content']:.4f} "
                      f"chi2 {row['chi2']:.3f}" + (f" val_psnr {row['val_psnr']:.2f}" if "val_psnr" in row
                                                    else ""), flush=True)
        if (step + 1) % cfg.checkpoint_every == 0 or last:
            save_checkpoint(ckpt, step + 1, modules, optims, {"config": asdict(cfg), "best_val_psnr": best,
                                                              "seconds": time.perf_counter() - t0})
        if last:
            break
    if distributed:
        dist.destroy_process_group()
    return ckpt


def resumed_clock(spent: float, start: int, steps: int, time_budget: float, ckpt: Path) -> tuple[float, int]:
    """``(t0, start)`` for a run resumed at step ``start`` that had spent ``spent`` wall-clock
    seconds: its clock goes on (``time.perf_counter() - t0`` counts them), and a run that has spent
    its ``time_budget`` trains nothing (``start = steps``; a larger budget continues it)."""
    if time_budget > 0 and spent >= time_budget:
        log.info("%s: the run has spent its time budget (%.0f s); nothing to train", ckpt, time_budget)
        start = steps
    return time.perf_counter() - spent, start


#: The generator (weight average) of the step with the best validation PSNR, beside checkpoint.pt.
BEST_CHECKPOINT = "best.pt"

_LOG_KEYS = ["step", "lr", "loss", "content", "linear", "cog", "chi2", "adv", "d_loss", "seconds", "val_psnr",
             "val_chi2"]


def _prepare_log(path: Path, step: int, keys: list[str] = _LOG_KEYS) -> None:
    """Before resuming at ``step``: drop rows logged after it (those steps run again) and give a
    log from an older version the current columns ``keys`` (missing values left empty)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    keep = [r for r in rows if r["step"] and int(float(r["step"])) <= step]
    if len(keep) < len(rows) or columns != keys:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore", restval="")
            w.writeheader()
            w.writerows(keep)


def _append_csv(path: Path, row: dict, header: bool, keys: list[str] = _LOG_KEYS) -> None:
    """One row of a training log with the columns ``keys`` (a new file when ``header``)."""
    with open(path, "w" if header else "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        if header:
            w.writeheader()
        w.writerow(row)


@torch.no_grad()
def validate(gen, bank: PairBank, arch: RestorerConfig, regime: Regime, device: torch.device,  # noqa: ANN001
             dc_kernel: int = 21) -> dict:
    """Median PSNR (flux units, data range of each truth) and median chi^2 on full validation stamps
    (``dc_kernel``: side of the data-consistency kernel, target pixels, as in training)."""
    gen.eval()
    batch = {"observation": torch.from_numpy(bank.observations)[:, None],
             "target": torch.from_numpy(bank.targets)[:, None],
             "noise_rms": torch.from_numpy(bank.noise_rms), "psf_fwhm": torch.from_numpy(bank.psf_fwhm)}
    if bank.deconvolved is not None:
        batch["deconvolved"] = torch.from_numpy(bank.deconvolved)[:, None]
    x, _ = stretch_pair_batch(batch, arch.scale, arch.softening, arch.deconvolved_input)
    cond = condition_vector(batch["psf_fwhm"], regime.out_pixel_scale)
    y = torch.cat([gen(xc.to(device), cc.to(device)).float().cpu() for xc, cc in
                   zip(x.split(16), cond.split(16), strict=True)])
    sigma = batch["noise_rms"][:, None, None, None]
    flux = unstretch_output(y, sigma, arch.softening, arch.scale)
    psnrs = [psnr(f[0].numpy(), t[0].numpy()) for f, t in zip(flux, batch["target"], strict=True)]
    k_fwhm = data_consistency_kernel_fwhm(batch["psf_fwhm"], regime.target_psf_fwhm) / regime.out_pixel_scale
    pred = forward_operator(flux / sigma, moffat_kernels(k_fwhm, dc_kernel, regime.moffat_beta), arch.scale)
    chi2 = reduced_chi2(pred, batch["observation"] / sigma, 1.0, crop=dc_crop(dc_kernel, arch.scale))
    return {"val_psnr": float(np.median(psnrs)), "val_chi2": float(chi2.median())}


def export(cfg: TrainConfig, directory: str | os.PathLike, extra: dict | None = None, *,
           best: bool = False) -> str:
    """Write the generator of the latest checkpoint (``best``: of the step with the best
    validation PSNR, ``out_dir/best.pt``) as ``model.safetensors`` + model card."""
    regime, arch = cfg.specs()
    gen = build_generator(arch)
    step, kept = _load_gen(cfg, gen, BEST_CHECKPOINT if best else "checkpoint.pt")
    card = {
        "name": cfg.name,
        "architecture": arch.to_dict(),
        "regime": regime.to_dict(),
        "training": {
            "steps": step, "batch": cfg.batch, "patch": cfg.patch, "lr": [cfg.lr, cfg.lr_min],
            "loss": {"charbonnier": 1.0, "linear_flux_mse": cfg.linear_weight,
                     "curve_of_growth": cfg.cog_weight,
                     "data_consistency": cfg.dc_weight,
                     "adversarial": cfg.adv_weight, "adversarial_loss": cfg.adv_loss,
                     "adversarial_start": cfg.adv_start},
            "weight_average": {"ema_decay": cfg.ema} if cfg.ema else None,
            # a run under a time budget annealed its learning rate over wall-clock seconds
            "schedule": ({"cosine_over_seconds": cfg.time_budget} if cfg.time_budget > 0
                         else "cosine_over_steps"),
            "data": _data_record(cfg, step),
            "initialised_from": cfg.init_from or None,
            **({"exported": f"the best training-validation PSNR ({kept['val_psnr']:.3f} dB) at step {step}"}
               if best else {}),
        },
        **cfg.card,
        **(extra or {}),
    }
    if regime.any_pixel_scale:
        card.update(pixel_unit_regime(regime))
    return save_module(gen, directory, card)


def pixel_unit_regime(regime: Regime) -> dict:
    """For a model that works in pixel units: its regime in pixels and what that means for each
    survey preset of :data:`galgen.translate.SURVEYS` (the model card's ``regime_in_pixels`` and
    ``survey_examples``)."""
    from galgen.translate.presets import SURVEYS

    lo, hi = (v / regime.in_pixel_scale for v in regime.psf_fwhm_range)
    target_pix = regime.target_psf_fwhm / regime.out_pixel_scale
    examples = {}
    for name, survey in SURVEYS.items():
        ps = survey.pixel_scale
        examples[name] = {
            "pixel_scale_arcsec": ps, "psf_fwhm_range_arcsec": [round(lo * ps, 3), round(hi * ps, 3)],
            "typical_psf_fwhm_arcsec": survey.psf_fwhm,
            "typical_psf_in_regime": bool(lo <= survey.psf_fwhm / ps <= hi),
            "output_pixel_scale_arcsec": round(ps / regime.factor, 4),
            "output_psf_fwhm_arcsec": round(target_pix * ps / regime.factor, 4)}
    return {"regime_in_pixels": {"psf_fwhm_range_pixels": [round(lo, 3), round(hi, 3)],
                                 "target_psf_fwhm_output_pixels": round(target_pix, 3),
                                 "galaxy_hlr_pixels": "about 0.75-7.5 observed pixels (simulator: 0.15-1.5 "
                                                      f"arcsec at {regime.in_pixel_scale} arcsec/pixel)"},
            "survey_examples": examples}


def _data_record(cfg: TrainConfig, step: int) -> dict:
    """What the generator was trained on (for the model card)."""
    regime = cfg.specs()[0]
    record = {"generator": "galgen.simulate.PairDataset", "regime": regime.to_dict(), "seed": cfg.seed,
              "validation_seed": cfg.val_seed}
    if cfg.shard_size > 0:
        bank = cfg.training_pairs(progress=False)
        seen = bank.shards_at(max(step - 1, 0))[1]
        record.update(shard_size=cfg.shard_size, shards_seen=seen, distinct_pairs=seen * cfg.shard_size,
                      pairs_in_memory=cfg.keep_shards * cfg.shard_size, shard_every_steps=cfg.shard_every,
                      shard_seeds=f"{cfg.seed}..{cfg.seed + seen - 1}")
    else:
        record["pairs"] = cfg.train_pairs
    return record


def simulate_shards(cfg: TrainConfig, count: int, *, progress: bool = True) -> int:
    """Simulate the first ``count`` shards of a sharded run (skipping cached ones), in order:
    what a background process runs while ``train`` consumes them. Returns the number made."""
    from galgen.errors import GalgenValueError

    bank = cfg.training_pairs(progress=False)
    if not isinstance(bank, ShardedBank):
        msg = f"{cfg.name}: shard_size is 0 in the config; there are no shards to simulate"
        raise GalgenValueError(msg)
    made = 0
    for k in range(count):
        if not bank.shard_path(k).exists():
            bank.shard(k, progress=progress)
            made += 1
            log.info("shard %d simulated", k)
    return made


def _load_gen(cfg: TrainConfig, gen, name: str = "checkpoint.pt") -> tuple[int, dict]:  # noqa: ANN001
    """The generator of the checkpoint ``out_dir/name``: its weight average when the run kept one."""
    path = Path(cfg.out_dir) / name
    if not path.is_file():
        msg = f"{path}: no such checkpoint" + (" (runs keep one from their first validation on)"
                                              if name == BEST_CHECKPOINT else " (train first)")
        raise GalgenValueError(msg)
    state = torch.load(path, map_location="cpu", weights_only=True)
    gen.load_state_dict(state["modules"]["ema" if "ema" in state["modules"] else "generator"])
    return int(state["step"]), state.get("extra", {})
