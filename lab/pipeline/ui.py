"""`lab ui`: the same set-up as `lab run`, then Locust's web UI; every stopped test becomes a run.

The lab process watches Locust's own /stats/requests. When a test seen
running is seen stopped (whatever states came between) it waits for every
Locust process to finish writing its samples, then collects, judges, writes
and renders that test exactly as `lab run` does. The session is bounded
(`max_session_s`) and stops everything it started on exit, Ctrl-C included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from lab.config import Settings
from lab.load.activity import ActivitySampler
from lab.load.collect import collect
from lab.load.database import RunDatabase, run_database
from lab.load.measure import Measurement, sampler_for, watch_of
from lab.load.observe import ServerSampler
from lab.load.samples import test_folders
from lab.load.served import served_api
from lab.pipeline.steps import RunResult, judged, written
from lab.processes import (
    TYPED_LOAD_KEY,
    child_process,
    locust_command,
    wait_for_http,
    web_options,
)
from lab.progress import Reporter, Say
from lab.runconfig import RunConfig
from lab.runfolder import LOCUST_LOG, SAMPLES_DIR, new_run_folder
from lab.scenarios import Scenario, get_scenario
from lab.targets import choose_target
from lab.verdicts import FAIL

POLL_INTERVAL_S = 1.0
DONE_MARKERS_TIMEOUT_S = 30.0
WEB_STARTUP_TIMEOUT_S = 60.0
ACTIVE_STATES = {"spawning", "running"}


TEST_STARTED, TEST_STOPPED = "test started", "test stopped"


class TestStates:
    """Tell a test's start and its end apart in the runner states the UI is polled for.

    A stop passes through Locust's "cleanup" (or a master's "stopping") while the users
    finish; a poll that lands there must not lose the test, so a test ends when "stopped"
    follows any active state seen since it started, whatever came between."""

    __test__ = False    # not a pytest class

    def __init__(self) -> None:
        self.active = False

    def see(self, state: str) -> str | None:
        """TEST_STARTED, TEST_STOPPED or None for this poll's state."""
        if state in ACTIVE_STATES and not self.active:
            self.active = True
            return TEST_STARTED
        if state == "stopped" and self.active:
            self.active = False
            return TEST_STOPPED
        return None


def wait_for_markers(test: Path, workers: int) -> None:
    """Wait until every Locust process wrote its .done marker (they flush on stop)."""
    deadline = time.monotonic() + DONE_MARKERS_TIMEOUT_S
    while len(list(test.glob("*.done"))) < max(1, workers) and time.monotonic() < deadline:
        time.sleep(0.2)


def serve_ui(config: RunConfig, settings: Settings, reporter: Reporter, say: Say,
             web_port: int = 8089, max_session_s: float = 3600) -> list[RunResult]:
    """Run a web UI session; return one result per test stopped in it."""
    scenario = get_scenario(config.scenario)
    session = new_run_folder(config.reports_dir, f"{scenario.name}-ui", "session", time.time())
    results: list[RunResult] = []
    target = choose_target(config.target)
    with run_database(config.db, config.scale, config.seed, config.keep_database, settings,
                      reporter, say, target=target) as database, \
            served_api(target, database, config.strategy, config.api_workers, session,
                       say) as api:
        argv = locust_command([scenario.locustfile], api.host, config.users, config.spawn_rate,
                              api.credentials, session / SAMPLES_DIR, config.locust_workers,
                              web_options(web_port))
        with child_process(argv, session / LOCUST_LOG, api.env, cwd=session,
                           marker=str(session)) as locust:
            web = f"http://127.0.0.1:{web_port}"
            wait_for_http(web, lambda: locust.poll() is None, WEB_STARTUP_TIMEOUT_S,
                          "Locust's web UI", session / LOCUST_LOG)
            say(f"Locust web UI at {web} (scenario {scenario.name}); each test you stop is "
                f"written to {config.reports_dir}/; Ctrl-C ends the session (at the latest "
                f"after {max_session_s:.0f} s)")
            sampler = sampler_for(database, api, locust.pid)
            activity = ActivitySampler(database.server, database.name)
            sampler.start()
            activity.start()
            try:
                deadline = time.monotonic() + max_session_s
                watch, test_started, typed = TestStates(), time.time(), config
                before: dict[int, dict[str, Any]] = {}
                while time.monotonic() < deadline and locust.poll() is None:
                    time.sleep(POLL_INTERVAL_S)
                    try:
                        now = httpx.get(f"{web}/stats/requests", timeout=5).json()
                    except (httpx.HTTPError, ValueError):
                        continue
                    state = now.get("state", "")
                    change = watch.see(state)
                    if change == TEST_STARTED:
                        test_started, before = time.time(), database.statements_now()
                        say(f"test started ({state})")
                    if state in ACTIVE_STATES:
                        typed = as_typed(config, now.get(TYPED_LOAD_KEY))
                    if change == TEST_STOPPED:
                        result = _finish(typed, scenario, database, session,
                                         (sampler, activity), argv, before, test_started,
                                         settings, say)
                        if result is not None:
                            results.append(result)
            finally:
                activity.stop()
                sampler.stop()
    return results


def as_typed(config: RunConfig, typed: dict[str, Any] | None) -> RunConfig:
    """The session's configuration with the users and spawn rate typed into the form for
    this test: its ramp, warm-up and schedule are theirs, not the command line's."""
    if not typed:
        return config
    return RunConfig.build(**{**config.model_dump(), "users": int(typed["users"]),
                              "spawn_rate": float(typed["spawn_rate"])})


def _finish(config: RunConfig, scenario: Scenario, database: RunDatabase, session: Path,
            samplers: tuple[ServerSampler, ActivitySampler], argv: list[str],
            before: dict[int, dict[str, Any]], test_started: float, settings: Settings,
            say: Say) -> RunResult | None:
    """Collect, judge, write and render the test that just stopped."""
    sampler, activity = samplers
    tests = test_folders(session / SAMPLES_DIR)
    if not tests:
        say("test stopped, but no samples were recorded")
        return None
    wait_for_markers(tests[-1], config.locust_workers)
    folder = new_run_folder(config.reports_dir, scenario.name, config.tag or "ui", time.time())
    measurement = Measurement(
        test_samples=tests[-1], started=test_started,
        watch=watch_of(sampler, activity, test_started), locust_argv=argv, locust_exit=None,
        statements_before=before, statements_after=database.statements_now(), faults=[])
    collected = collect(config, database, folder, measurement, settings, say)
    result = written(folder, judged(config, scenario, database, folder, measurement, collected,
                                    None, settings), measurement, collected)
    failed = [v.id for v in result.summary.criteria if v.status == FAIL]
    say(f"test written to {folder}: " + ("all criteria in scope pass" if not failed
                                         else f"failed {', '.join(failed)}"))
    return result
