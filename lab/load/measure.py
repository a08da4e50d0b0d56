"""Measure one headless load: serve the run database (or drive the target), run Locust, sample
the server, inject faults.

Everything started here is stopped here, on success, on failure and on
Ctrl-C. What comes out (`Measurement`) is raw: samples on disk, server
rows, the statement statistics right after the load. Judging is later.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from lab.config import Settings
from lab.errors import LabError
from lab.load.activity import ActivitySampler
from lab.load.database import RunDatabase
from lab.load.faults import FaultEvent, FaultInjector
from lab.load.observe import ServerSampler
from lab.load.profiling import profiler_for
from lab.load.samples import only_test, test_folders
from lab.load.served import ServedApi, served_api
from lab.load.visibility import Seen, VisibilityProbe
from lab.load.workers import WORKERS_LOG, WorkerLog
from lab.processes import child_process, headless_options, locust_command
from lab.progress import Say
from lab.records import LocustTotals
from lab.resources import locustfiles_dir
from lab.runconfig import RunConfig, master_address
from lab.runfolder import (
    LOCUST_CSV_PREFIX,
    LOCUST_DIR,
    LOCUST_LOG,
    LOCUST_REPORT,
    LOCUST_STATS,
    PROFILES_DIR,
    SAMPLES_DIR,
)
from lab.scenarios import Scenario
from lab.targets import STARTED, Target

LOCUST_GRACE_S = 90          # beyond --run-time before Locust is killed
PROGRESS_INTERVAL_S = 5.0
RATE_WINDOW_LINES = 4          # live rate over the last ~15 s


def sampler_for(database: RunDatabase, api: ServedApi, locust_pid: int,
                remote_workers: bool = False) -> ServerSampler:
    """Sample the processes on this machine; an API elsewhere through its /stats."""
    processes = {"locust": locust_pid}
    if api.process is not None:
        processes["api"] = api.process.pid
    if database.postgres_pid:
        processes["postgres"] = database.postgres_pid
    return ServerSampler(database.server, database.name, api.host, processes,
                         api_remote=api.remote, remote_workers=remote_workers)


@dataclass(frozen=True)
class Watch:
    """What the server-side samplers saw of one test."""

    server_samples: list[dict[str, Any]]          # every second (observe.py)
    sampler_errors: list[str]
    events: list[dict[str, Any]]                  # checkpoints, vacuums, analyzes
    unavailable: dict[str, str]                   # signals this server or host does not offer
    waits: list[tuple[Any, ...]]                  # the 10 Hz session samples (activity.py)
    wait_sampling: dict[str, Any]                 # what the wait sampling cost


def watch_of(sampler: ServerSampler, activity: ActivitySampler, since_ts: float = 0.0) -> Watch:
    """The samplers' rows from `since_ts` on (a `lab ui` session holds several tests)."""
    return Watch([s for s in sampler.samples if s["ts"] >= since_ts], list(sampler.errors),
                 [e for e in sampler.events if e["ts"] >= since_ts],
                 {**sampler.not_observed,
                  **(sampler.counters.unavailable if sampler.counters else {})},
                 [w for w in activity.rows if w[0] >= since_ts], activity.cost.as_dict())


@dataclass(frozen=True)
class Measurement:
    """What one test left behind, before anything is judged."""

    test_samples: Path                 # the test's own samples folder (one per test start)
    started: float                     # epoch seconds: the test started
    watch: Watch
    locust_argv: list[str]
    locust_exit: int | None            # None: a test of a `lab ui` session
    statements_before: dict[int, dict[str, Any]]
    statements_after: dict[int, dict[str, Any]]
    faults: list[FaultEvent]
    visibility: list[Seen] = field(default_factory=list)   # the probe's posts
    visibility_errors: list[str] = field(default_factory=list)


