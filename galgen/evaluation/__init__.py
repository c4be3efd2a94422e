"""Validation of restorations: per-galaxy measurements and the standard benchmark."""

from galgen.evaluation.benchmark import (
    BENCHMARK_SEED,
    VALIDATION_SEED,
    choose_rl_iterations,
    run_benchmark,
    summarize,
)
from galgen.evaluation.measure import METRIC_UNITS, measure_galaxy

__all__ = [
    "measure_galaxy",
    "METRIC_UNITS",
    "run_benchmark",
    "summarize",
    "choose_rl_iterations",
    "BENCHMARK_SEED",
    "VALIDATION_SEED",
]
