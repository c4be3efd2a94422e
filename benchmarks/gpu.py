"""GPU inference: stamps/s with bfloat16 autocast vs float32, GPU utilisation, full pipeline.

Run on a machine with CUDA: ``python benchmarks/gpu.py [--model default_x2] [--n 4096]``.
Measures, side by side in one run, for the model on 64x64 -> 128x128 stamps:

* the forward pass alone on stamps already on the GPU (float32 vs bf16 autocast);
* ``predict_many`` on stamps in host memory (stretch, copies, forward, inverse stretch), the
  "bare" rate that ``benchmarks/batch.py`` compares the pipeline with;
* the full batch pipeline (read FITS -> background/noise -> model -> calibration -> chi2 -> write),
  in-process and, in steady state, on a Dask ``LocalCluster`` of single-threaded CPU workers
  sharing the GPU (started and warmed up before the timed run);
* GPU utilisation (NVML, sampled every 20 ms) during each of them.

Prints the machine; stamps are 64 simulated galaxies repeated (timings do not depend on content).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
from _pipeline import pipeline_rate, warm_local_cluster

from galgen.batch import BatchOptions, expand_inputs
from galgen.io import simple_tan_wcs, write_fits
from galgen.preprocess import AsinhStretch
from galgen.restoration.model import condition_vector
from galgen.restoration.registry import load_model
from galgen.simulate import PairDataset


class Utilisation:
    """Mean GPU utilisation (%) over a ``with`` block, from NVML (``None`` without it)."""

    def __init__(self, period: float = 0.02) -> None:
        self.period, self.samples, self.mean = period, [], None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
            self._read = lambda: pynvml.nvmlDeviceGetUtilizationRates(self._handle).gpu
        except Exception:  # noqa: BLE001 - no NVML: report no utilisation rather than fail
            self._read = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._read())
            time.sleep(self.period)

    def __enter__(self) -> Utilisation:
        if self._read is not None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._read is not None:
            self._stop.set()
            self._thread.join()
            self.mean = float(np.mean(self.samples)) if self.samples else None

    def __str__(self) -> str:
        return "n/a" if self.mean is None else f"{self.mean:.0f} %"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def forward_rate(model, x: torch.Tensor, c: torch.Tensor, batch: int, repeats: int = 3) -> float:  # noqa: ANN001
    """Stamps/s of the generator alone on ``x`` (already on the device), best of ``repeats``."""
    gen = model.generator
    best = 0.0
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16,
                                                enabled=model.amp and x.is_cuda):
        gen(x[:batch], c[:batch])  # warm-up (cuDNN picks its algorithms)
        for _ in range(repeats):
            _sync(x.device)
            t0 = time.perf_counter()
            for k in range(0, len(x), batch):
                gen(x[k:k + batch], c[k:k + batch])
            _sync(x.device)
            best = max(best, len(x) / (time.perf_counter() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default_x2", help="shipped model name or model directory")
    parser.add_argument("--n", type=int, default=4096, help="stamps for the model-only rates")
    parser.add_argument("--batch-sizes", default="64,256,1024")
    parser.add_argument("--files", type=int, default=512, help="FITS files for the pipeline rates (0: skip)")
    parser.add_argument("--pipeline-batch", type=int, default=256)
    parser.add_argument("--dask-workers", type=int, default=16, help="0: skip the Dask run")
    parser.add_argument("--device", default="cuda", help="cuda (cpu only to try the script)")
    args = parser.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        parser.error("needs a CUDA device")
    torch.backends.cudnn.benchmark = True
    ds = PairDataset(64, seed=31337)
    pairs = [ds.pair(i) for i in range(64)]
    reps = [pairs[i % 64] for i in range(args.n)]
    obs = [p.observation.astype(np.float64) for p in reps]
    noise = [p.noise_rms for p in reps]
    fwhm = [p.psf_fwhm for p in reps]
    gpu = torch.cuda.get_device_name() if dev.type == "cuda" else "no GPU"
    print(f"machine: {platform.node()}, {os.cpu_count()} CPU cores, {gpu}, "
          f"torch {torch.__version__}")
    rates = {}
    for amp in (False, True):
        m = load_model(args.model, args.device, amp=amp)
        label = "bf16 autocast" if amp else "float32"
        stretched = np.stack([AsinhStretch(s, m.config.softening).forward(o)
                              for o, s in zip(obs, noise, strict=True)])
        x = torch.from_numpy(stretched.astype(np.float32))[:, None].to(dev).contiguous(
            memory_format=torch.channels_last)
        c = torch.from_numpy(np.stack([condition_vector(f, 0.1) for f in fwhm])).to(dev)
        for b in map(int, args.batch_sizes.split(",")):
            with Utilisation() as util:
                r = forward_rate(m, x, c, b)
            print(f"{label:14s} forward only, batch {b:5d}: {r:9.0f} stamps/s  (GPU busy {util})")
        b = max(map(int, args.batch_sizes.split(",")))
        m.predict_many(obs[:b], noise[:b], fwhm[:b], 0.2, batch_size=b)  # warm-up
        with Utilisation() as util:
            t0 = time.perf_counter()
            m.predict_many(obs, noise, fwhm, 0.2, batch_size=b)
            rates[amp] = args.n / (time.perf_counter() - t0)
        print(f"{label:14s} predict_many from host memory, batch {b}: {rates[amp]:9.0f} stamps/s "
              f"(GPU busy {util})")
        del x, m
    print(f"bf16 / float32, predict_many: {rates[True] / rates[False]:.2f}")

    if args.files:
        tmp = Path(tempfile.mkdtemp(prefix="galgen-gpubench-"))
        (tmp / "in").mkdir()
        for i in range(args.files):
            p = pairs[i % 64]
            write_fits(tmp / "in" / f"{i:05d}.fits", p.observation,
                       wcs=simple_tan_wcs(p.observation.shape, 0.2))
        items = expand_inputs([tmp / "in"])
        for workers in (2, 8):
            opts = BatchOptions(psf_fwhm=1.0 * u.arcsec, method=args.model, background="auto",
                                device=args.device,
                                batch_size=args.pipeline_batch, read_workers=workers)
            with Utilisation() as util:
                rate = pipeline_rate(items, opts, tmp / f"out{workers}")
            print(f"full pipeline in one process, {workers} reader threads: {rate:.0f} stamps/s "
                  f"-> pipeline/bare = {rate / rates[True]:.3f} (GPU busy {util})")
        if args.dask_workers:
            opts = BatchOptions(psf_fwhm=1.0 * u.arcsec, method=args.model, background="auto",
                                device=args.device,
                                batch_size=64)
            with (warm_local_cluster(args.dask_workers, items, opts, tmp) as (address, startup, warm),
                  Utilisation() as util):
                rate = pipeline_rate(items, opts, tmp / "out_dask", dask_scheduler=address, chunk_size=32)
            print(f"full pipeline on a Dask LocalCluster of {args.dask_workers} workers sharing the GPU, "
                  f"steady state (start {startup:.1f} s, warm-up {warm:.1f} s before): {rate:.0f} stamps/s "
                  f"-> pipeline/bare = {rate / rates[True]:.3f} (GPU busy {util})")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
