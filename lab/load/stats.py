"""Exact latency statistics from the recorded samples (no histogram rounding)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p99_9": 99.9}


def latency_summary(latency_us: np.ndarray) -> dict[str, float | None]:
    """Return nearest-rank percentiles, mean and max in milliseconds (None when empty)."""
    if len(latency_us) == 0:
        return {key: None for key in [*PERCENTILES, "mean", "max"]}
    ms = np.sort(np.asarray(latency_us, dtype=np.float64)) / 1000.0
    # Nearest rank: the smallest sample with at least p % of samples at or below it.
    # (Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floating point.)
    ranks = [max(1, math.ceil(round(p / 100 * len(ms), 9))) for p in PERCENTILES.values()]
    values = [ms[rank - 1] for rank in ranks]
    summary: dict[str, float | None] = {key: round(float(v), 3)
                                        for key, v in zip(PERCENTILES, values, strict=True)}
    summary["mean"] = round(float(ms.mean()), 3)
    summary["max"] = round(float(ms.max()), 3)
    return summary


def window(samples: pd.DataFrame) -> tuple[float, float]:
    """Return the run's measured span: first request sent to last response received."""
    if samples.empty:
        return 0.0, 0.0
    ends = samples["start_ts"] + samples["latency_us"] / 1e6
    return float(samples["start_ts"].min()), float(ends.max())


def group_stats(samples: pd.DataFrame, seconds: float) -> dict[str, Any]:
    """Count, failures, throughput and latency of one group of requests."""
    failures = samples["failure"].notna()
    ok = samples.loc[~failures, "latency_us"].to_numpy()
    return {
        "count": int(len(samples)),
        "failures": int(failures.sum()),
        "rps": round(len(samples) / seconds, 2) if seconds > 0 else None,
        "latency_ms": latency_summary(ok),
        "bytes_mean": round(float(samples["bytes"].mean()), 1) if len(samples) else None,
    }


def request_stats(samples: pd.DataFrame) -> dict[str, Any]:
    """Per request name (and overall): counts, RPS, exact percentiles of successful requests.

    Failed requests are counted, not timed: a fast 503 must not make a slow
    endpoint look quick.
    """
    start, end = window(samples)
    seconds = end - start
    by_name = {name: group_stats(group, seconds)
               for name, group in samples.groupby("name", sort=True)}
    timeline = samples[samples["name"] == "home_timeline"]
    by_bucket = {bucket: group_stats(group, seconds)
                 for bucket, group in timeline.groupby("bucket", sort=True)}
    failures = (samples[samples["failure"].notna()]
                .groupby(["name", "failure"]).size().sort_values(ascending=False))
    return {
        "window": {"start_ts": start, "end_ts": end, "seconds": round(seconds, 3)},
        "total": group_stats(samples, seconds),
        "requests": by_name,
        "home_timeline_by_follow_bucket": by_bucket,
        "failures": [{"name": name, "reason": reason, "count": int(count)}
                     for (name, reason), count in failures.items()],
    }


def steady_rate(samples: pd.DataFrame, name: str, after_ts: float) -> tuple[float, int, float]:
    """Successful `name` requests per second from `after_ts` to the end of the run.

    Returns (rate, count, seconds). The ramp-up before `after_ts` would
    understate a sustained rate, so it is left out.
    """
    _, end = window(samples)
    seconds = end - after_ts
    chosen = samples[(samples["name"] == name) & samples["failure"].isna()
                     & (samples["start_ts"] >= after_ts)]
    if seconds <= 0:
        return 0.0, len(chosen), 0.0
    return len(chosen) / seconds, len(chosen), seconds
