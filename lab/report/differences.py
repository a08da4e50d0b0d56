"""Which changes between runs are real: per request name, each run against the reference.

Computed from the exact samples of each run's measurement window (the window
its criteria judged), never from the rounded summaries: a percentile's
interval needs the requests themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lab.attribution.attribute import sent_in
from lab.intervals import Difference, percentile_difference, percentile_interval, rate_difference
from lab.percentiles import PERCENTILES
from lab.runfolder import RunFolder

COMPARED = ("p50", "p95", "p99")
RATE = "rps"
ALL = "all"     # every request of the window together


@dataclass(frozen=True)
class Measured:
    """One run's measurement window, split by request name (and ALL of it together)."""

    latencies_ms: dict[str, np.ndarray]     # successful requests only
    per_second: dict[str, np.ndarray]       # successful requests in each whole second


def measured(run: RunFolder) -> Measured:
    """The samples a run's criteria judged, by request name."""
    window = run.summary.windows.measurement
    sent = sent_in(run.samples, window)
    seconds = max(1, int(window.seconds))
    ok = sent[sent["failure"].isna()].assign(
        second=lambda s: ((s["start_ts"] - window.start_ts) // 1).astype(int))
    latencies = {str(name): group["latency_us"].to_numpy(dtype=np.float64) / 1000.0
                 for name, group in ok.groupby("name")}
    latencies[ALL] = ok["latency_us"].to_numpy(dtype=np.float64) / 1000.0
    counts = (ok[ok["second"] < seconds].groupby(["name", "second"]).size()
              .unstack(fill_value=0).reindex(columns=range(seconds), fill_value=0))
    per_second = {str(name): row.to_numpy(dtype=np.float64) for name, row in counts.iterrows()}
    per_second[ALL] = counts.sum(axis=0).to_numpy(dtype=np.float64) if len(counts) \
        else np.zeros(seconds)
    return Measured(latencies, per_second)


def differences(reference: Measured, other: Measured, name: str) -> dict[str, Difference]:
    """p50, p95, p99 and req/s of `name` in `other` against `reference` (missing: no data)."""
    found: dict[str, Difference] = {}
    before, after = reference.latencies_ms.get(name), other.latencies_ms.get(name)
    if before is not None and after is not None:
        for key in COMPARED:
            difference = percentile_difference(before, after, PERCENTILES[key])
            if difference is not None:
                found[key] = difference
    counts, other_counts = reference.per_second.get(name), other.per_second.get(name)
    if counts is not None and other_counts is not None:
        rate = rate_difference(counts, other_counts)
        if rate is not None:
            found[RATE] = rate
    return found


def own_interval(run: Measured, name: str, metric: str) -> tuple[float, float] | None:
    """The interval of one run's own percentile (the charts' error bars)."""
    sample = run.latencies_ms.get(name)
    return None if sample is None else percentile_interval(sample, PERCENTILES[metric])

