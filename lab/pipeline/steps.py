"""The steps every finished test goes through: judge every criterion once, write, render."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

import lab
from lab.config import Settings
from lab.load.collect import Collected, measurements
from lab.load.criteria import judge
from lab.load.database import RunDatabase
from lab.load.measure import Measurement, locust_totals
from lab.load.measurements import running_users
from lab.records import (
    ApiInfo,
    Dataset,
    Environment,
    GitState,
    LocustInfo,
    Machine,
    PostgresInfo,
    SamplesInfo,
    SamplingInfo,
    ScenarioInfo,
)
from lab.report.run_page import write_run_report
from lab.report.trends import update_index
from lab.resources import source_checkout
from lab.runconfig import RunConfig
from lab.runfolder import Summary, user_history, utc_stamp, write_run_folder
from lab.scenarios import Scenario
from lab.verdicts import Verdict, exit_code

TOP_STATEMENTS = 20


@dataclass(frozen=True)
class RunResult:
    folder: Path
    summary: Summary
    report: Path

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def git_state() -> GitState:
    """The commit the lab runs from (None outside a git checkout, e.g. an installed wheel)."""
    checkout = source_checkout()

    def git(*args: str) -> str | None:
        if checkout is None:
            return None
        try:
            done = subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True,
                                  timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain")
    return GitState(commit=git("rev-parse", "HEAD"),
                    dirty=None if status is None else bool(status))


def machine() -> Machine:
    return Machine(hostname=platform.node(), platform=platform.platform(),
                   python=platform.python_version(), cpus=os.cpu_count(),
                   memory_gb=round(psutil.virtual_memory().total / 2**30, 1))


def environment(database: RunDatabase, config: RunConfig, settings: Settings) -> Environment:
    return Environment(
        lab_version=lab.__version__, git=git_state(), machine=machine(),
        postgres=PostgresInfo(url=database.server.display_url(database.name),
                              database=database.name, settings=database.pg_settings,
                              pg_stat_statements=database.statements_problem or "available"),
        api=ApiInfo(workers=config.api_workers, pool_min=settings.pool_min,
                    pool_max=max(settings.pool_max, settings.pool_min),
                    pool_timeout_s=settings.pool_timeout_s,
                    server_timing=settings.server_timing, gc_freeze=settings.gc_freeze))


def judged(config: RunConfig, scenario: Scenario, database: RunDatabase, folder: Path,
           measurement: Measurement, collected: Collected, sc4: Verdict | None,
           settings: Settings) -> Summary:
    """Judge every criterion in scope once, and describe the run in its summary."""
    declared = [c for c in scenario.criteria if c != "SC4" or config.connection_check]
    scope = [*declared, "R", *(["SC4"] if sc4 and "SC4" not in declared else [])]
    running = running_users(user_history(folder), collected.windows.measurement)
    verdicts = judge(measurements(config, scenario, collected, measurement, sc4, running),
                     scope, config.thresholds)
    facts = database.facts
    return Summary(
        started_at=utc_stamp(measurement.started), finished_at=utc_stamp(),
        windows=collected.windows, config=config,
        scenario=ScenarioInfo(name=scenario.name, description=scenario.description,
                              criteria=scope,
                              scheduled_rate_per_s=scenario.scheduled_rate(config.users)),
        environment=environment(database, config, settings),
        dataset=Dataset(scale=facts.get("scale"), seed=facts.get("seed"),
                        rows=facts.get("rows") or {}, timeline_cap=facts.get("timeline_cap"),
                        power_readers=len(database.credentials["power_readers"]),
                        fresh_copy_s=round(database.copy_seconds, 2)),
        locust=LocustInfo(argv=measurement.locust_argv[1:], exit_code=measurement.locust_exit,
                          totals=locust_totals(folder)),
        samples=SamplesInfo(rows=collected.merged.rows, workers=collected.merged.workers,
                            unfinished_workers=collected.merged.unfinished),
        server_sampling=SamplingInfo(samples=len(measurement.watch.server_samples),
                                     errors=measurement.watch.sampler_errors),
        integrity=collected.checks, ledger=collected.ledger, faults=collected.outages,
        statements_top=collected.statements[:TOP_STATEMENTS], stats=collected.stats,
        warmup_stats=collected.warmup_stats, attribution=collected.attribution,
        visibility=collected.visibility,
        criteria=verdicts,
        exit_code=exit_code(verdicts, config.strict))


def written(folder: Path, summary: Summary, measurement: Measurement,
            collected: Collected) -> RunResult:
    """Write the judged run's folder once, then render its report and the index."""
    write_run_folder(folder, summary, collected.tables, collected.statements, collected.plans)
    return RunResult(folder, summary, render(folder))


def render(folder: Path) -> Path:
    """The run's index.html and junit.xml, and reports/index.html beside it."""
    report = write_run_report(folder)
    update_index(folder.parent)
    return report
