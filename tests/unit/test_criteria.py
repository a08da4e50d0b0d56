"""Verdicts and exit codes of a run."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from lab import verdicts as vocabulary
from lab.load.criteria import judge
from lab.load.faults import outage_windows
from lab.load.measurements import (
    Measurements,
    Reliability,
    ScheduleAudit,
    measurements_from,
    schedule_audit,
)
from lab.load.stats import request_stats
from lab.records import FaultOutcome, GroupStats, RequestStats, Window
from lab.scenarios import load_scenarios
from lab.verdicts import Verdict, exit_code

SCOPE = ["SC1", "SC2", "SC3", "T1", "V"]


def entry(p95: float, p99: float, count: int = 100) -> GroupStats:
    return GroupStats.model_validate({
        "count": count, "failures": 0, "rps": 10.0, "bytes_mean": 100.0,
        "latency_ms": {"p50": 1.0, "p90": 2.0, "p95": p95, "p99": p99, "p99_9": p99,
                       "max": p99, "mean": 1.0}})


def stats(requests: dict[str, GroupStats], power: GroupStats) -> RequestStats:
    return RequestStats.model_validate({
        "window": {"start_ts": 0.0, "end_ts": 10.0, "seconds": 10.0},
        "total": entry(10, 30), "requests": requests,
        "home_timeline_by_follow_bucket": {"1000+": power}, "failures": []})


def evidence(**changes: Any) -> Measurements:
    base = dict(stats=stats({"register_user": entry(20, 30), "home_timeline": entry(10, 15)},
                            entry(12, 18)),
                integrity_violations=0, generator_cpu_max_percent=40.0,
                unexpected_failures=0, schedule_ratio=None, posting_rate=None,
                posting_p95_ms=None, posting_p99_ms=None)
    return Measurements(**{**base, **changes})


def by_id(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.id: v for v in verdicts}


def test_a_clean_run_passes_and_unmeasurable_criteria_are_marked_not_passed() -> None:
    verdicts = by_id(judge(evidence(), SCOPE))
    assert [verdicts[c].status for c in ("SC1", "SC2", "SC3", "T1", "V")] == ["pass"] * 5
    assert verdicts["SC4"].status == verdicts["SC5"].status == "not in scope"
    assert exit_code(list(verdicts.values())) == vocabulary.EXIT_PASSED


def test_a_threshold_override_decides_the_verdict() -> None:
    verdicts = judge(evidence(), SCOPE, {"SC1": 19.0})
    assert by_id(verdicts)["SC1"].status == "fail"
    assert exit_code(verdicts) == vocabulary.EXIT_CRITERION_FAILED


def test_integrity_violations_fail_sc2() -> None:
    verdicts = judge(evidence(integrity_violations=3), SCOPE)
    assert by_id(verdicts)["SC2"].status == "fail"
    assert by_id(verdicts)["SC2"].measured == "3 violations"


def test_a_generator_bound_run_is_invalid_whatever_else_passed() -> None:
    verdicts = judge(evidence(generator_cpu_max_percent=95.0), SCOPE)
    assert by_id(verdicts)["V"].status == "fail"
    assert "generator-bound" in by_id(verdicts)["V"].note
    assert exit_code(verdicts) == vocabulary.EXIT_INVALID_RUN


def test_falling_behind_invalidates_a_run_only_on_the_generators_own_evidence() -> None:
    """Paced users wait for each answer, so a slow target puts them behind as surely as a
    starved generator: V blames the generator only when its CPU or its loop says so (it
    called every such run invalid, exit 3, before)."""
    slow_target = judge(evidence(schedule_ratio=0.8, generator_loop_lag_p95_ms=4.0), SCOPE)
    v = by_id(slow_target)["V"]
    assert v.status == "pass" and "the target fell behind, not the generator" in v.note
    assert "80% of the scheduled rate" in v.note and "loop lag p95 4 ms" in v.measured
    assert exit_code(slow_target) == vocabulary.EXIT_PASSED
    starved_loop = by_id(judge(evidence(schedule_ratio=0.8, generator_loop_lag_p95_ms=250.0),
                               SCOPE))["V"]
    assert starved_loop.status == "fail" and "generator-bound" in starved_loop.note
    starved_cpu = by_id(judge(evidence(schedule_ratio=0.8, generator_cpu_max_percent=93.0),
                              SCOPE))["V"]
    assert starved_cpu.status == "fail" and "80% of the scheduled rate" in starved_cpu.note
    unknown = by_id(judge(evidence(schedule_ratio=0.8, generator_cpu_max_percent=None),
                          SCOPE))["V"]
    assert unknown.status == "fail" and "cause unknown" in unknown.note
    assert by_id(judge(evidence(unexpected_failures=1), SCOPE))["V"].status == "fail"


def test_lab_targets_fail_a_run_only_when_strict() -> None:
    slow = evidence(stats=stats({"register_user": entry(20, 30), "home_timeline": entry(50, 60)},
                                entry(50, 60)))
    verdicts = judge(slow, SCOPE)
    assert by_id(verdicts)["SC3"].status == "pass" and by_id(verdicts)["SC3"].lab_met is False
    assert by_id(verdicts)["T1"].status == "fail"
    assert exit_code(verdicts) == vocabulary.EXIT_PASSED
    assert exit_code(verdicts, strict=True) == vocabulary.EXIT_CRITERION_FAILED


def test_posting_needs_both_the_rate_and_the_latency() -> None:
    scope = [*SCOPE, "SC5"]
    fast_but_few = judge(evidence(posting_rate=80.0, posting_p95_ms=10.0, posting_p99_ms=20.0),
                         scope)
    assert by_id(fast_but_few)["SC5"].status == "fail"
    enough = judge(evidence(posting_rate=120.0, posting_p95_ms=10.0, posting_p99_ms=20.0), scope)
    assert by_id(enough)["SC5"].status == "pass" and by_id(enough)["SC5"].lab_met is True


def test_r_fails_on_a_lost_write_or_a_slow_recovery_and_needs_faults_injected() -> None:
    from dataclasses import replace

    base = evidence()
    kept = Reliability(acknowledged=90, lost=0, duplicated=0, faults=2, faults_not_injected=0,
                       worst_recover_s=0.4)

    def r_status(reliability: Reliability) -> str:
        verdicts = judge(replace(base, reliability=reliability), [*SCOPE, "R"])
        return by_id(verdicts)["R"].status

    assert r_status(kept) == "pass"
    assert r_status(replace(kept, lost=1)) == "fail"
    assert r_status(replace(kept, duplicated=1)) == "fail"
    assert r_status(replace(kept, worst_recover_s=12.0)) == "fail"
    assert r_status(replace(kept, faults_not_injected=1)) == "fail"
    # Without faults, only the ledger counts.
    assert r_status(replace(kept, faults=0, worst_recover_s=None)) == "pass"


def test_an_in_scope_criterion_without_samples_fails_the_run() -> None:
    """A run that measured nothing for SC1 must not pass it (it did, at commit 878e41a)."""
    nothing = evidence(stats=stats({"home_timeline": entry(10, 15)}, entry(12, 18)))
    verdicts = judge(nothing, SCOPE)
    assert by_id(verdicts)["SC1"].status == "not measured"
    assert by_id(verdicts)["SC1"].blocks
    assert exit_code(verdicts) == vocabulary.EXIT_CRITERION_FAILED
    # Out of scope, the same absence is no failure.
    assert exit_code(judge(nothing, ["SC2", "SC3", "T1", "V"])) == vocabulary.EXIT_PASSED


def test_every_verdict_names_the_window_it_was_judged_on() -> None:
    windows = {v.id: v.window for v in judge(evidence(), SCOPE)}
    assert windows["SC1"] == windows["SC3"] == windows["T1"] == "measurement window"
    assert windows["SC2"] == windows["SC6"] == "after the load"
    assert windows["V"] == windows["R"] == "whole run"


def test_a_paced_schedule_that_fell_behind_makes_the_run_invalid() -> None:
    kept = ScheduleAudit(actions=1000, on_time_share=0.99, lag_p95_ms=120.0, lag_max_ms=1500.0)
    late = ScheduleAudit(actions=1000, on_time_share=0.90, lag_p95_ms=2400.0, lag_max_ms=5e3)
    fine = by_id(judge(evidence(schedule=kept), SCOPE))["V"]
    assert fine.status == "pass" and "99.0% on schedule (lag p95 120 ms" in fine.measured
    behind = by_id(judge(evidence(schedule=late, generator_loop_lag_p95_ms=300.0), SCOPE))["V"]
    assert behind.status == "fail" and "90% of paced actions started within 1 s" in behind.note
    assert "generator-bound" in behind.note


def test_a_window_too_thin_for_its_percentiles_makes_the_run_invalid() -> None:
    assert by_id(judge(evidence(window_s=60.0), SCOPE))["V"].status == "pass"
    short = by_id(judge(evidence(window_s=8.0), SCOPE))["V"]
    assert short.status == "fail" and "measurement window 8 s" in short.note
    # 19 registrations: their p95 would be the maximum; out of scope, SC5's count is not judged.
    few = evidence(stats=stats({"register_user": entry(20, 30, count=19),
                                "home_timeline": entry(10, 15)}, entry(12, 18)),
                   posting_count=3)
    thin = by_id(judge(few, SCOPE))["V"]
    assert thin.status == "fail" and thin.note == "SC1's p95 rests on 19 samples (at least 20)"


def test_paced_actions_held_by_a_fault_are_left_out_of_the_schedule_audit() -> None:
    # Ten paced requests a second for 10 s, on time, but those sent in 4-6 s were held 3 s
    # by an injected fault (as the fault's 503s are excused from V, so is their lateness).
    start = 1_000.0
    sent = [start + i / 10 for i in range(100)]
    lag = [3_000.0 if 4 <= t - start < 6 else 20.0 for t in sent]
    samples = pd.DataFrame({"start_ts": sent, "schedule_lag_ms": lag})
    window = Window(start_ts=start, end_ts=start + 10, seconds=10.0)
    behind = schedule_audit(samples, window)
    assert behind is not None and behind.actions == 100 and behind.on_time_share == 0.8
    excused = schedule_audit(samples, window, outage_windows(
        [fault(injected=start + 4, restored=start + 5)], slack_s=1.0))
    assert excused is not None and excused.actions == 80 and excused.on_time_share == 1.0
    assert excused.lag_max_ms == 20.0


def fault(injected: float, restored: float) -> FaultOutcome:
    return FaultOutcome(kind="pool-exhaust", label="pool-exhaust", injected_ts=injected,
                        restored_ts=restored, detail="", error=None, errors=0, outage_s=0.0,
                        recover_s=0.0)


def test_the_scheduled_rate_is_compared_with_the_paced_personas_own_requests() -> None:
    # posting at 10 users schedules 1.5 tweets/s; its paced posters kept 1/s (two thirds)
    # while an unpaced persona posted 2/s more: the generator still fell behind.
    start = 1_000.0
    paced = [(start + i, 5.0) for i in range(10)]
    others = [(start + i / 2, None) for i in range(20)]
    samples = pd.DataFrame(
        [{"start_ts": ts, "name": "post_tweet", "failure": None, "latency_us": 2_000,
          "bytes": 300, "bucket": "0-99", "status": 201,
          "schedule_lag_ms": lag} for ts, lag in paced + others])
    window = Window(start_ts=start, end_ts=start + 10, seconds=10.0)
    measured = measurements_from(samples, window, [], load_scenarios()["posting"], 10,
                                 request_stats(samples, window), 0)
    assert measured.schedule_ratio == pytest.approx(1.0 / 1.5)
    assert measured.posting_rate == pytest.approx(3.0)     # SC5 counts every tweet
    assert by_id(judge(measured, ["SC5", "V"]))["V"].status == "fail"


def test_a_posting_rate_the_configuration_never_schedules_is_not_the_targets_failure() -> None:
    seed = load_scenarios()["seed"]
    offered = seed.scheduled_rate(300)
    assert offered is not None and offered < 100          # the seed's posters scale with users
    slow_enough = evidence(posting_rate=offered * 0.99, posting_p95_ms=20.0,
                           posting_p99_ms=30.0, scheduled_posting_rate=offered, users=300)
    sc5 = by_id(judge(slow_enough, ["SC5"]))["SC5"]
    needed = -(-300 * 100 // offered)
    assert sc5.status == "not measured" and "unreachable by construction" in sc5.note
    assert f"run at least {needed:,.0f} users" in sc5.note
    assert f"SC5_RATE={int(offered * 0.95 * 10) / 10:g}" in sc5.note
    # Slow posts fail whatever the rate: that is the target's doing.
    slow = evidence(posting_rate=offered, posting_p95_ms=150.0, posting_p99_ms=200.0,
                    scheduled_posting_rate=offered, users=300)
    assert by_id(judge(slow, ["SC5"]))["SC5"].status == "fail"
    # At 1000 users the schedule asks for more than 100/s: a shortfall is a plain failure.
    at_scale = seed.scheduled_rate(1000)
    assert at_scale is not None and at_scale > 100
    short = evidence(posting_rate=90.0, posting_p95_ms=20.0, posting_p99_ms=30.0,
                     scheduled_posting_rate=at_scale, users=1000)
    verdict = by_id(judge(short, ["SC5"]))["SC5"]
    assert verdict.status == "fail" and verdict.note == ""


def posts(rows: list[tuple[float, int, int, float | None]],
          waited: bool = True) -> pd.DataFrame:
    """post_tweet samples from (sent at, status, service µs, schedule lag ms); `waited`: the
    whole lag was spent waiting for the user's previous answer (else the generator's)."""
    return pd.DataFrame([{"start_ts": ts, "name": "post_tweet", "status": status,
                          "failure": None, "latency_us": service, "bytes": 300,
                          "bucket": "0-99", "schedule_lag_ms": lag,
                          "schedule_wait_ms": (lag if waited else 0.0) if lag is not None
                          else None}
                         for ts, status, service, lag in rows])


def test_a_generator_waking_late_is_not_charged_to_the_target() -> None:
    """The same 90 ms lags, but the users' previous answers had come back in time: the
    generator woke late (a busy machine). The target's latency stays 30 ms, and the lag is
    the generator's, audited by V."""
    start = 1_000.0
    samples = posts([(start + i / 4, 201, 30_000, 1500.0) for i in range(40)], waited=False)
    window = Window(start_ts=start, end_ts=start + 10, seconds=10.0)
    measured = measurements_from(samples, window, [], load_scenarios()["posting"], 10,
                                 request_stats(samples, window), 0)
    assert measured.posting_p95_ms == measured.posting_service_p95_ms == pytest.approx(30.0)
    assert measured.schedule is not None and measured.schedule.on_time_share == 0.0
    assert by_id(judge(measured, ["SC5", "V"], {"SC5_RATE": 1}))["V"].status == "fail"


