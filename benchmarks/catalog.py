"""Catalog runs end to end against galgen's in-memory rate on the same stamps (issue #18).

Run: ``python benchmarks/catalog.py [--n 900] [--repeats 2] [--memory 0]``.

A field of ``n`` galaxies at 0.2"/px is written as one mosaic FITS file with a WCS and a catalog
(ECSV, ra/dec of each galaxy). Side by side, alternating:

* in memory: ``galgen.restore`` of the ``(n, 64, 64)`` stack of the same stamps, warm (model
  built, one warm-up call), in this process;
* ``galgen batch field.fits --catalog cat.ecsv`` in a fresh process: start-up, imports, model
  loading, reading, restoring and writing stacked files included; then the same with
  ``--no-psf-check`` (the PSF checked against the field's stars is a fixed cost per image, work
  the in-memory stack of cutouts has no field to do);
* once, the same with ``--per-stamp-files`` (one FITS file per galaxy).

Each catalog run's ratio is taken against the mean of the in-memory runs before and after it
(this VM drifts by tens of per cent within minutes). The outputs are checked to be the
in-memory pixels (float32 rounding). ``--memory N`` also restores an ``N``-stamp catalog from a
``--memory-side``-pixel mosaic with the baseline ``bicubic`` (the catalog machinery without the
model's time) and reports the peak RSS of the process and its RSS as the run goes;
``--memory-method default`` runs it with the model instead (with ``--device cuda``: the GPU
end-to-end rate of issue #18, e.g. ``--n 900 --repeats 1 --memory 100000 --memory-method default
--device cuda --batch-size 512``). ``--device`` applies to every run, in memory and catalog.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import psutil
import torch
from astropy.table import Table

import galgen
from galgen.io import read_stamps, simple_tan_wcs, write_fits
from galgen.simulate import PairDataset

SIZE = 64
PIXEL_SCALE = 0.2


def make_field(root: Path, n: int, distinct: int, seed: int = 31337) -> np.ndarray:
    """``field.fits`` (a square grid of ``n`` simulated 64x64 observations, 0.2"/px, TAN WCS) and
    ``cat.ecsv`` (their centres); returns the ``(n, 64, 64)`` stack of the stamps."""
    ds = PairDataset(distinct, seed=seed)
    tiles = [ds.pair(i).observation for i in range(distinct)]
    side = int(np.ceil(np.sqrt(n)))
    mosaic = np.zeros((side * SIZE, side * SIZE))
    stack = np.empty((n, SIZE, SIZE))
    xs, ys = [], []
    for k in range(n):
        j, i = divmod(k, side)
        stack[k] = tiles[k % distinct]
        mosaic[j * SIZE:(j + 1) * SIZE, i * SIZE:(i + 1) * SIZE] = stack[k]
        xs.append(i * SIZE + (SIZE - 1) / 2)  # the tile's centre: its cutout is the tile
        ys.append(j * SIZE + (SIZE - 1) / 2)
    wcs = simple_tan_wcs(mosaic.shape, PIXEL_SCALE)
    write_fits(root / "field.fits", mosaic, wcs=wcs)
    sky = wcs.pixel_to_world(xs, ys)
    Table({"id": [f"g{k:06d}" for k in range(n)], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(
        root / "cat.ecsv", overwrite=True)
    return stack


def galgen_command() -> list[str]:
    """The installed ``galgen`` entry point of this interpreter."""
    exe = Path(sys.executable).with_name("galgen")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "galgen.cli"]


#: ``galgen batch`` options every catalog run gets (``--device``, ``--batch-size``: see main)
CLI_OPTIONS: list[str] = []


def run_cli(root: Path, out: str, *extra: str, watch: bool = False) -> tuple[float, float, list]:
    """Wall seconds of one ``galgen batch`` catalog run, its peak RSS (GB) and RSS samples."""
    cmd = [*galgen_command(), "batch", str(root / "field.fits"), "--catalog", str(root / "cat.ecsv"),
           "-o", str(root / out), "--psf-fwhm", "1arcsec", "--background", "auto", *CLI_OPTIONS, *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TQDM_DISABLE": "1"})
    peak, samples = 0.0, []
    handle = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = handle.memory_info().rss / 1e9
        except psutil.Error:
            break
        peak = max(peak, rss)
        if watch:
            samples.append((round(time.perf_counter() - t0, 1), round(rss, 3)))
        time.sleep(0.25)
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return seconds, peak, samples


def in_memory_rate(stack: np.ndarray, device: str = "cpu") -> float:
    """Stamps/s of ``galgen.restore`` on the stack (the model warm in this process)."""
    t0 = time.perf_counter()
    galgen.restore(stack, psf_fwhm=1.0 * u.arcsec, pixel_scale=PIXEL_SCALE, background="auto", device=device)
    return len(stack) / (time.perf_counter() - t0)


def check_outputs(root: Path, out: str, stack: np.ndarray, k: int = 16) -> float:
    """Largest |catalog output - in-memory result| over ``k`` stamps, relative to the peak."""
    reference = galgen.restore(stack[:k], psf_fwhm=1.0 * u.arcsec, pixel_scale=PIXEL_SCALE, background="auto")
    manifest = Table.read(root / out / "manifest.ecsv")
    worst = 0.0
    for row, ref in zip(manifest[:k], reference, strict=True):
        got = read_stamps(row["output"], int(row["index"]))
        worst = max(worst, float(np.nanmax(np.abs(got.data - ref.data)) / np.nanmax(ref.data)))
    return worst


def memory_run(root: Path, n: int, side: int, method: str = "bicubic") -> None:
    """Peak RSS and rate of an ``n``-stamp catalog over a ``side`` x ``side`` mosaic."""
    rng = np.random.default_rng(1)
    mosaic = rng.normal(0.0, 1.0, (side, side)).astype(np.float32)
    wcs = simple_tan_wcs(mosaic.shape, PIXEL_SCALE)
    mem = root / "memory"
    mem.mkdir()
    write_fits(mem / "field.fits", mosaic, wcs=wcs)
    del mosaic
    x = rng.uniform(SIZE, side - SIZE, n)
    y = rng.uniform(SIZE, side - SIZE, n)
    sky = wcs.pixel_to_world(x, y)
    Table({"id": np.arange(n), "ra": sky.ra.deg, "dec": sky.dec.deg}).write(mem / "cat.ecsv")
    seconds, peak, samples = run_cli(mem, "out", "--method", method, "--background", "0",
                                     "--noise-rms", "1", watch=True)
    print(f"memory: {n} stamps from a {side}x{side} float32 mosaic ({side * side * 4 / 1e9:.2f} GB on disk), "
          f"--method {method} {' '.join(CLI_OPTIONS)}: {seconds:.0f} s ({n / seconds:.0f} stamps/s end to "
          f"end, start-up included), peak RSS {peak:.2f} GB")
    step = max(1, len(samples) // 12)
    print("  RSS (GB) as the run goes, (seconds, GB):", samples[::step] + samples[-1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=900, help="galaxies in the field")
    parser.add_argument("--distinct", type=int, default=150, help="distinct simulated galaxies (tiled)")
    parser.add_argument("--repeats", type=int, default=2, help="catalog runs (each between in-memory runs)")
    parser.add_argument("--memory", type=int, default=0, help="stamps of the memory run (0: skip)")
    parser.add_argument("--memory-side", type=int, default=10000, help="mosaic side of the memory run")
    parser.add_argument("--memory-method", default="bicubic", help="method of the memory run")
    parser.add_argument("--device", default="cpu", help="torch device of every run (cpu, cuda)")
    parser.add_argument("--batch-size", type=int, default=0, help="galgen batch --batch-size (0: default)")
    args = parser.parse_args()
    CLI_OPTIONS.extend(["--device", args.device])
    if args.batch_size:
        CLI_OPTIONS.extend(["--batch-size", str(args.batch_size)])
    root = Path(tempfile.mkdtemp(prefix="galgen-catalog-"))
    stack = make_field(root, args.n, args.distinct)
    in_memory_rate(stack[:8], args.device)  # warm-up: model built and its weights cached
    rates = [in_memory_rate(stack, args.device)]
    runs = []
    for rep in range(args.repeats):
        seconds, peak, _ = run_cli(root, f"out{rep}")
        rates.append(in_memory_rate(stack, args.device))
        runs.append(("stacked files (default)", seconds, peak, rates[-2], rates[-1]))
        # the PSF checked against the field's stars: a fixed cost per image (its region, up to
        # 2048 px a side), work the in-memory stack of cutouts has no field for
        seconds, peak, _ = run_cli(root, f"out{rep}_nocheck", "--no-psf-check")
        rates.append(in_memory_rate(stack, args.device))
        runs.append(("stacked files, --no-psf-check", seconds, peak, rates[-2], rates[-1]))
    seconds, peak, _ = run_cli(root, "out_files", "--per-stamp-files")
    rates.append(in_memory_rate(stack, args.device))
    runs.append(("--per-stamp-files", seconds, peak, rates[-2], rates[-1]))
    worst = check_outputs(root, "out0", stack)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; galgen {galgen.__version__}")
    print(f"field: {args.n} galaxies ({args.distinct} distinct) of {SIZE}x{SIZE} px at {PIXEL_SCALE}\"/px, "
          f"background 'auto', PSF 1\" Moffat, default model")
    print(f"in memory (galgen.restore of the stack, warm): {', '.join(f'{r:.1f}' for r in rates)} stamps/s")
    for label, seconds, peak, before, after in runs:
        rate = args.n / seconds
        print(f"  galgen batch --catalog, {label}: {seconds:.1f} s = {rate:.1f} stamps/s end to end, "
              f"peak RSS {peak:.2f} GB -> / in memory = {2 * rate / (before + after):.2f}")
    print(f"outputs vs in-memory results: max |difference| {worst:.2e} of the peak")
    if args.memory:
        memory_run(root, args.memory, args.memory_side, args.memory_method)


if __name__ == "__main__":
    main()
