"""After the load: everything the verdicts need, gathered from the run database and the samples.

The statement statistics' delta, every process's samples merged, the
integrity audit, the ledger of acknowledged writes, what clients saw of each
fault, the plans of every statement on the data the load left, and the
run's tables (server seconds, session samples, stalls, events) with the
attribution read off them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from lab.attribution.attribute import attribution
from lab.attribution.causes import Setup
from lab.config import Settings
from lab.errors import LabError
from lab.integrity import CheckResult, run_checks
from lab.load.activity import COLUMNS as WAIT_COLUMNS
from lab.load.criteria import RECOVERY_LIMIT_S
from lab.load.database import RunDatabase
from lab.load.faults import excused_failures, outage_windows, outages_seen, reliability
from lab.load.ledger import check_ledger
from lab.load.measure import Measurement
from lab.load.measurements import Measurements, measurements_from
from lab.load.samples import MergeResult, merge_samples
from lab.load.stats import request_stats, run_windows
from lab.load.visibility import lag_summary
from lab.plans.document import plan_document
from lab.plans.naive import naive_comparison
from lab.plans.statements import label_statements, statements_delta
from lab.progress import Say
from lab.records import Attribution, FaultOutcome, Ledger, RequestStats, VisibilityLag, Windows
from lab.runconfig import RunConfig
from lab.runfolder import (
    EVENTS_FILE,
    LOCUST_LOG,
    REQUESTS_FILE,
    SERVER_FILE,
    STALLS_FILE,
    WAITS_FILE,
)
from lab.scenarios import Scenario, get_scenario
from lab.stalls import read_stalls
from lab.verdicts import Verdict


@dataclass(frozen=True)
class Collected:
    """A finished test's evidence, ready to be judged and written."""

    samples: pd.DataFrame
    merged: MergeResult
    windows: Windows
    stats: RequestStats            # the measurement window
    warmup_stats: RequestStats
    statements: list[dict[str, Any]]
    checks: list[CheckResult]
    ledger: Ledger
    outages: list[FaultOutcome]
    plans: dict[str, Any] | None
    tables: dict[str, pd.DataFrame]   # by run-folder file name
    attribution: Attribution
    visibility: VisibilityLag


def tables_of(measurement: Measurement, windows: Windows) -> dict[str, pd.DataFrame]:
    """The run's server-side tables, each empty when nothing was seen."""
    watch = measurement.watch
    stalls = read_stalls(measurement.test_samples.parent, windows.run.start_ts,
                         windows.run.end_ts)
    return {SERVER_FILE: pd.DataFrame(watch.server_samples),
            WAITS_FILE: pd.DataFrame(watch.waits, columns=list(WAIT_COLUMNS)),
            STALLS_FILE: pd.DataFrame(stalls, columns=["ts", "process", "loop_lag_max_ms",
                                                       "loop_lag_total_ms", "gc_pause_ms",
                                                       "gc_collections"]),
            EVENTS_FILE: pd.DataFrame(watch.events, columns=["ts", "kind", "detail"])}


def collect(config: RunConfig, database: RunDatabase, folder: Path, measurement: Measurement,
            settings: Settings, say: Say) -> Collected:
    """Gather the evidence of one finished test on `database`."""
    statements = statements_delta(measurement.statements_before, measurement.statements_after)
    merged = merge_samples(measurement.test_samples, folder / REQUESTS_FILE)
    samples = pd.read_parquet(folder / REQUESTS_FILE)
    if samples.empty:
        raise LabError(f"Locust recorded no requests (exit {measurement.locust_exit}); see "
                       f"{folder / LOCUST_LOG}")
    with database.server.connect(database.name) as conn:
        checks = run_checks(conn, config.strategy)
        ledger = check_ledger(conn, samples, database.ids_before,
                              {s.tweet_id for s in measurement.visibility})
    plans = capture_run_plans(database, config.strategy, statements, settings, say,
                              compare_naive=get_scenario(config.scenario).compare_naive)
    windows = run_windows(samples, config.ramp_s, config.warmup_s)
    stats, warmup = request_stats(samples, windows.measurement), request_stats(samples,
                                                                                windows.warmup)
    tables = tables_of(measurement, windows)
    explained = attribution(
        samples, windows, stats, warmup,
        {"server": tables[SERVER_FILE], "waits": tables[WAITS_FILE],
         "stalls": tables[STALLS_FILE], "events": tables[EVENTS_FILE]},
        Setup(config.api_workers, settings.pool_max, config.locust_workers, os.cpu_count()),
        measurement.watch.wait_sampling, measurement.watch.unavailable,
        label_statements(statements, plans["plans"] if plans else [], config.strategy))
    visibility = lag_summary(measurement.visibility, windows.measurement, config.strategy,
                             settings.fanout, measurement.visibility_errors)
    return Collected(samples, merged, windows, stats, warmup, statements, checks, ledger,
                     outages_seen(measurement.faults, samples), plans, tables, explained,
                     visibility)


def measurements(config: RunConfig, scenario: Scenario, collected: Collected,
                 measurement: Measurement, sc4: Verdict | None,
                 running: float | None = None) -> Measurements:
    """What the criteria judge, from the collected evidence; `running`: the users Locust ran
    on average in the measurement window (None: all of them, all the time)."""
    ledger = collected.ledger
    measured = measurements_from(
        collected.samples, collected.windows.measurement, measurement.watch.server_samples,
        scenario,
        config.users, collected.stats, sum(c.violations for c in collected.checks),
        collected.plans,
        reliability(ledger.acknowledged, ledger.lost, ledger.duplicated, collected.outages),
        excused_failures(collected.outages), sc4,
        outage_windows(collected.outages, RECOVERY_LIMIT_S), collected.tables[STALLS_FILE],
        running)
    return replace(measured, unfinished_workers=tuple(collected.merged.unfinished))


def capture_run_plans(database: RunDatabase, strategy: str, statements: list[dict[str, Any]],
                      settings: Settings, say: Say,
                      compare_naive: bool = False) -> dict[str, Any] | None:
    """Plans of every statement on the run database, after the load (SC6), and with
    `compare_naive` the naive schema's plans for the same questions (rolled back).

    A failure here costs the run its plans, not its verdicts: it is reported.
    """
    say("  plans: EXPLAIN ANALYZE of every statement with representative users")
    try:
        with database.server.connect(database.name, autocommit=True) as conn:
            plans = plan_document(conn, strategy, settings, statements)
            if compare_naive:
                say("  naive schema: the same questions on the beginner's tables (rolled back)")
                plans["naive"] = naive_comparison(conn, plans)
            return plans
    except (LabError, psycopg.Error) as exc:
        say(f"  plans could not be captured: {exc}")
        return None