def test_sc5_times_paced_posts_from_their_schedule_and_counts_only_tweets_made() -> None:
    """40 paced posts answered in 30 ms, each sent 90 ms behind its due time because its
    user was still waiting for its previous answer: their users waited 120 ms. SC5 judged
    the 30 ms (coordinated omission) before; a 403 counted as a post too."""
    start = 1_000.0
    rows = [(start + i / 4, 201, 30_000, 90.0) for i in range(40)]
    rows += [(start + i / 4 + 0.1, 403, 5_000, 90.0) for i in range(8)]   # refused
    samples = posts(rows)
    window = Window(start_ts=start, end_ts=start + 10, seconds=10.0)
    measured = measurements_from(samples, window, [], load_scenarios()["posting"], 10,
                                 request_stats(samples, window), 0)
    assert measured.posting_count == 40 and measured.posting_rate == pytest.approx(4.0)
    assert measured.posting_p95_ms == pytest.approx(120.0)
    assert measured.posting_service_p95_ms == pytest.approx(30.0)
    sc5 = by_id(judge(measured, ["SC5"], {"SC5_RATE": 1}))["SC5"]
    assert sc5.status == "fail"
    assert "p95 120.0 ms from the schedule (service time p95 30.0 ms)" in sc5.measured
    stats_of = request_stats(samples, window).requests["post_tweet"]
    assert stats_of.paced == 48 and stats_of.from_schedule_ms is not None
    assert stats_of.from_schedule_ms.p50 == pytest.approx(120.0)


