"""``galgen models``: the shipped models, the inputs each was trained for, and which one
``--method default`` picks, read from their model cards (``galgen/weights/<name>/config.json``)."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from galgen.errors import GalgenModelError

__all__ = ["cmd_models", "model_rows", "headline_metrics"]

_BASELINES = ("richardson_lucy", "wiener", "wiener_target", "bicubic")


def _regime(card: dict) -> tuple[str, str]:
    """``(input regime, output)`` in words: pixel units for a model trained at any sampling."""
    reg, pix = card.get("regime", {}), card.get("regime_in_pixels")
    factor = int(card.get("architecture", {}).get("scale", reg.get("factor", 2)))
    snr = reg.get("snr_range")
    clamp = f" (brighter: restored as at {snr[1]:g})" if snr and card.get("snr_clamp", True) else ""
    snr_text = f", SNR {snr[0]:g}-{snr[1]:g}{clamp}" if snr else ""
    if pix:
        lo, hi = pix["psf_fwhm_range_pixels"]
        return (f"any pixel scale, PSF FWHM {lo:g}-{hi:g} input px{snr_text}",
                f"{factor}x finer pixels, Gaussian PSF of {pix['target_psf_fwhm_output_pixels']:g} output px")
    lo, hi = reg["psf_fwhm_range"]
    kind = "PSF"
    if reg.get("psf_kind") == "moffat":
        kind = f'round Moffat PSF (beta {reg.get("moffat_beta", 3.5):g})'
    return (f'{reg["in_pixel_scale"]:g}"/px, {kind} FWHM {lo:g}-{hi:g}"{snr_text}',
            f'{reg["in_pixel_scale"] / factor:g}"/px, Gaussian PSF of {reg["target_psf_fwhm"]:g}"')


def _roles() -> dict[str, str]:
    """What ``--method default`` does with each shipped model, per scale (as the router does)."""
    from galgen.restoration.methods import _card_scale, _default_fallbacks, _default_name
    from galgen.restoration.registry import shipped_models

    roles: dict[str, str] = {}
    for scale in sorted({_card_scale(p) for p in shipped_models().values()}):
        primary = _default_name("default", scale)
        fallbacks = _default_fallbacks(primary, scale)
        roles[primary] = f"default at x{scale}" + (" inside its regime" if fallbacks else "")
        for name in fallbacks:
            roles[name] = f"default at x{scale} outside {primary}'s regime"
    return roles


def model_rows() -> list[dict]:
    """One dict per shipped model (restoration, then translation): name, kind, scale, input
    regime, output, role, directory."""
    from galgen.restoration.methods import _card
    from galgen.restoration.registry import shipped_models
    from galgen.translate.learned import shipped_translations

    roles = _roles()
    rows = []
    for name, path in shipped_models().items():
        card = _card(path)
        regime, output = _regime(card)
        rows.append({"name": name, "kind": "restoration", "scale": f"x{card['architecture']['scale']}",
                     "input": regime, "output": output, "role": roles.get(name, f"opt-in (--method {name})"),
                     "path": path})
    for name, path in shipped_translations().items():
        card = _card(Path(path))
        a, b = card["domains"]["a"], card["domains"]["b"]
        rows.append({"name": name, "kind": "translation", "scale": f"1/{card['factor']}",
                     "input": f'domain A: {a["pixel_scale"]:g}"/px, noise rms {a["noise_rms"]:g}',
                     "output": f'domain B: {b["pixel_scale"]:g}"/px, noise rms {b["noise_rms"]:g}',
                     "role": f"galgen translate --model {name}", "path": Path(path)})
    return rows


def headline_metrics(card: dict) -> list[tuple[str, float, float | None, float, float | None]]:
    """``(set, PSNR dB, RL's PSNR, median |flux error|, RL's)`` for each held-out set in the card's
    ``metrics`` (the three layouts the cards use; ``None`` where RL is not recorded)."""
    out = []
    for name, entry in card.get("metrics", {}).get("sets", {}).items():
        if "psnr" in entry:
            model = {"median_psnr": entry["psnr"],
                     "median_abs_flux_error": entry.get("median_abs_flux_error")}
            rl = {"median_psnr": entry.get("rl_psnr"),
                  "median_abs_flux_error": entry.get("rl_median_abs_flux_error")}
        elif "model" in entry:
            model, rl = entry["model"], entry.get("baselines", {}).get("richardson_lucy", {})
        elif "methods" in entry:
            learned = [k for k in entry["methods"] if k not in _BASELINES]
            if not learned:
                continue
            model, rl = entry["methods"][learned[0]], entry["methods"].get("richardson_lucy", {})
        else:
            continue
        if model.get("median_psnr") is None:
            continue
        out.append((name, model["median_psnr"], rl.get("median_psnr"), model.get("median_abs_flux_error"),
                    rl.get("median_abs_flux_error")))
    return out


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(str(text), width=100, initial_indent=f"{label:<14}", subsequent_indent=" " * 14)


def _describe(row: dict) -> None:
    from galgen.restoration.methods import _card

    card = _card(row["path"])
    print(f"{row['name']} ({row['kind']}, {row['scale']}; {row['role']})")
    print(_wrap("directory", row["path"]))
    print(_wrap("weights", f"sha256 {card.get('sha256', '?')}"))
    print(_wrap("input", row["input"]))
    print(_wrap("output", row["output"]))
    print(_wrap("intended use", card.get("intended_use", "")))
    examples = card.get("survey_examples", {})
    if examples:
        table = [("survey", "pixel", "PSF FWHM in regime", "typical PSF", "output pixel", "output PSF")]
        for survey, e in examples.items():
            lo, hi = e["psf_fwhm_range_arcsec"]
            out = "" if e.get("typical_psf_in_regime", True) else " (outside)"
            table.append((survey, f'{e["pixel_scale_arcsec"]:g}"', f'{lo:.2f}-{hi:.2f}"',
                          f'{e["typical_psf_fwhm_arcsec"]:g}"{out}', f'{e["output_pixel_scale_arcsec"]:g}"',
                          f'{e["output_psf_fwhm_arcsec"]:g}"'))
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        for i, r in enumerate(table):
            cells = "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
            print(f"{'surveys' if i == 0 else '':<14}{cells}".rstrip())
    if row["kind"] == "restoration":
        posterior = (row["path"] / "posterior" / "model.safetensors").is_file()
        light = ("put back where significant (GALGENLA)" if card.get("residual_light", True) is not False
                 else "not put back")
        print(_wrap("flux", f"calibration: {card.get('flux_calibration', 'least_squares')}; light left in "
                    f"the residual {light}"))
        print(_wrap("uncertainty", "--samples N: " + ("posterior sampler (posterior/)" if posterior
                                                       else "noise bootstrap")
                    + (", calibrated on validation data" if card.get("uncertainty_calibration") else "")))
    metrics = headline_metrics(card)
    if metrics:
        machine = card["metrics"].get("machine")
        print(_wrap("held out", card["metrics"].get("benchmark", "") + (f" ({machine})" if machine else "")))
        for name, psnr, rl_psnr, flux, rl_flux in metrics:
            text = f"{name}: {psnr:.2f} dB"
            if rl_psnr is not None:
                text += f" ({psnr - rl_psnr:+.2f} dB over tuned RL)"
            if flux is not None:
                text += f", median |flux error| {100 * flux:.2f} %"
                text += f" (RL {100 * rl_flux:.2f} %)" if rl_flux is not None else ""
            print(" " * 14 + text)
    print(_wrap("limitations", card.get("limitations", "")))


def cmd_models(args: argparse.Namespace) -> int:
    rows = model_rows()
    if args.name:
        match = [r for r in rows if r["name"] == args.name]
        if not match:
            msg = f"no shipped model {args.name!r}; galgen ships {', '.join(r['name'] for r in rows)}"
            raise GalgenModelError(msg)
        _describe(match[0])
        return 0
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in ("name", "scale", "input", "role")}
    print("  ".join(k.ljust(widths[k]) for k in widths) + "  output")
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in widths) + f"  {r['output']}")
    print("\n'galgen models NAME' shows a model's card: surveys in its regime, flux calibration, "
          "uncertainty, held-out scores, limitations.")
    return 0
