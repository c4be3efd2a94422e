"""Batch inference: pipeline vs bare model, batched vs one-by-one, memory of a large mosaic.

Run: ``python benchmarks/batch.py [--n 64] [--mosaic 4096] [--device cpu]``. Uses the shipped
default model (random weights of the default architecture if none is installed: timings
only). Prints ratios measured side by side in one run and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
from _pipeline import pipeline_rate, warm_local_cluster

from galgen.batch import BatchOptions, expand_inputs
from galgen.io import simple_tan_wcs, write_fits
from galgen.simulate import PairDataset


def _model_dir(tmp: Path) -> str:
    from galgen.restoration.registry import shipped_models

    if "default_x2" in shipped_models():
        return str(shipped_models()["default_x2"])
    from galgen.restoration.networks import RestorerConfig
    from galgen.restoration.registry import save_untrained_model

    return str(save_untrained_model(tmp / "model", RestorerConfig(channels=32, blocks=6),
                                    name="random_default_arch"))


def mosaic_peak_memory(size: int, model: str, device: str) -> tuple[float, float]:
    """Peak RSS (GB) and seconds of restoring a size x size mosaic, in a fresh process."""
    code = f"""
import resource, time, numpy as np, torch
from galgen.restoration.registry import load_model
torch.set_num_threads({torch.get_num_threads()})
m = load_model({model!r}, {device!r})
img = np.random.default_rng(0).normal(0, 1, ({size}, {size}))
t = time.perf_counter()
out = m.predict(img, 1.0, 1.0, 0.2, tile=256)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, gb = map(float, out.stdout.split())
    return gb, seconds


