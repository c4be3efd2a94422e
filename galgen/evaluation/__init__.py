"""Validation of restorations: per-galaxy measurements and the standard benchmark."""

from galgen.evaluation.benchmark import (
    BENCHMARK_SEED,
    VALIDATION_SEED,
    benchmark_report,
    choose_rl_iterations,
    restore_pair,
    run_benchmark,
    summarize,
    summarize_by_bin,
)
from galgen.evaluation.files import evaluate_files, evaluate_manifest
from galgen.evaluation.measure import METRIC_UNITS, measure_galaxy

__all__ = [
    "measure_galaxy",
    "METRIC_UNITS",
    "run_benchmark",
    "restore_pair",
    "benchmark_report",
    "summarize",
    "summarize_by_bin",
    "evaluate_files",
    "evaluate_manifest",
    "choose_rl_iterations",
    "BENCHMARK_SEED",
    "VALIDATION_SEED",
]
