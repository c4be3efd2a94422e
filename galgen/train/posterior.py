"""Training a restorer's posterior sampler by conditional flow matching (readable, resumable).

The restorer is frozen. Each training pair is brought once into the restorer's stretched
space: the stretched observation, the stretched classical deconvolution (output grid), the
restorer's output ``y`` and the stretched truth (:class:`ResidualBank`, cached beside the
checkpoint). A step takes aligned random crops of all four (with the same flips and
rotations), folds the deconvolution to the input grid as the restorer does, and minimises
:func:`galgen.restoration.posterior.flow_matching_residual_loss` on ``truth - y``.

The pairs should be ones the restorer never trained on, so that its residuals are those a user
meets: ``configs/posterior_survey_x2.toml`` uses the survey_x2 stage-two shards (seeds
31,000,000 + k), which the shipped stage-one weights never saw.

Validation (every ``val_every`` steps, on ``val_pairs`` pairs of ``val_seed``): the
flow-matching loss at fixed noise and times, and the coverage of the restorer's error by the
draws' spread (``val_draws`` draws per stamp, galaxy pixels within 2" of the centre).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from galgen.io.atomic import atomic_path
from galgen.models.checkpoint import load_checkpoint, save_checkpoint
from galgen.models.serialization import save_module
from galgen.restoration.inputs import condition_vector, space_to_depth, stretch_observation, stretch_target
from galgen.restoration.posterior import (
    PosteriorConfig,
    PosteriorSampler,
    PosteriorVelocityNet,
    draw_spread,
    flow_matching_residual_loss,
)
from galgen.train.data import PairBank
from galgen.train.restoration import _append_csv, _device, _prepare_log, read_toml_config, resumed_clock

__all__ = [
    "PosteriorTrainConfig",
    "ResidualBank",
    "load_posterior_config",
    "train_posterior",
    "export_posterior",
]

log = logging.getLogger(__name__)

_LOG_KEYS = ["step", "lr", "loss", "seconds", "val_loss", "val_cov1", "val_cov2"]


@dataclass
class PosteriorTrainConfig:
    """A posterior-sampler training run; read from TOML (``kind = "posterior"``,
    see ``configs/posterior_survey_x2.toml``)."""

    kind: str = "posterior"
    name: str = "posterior"
    restorer: str = "survey_x2"  # shipped model name or model directory (frozen)
    restorer_config: str = "configs/survey_x2.toml"  # its training config: the simulator regime
    out_dir: str = "checkpoints/posterior"
    shard_dir: str = ""  # shards of PairDataset(shard_size, shard_seed + k); "" = out_dir/shards
    shard_seed: int = 31_000_000
    shard_size: int = 400
    shards: list = field(default_factory=lambda: [0, 4])  # first, stop
    val_seed: int = 9_100_000
    val_pairs: int = 48
    val_draws: int = 8
    seed: int = 0
    steps: int = 10_000
    batch: int = 16
    patch: int = 32  # input pixels
    lr: float = 1e-3
    lr_min: float = 2e-5
    ema: float = 0.999
    time_budget: float = 0.0  # seconds; > 0: cosine over wall-clock time, stop at it
    checkpoint_every: int = 250
    val_every: int = 1000
    log_every: int = 50
    device: str = "auto"
    threads: int = 0
    init_from: str = ""  # a posterior checkpoint whose weight average starts a fresh run (fine-tuning)
    architecture: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)


def load_posterior_config(path: str | os.PathLike, **overrides) -> PosteriorTrainConfig:
    """Read a ``kind = "posterior"`` TOML config; keyword ``overrides`` win (``None`` ignored)."""
    return read_toml_config(path, PosteriorTrainConfig, overrides)


def _restorer(cfg: PosteriorTrainConfig, device: torch.device):  # noqa: ANN202
    from galgen.restoration.registry import find_model, load_model

    return load_model(str(find_model(cfg.restorer)), device=str(device), amp=False)


def _regime(cfg: PosteriorTrainConfig):  # noqa: ANN202
    from galgen.train.restoration import load_config

    return load_config(cfg.restorer_config).specs()[0]


class ResidualBank:
    """Pairs in a restorer's stretched space, with the restorer's output (held in memory).

    Parameters
    ----------
    banks : list of PairBank
        Simulated pairs with the deconvolved channel.
    restorer : galgen.restoration.LearnedRestorer
        The frozen restorer.
    cache : path, optional
        ``.npz`` holding these arrays for this restorer (its sha256), read or written.

    Attributes
    ----------
    obs : numpy.ndarray
        ``(N, H, W)`` stretched observations.
    dec, out, truth : numpy.ndarray
        ``(N, sH, sW)`` stretched deconvolution, restorer output and truth.
    condition : numpy.ndarray
        ``(N, 1)`` the restorer's condition vector.
    """

    def __init__(
        self,
        banks: list[PairBank],
        restorer,
        cache: str | os.PathLike | None = None,  # noqa: ANN001
        progress: bool = True,
    ) -> None:
        n = sum(len(b) for b in banks)
        if cache is not None and Path(cache).exists():
            with np.load(cache) as f:
                if str(f["restorer"]) == restorer.sha256 and len(f["obs"]) == n:
                    self.obs, self.dec, self.out, self.truth, self.condition = (
                        f["obs"],
                        f["dec"],
                        f["out"],
                        f["truth"],
                        f["condition"],
                    )
                    self.scale = restorer.scale
                    return
        arch = restorer.config
        s, soft = arch.scale, arch.softening
        pixel_scale = float(restorer.regime.get("in_pixel_scale", 0.2))
        parts: dict[str, list] = {k: [] for k in ("obs", "dec", "out", "truth", "condition")}
        from tqdm.auto import tqdm

        for bank in tqdm(banks, desc="restore training pairs", disable=not progress):
            if bank.deconvolved is None and arch.deconvolved_input:
                msg = "these cached pairs lack the deconvolved channel: simulate them again"
                raise ValueError(msg)
            sigma = bank.noise_rms[:, None, None].astype(np.float64)
            obs = stretch_observation(bank.observations.astype(np.float64), sigma, soft)
            dec = (
                stretch_target(bank.deconvolved.astype(np.float64), sigma, soft, s)
                if bank.deconvolved is not None
                else None
            )
            cond = np.stack([condition_vector(float(f), pixel_scale / s) for f in bank.psf_fwhm])
            x = (
                obs[:, None]
                if dec is None
                else np.concatenate([obs[:, None], space_to_depth(dec, s)], axis=1)
            )
            y = np.concatenate(
                [restorer._forward_batch(x[k : k + 32], cond[k : k + 32]) for k in range(0, len(x), 32)]
            )
            parts["obs"].append(obs.astype(np.float32))
            parts["dec"].append((dec if dec is not None else y).astype(np.float32))
            parts["out"].append(y.astype(np.float32))
            parts["truth"].append(
                stretch_target(bank.targets.astype(np.float64), sigma, soft, s).astype(np.float32)
            )
            parts["condition"].append(cond.astype(np.float32))
        self.obs, self.dec, self.out, self.truth, self.condition = (
            np.concatenate(parts[k]) for k in ("obs", "dec", "out", "truth", "condition")
        )
        self.scale = s
        if cache is not None:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache, suffix=".npz") as tmp:
                np.savez(
                    tmp,
                    obs=self.obs,
                    dec=self.dec,
                    out=self.out,
                    truth=self.truth,
                    condition=self.condition,
                    restorer=restorer.sha256,
                )

    def __len__(self) -> int:
        return len(self.obs)

    def residual_rms(self) -> float:
        """Root-mean-square of ``truth - out`` over all pixels (stretched units)."""
        return float(np.sqrt(np.mean((self.truth.astype(np.float64) - self.out) ** 2)))

    def batch(
        self, rng: np.random.Generator, size: int, patch: int | None, deconvolved_input: bool = True
    ) -> dict[str, torch.Tensor]:
        """Aligned random crops (``patch`` input pixels; ``None``: whole stamps) with random flips
        and rotations: ``x`` ``(B, C, p, p)``, ``y``/``residual`` ``(B, 1, sp, sp)``, ``condition``.

        The deconvolution is turned on the output grid, then folded (a turned fold is not the
        fold of the turned image)."""
        s = self.scale
        idx = rng.integers(0, len(self), size)
        h = self.obs.shape[1]
        p = h if patch is None else patch
        obs = np.empty((size, p, p), np.float32)
        big = np.empty((3, size, s * p, s * p), np.float32)
        for k, i in enumerate(idx):
            y0, x0 = rng.integers(0, h - p + 1, 2) if p < h else (0, 0)
            win = (slice(s * y0, s * (y0 + p)), slice(s * x0, s * (x0 + p)))
            rot, flip = int(rng.integers(4)), bool(rng.integers(2))
            arrays = [
                self.obs[i, y0 : y0 + p, x0 : x0 + p],
                self.dec[i][win],
                self.out[i][win],
                self.truth[i][win],
            ]
            arrays = [np.rot90(a, rot) for a in arrays]
            if flip:
                arrays = [a[:, ::-1] for a in arrays]
            obs[k] = arrays[0]
            big[:, k] = arrays[1:]
        x = torch.from_numpy(obs)[:, None]
        if deconvolved_input:
            x = torch.cat([x, space_to_depth(torch.from_numpy(big[0]), s)], dim=1)
        y, truth = torch.from_numpy(big[1])[:, None], torch.from_numpy(big[2])[:, None]
        return {"x": x, "y": y, "residual": truth - y, "condition": torch.from_numpy(self.condition[idx])}


def _validate(
    net: PosteriorVelocityNet,
    val: ResidualBank,
    cfg: PosteriorTrainConfig,
    sigma: np.ndarray,
    softening: float,
    radius_pix: float,
    device: torch.device,
) -> dict:
    from galgen.evaluation.coverage import coverage, galaxy_pixels
    from galgen.restoration.inputs import unstretch_output

    net.eval()
    deconv = net.config.in_channels > 1
    b = val.batch(np.random.default_rng(12345), len(val), None, deconv)
    g = torch.Generator().manual_seed(54321)
    with torch.no_grad():
        losses = [
            flow_matching_residual_loss(
                net,
                b["residual"][k : k + 16].to(device),
                b["x"][k : k + 16].to(device),
                b["y"][k : k + 16].to(device),
                b["condition"][k : k + 16].to(device),
                generator=g,
            ).item()
            for k in range(0, len(val), 16)
        ]
    # coverage on the stamps as they are (the batch above turned them): index order kept
    idx = np.arange(min(len(val), 16))
    s = val.scale
    x = torch.from_numpy(val.obs[idx])[:, None]
    if deconv:
        x = torch.cat([x, space_to_depth(torch.from_numpy(val.dec[idx]), s)], dim=1)
    y = torch.from_numpy(val.out[idx])[:, None]
    sampler = PosteriorSampler(net, device)
    draws = sampler.sample(
        x, y, torch.from_numpy(val.condition[idx]), cfg.val_draws, generator=torch.Generator().manual_seed(7)
    ).numpy()[:, :, 0]  # (n, B, sH, sW)
    sig = sigma[idx][:, None, None]
    flux_draws = unstretch_output(draws.astype(np.float64), sig, softening, s)
    main = unstretch_output(val.out[idx].astype(np.float64), sig, softening, s)
    truth = unstretch_output(val.truth[idx].astype(np.float64), sig, softening, s)
    spread = draw_spread(flux_draws, main)
    mask = np.broadcast_to(galaxy_pixels(main.shape[1:], radius_pix), main.shape)
    covered = coverage(main, spread, truth, mask)
    net.train()
    return {"val_loss": float(np.mean(losses)), "val_cov1": covered[1.0], "val_cov2": covered[2.0]}


def _banks(cfg: PosteriorTrainConfig, regime) -> list[PairBank]:  # noqa: ANN001
    shard_dir = Path(cfg.shard_dir or Path(cfg.out_dir) / "shards")
    first, stop = (int(v) for v in cfg.shards)
    return [
        PairBank(
            cfg.shard_size, cfg.shard_seed + k, regime, cache=shard_dir / f"shard_{k:05d}.npz", progress=False
        )
        for k in range(first, stop)
    ]


def train_posterior(cfg: PosteriorTrainConfig, *, resume: bool = True, progress: bool = True) -> Path:
    """Run (or resume) training; returns the checkpoint path."""
    device = _device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    restorer = _restorer(cfg, device)
    regime = _regime(cfg)
    bank = ResidualBank(
        _banks(cfg, regime),
        restorer,
        out / f"residuals_{cfg.shard_seed}_{cfg.shards[0]}_{cfg.shards[1]}.npz",
        progress=progress,
    )
    val_pairs = PairBank(
        cfg.val_pairs,
        cfg.val_seed,
        regime,
        cache=out / f"val_{cfg.val_seed}_{cfg.val_pairs}.npz",
        progress=False,
    )
    val = ResidualBank(
        [val_pairs], restorer, out / f"val_residuals_{cfg.val_seed}_{cfg.val_pairs}.npz", progress=False
    )
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True) if resume and ckpt.exists() else None
    # a fine-tune starts from another run's weight average (and keeps its residual scale)
    init = (torch.load(cfg.init_from, map_location="cpu", weights_only=True)
            if saved is None and cfg.init_from else None)
    # the residual's scale is measured once, on the training pairs, and then fixed by the checkpoint
    fixed = saved if saved is not None else init
    scale = (
        fixed["extra"]["architecture"]["residual_scale"]
        if fixed is not None
        else round(bank.residual_rms(), 6)
    )
    arch = PosteriorConfig(
        **{
            **cfg.architecture,
            "scale": restorer.scale,
            "in_channels": restorer.config.in_channels,
            "residual_scale": scale,
        }
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = PosteriorVelocityNet(arch).to(device)
    if init is not None:
        net.load_state_dict(init["modules"]["ema"])
        log.info("initialised from %s", cfg.init_from)
    ema = PosteriorVelocityNet(arch).to(device).requires_grad_(False)
    ema.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    start, spent = 0, 0.0  # a resumed run's time budget goes on from the seconds it spent
    if saved is not None:
        start, done = load_checkpoint(ckpt, {"net": net, "ema": ema}, {"opt": opt}, map_location=device)
        spent = float(done.get("seconds", 0.0))
        log.info("resumed %s at step %d", ckpt, start)
    log_path = out / "log.csv"
    new_log = not log_path.exists() or start == 0
    if not new_log:
        _prepare_log(log_path, start, _LOG_KEYS)
    radius = 2.0 * regime.galaxy_scale / regime.out_pixel_scale
    sigma_val = val_pairs.noise_rms.astype(np.float64)
    extra = {"config": asdict(cfg), "architecture": arch.to_dict(), "restorer_sha256": restorer.sha256}
    t0, start = resumed_clock(spent, start, cfg.steps, cfg.time_budget, ckpt)
    g = torch.Generator().manual_seed(cfg.seed)
    for step in range(start, cfg.steps):
        frac = (
            step / cfg.steps
            if cfg.time_budget <= 0
            else min(1.0, (time.perf_counter() - t0) / cfg.time_budget)
        )
        last = step + 1 == cfg.steps or frac >= 1.0
        lr = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * frac))
        for group in opt.param_groups:
            group["lr"] = lr
        b = bank.batch(np.random.default_rng([cfg.seed, step]), cfg.batch, cfg.patch, arch.in_channels > 1)
        g.manual_seed(cfg.seed * 1_000_003 + step)  # the step's noise and times depend on the step only
        loss = flow_matching_residual_loss(
            net,
            b["residual"].to(device),
            b["x"].to(device),
            b["y"].to(device),
            b["condition"].to(device),
            generator=g,
        )
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for p_avg, p in zip(ema.parameters(), net.parameters(), strict=True):
                p_avg.lerp_(p, 1.0 - cfg.ema)
        row = {"step": step + 1, "lr": lr, "loss": loss.item(), "seconds": time.perf_counter() - t0}
        if (step + 1) % cfg.val_every == 0 or last:
            row.update(_validate(ema, val, cfg, sigma_val, restorer.config.softening, radius, device))
        if (step + 1) % cfg.log_every == 0 or "val_loss" in row:
            _append_csv(log_path, row, new_log, _LOG_KEYS)
            new_log = False
            if progress:
                print(
                    f"step {step + 1}/{cfg.steps} loss {row['loss']:.4f}"
                    + (
                        f" val_loss {row['val_loss']:.4f} "
                        f"coverage {row['val_cov1']:.1%}/{row['val_cov2']:.1%}"
                        if "val_loss" in row
                        else ""
                    ),
                    flush=True,
                )
        if (step + 1) % cfg.checkpoint_every == 0 or last:
            save_checkpoint(ckpt, step + 1, {"net": net, "ema": ema}, {"opt": opt},
                            {**extra, "seconds": time.perf_counter() - t0})
        if last:
            break
    return ckpt


def export_posterior(
    cfg: PosteriorTrainConfig, directory: str | os.PathLike | None = None, extra: dict | None = None
) -> str:
    """Write the weight average of the latest checkpoint as ``<restorer>/posterior`` (or
    ``directory``): ``model.safetensors`` + card. Returns the sha256."""
    from galgen.restoration.registry import find_model

    state = torch.load(Path(cfg.out_dir) / "checkpoint.pt", map_location="cpu", weights_only=True)
    arch = PosteriorConfig(**state["extra"]["architecture"])
    net = PosteriorVelocityNet(arch)
    net.load_state_dict(state["modules"]["ema"])
    target = Path(directory) if directory is not None else find_model(cfg.restorer) / "posterior"
    card = {
        "kind": "posterior",
        "name": cfg.name,
        "architecture": arch.to_dict(),
        "restorer_sha256": state["extra"]["restorer_sha256"],
        "training": {
            "steps": int(state["step"]),
            "batch": cfg.batch,
            "patch": cfg.patch,
            "lr": [cfg.lr, cfg.lr_min],
            "loss": "conditional flow matching on straight paths, residual to white noise",
            "weight_average": {"ema_decay": cfg.ema},
            "initialised_from": cfg.init_from or None,
            "schedule": {"cosine_over_seconds": cfg.time_budget}
            if cfg.time_budget > 0
            else "cosine_over_steps",
            "data": {
                "shards": f"PairDataset({cfg.shard_size}, seed={cfg.shard_seed} + k), k = "
                f"{cfg.shards[0]}..{cfg.shards[1] - 1}",
                "regime": cfg.restorer_config,
                "validation": f"{cfg.val_pairs} pairs, seed {cfg.val_seed}",
            },
        },
        **cfg.card,
        **(extra or {}),
    }
    return save_module(net, target, card)