def measure(config: RunConfig, scenario: Scenario, database: RunDatabase, folder: Path,
            settings: Settings, say: Say, target: Target = STARTED) -> Measurement:
    """Run the scenario headless against the API (a fresh one on `database`, or the target);
    see the module docstring."""
    started = time.time()
    with served_api(target, database, config.strategy, config.api_workers, folder, say,
                    step="[2/5] ") as api:
        files = [scenario.locustfile]
        if config.shape:
            files.append(locustfiles_dir() / "shapes" / f"{config.shape}.py")
        master = master_address(config.master_bind) if config.master_bind else None
        argv = locust_command(
            files, api.host, config.users, config.spawn_rate, api.credentials,
            folder / SAMPLES_DIR, config.locust_workers,
            headless_options(config.run_time_s, folder / LOCUST_CSV_PREFIX,
                             folder / LOCUST_REPORT, folder / LOCUST_STATS),
            master, config.workers_wait_s)
        workers = f" + {config.locust_workers} workers" if config.locust_workers else ""
        if master:
            workers += (f" joining at {master[0]}:{master[1]} (`lab worker --master "
                        f"{master[0]}:{master[1]}`; waiting up to {config.workers_wait_s} s)")
        say(f"[3/5] Locust {scenario.name}: {config.users} users at {config.spawn_rate:g}/s "
            f"for {config.run_time_s} s{workers}")
        (folder / LOCUST_DIR).mkdir(exist_ok=True)
        with child_process(argv, folder / LOCUST_LOG, api.env, cwd=folder,
                           marker=str(folder)) as locust:
            def load_began() -> bool:
                """The load has begun: its first test folder exists."""
                return bool(test_folders(folder / SAMPLES_DIR))

            sampler = sampler_for(database, api, locust.pid, remote_workers=master is not None)
            activity = ActivitySampler(database.server, database.name)
            injector = FaultInjector(config.faults, database.server, database.name, settings,
                                     say, database.credentials["viral_tweet_id"],
                                     load_began)
            probe = VisibilityProbe(api.host, database.visibility_pairs)
            profiler = profiler_for(
                api.process.pid if api.process else None, locust.pid, folder / PROFILES_DIR,
                load_began, config.warmup_s,
                config.run_time_s, master is not None) if config.profile else None
            for thread in (sampler, activity, injector, probe, profiler):
                if thread is not None:
                    thread.start()
            try:
                locust_exit = wait_for_locust(
                    locust, config.run_time_s + (config.workers_wait_s if master else 0),
                    folder / SAMPLES_DIR, say)
            finally:
                if profiler is not None:
                    profiler.stop()
                faults = injector.stop()
                seen = probe.stop()
                activity.stop()
                sampler.stop()
        statements_after = database.statements_now()
        if sampler.api_stats is not None:
            sampler.api_stats.write_stalls(folder / SAMPLES_DIR)
    return Measurement(only_test(folder / SAMPLES_DIR, folder / LOCUST_LOG), started,
                       watch_of(sampler, activity), argv, locust_exit,
                       database.statements_before, statements_after, faults, seen,
                       list(probe.errors))


def _sample_rows(folder: Path, counted: dict[Path, int]) -> int:
    """Rows flushed so far by every Locust process (for the live request rate)."""
    for chunk in folder.rglob("*.parquet"):
        if chunk not in counted:
            try:
                counted[chunk] = pq.ParquetFile(chunk).metadata.num_rows
            except OSError:
                continue
    return sum(counted.values())


def wait_for_locust(process: subprocess.Popen[bytes], run_time_s: int, samples: Path,
                    say: Say) -> int:
    """Wait for Locust to finish, showing elapsed time and the live request rate."""
    started = time.monotonic()
    deadline = started + run_time_s + LOCUST_GRACE_S
    counted: dict[Path, int] = {}
    workers = WorkerLog(samples / WORKERS_LOG)
    # Chunks land every 2 s: a rate over the last few progress lines does not alias.
    history: deque[tuple[float, int]] = deque([(started, 0)], maxlen=RATE_WINDOW_LINES)
    while process.poll() is None:
        if time.monotonic() > deadline:
            raise LabError(f"Locust did not stop within {LOCUST_GRACE_S} s after --run-time")
        try:   # returns the moment Locust exits, not at the next progress line
            process.wait(timeout=min(PROGRESS_INTERVAL_S, max(0.1, deadline - time.monotonic())))
            break
        except subprocess.TimeoutExpired:
            pass
        for line in workers.new_lines():
            say(line)
        now = time.monotonic()
        rows = _sample_rows(samples, counted)
        then, rows_then = history[0]
        history.append((now, rows))
        say(f"  load {now - started:5.0f} s / {run_time_s} s: {rows:,} requests "
            f"recorded, ~{(rows - rows_then) / (now - then):,.0f} req/s")
    for line in workers.new_lines():
        say(line)
    return int(process.returncode)


def locust_totals(folder: Path) -> LocustTotals | None:
    """Locust's own final request and failure totals (its --json-file, written at exit).

    Its CSV is rewritten every few seconds and can miss the last requests.
    """
    path = folder / LOCUST_STATS
    if not path.exists():
        return None
    entries = json.loads(path.read_text())
    return LocustTotals(requests=sum(int(e["num_requests"]) for e in entries),
                        failures=sum(int(e["num_failures"]) for e in entries))
