"""Chessboard flows at equal wall-clock time, in one training loop: galgen's spline flow, zuko's
neural spline flow (when ``zuko`` is installed) and galgen's continuous flow trained by flow
matching, each on one CPU thread; held-out NLL against ln 32 and, for the continuous flow, the
function evaluations (NFE) and time of each solver.

Run: ``python benchmarks/flows_equal_time.py [--spline-seconds 300] [--ode-seconds 480]``.
Every model trains with ``galgen.models.toy.train`` (same batches from the same seeds, Adam,
a cosine schedule over the time budget) and is scored on the same 10,000 held-out samples.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import torch
from toy_density import solver_table

from galgen.models.flows import ode_flow, spline_flow
from galgen.models.toy import get_density
from galgen.models.toy.run import FLOW_MATCHING_ODE, FLOW_MATCHING_TIME_POWER
from galgen.models.toy.train import ToyTrainConfig, held_out_nll, train_flow, train_flow_matching


class ZukoFlow(torch.nn.Module):
    """A zuko flow behind the ``log_prob`` / ``sample`` interface of galgen's loop."""

    def __init__(self, flow) -> None:  # noqa: ANN001
        super().__init__()
        self.flow = flow

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow().log_prob(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spline-seconds", type=float, default=300.0)
    parser.add_argument("--ode-seconds", type=float, default=480.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=("spline", "zuko", "ode"))
    # chosen on a validation draw (seed 777, 10,000 points, 300 s each, 2026-12-03): batch 1024
    # with lr 1e-3 / 32 features 3.497, lr 2e-3 3.489, batch 512 3.491, lr 2e-3 / 64 features 3.483
    parser.add_argument("--spline-lr", type=float, default=2e-3, help="Adam rate of both spline flows")
    parser.add_argument("--fourier-features", type=int, default=64, help="of galgen's spline conditioners")
    args = parser.parse_args()
    torch.set_num_threads(1)
    density = get_density("chessboard")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, 1 thread; limit ln 32 = {math.log(32):.3f} nats\n", flush=True)
    rows = []

    def run(name: str, model, seconds: float, trainer, batch: int, lr: float) -> None:  # noqa: ANN001
        cfg = ToyTrainConfig(steps=10**7, batch=batch, lr=lr, progress=False, seconds=seconds)
        t0 = time.perf_counter()
        history = trainer(model, density, cfg)
        wall = time.perf_counter() - t0
        nll = held_out_nll(model, density)
        rows.append((name, len(history), wall, nll))
        print(f"| {name} | {len(history)} ({batch}) | {wall:.0f} | {nll:.3f} | {nll - math.log(32):+.3f} |",
              flush=True)

    print("| flow | steps (batch) | train time (s) | test NLL (nats) | NLL - ln 32 |")
    print("| --- | --- | --- | --- | --- |")
    if "spline" not in args.skip:
        torch.manual_seed(0)
        run(f"galgen spline (8 layers, 32 bins, 256x256, {args.fourier_features} Fourier features, "
            f"lr {args.spline_lr:g})",
            spline_flow(2, layers=8, bins=32, hidden=(256, 256), fourier_features=args.fourier_features),
            args.spline_seconds, train_flow, 1024, args.spline_lr)
    if "zuko" not in args.skip:
        try:
            import zuko
        except ImportError:
            print("| zuko NSF | (zuko not installed: pip install zuko) | | | |")
        else:
            torch.manual_seed(0)
            nsf = zuko.flows.NSF(2, transforms=8, bins=32, hidden_features=(256, 256))
            run(f"zuko NSF (8 transforms, 32 bins, 256x256, lr {args.spline_lr:g})", ZukoFlow(nsf),
                args.spline_seconds, train_flow, 1024, args.spline_lr)
    if "ode" not in args.skip:
        torch.manual_seed(0)
        flow = ode_flow(2, solver="dopri5", **FLOW_MATCHING_ODE)
        def matching(model, density, cfg):  # noqa: ANN001, ANN202
            return train_flow_matching(model, density, cfg, time_power=FLOW_MATCHING_TIME_POWER)

        run("galgen ODE flow, flow matching (dopri5 NLL)", flow, args.ode_seconds, matching, 512, 2e-3)
        print("\n| ODE solver | steps | NFE per sample | test NLL (nats) | ms per 1,000 samples |")
        print("| --- | --- | --- | --- | --- |")
        plan = (("euler", 64), ("midpoint", 32), ("rk4", 16), ("rk4", 64), ("dopri5", 0))
        for r in solver_table(flow, density, plan=plan):
            print(f"| {r['solver']} | {r['steps']} | {r['nfe']} | {r['nll']:.3f} | {r['ms_per_1000']:.0f} |")


if __name__ == "__main__":
    main()
