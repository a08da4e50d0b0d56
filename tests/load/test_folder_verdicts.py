"""A run folder judged again from its raw samples, independently of the lab's own statistics.

Each real tiny run's requests.parquet is cut into the windows the summary declares,
its percentiles recomputed here with numpy (nearest rank: the smallest sample with
at least p % at or below it), and held against summary.json, the HTML page and
junit.xml. At commit 878e41a this would have failed: the page said the criteria were
judged after the ramp while SC1, SC3 and T1 were computed over the whole run.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from lab.records import GroupStats, Window
from lab.runfolder import Summary
from tests.load.conftest import TinyRun

KEYS = {"p50": 50, "p95": 95, "p99": 99}


# The failing run (master and two workers) is the lab's subject: the PostgreSQL 15 pass
# leaves it out.
@pytest.fixture(params=["passing_run",
                        pytest.param("failing_run", marks=pytest.mark.scenario_runs)])
def run(request: pytest.FixtureRequest) -> TinyRun:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def sent_in(samples: pd.DataFrame, window: Window) -> pd.DataFrame:
    return samples[(samples["start_ts"] >= window.start_ts)
                   & (samples["start_ts"] < window.end_ts)]


def percentile_ms(group: pd.DataFrame, percent: float) -> float | None:
    ok = group.loc[group["failure"].isna(), "latency_us"].to_numpy() / 1000
    return None if len(ok) == 0 else float(np.percentile(ok, percent, method="inverted_cdf"))


def same(entry: GroupStats, group: pd.DataFrame) -> None:
    assert entry.count == len(group)
    assert entry.failures == int(group["failure"].notna().sum())
    for key, percent in KEYS.items():
        expected = percentile_ms(group, percent)
        measured = getattr(entry.latency_ms, key)
        assert (measured is None) == (expected is None)
        if expected is not None:
            assert measured == pytest.approx(expected, abs=0.001), key


def test_the_windows_are_the_configured_warm_up_and_what_follows(run: TinyRun) -> None:
    """Both runs start 20 users at 10/s for 18 s (tests/load/conftest.py's RUN): by
    docs/criteria.md the spawn ramp is 20 / 10 = 2 s and the settling a tenth of the run
    time, 1.8 s (shorter than 10 s), so the measurement window opens 3.8 s in."""
    summary, samples = run.summary, pd.read_parquet(run.folder / "requests.parquet")
    windows = summary.windows
    ends = samples["start_ts"] + samples["latency_us"] / 1e6
    assert windows.run.start_ts == samples["start_ts"].min()
    assert windows.run.end_ts == pytest.approx(ends.max())
    assert windows.ramp_end_ts == pytest.approx(windows.run.start_ts + 2.0)
    assert windows.warmup.start_ts == windows.run.start_ts
    assert windows.warmup.end_ts == windows.measurement.start_ts == pytest.approx(
        windows.run.start_ts + 3.8)
    assert windows.measurement.end_ts == windows.run.end_ts
    assert windows.measurement.seconds > 5      # a real window to judge, not a sliver


def test_the_statistics_of_each_window_follow_from_the_samples(run: TinyRun) -> None:
    summary, samples = run.summary, pd.read_parquet(run.folder / "requests.parquet")
    for stats, window in ((summary.stats, summary.windows.measurement),
                          (summary.warmup_stats, summary.windows.warmup)):
        chosen = sent_in(samples, window)
        assert set(stats.requests) == set(chosen["name"])
        for name, group in chosen.groupby("name"):
            same(stats.requests[str(name)], group)
        same(stats.total, chosen)
        timeline = chosen[chosen["name"] == "home_timeline"]
        for bucket, group in timeline.groupby("bucket"):
            same(stats.home_timeline_by_follow_bucket[str(bucket)], group)


def expected_measured(summary: Summary, samples: pd.DataFrame) -> dict[str, str]:
    """What SC1, SC3 and T1 must say, from the measurement window's samples alone."""
    chosen = sent_in(samples, summary.windows.measurement)

    def p95(group: pd.DataFrame) -> str:
        value = percentile_ms(group, 95)
        return "no samples" if value is None else f"{value:.1f} ms"

    power = chosen[(chosen["name"] == "home_timeline") & (chosen["bucket"] == "1000+")]
    worst = max(((name, percentile_ms(group, 99)) for name, group in chosen.groupby("name")
                 if percentile_ms(group, 99) is not None), key=lambda x: x[1] or 0.0)
    return {"SC1": f"p95 {p95(chosen[chosen['name'] == 'register_user'])}",
            "SC3": f"p95 {p95(power)} ({len(power)} requests)",
            "T1": f"worst p99 {worst[1]:.1f} ms ({worst[0]})"}


def test_every_verdict_says_what_the_samples_say_in_summary_page_and_junit(
        run: TinyRun) -> None:
    summary, samples = run.summary, pd.read_parquet(run.folder / "requests.parquet")
    verdicts = {v.id: v for v in summary.criteria}
    for cid, measured in expected_measured(summary, samples).items():
        assert verdicts[cid].measured == measured, cid
        assert verdicts[cid].window == "measurement window"
    page = (run.folder / "index.html").read_text()
    cases = {case.attrib["name"].split(":")[0]: case
             for case in ET.parse(run.folder / "junit.xml").getroot().iter("testcase")}
    for verdict in summary.criteria:
        assert html.escape(verdict.measured) in page, verdict.id
        out = cases[verdict.id].find("system-out")
        assert out is not None and verdict.measured in (out.text or "")
        if verdict.window:
            assert f"judged on the {verdict.window}" in (out.text or "")
    # Every criterion the scenario puts in scope was measured in these runs: none passed
    # (or failed) for lack of samples.
    for cid in summary.scenario.criteria:
        assert verdicts[cid].status in ("pass", "fail"), verdicts[cid]
