"""``galgen train`` (restoration, translation and posterior configs) and ``galgen toy``."""

from __future__ import annotations

import argparse
import os

from galgen.errors import GalgenError, GalgenValueError

__all__ = ["cmd_train", "cmd_toy"]


def cmd_train(args: argparse.Namespace) -> int:
    import tomllib

    try:
        with open(args.config, "rb") as f:
            kind = tomllib.load(f).get("kind", "restoration")
    except FileNotFoundError:
        msg = f"{args.config}: no such config file (the shipped ones are in configs/)"
        raise GalgenError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{args.config}: not valid TOML ({exc})"
        raise GalgenError(msg) from None
    if kind not in ("restoration", "translation", "posterior"):
        msg = (f"{args.config}: kind = {kind!r} is not a training kind; use 'restoration' (the default), "
               "'translation' or 'posterior'")
        raise GalgenError(msg)
    if kind == "translation":
        return _train_translation(args)
    if kind == "posterior":
        return _train_posterior(args)
    from galgen.train.restoration import export, load_config, train

    cfg = load_config(args.config, steps=args.steps, device=args.device, time_budget=args.time_budget)
    if args.simulate_shards is not None:
        from galgen.train.restoration import simulate_shards

        made = simulate_shards(cfg, args.simulate_shards)
        print(f"{made} shard(s) simulated into {cfg.out_dir}/shards")
        return 0
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    if args.export_best and not args.export:
        raise GalgenValueError("--export-best says which weights --export DIR writes; give --export DIR")
    train(cfg, resume=not args.fresh)
    if args.export and int(os.environ.get("RANK", "0")) == 0:
        digest = export(cfg, args.export, best=args.export_best)
        print(f"exported {args.export} (sha256 {digest[:12]}" + (", best validation step)" if args.export_best
                                                                  else ")"))
    return 0


def _train_translation(args: argparse.Namespace) -> int:
    from galgen.train import translation

    return _train_other_kind(args, translation.load_translate_config, translation.train_translation,
                             translation.export_translation,
                             "a translation config's [simulate] table fills its stamp folders")


def _train_posterior(args: argparse.Namespace) -> int:
    from galgen.train import posterior

    return _train_other_kind(args, posterior.load_posterior_config, posterior.train_posterior,
                             posterior.export_posterior,
                             "a posterior config simulates the shards it names that are missing")


def _train_other_kind(args: argparse.Namespace, load, train, export, shards_note: str) -> int:  # noqa: ANN001
    """``galgen train`` for a config whose ``kind`` is not restoration: read it with ``load``, run
    ``train`` (resuming unless ``--fresh``), then ``export`` to ``--export``."""
    if args.simulate_shards is not None:
        raise GalgenValueError(f"--simulate-shards is for restoration configs; {shards_note}")
    if args.export_best:
        raise GalgenValueError("--export-best is for restoration configs (their runs keep best.pt)")
    cfg = load(args.config, steps=args.steps, device=args.device, time_budget=args.time_budget)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    train(cfg, resume=not args.fresh)
    if args.export:
        digest = export(cfg, args.export)
        print(f"exported {args.export} (sha256 {digest[:12]})")
    return 0


def cmd_toy(args: argparse.Namespace) -> int:
    from galgen.models.toy import run

    common = {"steps": args.steps, "outdir": args.output, "seed": args.seed,
              "progress": not args.quiet}
    if args.family == "flow":
        sizes = {"layers": args.layers, "bins": args.bins,
                 "hidden": None if args.hidden is None else (args.hidden, args.hidden),
                 "fourier_features": args.fourier_features}
        sizes = {k: v for k, v in sizes.items() if v is not None}
        allowed = {"coupling": {"layers", "hidden"},
                   "spline": {"layers", "bins", "hidden", "fourier_features"}, "ode": {"fourier_features"}}
        if unknown := set(sizes) - allowed[args.flow]:
            def flag(k: str) -> str:
                return "--" + k.replace("_", "-")

            msg = (f"{' '.join(flag(k) for k in sorted(unknown))} do(es) not apply to --flow {args.flow} "
                   f"(it takes: {', '.join(flag(k) for k in sorted(allowed[args.flow])) or 'none'})")
            raise GalgenValueError(msg)
        r = run.run_toy_flow(args.density, args.flow, args.solver, batch=args.batch,
                             flow_kwargs=sizes, checkpoint=args.checkpoint, objective=args.objective,
                             coupling=args.coupling, **common)
        limit = f" (analytic limit {r['entropy']:.3f})" if r["entropy"] is not None else ""
        how = f", {args.objective}" if args.flow == "ode" else ""
        print(f"{args.flow} flow on {args.density}{how}: held-out NLL {r['nll']:.3f} nats{limit}, "
              f"{r['seconds']:.0f} s of training")
        for row in r.get("solver_comparison", []):
            print(f"  {row['solver']:>5} at {row['nfe']:>3} function evaluations: NLL {row['nll']:.3f}")
    elif args.family == "vae":
        r = run.run_toy_vae(args.density, **common)
        print(f"VAE on {args.density}: held-out -ELBO {r['neg_elbo']:.3f} nats, "
              f"-IWAE(k=64) {r['neg_iwae64']:.3f} nats, {r['seconds']:.0f} s")
    else:
        r = run.run_toy_gan(args.density, args.loss, **common)
        extra = (f": {r['high_quality']:.1%} of samples within 3 sigma of a mode, "
                 f"{r['modes_covered']}/8 modes hold >= 5 %") if "high_quality" in r else ""
        print(f"GAN ({args.loss}) on {args.density}{extra}, {r['seconds']:.0f} s")
    print(f"figure: {r['figure']}" + (f", {r['solver_figure']}" if r.get("solver_figure") else ""))
    return 0
