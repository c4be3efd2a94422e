"""Learned unpaired translation, evaluated where the truth pairing is known.

The model (``configs/translate_sim_to_survey.toml``) was trained on two folders of *different*
galaxies, one per domain of :mod:`galgen.translate.domains`. Here the same ``n`` galaxies
(held-out seed 45,000,000; validation 44,000,000; development 43,000,000; none used in training)
are drawn in both domains, and the model's A -> B
output is compared with B's noise-free rendering and with B's real noise, next to a plain sum
over pixel blocks and the physical translation with the true PSFs
(:mod:`galgen.translate.evaluation`). Prints Markdown tables; writes a figure of examples and
of the noise power spectra.

Run: ``python benchmarks/translation.py [--model galgen/weights/translate/sim_to_survey]
[-n 200] [--figure docs/_static/translation_learned.png] [--update-card]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from galgen.plotting import new_figure, save_figure
from galgen.translate.evaluation import HELD_OUT_SEED, evaluate_translation
from galgen.translate.learned import find_translation, load_translation


def _radial_power(fields: np.ndarray, sky: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean radial power spectrum of noise fields with their non-sky pixels set to zero."""
    f = np.where(sky, fields - fields[sky].mean(), 0.0)
    power = (np.abs(np.fft.fft2(f)) ** 2).mean(0) / sky.mean()
    ky, kx = np.meshgrid(np.fft.fftfreq(f.shape[1]), np.fft.fftfreq(f.shape[2]), indexing="ij")
    k = np.hypot(kx, ky)
    bins = np.linspace(0, 0.5, 11)
    idx = np.digitize(k.ravel(), bins)
    centres = 0.5 * (bins[1:] + bins[:-1])
    return centres, np.array([power.ravel()[idx == i].mean() for i in range(1, len(bins))]) / f[0].size


def figure(ex: dict, path: Path, name: str) -> Path:
    fig, axes = new_figure(2, 5, figsize=(15, 6))
    fig.subplots_adjust(wspace=0.45, hspace=0.35)
    for j in range(2):
        vmax = np.percentile(ex["b"][j], 99.5)
        for i, (key, title) in enumerate(
            (
                ("a", "domain A (input)"),
                ("b", "domain B, same galaxy"),
                ("physical", "physical (true PSFs)"),
                ("learned", f"learned ({name})"),
            )
        ):
            img = ex[key][j]
            scale = 1.0 if key != "a" else 4.0  # A's pixels hold a quarter of B's flux
            axes[j, i].imshow(
                np.arcsinh(img * scale / 3.0),
                origin="lower",
                cmap="gray_r",
                vmin=np.arcsinh(-3.0 / 3),
                vmax=np.arcsinh(vmax / 3.0),
            )
            axes[j, i].set_title(title, fontsize=9)
            axes[j, i].set_xticks([])
            axes[j, i].set_yticks([])
    ax = axes[0, 4]
    for key, label in (
        ("real_noise", "domain B"),
        ("physical_noise", "physical + white"),
        ("physical_like_noise", "physical + B-like"),
        ("learned_noise", "learned"),
    ):
        k, p = _radial_power(ex[key], ex["sky"])
        ax.plot(k, p, marker="o", label=label)
    ax.set_xlabel("frequency (cycles / B pixel)")
    ax.set_ylabel("noise power")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("noise power spectrum, sky pixels", fontsize=9)
    ax = axes[1, 4]
    for key, label in (("real_noise", "domain B"), ("learned_noise", "learned")):
        ax.hist(ex[key][ex["sky"]], bins=60, range=(-12, 12), histtype="step", density=True, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("sky pixel value (counts)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _morphology_table(morph: dict) -> None:
    print(
        "\n| Wasserstein distance to domain B's distribution | "
        + " | ".join(f"{m} / untranslated" for m in morph)
        + " |"
    )
    print("| --- " * (1 + len(morph)) + "|")
    stats = [row["statistic"] for row in next(iter(morph.values()))]
    for i, k in enumerate(stats):
        print(
            f"| {k} | "
            + " | ".join(
                f"{rows[i]['translated']:.4g} / {rows[i]['untranslated']:.4g} = **{rows[i]['ratio']:.2f}**"
                for rows in morph.values()
            )
            + " |"
        )
    print(
        "| mean ratio | "
        + " | ".join(f"{np.nanmean([x['ratio'] for x in rows]):.2f}" for rows in morph.values())
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="sim_to_survey")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--no-morphology", action="store_true", help="skip the statmorph statistics (slow)")
    parser.add_argument(
        "--seed",
        type=int,
        default=HELD_OUT_SEED,
        help="45,000,000 held out (default), 44,000,000 validation, 43,000,000 development",
    )
    parser.add_argument("--draws", type=int, default=16,
                        help="noise realisations per galaxy for the signal residual and flux (default 16; "
                             "the morphology uses the first: fewer draws for many galaxies save memory)")
    parser.add_argument("--workers", type=int, default=1, help="processes for the statmorph statistics")
    parser.add_argument("--figure", default=None)
    parser.add_argument("--update-card", action="store_true", help="store the scores in the model card")
    args = parser.parse_args()
    model, card = load_translation(args.model)
    t0 = time.perf_counter()
    r = evaluate_translation(model, card, args.n, args.seed, draws=args.draws,
                             morphology=not args.no_morphology, workers=args.workers)
    machine = (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"\n{card['name']}: {card['training']['steps']} steps, {card['training']['seconds']:.0f} s "
        "of training; "
        f"{args.n} paired galaxies (seed {args.seed}, {args.draws} draws), {time.perf_counter() - t0:.0f} s "
        f"on {machine}\n"
    )
    print(
        "| A -> B | PSNR vs B noise-free (dB) | signal residual rms (% of peak) | "
        'abs flux err, 2" aperture | '
        "abs total flux err | noise rms / B's | noise lag-1 corr |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in r["a2b"]:
        print(
            f"| {row['method']} | {row['psnr']:.2f} | {100 * row['signal_rms']:.2f} | "
            f"{100 * row['abs_flux_error']:.2f} % | {100 * row['abs_total_flux_error']:.2f} % | "
            f"{row['noise_ratio']:.3f} | {row['noise_rho1']:.3f} |"
        )
    if r["morphology"]:
        _morphology_table(r["morphology"])
    print('\n| B -> A | signal residual rms (% of peak) | abs flux err, 2" aperture |')
    print("| --- | --- | --- |")
    for row in r["b2a"]:
        print(f"| {row['method']} | {100 * row['signal_rms']:.2f} | {100 * row['abs_flux_error']:.2f} % |")
    if args.figure:
        print("figure:", figure(r["examples"], Path(args.figure), card["name"]))
    if args.update_card:
        from galgen.models.serialization import update_config

        update_config(
            find_translation(args.model),
            {
                "metrics": {
                    "benchmark": f"python benchmarks/translation.py -n {args.n} --seed {args.seed}",
                    "machine": machine,
                    "date": time.strftime("%Y-%m-%d"),
                    "a2b": [_json_row(row) for row in r["a2b"]],
                    "b2a": [_json_row(row) for row in r["b2a"]],
                    "morphology_wasserstein": {
                        m: [_json_row(x) for x in rows] for m, rows in r["morphology"].items()
                    }
                    or None,
                }
            },
        )


def _json_row(row: dict) -> dict:
    return {k: (None if v != v else round(v, 4)) if isinstance(v, float) else v for k, v in row.items()}


if __name__ == "__main__":
    main()
