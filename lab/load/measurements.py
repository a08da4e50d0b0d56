"""What the criteria judge, computed from a run's samples (after a run, or live in the UI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.attribution.attribute import sent_in
from lab.load.stats import from_schedule_us, sustained_rate
from lab.percentiles import latency_summary, nearest_rank, percentile
from lab.records import RequestStats, Window
from lab.scenarios import Scenario
from lab.stalls import GENERATOR_PROCESS
from lab.verdicts import SCHEDULE_ON_TIME_S, Verdict


@dataclass(frozen=True)
class Reliability:
    """What R is judged on: the ledger of acknowledged writes and the faults injected."""

    acknowledged: int
    lost: int
    duplicated: int
    faults: int
    faults_not_injected: int      # the injector failed: the run did not test what it claims
    worst_recover_s: float | None


@dataclass(frozen=True)
class PlanSummary:
    """What SC6 is judged on: the plans captured after the load and the findings on them."""

    captured: int
    errors: int
    findings: int
    reader_follows: int
    ran: list[str] | None = None          # the named statements the load ran (None: unknown)
    unexplained: list[str] = field(default_factory=list)   # ...that no plan explains


@dataclass(frozen=True)
class Measurements:
    """Everything the verdicts are judged on, gathered by the run."""

    stats: RequestStats                   # the measurement window
    integrity_violations: int | None
    generator_cpu_max_percent: float | None
    unexpected_failures: int
    schedule_ratio: float | None          # achieved / scheduled rate of paced personas
    posting_rate: float | None            # posts answered 201 per s, measurement window
    posting_p95_ms: float | None          # their p95 from the schedule (SC5 judges it)
    posting_p99_ms: float | None
    plans: PlanSummary | None = None     # None: no plans captured (the live UI view)
    reliability: Reliability | None = None   # None: no ledger checked (the live UI view)
    excused_failures: int = 0     # a fault run's outage 503s, judged by R instead of V
    sc4: Verdict | None = None    # the connection experiment's verdict, when it ran
    window_s: float | None = None           # the measurement window's length
    posting_count: int = 0                  # successful posts in the measurement window
    schedule: ScheduleAudit | None = None   # paced actions against their schedule
    # post_tweet/s the scenario's posters are scheduled to send at this many users (None: the
    # scenario does not schedule posts): SC5's rate cannot be met when this is below it.
    scheduled_posting_rate: float | None = None
    users: int = 0
    posting_service_p95_ms: float | None = None   # the same posts timed from their send
    generator_loop_lag_p95_ms: float | None = None  # Locust's loop, over the window's seconds
    # Locust processes whose samples did not all arrive (no .done marker): a worker that died
    # or was cut off; the run is judged on what arrived, and V counts the loss.
    unfinished_workers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleAudit:
    """How well the paced personas kept their schedule in the measurement window."""

    actions: int                 # paced requests sent
    on_time_share: float         # started within SCHEDULE_ON_TIME_S of their due time
    lag_p95_ms: float
    lag_max_ms: float


def paced_requests(samples: pd.DataFrame) -> pd.DataFrame:
    """The paced personas' requests: those sent on a schedule, so with a lag behind it."""
    return samples[samples["schedule_lag_ms"].notna()]


def schedule_audit(samples: pd.DataFrame, measurement: Window,
                   excused: Sequence[tuple[float, float]] = ()) -> ScheduleAudit | None:
    """The generator's own lateness behind the schedule, per paced request (None: no paced
    persona ran): its lag less the time its user waited for a previous answer (the target's
    share, charged to the latency from the schedule instead). Requests sent in an `excused`
    span (a fault's outage and its recovery) are left out: the fault held them, as it owed
    their 503s."""
    sent = sent_in(paced_requests(samples), measurement)
    for start, end in excused:
        sent = sent[(sent["start_ts"] < start) | (sent["start_ts"] >= end)]
    lag = sent["schedule_lag_ms"].clip(lower=0)
    if "schedule_wait_ms" in sent:
        lag = (lag - sent["schedule_wait_ms"].fillna(0.0)).clip(lower=0)
    if lag.empty:
        return None
    ordered = np.sort(lag.to_numpy())
    return ScheduleAudit(
        actions=len(ordered),
        on_time_share=float((ordered <= SCHEDULE_ON_TIME_S * 1000).mean()),
        lag_p95_ms=float(ordered[nearest_rank(len(ordered), 95) - 1]),
        lag_max_ms=float(ordered[-1]))


