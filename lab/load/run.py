"""One load run, start to verdict: database, API, Locust, sampling, integrity, summary.

Everything the run starts it also stops (API, Locust and its workers, the
sampler, the run database), on success, on failure and on Ctrl-C. The run
folder holds what a report needs: summary.json, every request
(requests.parquet), server samples, statement statistics and Locust's own
CSV and HTML output.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import psycopg
import pyarrow.parquet as pq

import lab
from lab.api_process import api_process, free_port, stop_process
from lab.config import Settings, get_settings
from lab.connections.experiment import ConnectionsConfig, run_experiment
from lab.errors import LabError
from lab.integrity import run_checks
from lab.load import criteria
from lab.load.credentials import issue_credentials, write_credentials
from lab.load.evidence import evidence_from, steady_start
from lab.load.faults import (
    FaultEvent,
    FaultInjector,
    FaultSpec,
    check_faults,
    excused_failures,
    outages_seen,
)
from lab.load.ledger import IdsBefore, check_ledger, ids_before
from lab.load.observe import (
    ServerSampler,
    enable_statements,
    postmaster_pid,
    server_facts,
    statements_delta,
    statements_snapshot,
)
from lab.load.samples import MERGED_FILE, merge_samples
from lab.load.scenarios import LOCUSTFILES, Scenario, get_scenario
from lab.load.stats import request_stats
from lab.migrate import migrate
from lab.pg.databases import drop_database
from lab.pg.server import PgServer
from lab.pg.source import choose_source, open_server
from lab.plans.evidence import plan_evidence
from lab.report.folder import PLANS_FILE
from lab.report.run_page import write_run_report
from lab.report.trends import update_index
from lab.seed.load import Reporter
from lab.seed.scales import get_scale
from lab.seed.template import ensure_template, fresh_copy, read_facts

REPO = Path(__file__).resolve().parents[2]
LOCUST_GRACE_S = 90          # beyond --run-time before Locust is killed
PROGRESS_INTERVAL_S = 5.0
RATE_WINDOW_LINES = 4          # live rate over the last ~15 s
SHAPES = ("ramp", "steady", "spike")

Say = Callable[[str], None]


@dataclass
class RunConfig:
    scenario: str = "mixed"
    users: int = 1000
    spawn_rate: float = 100.0
    run_time_s: int = 120
    scale: str = "small"
    seed: int = 42
    strategy: str = "push"
    db: str | None = None
    api_workers: int = 1
    locust_workers: int = 0
    tag: str = ""
    shape: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    strict: bool = False
    reports_dir: Path = Path("reports")
    keep_database: bool = False
    connections: ConnectionsConfig | None = None   # also run the connection experiment (SC4)
    faults: list[FaultSpec] = field(default_factory=list)  # --fault KIND[@START][+HOLD]


@dataclass
class RunResult:
    folder: Path
    exit_code: int
    verdicts: list[criteria.Verdict]
    summary: dict[str, Any]
    report: Path


def run_folder(config: RunConfig, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    name = f"{stamp}_{config.scenario}_{config.tag or config.strategy}"
    folder = config.reports_dir / name
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def locust_command(config: RunConfig, scenario: Scenario, folder: Path, host: str,
                   credentials: Path) -> list[str]:
    """The exact `locust` invocation (recorded in the summary, runnable by hand)."""
    locustfiles = str(scenario.locustfile)
    if config.shape:
        locustfiles += f",{LOCUSTFILES / 'shapes' / config.shape}.py"
    argv = [sys.executable, "-m", "locust", "-f", locustfiles, "--headless", "--host", host,
            "--users", str(config.users), "--spawn-rate", str(config.spawn_rate),
            "--run-time", f"{config.run_time_s}s", "--stop-timeout", "5",
            "--csv", str(folder / "locust" / "locust"), "--html",
            str(folder / "locust" / "report.html"), "--json-file",
            str(folder / "locust" / "stats"), "--loglevel", "WARNING",
            "--lab-credentials", str(credentials), "--lab-samples", str(folder / "samples")]
    if config.locust_workers:
        argv += ["--processes", str(config.locust_workers), "--master-bind-host", "127.0.0.1"]
    return argv


@contextmanager
def locust_process(argv: list[str], log: Path, env: dict[str, str]
                   ) -> Iterator[subprocess.Popen[bytes]]:
    (log.parent / "locust").mkdir(exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   cwd=REPO)
        try:
            yield process
        finally:
            stop_process(process)
            # --processes forks workers; none may outlive the run.
            for child in psutil.Process().children(recursive=True):
                if child.pid != process.pid and child.name().startswith("python"):
                    cmd = " ".join(child.cmdline())
                    if "locust" in cmd and str(log.parent) in cmd:
                        child.kill()


def _sample_rows(folder: Path, counted: dict[Path, int]) -> int:
    """Rows flushed so far by every Locust process (for the live request rate)."""
    for chunk in folder.rglob("*.parquet"):
        if chunk not in counted:
            try:
                counted[chunk] = pq.ParquetFile(chunk).metadata.num_rows
            except OSError:
                continue
    return sum(counted.values())


def wait_for_locust(process: subprocess.Popen[bytes], config: RunConfig, samples: Path,
                    say: Say) -> int:
    """Wait for Locust to finish, showing elapsed time and the live request rate."""
    started = time.monotonic()
    deadline = started + config.run_time_s + LOCUST_GRACE_S
    counted: dict[Path, int] = {}
    # Chunks land every 2 s: a rate over the last few progress lines does not alias.
    history: deque[tuple[float, int]] = deque([(started, 0)], maxlen=RATE_WINDOW_LINES)
    while process.poll() is None:
        if time.monotonic() > deadline:
            raise LabError(f"Locust did not stop within {LOCUST_GRACE_S} s after --run-time")
        time.sleep(min(PROGRESS_INTERVAL_S, max(0.1, deadline - time.monotonic())))
        if process.poll() is not None:
            break
        now = time.monotonic()
        rows = _sample_rows(samples, counted)
        then, rows_then = history[0]
        history.append((now, rows))
        say(f"  load {now - started:5.0f} s / {config.run_time_s} s: {rows:,} requests "
            f"recorded, ~{(rows - rows_then) / (now - then):,.0f} req/s")
    return int(process.returncode)


def locust_totals(folder: Path) -> dict[str, int] | None:
    """Locust's own final request and failure totals (its --json-file, written at exit).

    Its CSV is rewritten every few seconds and can miss the last requests.
    """
    path = folder / "locust" / "stats.json"
    if not path.exists():
        return None
    entries = json.loads(path.read_text())
    return {"requests": sum(int(e["num_requests"]) for e in entries),
            "failures": sum(int(e["num_failures"]) for e in entries)}


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def machine() -> dict[str, Any]:
    return {"hostname": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}


def execute(config: RunConfig, settings: Settings, reporter: Reporter, say: Say) -> RunResult:
    """Run one load test end to end; see the module docstring."""
    scenario = get_scenario(config.scenario)
    if config.shape and config.shape not in SHAPES:
        raise LabError(f"--shape {config.shape!r}: choose one of {', '.join(SHAPES)}")
    check_faults(config.faults, choose_source(config.db, settings).kind,
                 config.run_time_s)
    started = time.time()
    folder = run_folder(config, started)
    say(f"run folder {folder}")
    with run_target(config, settings, reporter, say, step="[1/5] ") as target:
        result = _run_test(config, scenario, target, folder, started, say)
        if config.connections is None:
            return result
        config.connections.strategy = config.strategy
        say("connection experiment (SC4) on the run database")
        document = run_experiment(config.connections, target, settings, folder, say)
        return judged_with_connections(result, document, config.strict)


def judged_with_connections(result: RunResult, document: dict[str, Any],
                            strict: bool) -> RunResult:
    """Put the connection experiment's SC4 verdict into the run: summary, exit code, report."""
    summary = result.summary
    verdicts = [criteria.Verdict(**v) for v in summary["criteria"]]
    verdicts = [criteria.Verdict(**document["sc4"]) if v.id == "SC4" else v for v in verdicts]
    code = criteria.exit_code(verdicts, strict)
    summary["criteria"] = [v.as_dict() for v in verdicts]
    summary["scenario"]["criteria"] = sorted({*summary["scenario"]["criteria"], "SC4"})
    summary["exit_code"] = code
    (result.folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    report = write_run_report(result.folder)
    update_index(result.folder.parent)
    return RunResult(result.folder, code, verdicts, summary, report)


@dataclass
class Target:
    """The run database, prepared: tokens issued, statement statistics noted, facts read."""

    server: PgServer
    database: str
    credentials: dict[str, Any]
    statements_problem: str | None
    statements_before: dict[int, dict[str, Any]]
    postgres_pid: int | None
    pg_settings: dict[str, str]
    facts: dict[str, Any]
    copy_seconds: float
    ids_before: IdsBefore

    def statements_now(self) -> dict[int, dict[str, Any]]:
        if self.statements_problem:
            return {}
        with self.server.connect(self.database, autocommit=True) as conn:
            return statements_snapshot(conn, self.database)


def prepare_target(server: PgServer, database: str, copy_seconds: float) -> Target:
    with server.connect(database) as conn:
        migrate(conn)
        credentials = issue_credentials(conn)
        problem = enable_statements(conn)
        before = {} if problem else statements_snapshot(conn, database)
        postgres_pid = postmaster_pid(conn)
        pg_settings = server_facts(conn)
        written_before = ids_before(conn)
    return Target(server, database, credentials, problem, before, postgres_pid, pg_settings,
                  read_facts(server, database), copy_seconds, written_before)


def sampler_for(target: Target, host: str, api_pid: int, locust_pid: int) -> ServerSampler:
    processes = {"api": api_pid, "locust": locust_pid}
    if target.postgres_pid:
        processes["postgres"] = target.postgres_pid
    return ServerSampler(target.server, target.database, host, processes)


@contextmanager
def run_target(config: RunConfig, settings: Settings, reporter: Reporter, say: Say,
               step: str = "") -> Iterator[Target]:
    """A fresh copy of the seeded dataset, prepared for Locust; dropped afterwards.

    (Kept instead with `config.keep_database`, for plans and debugging.)
    """
    scale = get_scale(config.scale)
    database = f"timeline_lab_run_{os.getpid()}"
    with open_server(config.db, settings) as server:
        say(f"{step}dataset {scale.name}: template, fresh copy {database}")
        template = ensure_template(server, scale, config.seed, reporter)
        copy_seconds = fresh_copy(server, template.template, database)
        try:
            yield prepare_target(server, database, copy_seconds)
        finally:
            if not config.keep_database:
                drop_database(server, database)


@dataclass(frozen=True)
class ServedApi:
    process: subprocess.Popen[bytes]
    host: str
    credentials: Path          # the tokens file Locust reads
    env: dict[str, str]        # the environment Locust should run with too


@contextmanager
def served_api(target: Target, config: RunConfig, folder: Path, say: Say,
               step: str = "") -> Iterator[ServedApi]:
    """Write the tokens for Locust and serve the run database; remove both afterwards."""
    credentials = folder / "credentials.json"
    write_credentials(credentials, target.credentials)
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    say(f"{step}API on {host} (strategy {config.strategy}, {config.api_workers} worker(s))")
    try:
        with api_process(target.server, target.database, config.strategy, port, env,
                         config.api_workers, folder / "api.log") as process:
            yield ServedApi(process, host, credentials, env)
    finally:
        credentials.unlink(missing_ok=True)  # its tokens die with the run database


def _run_test(config: RunConfig, scenario: Scenario, target: Target, folder: Path,
              started: float, say: Say) -> RunResult:
    locust_exit: int | None = None
    with served_api(target, config, folder, say, step="[2/5] ") as api:
        argv = locust_command(config, scenario, folder, api.host, api.credentials)
        workers = f" + {config.locust_workers} workers" if config.locust_workers else ""
        say(f"[3/5] Locust {scenario.name}: {config.users} users at {config.spawn_rate:g}/s "
            f"for {config.run_time_s} s{workers}")
        with locust_process(argv, folder / "locust.log", api.env) as locust:
            sampler = sampler_for(target, api.host, api.process.pid, locust.pid)
            sampler.start()
            injector = FaultInjector(config.faults, target.server, target.database,
                                     get_settings(), say)
            injector.start()
            try:
                locust_exit = wait_for_locust(locust, config, folder / "samples", say)
            finally:
                faults = injector.stop()
                sampler.stop()
    say("[4/5] statements, integrity check, ledger, samples")
    return finish_test(config, scenario, target, folder, _only_test(folder), started,
                       sampler.samples, sampler.errors, argv, locust_exit,
                       target.statements_before, say, faults)


def finish_test(config: RunConfig, scenario: Scenario, target: Target, folder: Path,
                test_folder: Path, started: float, server_samples: list[dict[str, Any]],
                sampler_errors: list[str], argv: list[str], locust_exit: int | None,
                statements_before: dict[int, dict[str, Any]], say: Say,
                faults: list[FaultEvent] | None = None) -> RunResult:
    """Judge one finished test and write its run folder (used by `lab run` and `lab ui`)."""
    statements = statements_delta(statements_before, target.statements_now())
    merged = merge_samples(test_folder, folder / MERGED_FILE)
    samples = pd.read_parquet(folder / MERGED_FILE)
    if samples.empty:
        raise LabError(f"Locust recorded no requests (exit {locust_exit}); see "
                       f"{folder / 'locust.log'}")
    with target.server.connect(target.database) as conn:
        checks = run_checks(conn, config.strategy)
        ledger = check_ledger(conn, samples, target.ids_before)
    violations = sum(c.violations for c in checks)
    outages = outages_seen(faults or [], samples)
    plans = capture_run_plans(target, config.strategy, statements, say)
    stats = request_stats(samples)
    steady_from = steady_start(samples, config.users, config.spawn_rate)
    reliability = criteria.Reliability(
        ledger.acknowledged, ledger.lost, ledger.duplicated, len(outages),
        sum(o["injected_ts"] is None or o["error"] is not None for o in outages),
        max((o["recover_s"] for o in outages if o["recover_s"] is not None), default=None))
    evidence = evidence_from(samples, stats, server_samples, scenario, config.users,
                             steady_from, violations, plans, reliability,
                             excused_failures(outages))
    scope = [*scenario.criteria, "R"]
    verdicts = criteria.judge(evidence, scope, config.thresholds)
    code = criteria.exit_code(verdicts, config.strict)

    say("[5/5] summary and report")
    pd.DataFrame(server_samples).to_parquet(folder / "server.parquet")
    (folder / "statements.json").write_text(json.dumps(statements, indent=1))
    if plans is not None:
        (folder / PLANS_FILE).write_text(json.dumps(plans, indent=1, default=str))
    summary = {
        "lab_version": lab.__version__,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "load_started_ts": float(samples["start_ts"].min()),
        "steady_from_ts": steady_from,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {**asdict(config), "reports_dir": str(config.reports_dir),
                   "database": target.database, "locust_argv": argv[1:]},
        "scenario": {"name": scenario.name, "description": scenario.description,
                     "criteria": scope,
                     "target_rate_per_s": scenario.target_rate(config.users)},
        "git": git_state(),
        "machine": machine(),
        "postgres": {"url": target.server.display_url(target.database),
                     "settings": target.pg_settings,
                     "pg_stat_statements": target.statements_problem or "available"},
        "dataset": {key: target.facts.get(key)
                    for key in ("scale", "seed", "rows", "timeline_cap")}
        | {"power_readers": len(target.credentials["power_readers"]),
           "fresh_copy_s": round(target.copy_seconds, 2)},
        "locust": {"exit_code": locust_exit, "totals": locust_totals(folder)},
        "samples": {"rows": merged.rows, "workers": merged.workers,
                    "unfinished_workers": merged.unfinished},
        "server_sampling": {"samples": len(server_samples), "errors": sampler_errors},
        "integrity": [asdict(c) for c in checks],
        "ledger": ledger.as_dict(),
        "faults": outages,
        "statements_top": statements[:20],
        "stats": stats,
        "criteria": [v.as_dict() for v in verdicts],
        "exit_code": code,
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    report = write_run_report(folder)
    update_index(folder.parent)
    return RunResult(folder, code, verdicts, summary, report)


def capture_run_plans(target: Target, strategy: str, statements: list[dict[str, Any]],
                      say: Say) -> dict[str, Any] | None:
    """Plans of every statement on the run database, after the load (SC6).

    A failure here costs the run its plans, not its verdicts: it is reported.
    """
    say("  plans: EXPLAIN ANALYZE of every statement with representative users")
    try:
        with target.server.connect(target.database, autocommit=True) as conn:
            return plan_evidence(conn, strategy, get_settings(), statements)
    except (LabError, psycopg.Error) as exc:
        say(f"  plans could not be captured: {exc}")
        return None


def _only_test(folder: Path) -> Path:
    """The samples folder of the run's one test (each test start names its own)."""
    tests = sorted(p for p in (folder / "samples").glob("*") if p.is_dir())
    if len(tests) != 1:
        raise LabError(f"expected the samples of one test in {folder / 'samples'}, found "
                       f"{len(tests)}; see {folder / 'locust.log'}")
    return tests[0]
