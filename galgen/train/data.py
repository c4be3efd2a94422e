"""Training data for restoration: cached simulated pairs, random aligned crops, augmentation."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from galgen.io.atomic import atomic_path
from galgen.restoration.inputs import network_input, stretch_target
from galgen.simulate.degrade import Regime
from galgen.simulate.pairs import PairDataset

__all__ = ["PairBank", "ShardedBank", "stretch_pair_batch"]


def regime_fingerprint(regime: Regime) -> str:
    """The regime's fields that differ from :class:`~galgen.simulate.degrade.Regime`'s defaults,
    as sorted JSON: what a cached bank was simulated with (a field added later with a default
    leaves older fingerprints valid)."""
    default = Regime()
    changed = {f.name: getattr(regime, f.name) for f in dataclasses.fields(regime)
               if getattr(regime, f.name) != getattr(default, f.name)}
    return json.dumps(changed, sort_keys=True, default=list)


class PairBank:
    """``n`` simulated pairs held in memory (and cached to an ``.npz`` file).

    Parameters
    ----------
    n, seed : int
        Pairs ``0..n-1`` of ``PairDataset(n, seed, regime)``.
    regime : Regime
    cache : path, optional
        ``.npz`` file read if it holds these pairs (same seed, size and regime, see
        :func:`regime_fingerprint`; caches written before the fingerprint existed are trusted),
        else written after simulating them.
    progress : bool, default True
    workers : int, default 1
        Simulation processes (0: one per CPU). The pairs do not depend on it.

    Attributes
    ----------
    observations : numpy.ndarray
        ``(n, h, w)`` float32, ADU.
    targets : numpy.ndarray
        ``(n, s*h, s*w)`` float32, ADU per target pixel.
    noise_rms, psf_fwhm : numpy.ndarray
        ``(n,)`` noise (ADU) and observing PSF FWHM (arcsec).
    deconvolved : numpy.ndarray or None
        ``(n, s*h, s*w)`` float32 classical deconvolution of each observation with its given PSF
        (:func:`galgen.restoration.inputs.deconvolved_channel`), ADU per target pixel; ``None``
        in caches written before it existed.
    """

    def __init__(self, n: int, seed: int, regime: Regime, cache: str | os.PathLike | None = None,
                 progress: bool = True, workers: int = 1) -> None:
        self.regime = regime
        if cache is not None and Path(cache).exists():
            with np.load(cache) as f:
                same_regime = "regime" not in f.files or str(f["regime"]) == regime_fingerprint(regime)
                if int(f["seed"]) == seed and len(f["noise_rms"]) == n and same_regime:
                    self._set(f["observations"], f["targets"], f["noise_rms"], f["psf_fwhm"],
                              f["deconvolved"] if "deconvolved" in f.files else None)
                    return
        workers = max(1, min(workers if workers > 0 else (os.cpu_count() or 1), n))
        bounds = np.linspace(0, n, min(n, 8 * workers if workers > 1 else 50) + 1).astype(int)
        chunks = [(seed, int(a), int(b), regime)
                  for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        parts = []
        # each pair depends only on (seed, index): the same bank for any number of workers
        pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_single_threaded) if workers > 1 else nullcontext())
        with pool, tqdm(total=n, desc="simulate pairs", disable=not progress) as bar:
            mapper = pool.map if workers > 1 else map
            for chunk, part in zip(chunks, mapper(_simulate_range, *zip(*chunks, strict=True)), strict=True):
                parts.append(part)
                bar.update(chunk[2] - chunk[1])
        self._set(*(np.concatenate(a) for a in zip(*parts, strict=True)))
        if cache is not None:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache, suffix=".npz") as tmp:
                extra = {} if self.deconvolved is None else {"deconvolved": self.deconvolved}
                np.savez(tmp, observations=self.observations, targets=self.targets,
                         noise_rms=self.noise_rms, psf_fwhm=self.psf_fwhm, seed=seed,
                         regime=regime_fingerprint(regime), **extra)

    @classmethod
    def concatenate(cls, banks: list[PairBank]) -> PairBank:
        """One bank holding the pairs of ``banks`` (same regime), in order."""
        bank = cls.__new__(cls)
        bank.regime = banks[0].regime
        bank._set(*(np.concatenate(a) for a in zip(*((b.observations, b.targets, b.noise_rms, b.psf_fwhm)
                                                       for b in banks), strict=True)),
                  None if any(b.deconvolved is None for b in banks)
                  else np.concatenate([b.deconvolved for b in banks]))
        return bank

    def _set(self, obs: np.ndarray, tgt: np.ndarray, noise: np.ndarray, fwhm: np.ndarray,
             deconvolved: np.ndarray | None = None) -> None:
        self.observations, self.targets = obs.astype(np.float32), tgt.astype(np.float32)
        self.noise_rms, self.psf_fwhm = noise.astype(np.float32), fwhm.astype(np.float32)
        self.deconvolved = None if deconvolved is None else deconvolved.astype(np.float32)

    def __len__(self) -> int:
        return len(self.noise_rms)

    def batch(self, rng: np.random.Generator, size: int, patch: int | None) -> dict[str, torch.Tensor]:
        """Random pairs, aligned random crops of ``patch`` input pixels, random flips/rotations.

        The PSFs are circular, so flips and 90-degree rotations give new valid pairs.
        """
        s = self.regime.factor
        idx = rng.integers(0, len(self), size)
        h = self.observations.shape[1]
        p = h if patch is None else patch
        obs = np.empty((size, p, p), np.float32)
        tgt = np.empty((size, s * p, s * p), np.float32)
        dec = np.empty_like(tgt) if self.deconvolved is not None else None
        for k, i in enumerate(idx):
            y0, x0 = (rng.integers(0, h - p + 1, 2) if p < h else (0, 0))
            big = (slice(s * y0, s * (y0 + p)), slice(s * x0, s * (x0 + p)))
            o = self.observations[i, y0:y0 + p, x0:x0 + p]
            t = self.targets[i][big]
            d = self.deconvolved[i][big] if dec is not None else t
            rot = int(rng.integers(4))
            flip = bool(rng.integers(2))
            # the deconvolution turns with its observation: it is that of the turned pair
            o, t, d = np.rot90(o, rot), np.rot90(t, rot), np.rot90(d, rot)
            if flip:
                o, t, d = o[:, ::-1], t[:, ::-1], d[:, ::-1]
            obs[k], tgt[k] = o, t
            if dec is not None:
                dec[k] = d
        out = {
            "observation": torch.from_numpy(obs)[:, None],
            "target": torch.from_numpy(tgt)[:, None],
            "noise_rms": torch.from_numpy(self.noise_rms[idx]),
            "psf_fwhm": torch.from_numpy(self.psf_fwhm[idx]),
        }
        if dec is not None:
            out["deconvolved"] = torch.from_numpy(dec)[:, None]
        return out


class ShardedBank:
    """A rolling bank of simulated pairs that grows with training: tens of thousands of distinct
    galaxies, never more than ``keep`` shards in memory.

    Shard ``k`` holds ``PairDataset(shard_size, seed=base_seed + k)`` and is cached as
    ``directory/shard_<k>.npz`` (a background ``galgen train --simulate-shards`` process fills
    the directory ahead of the trainer; a missing shard is simulated in place). At step ``t``
    the trainer uses shards ``max(0, n - keep) .. n - 1`` with
    ``n = min(start + t // every, total)``: which pairs a step sees depends only on the config,
    so a run is reproducible and resumable.

    Parameters
    ----------
    directory : path
        Shard cache.
    regime : Regime
    base_seed, shard_size : int
    start, every, keep, total : int
        Shards at step 0; steps per new shard; shards held at once; shards in all (0: no limit).
    """

    def __init__(self, directory: str | os.PathLike, regime: Regime, base_seed: int, shard_size: int, *,
                 start: int = 4, every: int = 200, keep: int = 16, total: int = 0) -> None:
        self.directory = Path(directory)
        self.regime, self.base_seed, self.shard_size = regime, int(base_seed), int(shard_size)
        self.start, self.every, self.keep, self.total = int(start), int(every), int(keep), int(total)
        self._loaded: dict[int, PairBank] = {}
        self._window: tuple[int, int] | None = None
        self.bank: PairBank | None = None

    def shard_path(self, k: int) -> Path:
        """Cache file of shard ``k``."""
        return self.directory / f"shard_{k:05d}.npz"

    def shard(self, k: int, progress: bool = False) -> PairBank:
        """Shard ``k`` (read from its cache, or simulated and cached)."""
        return PairBank(self.shard_size, self.base_seed + k, self.regime, cache=self.shard_path(k),
                        progress=progress)

    def shards_at(self, step: int) -> tuple[int, int]:
        """``(first, stop)``: the shards training uses at ``step``."""
        n = self.start + step // max(self.every, 1)
        if self.total:
            n = min(n, self.total)
        return max(0, n - self.keep), n

    def at(self, step: int) -> PairBank:
        """The bank for ``step`` (loads new shards and drops old ones when the window moves)."""
        window = self.shards_at(step)
        if window != self._window:
            first, stop = window
            self._loaded = {k: self._loaded.get(k) or self.shard(k) for k in range(first, stop)}
            self.bank = PairBank.concatenate([self._loaded[k] for k in range(first, stop)])
            self._window = window
        return self.bank


def _single_threaded() -> None:
    """A simulation process uses one core: the pool already has one process per core."""
    import galsim

    galsim.utilities.set_omp_threads(1)
    torch.set_num_threads(1)


def _simulate_range(seed: int, start: int, stop: int, regime: Regime) -> tuple[np.ndarray, ...]:
    """Pairs ``start..stop-1`` of ``PairDataset(seed)``: observations, targets, noise, PSF FWHM and
    the deconvolved channel (with the PSF each pair gives the restorer)."""
    from galgen.restoration.inputs import deconvolved_channel

    ds = PairDataset(stop, seed, regime)
    pairs = [ds.pair(i) for i in range(start, stop)]
    target_fwhm_pix = regime.target_psf_fwhm / regime.out_pixel_scale
    return (np.stack([p.observation for p in pairs]).astype(np.float32),
            np.stack([p.target for p in pairs]).astype(np.float32),
            np.array([p.noise_rms for p in pairs], np.float32),
            np.array([p.psf_fwhm for p in pairs], np.float32),
            np.stack([deconvolved_channel(p.observation, p.psf, regime.factor, target_fwhm_pix)
                      for p in pairs]).astype(np.float32))


def stretch_pair_batch(batch: dict[str, torch.Tensor], scale: int, softening: float,
                       deconvolved_input: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Network input and target in the stretched space of the restorer
    (:func:`galgen.restoration.inputs.network_input` and ``stretch_target``, the functions
    inference uses): ``(B, C, h, w)`` and ``(B, 1, s*h, s*w)``; ``C`` is 1, or ``1 + s**2``
    with ``deconvolved_input``."""
    sigma = batch["noise_rms"][:, None, None]
    if deconvolved_input and "deconvolved" not in batch:
        from galgen.errors import GalgenValueError

        msg = ("the model takes a deconvolved input channel, but these cached pairs have none: "
               "simulate them again")
        raise GalgenValueError(msg)
    x = network_input(batch["observation"][:, 0], sigma, softening, scale,
                      batch["deconvolved"][:, 0] if deconvolved_input else None)
    return x, stretch_target(batch["target"], sigma[:, None], softening, scale)
