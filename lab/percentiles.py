"""Exact percentiles of latency samples (nearest rank, no histogram rounding).

One definition for every percentile the lab prints: load runs, the connection
experiment, comparisons, charts and `lab bench` all take them here. The p-th
percentile of n samples is the smallest sample with at least p % of the samples
at or below it (numpy's method="inverted_cdf"): always a value that was
measured, never an interpolation between two.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p99_9": 99.9}


def nearest_rank(count: int, percent: float) -> int:
    """The 1-based rank of the `percent` percentile among `count` sorted samples.

    The smallest sample with at least `percent` % of samples at or below it.
    (Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floating point.)
    """
    return max(1, math.ceil(round(percent / 100 * count, 9)))


def percentile(values: np.ndarray | pd.Series, percent: float) -> float | None:
    """The nearest-rank `percent` percentile of `values`, in their unit (None when empty)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    if len(ordered) == 0:
        return None
    return float(ordered[nearest_rank(len(ordered), percent) - 1])


def per_group(values: pd.Series, groups: pd.Series, percent: float) -> pd.Series:
    """The nearest-rank `percent` percentile of `values` within each group (e.g. each second
    of a run), indexed by group."""
    return values.groupby(groups).agg(lambda group: percentile(group.to_numpy(), percent))


def latency_summary(latency_us: np.ndarray) -> dict[str, float | None]:
    """Return nearest-rank percentiles, mean and max in milliseconds (None when empty)."""
    if len(latency_us) == 0:
        return {key: None for key in [*PERCENTILES, "mean", "max"]}
    ms = np.sort(np.asarray(latency_us, dtype=np.float64)) / 1000.0
    values = [ms[nearest_rank(len(ms), p) - 1] for p in PERCENTILES.values()]
    summary: dict[str, float | None] = {key: round(float(v), 3)
                                        for key, v in zip(PERCENTILES, values, strict=True)}
    summary["mean"] = round(float(ms.mean()), 3)
    summary["max"] = round(float(ms.max()), 3)
    return summary