def measurements_from(samples: pd.DataFrame, measurement: Window, server: list[dict[str, Any]],
                      scenario: Scenario, users: int, stats: RequestStats,
                      integrity_violations: int | None, plans: dict[str, Any] | None = None,
                      reliability: Reliability | None = None, excused_failures: int = 0,
                      sc4: Verdict | None = None,
                      outages: Sequence[tuple[float, float]] = (),
                      stalls: pd.DataFrame | None = None,
                      running: float | None = None,
                      generator_cpu_percent: float | None = None) -> Measurements:
    """Turn raw samples and server samples into what the criteria judge.

    `stats` are the measurement window's; unexpected failures count over the
    whole run (a failure in the warm-up is still a failure). Server samples
    may be empty (the live view in Locust's UI has none): the generator's CPU
    is then not judged. `excused_failures` are the 503s a fault run's outage
    owes its clients: judged by R, not counted against V; paced actions sent during
    the `outages` (epoch spans) are left out of the schedule audit for the same reason.
    `stalls` (a run's stalls table) give the generator's loop lag. Server samples count in
    the measurement window, both ends, as the attribution's do. The schedule is the one of
    the users that ran: `running` on average over the window (a --shape runs fewer than
    `users` most of the time), `users` when not known.
    """
    measured_server = [s for s in server
                       if measurement.start_ts <= s["ts"] <= measurement.end_ts]
    cpu = [s["locust_cpu_max_process_percent"] for s in measured_server
           if "locust_cpu_max_process_percent" in s]
    if generator_cpu_percent is not None:       # Locust's own reading (the live view)
        cpu.append(generator_cpu_percent)
    ratio = None
    scheduled = scenario.scheduled_rate(users if running is None else running)
    if scheduled and scenario.paced_request:
        # The paced personas' own requests: others sending the same request do not make up
        # for a schedule the generator could not keep.
        achieved, _ = sustained_rate(paced_requests(samples), scenario.paced_request,
                                     measurement)
        ratio = achieved / scheduled
    posts = posts_made(samples, measurement)
    rate = p95 = p99 = service_p95 = None
    if len(posts):
        rate = len(posts) / measurement.seconds if measurement.seconds > 0 else 0.0
        latency = latency_summary(from_schedule_us(posts).to_numpy())
        p95, p99 = latency["p95"], latency["p99"]
        service_p95 = latency_summary(posts["latency_us"].to_numpy())["p95"]
    failures = int(samples["failure"].notna().sum())
    return Measurements(
        stats=stats, integrity_violations=integrity_violations,
        generator_cpu_max_percent=max(cpu) if cpu else None,
        unexpected_failures=failures - excused_failures, schedule_ratio=ratio,
        posting_rate=rate, posting_p95_ms=p95, posting_p99_ms=p99,
        plans=plan_summary(plans), reliability=reliability,
        excused_failures=excused_failures, sc4=sc4, window_s=measurement.seconds,
        posting_count=len(posts), posting_service_p95_ms=service_p95,
        generator_loop_lag_p95_ms=loop_lag_p95(stalls, measurement),
        schedule=schedule_audit(samples, measurement, outages),
        scheduled_posting_rate=scheduled if scenario.paced_request == "post_tweet" else None,
        users=users)


def running_users(history: pd.DataFrame, measurement: Window) -> float | None:
    """The users Locust ran on average over the window, from its per-second history (None
    without history rows in it)."""
    rows = history[(history["ts"] >= measurement.start_ts)
                   & (history["ts"] <= measurement.end_ts)]
    return None if rows.empty else float(rows["users"].mean())


def posts_made(samples: pd.DataFrame, measurement: Window) -> pd.DataFrame:
    """SC5's posts: `post_tweet` requests sent in the window and answered 201 (a tweet made;
    replies and quotes have names of their own, and a refusal is no post)."""
    sent = sent_in(samples, measurement)
    return sent[(sent["name"] == "post_tweet") & (sent["status"] == 201)
                & sent["failure"].isna()]


def loop_lag_p95(stalls: pd.DataFrame | None, measurement: Window) -> float | None:
    """The p95, over the window's seconds, of how late the load generator's busiest event
    loop woke in each (its own evidence of being short of CPU); None without stall rows."""
    if stalls is None or stalls.empty:
        return None
    rows = stalls[stalls["process"].str.startswith(GENERATOR_PROCESS)
                  & (stalls["ts"] >= int(measurement.start_ts))
                  & (stalls["ts"] <= measurement.end_ts)]
    if rows.empty:
        return None
    return percentile(rows.groupby("ts")["loop_lag_max_ms"].max().to_numpy(), 95)


def plan_summary(plans: dict[str, Any] | None) -> PlanSummary | None:
    """SC6's evidence from a plans.json document (None when no plans were captured)."""
    if not plans:
        return None
    captured = plans.get("plans", [])
    coverage = plans.get("coverage") or {}
    return PlanSummary(
        captured=sum("plan" in p for p in captured), errors=sum("error" in p for p in captured),
        findings=len(plans.get("findings", [])),
        reader_follows=int(plans.get("personas", {}).get("power_reader", {}).get("following", 0)),
        ran=coverage.get("ran"), unexplained=list(coverage.get("unexplained", [])))
