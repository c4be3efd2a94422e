"""Validation of restorations: per-galaxy measurements and the standard benchmark."""

from galgen.evaluation.benchmark import (
    BENCHMARK_SEED,
    BENCHMARK_SETS,
    VALIDATION_SEED,
    benchmark_report,
    restore_pair,
    run_benchmark,
    summarize,
    summarize_by_bin,
)
from galgen.evaluation.files import evaluate_files, evaluate_manifest
from galgen.evaluation.measure import METRIC_UNITS, measure_galaxy
from galgen.evaluation.tuning import BaselineTuning, tune_baselines

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
    "BENCHMARK_SETS",
    "BaselineTuning",
    "tune_baselines",
    "BENCHMARK_SEED",
    "VALIDATION_SEED",
]
