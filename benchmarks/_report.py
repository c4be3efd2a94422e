"""Shared by the benchmark scripts that compare methods set by set: the machine a run was on, the
validation/held-out seed choice, the Markdown table of :func:`galgen.evaluation.benchmark.summarize`,
and copies of a shipped model whose card says otherwise."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

import torch
from astropy.table import Table

from galgen.evaluation.benchmark import BENCHMARK_SEED, VALIDATION_SEED, summarize
from galgen.restoration.registry import find_model


def machine() -> str:
    """The host, its cores, torch's version and threads, for the line above each table."""
    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads")


def add_held_out(parser: argparse.ArgumentParser) -> None:
    """``--held-out``: the held-out pairs instead of the validation pairs (see :func:`seed_of`)."""
    parser.add_argument("--held-out", action="store_true", help="held-out pairs (seed 10,000,000)")


def seed_of(args: argparse.Namespace) -> int:
    """The benchmark seed with ``--held-out``, else the validation seed."""
    return BENCHMARK_SEED if args.held_out else VALIDATION_SEED


def print_summary(table: Table, columns: list[tuple[str, str, str]], first: str = "method") -> None:
    """One Markdown row per method of ``summarize(table)``: ``columns`` are ``(summary column,
    header, format spec)``; ``first`` heads the method column."""
    print(f"| {first} | " + " | ".join(c[1] for c in columns) + " |")
    print("| --- " * (len(columns) + 1) + "|")
    for row in summarize(table):
        cells = " | ".join(format(float(row[c]), f) for c, _, f in columns)
        print(f"| {row['method']} | {cells} |")


def card_copy(name: str, root: Path, suffix: str, **changes: object) -> str:
    """A copy of shipped model ``name`` in ``root`` whose card says ``changes`` (named
    ``<name>_<suffix>``, so that its outputs are told apart); its directory."""
    copy = root / f"{name}_{suffix}"
    shutil.copytree(find_model(name), copy)
    card = json.loads((copy / "config.json").read_text())
    card.update(name=f"{name}_{suffix}", **changes)
    (copy / "config.json").write_text(json.dumps(card))
    return str(copy)
