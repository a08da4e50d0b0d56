"""Exact statistics from recorded samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.load.stats import request_stats, run_windows, span, sustained_rate
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


def test_a_sustained_rate_counts_only_its_window_and_successes() -> None:
    samples = frame([("post_tweet", t, 1000, None, None) for t in range(0, 10)]
                    + [("post_tweet", 9.5, 1000, "boom", None)])
    rate, count = sustained_rate(samples, "post_tweet", span(5.0, 9.5))
    assert count == 5 and rate == pytest.approx(5 / 4.5)


def test_the_warm_up_is_kept_apart_from_the_measurement_window() -> None:
    samples = frame([("profile", float(t), 1000 * (50 if t < 3 else 1), None, None)
                     for t in range(10)])
    windows = run_windows(samples, ramp_s=2.0, warmup_s=3.0)
    assert (windows.ramp_end_ts, windows.warmup.end_ts, windows.measurement.start_ts) == (
        2.0, 3.0, 3.0)
    assert windows.measurement.end_ts == pytest.approx(9.001)
    measured = request_stats(samples, windows.measurement)
    warm = request_stats(samples, windows.warmup)
    assert measured.requests["profile"].count == 7 and warm.requests["profile"].count == 3
    assert measured.requests["profile"].latency_ms.max == 1.0     # the cold 50 ms left out
    assert warm.requests["profile"].latency_ms.p50 == 50.0
    assert measured.requests["profile"].rps == pytest.approx(7 / 6.001, abs=0.01)
