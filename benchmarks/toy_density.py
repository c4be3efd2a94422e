"""Chessboard density: held-out NLL of each flow type against the analytic limit ln 32.

Also, for the trained ODE flow, the wall time and function evaluations per sample of each
solver. Run: ``python benchmarks/toy_density.py [--scale 1.0] [--out DIR]``; ``--scale``
multiplies the training steps. The spline flow that meets the 0.05-nat goal:
``--spline-steps 24000 --spline-batch 1024 --spline-bins 32 --spline-layers 8 --spline-hidden 256``
(about an hour on one core). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import torch

from galgen.models.ode import ODEStats
from galgen.models.toy import get_density, held_out_samples
from galgen.models.toy.run import DEFAULT_STEPS, run_toy_flow


def solver_costs(model_dir: str, density, n: int = 4000) -> list[dict]:  # noqa: ANN001
    from galgen.models.flows import ode_flow
    from galgen.models.serialization import load_state, read_config

    arch = read_config(model_dir).get("architecture", {})
    flow = ode_flow(2, **{k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()})
    load_state(flow, model_dir)
    flow.eval()
    return solver_table(flow, density, n)


SOLVER_PLAN = (("euler", 32), ("midpoint", 16), ("rk4", 8), ("rk4", 32), ("dopri5", 0))


def solver_table(flow, density, n: int = 4000, plan=SOLVER_PLAN) -> list[dict]:  # noqa: ANN001
    """Held-out NLL, NFE and wall time of a continuous flow under each (solver, steps) of ``plan``
    (steps 0: adaptive, rtol = atol = 1e-5)."""
    x = held_out_samples(density, n)
    rows = []
    for solver, steps in plan:
        t = flow.transform
        t.solver, t.steps, t.rtol, t.atol = solver, steps or 1, 1e-5, 1e-5
        t0 = time.perf_counter()
        with torch.no_grad():
            nll = float(-flow.log_prob(x).mean())
        wall = time.perf_counter() - t0
        stats: ODEStats = t.last_stats
        rows.append({"solver": solver, "steps": steps or "adaptive", "nfe": stats.nfe, "nll": nll,
                     "ms_per_1000": 1000 * wall / (n / 1000)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the default steps")
    parser.add_argument("--out", default="benchmarks/results", help="figures and JSON")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--spline-steps", type=int, default=None, help="override the spline's steps")
    parser.add_argument("--spline-batch", type=int, default=None)
    parser.add_argument("--spline-bins", type=int, default=16)
    parser.add_argument("--spline-layers", type=int, default=6)
    parser.add_argument("--spline-hidden", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    density = get_density("chessboard")
    out = Path(args.out)
    results = []
    for flow in ("coupling", "spline", "ode"):
        steps = int(DEFAULT_STEPS[flow] * args.scale)
        extra = {}
        if flow == "spline":  # the goal's run: --spline-steps 24000 --spline-batch 1024 --spline-bins 32 ...
            steps = args.spline_steps or steps
            extra = {"batch": args.spline_batch, "flow_kwargs": {
                "bins": args.spline_bins, "layers": args.spline_layers,
                "hidden": (args.spline_hidden, args.spline_hidden)}}
        r = run_toy_flow("chessboard", flow, "rk4", steps=steps, outdir=out, progress=False, **extra)
        results.append(r)
        print(f"{flow}: NLL {r['nll']:.3f} nats ({r['nll'] - math.log(32):+.3f} vs ln 32), "
              f"{steps} steps, {r['seconds']:.0f} s", flush=True)
    costs = solver_costs(next(r["model_dir"] for r in results if r["flow"] == "ode"), density)
    print(f"\nmachine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s)\n")
    print("| flow | steps | train time (s) | test NLL (nats) | NLL - ln 32 |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['flow']} | {r['steps']} | {r['seconds']:.0f} | {r['nll']:.3f} | "
              f"{r['nll'] - math.log(32):+.3f} |")
    print("\n| ODE solver | steps | NFE per sample (per integration) | test NLL | ms per 1000 samples |")
    print("| --- | --- | --- | --- | --- |")
    for c in costs:
        print(f"| {c['solver']} | {c['steps']} | {c['nfe']} | {c['nll']:.3f} | {c['ms_per_1000']:.0f} |")
    (out / "toy_density.json").write_text(json.dumps({"flows": results, "solvers": costs},
                                                     indent=2, default=str))


if __name__ == "__main__":
    main()
