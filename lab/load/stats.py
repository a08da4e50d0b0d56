"""Exact latency statistics of a run's recorded samples, per request name and follow bucket."""

from __future__ import annotations

import pandas as pd

from lab.percentiles import latency_summary
from lab.runfolder import FailureCount, GroupStats, Latency, RequestStats, Window


def window(samples: pd.DataFrame) -> tuple[float, float]:
    """Return the samples' span: first request sent to last response received."""
    if samples.empty:
        return 0.0, 0.0
    ends = samples["start_ts"] + samples["latency_us"] / 1e6
    return float(samples["start_ts"].min()), float(ends.max())


def group_stats(samples: pd.DataFrame, seconds: float) -> GroupStats:
    """Count, failures, throughput and latency of one group of requests."""
    failures = samples["failure"].notna()
    ok = samples.loc[~failures, "latency_us"].to_numpy()
    return GroupStats(
        count=int(len(samples)),
        failures=int(failures.sum()),
        rps=round(len(samples) / seconds, 2) if seconds > 0 else None,
        latency_ms=Latency(**latency_summary(ok)),
        bytes_mean=round(float(samples["bytes"].mean()), 1) if len(samples) else None,
    )


def request_stats(samples: pd.DataFrame) -> RequestStats:
    """Per request name (and overall): counts, RPS, exact percentiles of successful requests.

    Failed requests are counted, not timed: a fast 503 must not make a slow
    endpoint look quick.
    """
    start, end = window(samples)
    seconds = end - start
    by_name = {str(name): group_stats(group, seconds)
               for name, group in samples.groupby("name", sort=True)}
    timeline = samples[samples["name"] == "home_timeline"]
    by_bucket = {str(bucket): group_stats(group, seconds)
                 for bucket, group in timeline.groupby("bucket", sort=True)}
    failures = (samples[samples["failure"].notna()]
                .groupby(["name", "failure"]).size().sort_values(ascending=False))
    return RequestStats(
        window=Window(start_ts=start, end_ts=end, seconds=round(seconds, 3)),
        total=group_stats(samples, seconds),
        requests=by_name,
        home_timeline_by_follow_bucket=by_bucket,
        failures=[FailureCount(name=name, reason=reason, count=int(count))
                  for (name, reason), count in failures.items()],
    )


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
