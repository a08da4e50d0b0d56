"""`lab ui`: the same set-up as `lab run`, then Locust's web UI; every stopped test becomes a run.

The lab process watches Locust's own /stats/requests. When a test goes from
running to stopped it waits for every Locust process to finish writing its
samples, then judges that test and writes a run folder exactly as `lab run`
does. The session is bounded (`max_session_s`) and stops everything it
started on exit, Ctrl-C included.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from lab.config import Settings
from lab.errors import LabError
from lab.load.observe import ServerSampler
from lab.load.run import (
    RunConfig,
    RunResult,
    Say,
    Target,
    finish_test,
    locust_process,
    run_folder,
    run_target,
    sampler_for,
    served_api,
)
from lab.load.scenarios import Scenario, get_scenario
from lab.seed.load import Reporter

POLL_INTERVAL_S = 1.0
DONE_MARKERS_TIMEOUT_S = 30.0
ACTIVE_STATES = {"spawning", "running"}


def ui_command(config: RunConfig, folder: Path, host: str, credentials: Path,
               web_port: int) -> list[str]:
    argv = [sys.executable, "-m", "locust", "-f", str(get_scenario(config.scenario).locustfile),
            "--host", host, "--web-host", "127.0.0.1", "--web-port", str(web_port),
            "--users", str(config.users), "--spawn-rate", str(config.spawn_rate),
            "--loglevel", "WARNING", "--lab-credentials", str(credentials),
            "--lab-samples", str(folder / "samples")]
    if config.locust_workers:
        argv += ["--processes", str(config.locust_workers), "--master-bind-host", "127.0.0.1"]
    return argv


def wait_for_web(url: str, process_alive: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive():
            raise LabError("Locust exited before its web UI came up; see locust.log")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise LabError(f"Locust's web UI did not answer at {url} within {timeout_s:.0f} s")


def newest_test(samples: Path) -> Path | None:
    tests = sorted(p for p in samples.glob("*") if p.is_dir())
    return tests[-1] if tests else None


def wait_for_markers(test: Path, workers: int) -> None:
    """Wait until every Locust process wrote its .done marker (they flush on stop)."""
    deadline = time.monotonic() + DONE_MARKERS_TIMEOUT_S
    while len(list(test.glob("*.done"))) < max(1, workers) and time.monotonic() < deadline:
        time.sleep(0.2)


def serve_ui(config: RunConfig, settings: Settings, reporter: Reporter, say: Say,
             web_port: int = 8089, max_session_s: float = 3600) -> list[RunResult]:
    """Run a web UI session; return one result per test stopped in it."""
    scenario = get_scenario(config.scenario)
    session = run_folder(replace(config, scenario=f"{config.scenario}-ui", tag="session"),
                         time.time())
    results: list[RunResult] = []
    with run_target(config, settings, reporter, say) as target, \
            served_api(target, config, session, say) as api:
        argv = ui_command(config, session, api.host, api.credentials, web_port)
        with locust_process(argv, session / "locust.log", api.env) as locust:
            web = f"http://127.0.0.1:{web_port}"
            wait_for_web(web, lambda: locust.poll() is None)
            say(f"Locust web UI at {web} (scenario {scenario.name}); each test you stop is "
                f"written to {config.reports_dir}/; Ctrl-C ends the session (at the latest "
                f"after {max_session_s:.0f} s)")
            sampler = sampler_for(target, api.host, api.process.pid, locust.pid)
            sampler.start()
            try:
                deadline = time.monotonic() + max_session_s
                state, test_started = "ready", time.time()
                before: dict[int, dict[str, Any]] = {}
                while time.monotonic() < deadline and locust.poll() is None:
                    time.sleep(POLL_INTERVAL_S)
                    try:
                        now = httpx.get(f"{web}/stats/requests", timeout=5).json()
                    except (httpx.HTTPError, ValueError):
                        continue
                    new_state = now.get("state", state)
                    if new_state in ACTIVE_STATES and state not in ACTIVE_STATES:
                        test_started, before = time.time(), target.statements_now()
                        say(f"test started ({new_state})")
                    if state in ACTIVE_STATES and new_state == "stopped":
                        result = _finish(config, scenario, target, session, sampler, argv,
                                         before, test_started, say)
                        if result is not None:
                            results.append(result)
                    state = new_state
            finally:
                sampler.stop()
    return results


def _finish(config: RunConfig, scenario: Scenario, target: Target, session: Path,
            sampler: ServerSampler, argv: list[str], before: dict[int, dict[str, Any]],
            test_started: float, say: Say) -> RunResult | None:
    """Judge the test that just stopped and write its run folder."""
    test = newest_test(session / "samples")
    if test is None:
        say("test stopped, but no samples were recorded")
        return None
    wait_for_markers(test, config.locust_workers)
    folder = run_folder(replace(config, tag=config.tag or "ui"), time.time())
    window = [s for s in sampler.samples if s["ts"] >= test_started]
    result = finish_test(config, scenario, target, folder, test, test_started, window,
                         sampler.errors, argv, None, before, say)
    failed = [v.id for v in result.verdicts if v.status == "fail"]
    say(f"test written to {folder}: " + ("all criteria in scope pass" if not failed
                                         else f"failed {', '.join(failed)}"))
    return result