def per_file_costs(items: list, model: str, n: int = 64) -> dict[str, float]:
    """CPU ms a stamp of each step of the pipeline, run one after another on one thread over
    ``n`` files (the forward pass as the bare rate runs it, in batches of 4)."""
    import astropy.units as u
    from astropy.io import fits

    from galgen.io import read_image
    from galgen.io.wcs import celestial_wcs
    from galgen.restoration import finalize, get_method, prepare_observation, write_restored

    core = get_method(model, 2, batch_size=4)
    paths = [it.path for it in items[:n]]
    out = Path(tempfile.mkdtemp(prefix="galgen-steps-"))
    costs = {}

    def step(label: str, fn, inputs) -> list:  # noqa: ANN001
        t0 = time.process_time()
        results = [fn(x) for x in inputs]
        costs[label] = (time.process_time() - t0) / len(inputs) * 1e3
        return results

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        imgs = step("read FITS (with WCS)", read_image, paths)
        step("  of which WCS from the header", lambda p: celestial_wcs(fits.getheader(p)), paths)
        step("  of which the header alone", fits.getheader, paths)
        costs["  of which WCS from the header"] -= costs.pop("  of which the header alone")
        preps = step("background, noise, PSF", lambda im: prepare_observation(im, 1.0 * u.arcsec), imgs)
        args = ([p.data for p in preps], [p.noise_rms for p in preps],
                [p.psf_fwhm_arcsec for p in preps], imgs[0].pixel_scale)
        restored = step("forward pass (bare)", lambda a: core.predict_many(*a, batch_size=4), [args])[0]
        costs["forward pass (bare)"] /= len(paths)
        # restore_batch = the forward pass and the model's own per-stamp work after it (flux
        # calibration, light left in the residual, SNR and target checks): the difference
        outs = step("restore_batch", core.restore_batch, [preps])[0]  # what the pipeline finalises
        after = "model's work after the forward (flux calibration, residual light, checks)"
        costs[after] = costs.pop("restore_batch") / len(paths) - costs["forward pass (bare)"]
        step("  of which flux calibration", lambda k: core.flux_calibration(
            args[0][k], restored[k], args[1][k], args[2][k], args[3],
            predicted=core.reconvolve(restored[k], args[2][k], args[3])), range(len(paths)))
        results = step("header, provenance, chi^2", lambda k: finalize(imgs[k], preps[k], outs[k], scale=2),
                       range(len(paths)))
        step("write FITS", lambda k: write_restored(results[k], out / f"{k}.fits"), range(len(paths)))
    finally:
        torch.set_num_threads(threads)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64, help="stamps")
    parser.add_argument("--batch-size", type=int, default=4,
                        help="stamps per pass (the CPU default of galgen batch)")
    parser.add_argument("--mosaic", type=int, default=4096, help="mosaic side (0: skip)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk", type=int, default=32, help="items per Dask task")
    parser.add_argument("--repeats", type=int, default=3, help="steady-state Dask runs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="galgen-bench-"))
    model = _model_dir(tmp)
    ds = PairDataset(args.n, seed=31337)
    pairs = [ds.pair(i) for i in range(args.n)]
    (tmp / "in").mkdir()
    for i, p in enumerate(pairs):
        write_fits(tmp / "in" / f"{i:04d}.fits", p.observation,
                   wcs=simple_tan_wcs(p.observation.shape, 0.2))
    from galgen.restoration.registry import load_model

    m = load_model(model, args.device)
    obs = [p.observation.astype(np.float64) for p in pairs]
    noise = [p.noise_rms for p in pairs]
    fwhm = [p.psf_fwhm for p in pairs]
    m.predict_many(obs[:4], noise[:4], fwhm[:4], 0.2)  # warm-up

    def bare_rate() -> float:
        t0 = time.perf_counter()
        m.predict_many(obs, noise, fwhm, 0.2, batch_size=args.batch_size)
        return args.n / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    for o, s, f in zip(obs, noise, fwhm, strict=True):
        m.predict(o, s, f, 0.2)
    single = args.n / (time.perf_counter() - t0)
    items = expand_inputs([tmp / "in"])
    cores = torch.get_num_threads()
    workers = os.cpu_count() or 1
    # each pipeline run between two bare runs: the ratio compares it with their mean (this VM's
    # speed drifts by tens of per cent within minutes)
    runs = []  # (label, pipeline stamps/s, bare stamps/s before, bare stamps/s after)
    bares = [bare_rate()]

    def paired(label: str, options: BatchOptions, out: str, **run_options) -> None:
        rate = pipeline_rate(items, options, tmp / out, **run_options)
        bares.append(bare_rate())
        runs.append((label, rate, bares[-2], bares[-1]))

    opts = BatchOptions(psf_fwhm=1.0 * u.arcsec, method=model, background="auto", batch_size=args.batch_size,
                        device=args.device)
    paired("in this process, reading/writing between passes (the CPU default)", opts, "out_inline")
    paired("in this process, 2 reader threads + 1 writer thread", replace(opts, read_workers=2),
           "out_threads")
    # includes starting the cluster and loading the model in each worker
    paired(f"Dask LocalCluster of {workers} single-threaded workers, chunks of {args.chunk}, "
           "start-up included", opts, "out_dask", local_workers=workers, chunk_size=args.chunk)
    # steady state (a long survey run): the same cluster, started and warmed up beforehand
    with warm_local_cluster(workers, items, opts, tmp) as (address, startup, _):
        for rep in range(args.repeats):
            paired(f"Dask LocalCluster, steady state (started in {startup:.1f} s and warmed up "
                   f"beforehand), run {rep + 1}", opts, f"out_dask_{rep}", dask_scheduler=address,
                   chunk_size=args.chunk)
    bare = float(np.median(bares))
    torch.set_num_threads(1)
    bare1 = bare_rate()
    torch.set_num_threads(cores)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {cores} threads, device {args.device}")
    print(f"model: {m.name} ({m.sha256[:12]})")
    print(f"bare forward, batches of {args.batch_size} 64x64 stamps in memory: median {bare:.1f} stamps/s, "
          f"range {min(bares):.1f}-{max(bares):.1f} over {len(bares)} runs ({bare1:.1f} with 1 thread)")
    print(f"one stamp at a time: {single:.1f} stamps/s  -> batched/single = {bare / single:.2f}")
    print("full pipeline (read FITS -> background/noise -> model -> calibration -> chi2 -> write), "
          f"{args.n} files, each run between two bare runs:")
    for label, rate, before, after in runs:
        print(f"  {label}: {rate:.1f} stamps/s vs bare {before:.1f} / {after:.1f} -> pipeline/bare = "
              f"{2 * rate / (before + after):.2f}")
    n_steps = min(64, args.n)
    costs = per_file_costs(items, model, n_steps)
    forward = costs.pop("forward pass (bare)")
    per_file = sum(v for k, v in costs.items() if not k.startswith(" "))
    print(f"CPU per stamp, steps one after another on 1 thread ({n_steps} files): forward pass "
          f"{forward:.1f} ms; per-file work {per_file:.1f} ms = {100 * per_file / forward:.0f} % of it:")
    for label, ms in costs.items():
        print(f"  {label}: {ms:.2f} ms")
    if args.mosaic:
        gb, seconds = mosaic_peak_memory(args.mosaic, model, args.device)
        print(f"{args.mosaic}x{args.mosaic} mosaic, tiles of 256: peak RSS {gb:.2f} GB, {seconds:.0f} s")


if __name__ == "__main__":
    main()