def test_unpaced_requests_are_timed_from_their_send() -> None:
    start = 1_000.0
    samples = posts([(start + i / 4, 201, 30_000, None) for i in range(40)])
    window = Window(start_ts=start, end_ts=start + 10, seconds=10.0)
    measured = measurements_from(samples, window, [], load_scenarios()["mixed"], 10,
                                 request_stats(samples, window), 0)
    assert measured.posting_p95_ms == measured.posting_service_p95_ms == pytest.approx(30.0)
    assert request_stats(samples, window).requests["post_tweet"].from_schedule_ms is None


def test_titles_say_the_thresholds_in_force() -> None:
    titles = {v.id: v.title for v in judge(evidence(), SCOPE, {"SC1": 80.0, "SC5_RATE": 40.0})}
    assert titles["SC1"] == "registration < 80 ms"
    assert titles["SC5"] == "40 tweets/s with sub-100 ms responses"
    assert titles["SC3"] == "timeline < 100 ms for users following 1000+ accounts"


def test_sc6_fails_on_a_failed_plan_a_statement_left_unexplained_or_no_power_reader() -> None:
    from lab.load.measurements import PlanSummary

    explained = PlanSummary(captured=28, errors=0, findings=3, reader_follows=1200,
                            ran=["follow", "like"], unexplained=[])
    scope = [*SCOPE, "SC6"]

    def sc6(plans: PlanSummary) -> Verdict:
        return by_id(judge(evidence(plans=plans), scope))["SC6"]

    assert sc6(explained).status == "pass"
    assert "28 plans of the 2 named statements the load ran" in sc6(explained).measured
    from dataclasses import replace
    left_out = sc6(replace(explained, unexplained=["unlike"]))
    assert left_out.status == "fail" and left_out.note == "ran but not explained: unlike"
    assert sc6(replace(explained, errors=1)).status == "fail"
    few = sc6(replace(explained, reader_follows=400))
    assert few.status == "fail" and "no user following 1000+ accounts" in few.note
    assert by_id(judge(evidence(), scope))["SC6"].status == "not measured"


