"""Exact statistics from recorded samples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.load.stats import request_stats, steady_rate
from lab.percentiles import latency_summary


def frame(rows: list[tuple[str, float, int, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["name", "start_ts", "latency_us", "failure", "bucket"]
                        ).assign(bytes=100)


def test_percentiles_are_nearest_rank_on_every_sample() -> None:
    summary = latency_summary(np.arange(1, 1001) * 1000)  # 1..1000 ms
    assert summary["p50"] == 500.0
    assert summary["p95"] == 950.0
    assert summary["p99"] == 990.0
    assert summary["p99_9"] == 999.0
    assert summary["max"] == 1000.0
    assert summary["mean"] == 500.5


def test_empty_groups_have_no_numbers_rather_than_zeros() -> None:
    assert latency_summary(np.array([]))["p95"] is None


def test_failures_are_counted_but_not_timed_and_timelines_split_by_follow_bucket() -> None:
    samples = frame([
        ("home_timeline", 0.0, 10_000, None, "1000+"),
        ("home_timeline", 1.0, 90_000, None, "1000+"),
        ("home_timeline", 2.0, 5_000, None, "0-99"),
        ("home_timeline", 3.0, 1_000, "home_timeline: HTTP 503 unavailable", "0-99"),
        ("profile", 9.0, 1_000_000, None, None),
    ])
    stats = request_stats(samples)
    assert stats.window.seconds == 10.0  # 0 s to 9 s + 1 s latency
    timeline = stats.requests["home_timeline"]
    assert (timeline.count, timeline.failures) == (4, 1)
    assert timeline.latency_ms.max == 90.0  # the fast 503 is not a latency
    assert timeline.rps == 0.4
    power = stats.home_timeline_by_follow_bucket["1000+"]
    assert power.count == 2 and power.latency_ms.p50 == 10.0
    assert [f.model_dump() for f in stats.failures] == [
        {"name": "home_timeline", "reason": "home_timeline: HTTP 503 unavailable", "count": 1}]


def test_steady_rate_leaves_out_the_ramp_and_failures() -> None:
    samples = frame([("post_tweet", t, 1000, None, None) for t in range(0, 10)]
                    + [("post_tweet", 9.5, 1000, "boom", None)])
    rate, count, seconds = steady_rate(samples, "post_tweet", after_ts=5.0)
    assert count == 5
    assert abs(seconds - 4.501) < 1e-9
    assert abs(rate - 5 / 4.501) < 1e-9
