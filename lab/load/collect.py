"""After the load: everything the verdicts need, gathered from the run database and the samples.

The statement statistics' delta, every process's samples merged, the
integrity audit, the ledger of acknowledged writes, what clients saw of each
fault, and the plans of every statement on the data the load left.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from lab.config import Settings
from lab.errors import LabError
from lab.integrity import CheckResult, run_checks
from lab.load.database import RunDatabase
from lab.load.faults import excused_failures, outages_seen, reliability
from lab.load.ledger import check_ledger
from lab.load.measure import Measurement
from lab.load.measurements import Measurements, measurements_from
from lab.load.samples import MergeResult, merge_samples
from lab.load.stats import request_stats, run_windows
from lab.plans.document import plan_document
from lab.plans.statements import statements_delta
from lab.progress import Say
from lab.runconfig import RunConfig
from lab.runfolder import LOCUST_LOG, REQUESTS_FILE, FaultOutcome, Ledger, RequestStats, Windows
from lab.scenarios import Scenario
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
        ledger = check_ledger(conn, samples, database.ids_before)
    plans = capture_run_plans(database, config.strategy, statements, settings, say)
    windows = run_windows(samples, config.ramp_s, config.warmup_s)
    return Collected(samples, merged, windows, request_stats(samples, windows.measurement),
                     request_stats(samples, windows.warmup), statements, checks, ledger,
                     outages_seen(measurement.faults, samples), plans)


def measurements(config: RunConfig, scenario: Scenario, collected: Collected,
                 measurement: Measurement, sc4: Verdict | None) -> Measurements:
    """What the criteria judge, from the collected evidence."""
    ledger = collected.ledger
    return measurements_from(
        collected.samples, collected.windows.measurement, measurement.server_samples, scenario,
        config.users, collected.stats, sum(c.violations for c in collected.checks),
        collected.plans,
        reliability(ledger.acknowledged, ledger.lost, ledger.duplicated, collected.outages),
        excused_failures(collected.outages), sc4)


def capture_run_plans(database: RunDatabase, strategy: str, statements: list[dict[str, Any]],
                      settings: Settings, say: Say) -> dict[str, Any] | None:
    """Plans of every statement on the run database, after the load (SC6).

    A failure here costs the run its plans, not its verdicts: it is reported.
    """
    say("  plans: EXPLAIN ANALYZE of every statement with representative users")
    try:
        with database.server.connect(database.name, autocommit=True) as conn:
            return plan_document(conn, strategy, settings, statements)
    except (LabError, psycopg.Error) as exc:
        say(f"  plans could not be captured: {exc}")
        return None