def test_thin_sc3_and_sc5_windows_and_an_unsampled_cpu_are_said() -> None:
    thin_power = evidence(stats=stats({"register_user": entry(20, 30),
                                       "home_timeline": entry(10, 15)}, entry(12, 18, count=7)))
    v = by_id(judge(thin_power, SCOPE))["V"]
    assert v.status == "fail" and v.note == "SC3's p95 rests on 7 samples (at least 20)"
    few_posts = evidence(posting_rate=120.0, posting_p95_ms=10.0, posting_p99_ms=20.0,
                         posting_count=12)
    v = by_id(judge(few_posts, [*SCOPE, "SC5"]))["V"]
    assert v.status == "fail" and "SC5's p95 rests on 12 samples" in v.note
    assert by_id(judge(few_posts, SCOPE))["V"].status == "pass"     # SC5 out of scope
    blind = by_id(judge(evidence(generator_cpu_max_percent=None), SCOPE))["V"]
    assert "CPU not sampled" in blind.measured


def test_the_generators_cpu_is_judged_in_the_window_both_ends() -> None:
    """A sample after the last response (the run tearing down) is not the window's: V had a
    start and no end, the attribution both, and the page showed two "Locust CPU max"."""
    start = 1_000.0
    samples = posts([(start + i / 4, 201, 30_000, None) for i in range(40)])
    window = Window(start_ts=start, end_ts=start + 10, seconds=10.0)
    server = [{"ts": start + 5, "locust_cpu_max_process_percent": 40.0},
              {"ts": start + 12, "locust_cpu_max_process_percent": 99.0},
              {"ts": start - 1, "locust_cpu_max_process_percent": 97.0}]
    measured = measurements_from(samples, window, server, load_scenarios()["mixed"], 10,
                                 request_stats(samples, window), 0)
    assert measured.generator_cpu_max_percent == 40.0
    live = measurements_from(samples, window, [], load_scenarios()["mixed"], 10,
                             request_stats(samples, window), 0, generator_cpu_percent=55.0)
    assert live.generator_cpu_max_percent == 55.0
