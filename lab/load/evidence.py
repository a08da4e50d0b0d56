"""What the criteria judge, computed from a run's samples (after a run, or live in the UI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lab.load import criteria
from lab.load.scenarios import Scenario
from lab.load.stats import latency_summary, steady_rate


def steady_start(samples: pd.DataFrame, users: int, spawn_rate: float) -> float:
    """When the spawn ramp is over: the first request plus users / spawn rate."""
    ramp_s = users / spawn_rate if spawn_rate else 0.0
    return float(samples["start_ts"].min()) + ramp_s


def evidence_from(samples: pd.DataFrame, stats: dict[str, Any], server: list[dict[str, Any]],
                  scenario: Scenario, users: int, steady_from: float,
                  integrity_violations: int | None,
                  plans: dict[str, Any] | None = None,
                  reliability: criteria.Reliability | None = None,
                  excused_failures: int = 0) -> criteria.RunEvidence:
    """Turn raw samples and server samples into what the criteria judge.

    Server samples may be empty (the live view in Locust's UI has none): the
    generator's CPU is then not judged. `excused_failures` are the 503s a
    fault run's outage owes its clients: judged by R, not counted against V.
    """
    steady_server = [s for s in server if s["ts"] >= steady_from]
    cpu = [s["locust_cpu_max_process_percent"] for s in steady_server
           if "locust_cpu_max_process_percent" in s]
    ratio = None
    target = scenario.target_rate(users)
    if target and scenario.paced_request:
        achieved, _, _ = steady_rate(samples, scenario.paced_request, steady_from)
        ratio = achieved / target
    posts = samples[(samples["name"] == "post_tweet") & (samples["start_ts"] >= steady_from)]
    rate = p95 = p99 = None
    if len(posts):
        rate, _, _ = steady_rate(samples, "post_tweet", steady_from)
        latency = latency_summary(posts.loc[posts["failure"].isna(), "latency_us"].to_numpy())
        p95, p99 = latency["p95"], latency["p99"]
    return criteria.RunEvidence(
        stats=stats, integrity_violations=integrity_violations,
        generator_cpu_max_percent=max(cpu) if cpu else None,
        unexpected_failures=stats["total"]["failures"] - excused_failures, schedule_ratio=ratio,
        posting_rate=rate, posting_p95_ms=p95, posting_p99_ms=p99,
        plans=plan_summary(plans), reliability=reliability,
        excused_failures=excused_failures)


def plan_summary(plans: dict[str, Any] | None) -> criteria.PlanSummary | None:
    """SC6's evidence from a plans.json document (None when no plans were captured)."""
    if not plans:
        return None
    captured = plans.get("plans", [])
    return criteria.PlanSummary(
        captured=sum("plan" in p for p in captured), errors=sum("error" in p for p in captured),
        findings=len(plans.get("findings", [])),
        reader_follows=int(plans.get("personas", {}).get("power_reader", {}).get("following", 0)))
