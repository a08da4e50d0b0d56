"""Exact latency statistics of a run's recorded samples, per request name and follow bucket."""

from __future__ import annotations

import pandas as pd

from lab.attribution.attribute import sent_in
from lab.percentiles import latency_summary
from lab.records import FailureCount, GroupStats, Latency, RequestStats, Window, Windows


def window(samples: pd.DataFrame) -> tuple[float, float]:
    """Return the samples' span: first request sent to last response received."""
    if samples.empty:
        return 0.0, 0.0
    ends = samples["start_ts"] + samples["latency_us"] / 1e6
    return float(samples["start_ts"].min()), float(ends.max())


def span(start: float, end: float) -> Window:
    return Window(start_ts=start, end_ts=end, seconds=round(max(0.0, end - start), 3))


def run_windows(samples: pd.DataFrame, ramp_s: float, warmup_s: float) -> Windows:
    """The run's windows: the warm-up is the first `warmup_s` after the first request (the
    spawn ramp and a settling time), the measurement window the rest."""
    start, end = window(samples)
    measured_from = min(start + warmup_s, end)
    return Windows(run=span(start, end), ramp_end_ts=min(start + ramp_s, end),
                   warmup=span(start, measured_from), measurement=span(measured_from, end))


def from_schedule_us(samples: pd.DataFrame) -> pd.Series:
    """Each request's latency from its intended start: for a paced request, its service time
    plus the part of its lag behind the schedule its user spent waiting for its previous
    answer; an unpaced one's is its service time (it has no schedule).

    A user still waiting for a slow answer when its next action falls due is held by the
    target: timing that action from its send would leave the wait out (coordinated
    omission). The rest of a lag is the generator waking late, its own fault, which V
    audits instead of charging it to the target.
    """
    if "schedule_wait_ms" not in samples:         # recorded before waits were
        return samples["latency_us"]
    wait_us = samples["schedule_wait_ms"].clip(lower=0).fillna(0.0) * 1000
    return samples["latency_us"] + wait_us


def group_stats(samples: pd.DataFrame, seconds: float) -> GroupStats:
    """Count, failures, throughput and latency of one group of requests."""
    failures = samples["failure"].notna()
    ok = samples[~failures]
    paced = ok[ok["schedule_lag_ms"].notna()] if "schedule_lag_ms" in ok else ok.iloc[:0]
    return GroupStats(
        count=int(len(samples)),
        failures=int(failures.sum()),
        rps=round(len(samples) / seconds, 2) if seconds > 0 else None,
        latency_ms=Latency(**latency_summary(ok["latency_us"].to_numpy())),
        bytes_mean=round(float(samples["bytes"].mean()), 1) if len(samples) else None,
        paced=int(len(paced)),
        from_schedule_ms=Latency(**latency_summary(from_schedule_us(ok).to_numpy()))
        if len(paced) else None,
    )


def request_stats(samples: pd.DataFrame, over: Window | None = None) -> RequestStats:
    """Per request name (and overall): counts, RPS, exact percentiles of successful requests.

    With `over`, only the requests sent in that window, and rates per second of it.
    Failed requests are counted, not timed: a fast 503 must not make a slow
    endpoint look quick.
    """
    if over is not None:
        samples = sent_in(samples, over)
        start, end = over.start_ts, over.end_ts
    else:
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
        window=span(start, end),
        total=group_stats(samples, seconds),
        requests=by_name,
        home_timeline_by_follow_bucket=by_bucket,
        failures=[FailureCount(name=name, reason=reason, count=int(count))
                  for (name, reason), count in failures.items()],
    )


def sustained_rate(samples: pd.DataFrame, name: str, over: Window) -> tuple[float, int]:
    """Successful `name` requests per second of a window (the warm-up would understate a
    sustained rate, so callers pass the measurement window); returns (rate, count)."""
    sent = sent_in(samples, over)
    chosen = sent[(sent["name"] == name) & sent["failure"].isna()]
    if over.seconds <= 0:
        return 0.0, len(chosen)
    return len(chosen) / over.seconds, len(chosen)
