"""The "Success criteria" tab of Locust's web UI: the running test judged as `lab run` will.

Every couple of seconds, when the UI polls /stats/requests, the samples the
processes have flushed so far are judged by the same criteria code as a
finished run (without server samples, plans or the ledger, which only a
finished run has) and handed to the page as an extra table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from lab.swarm.recording import option

LIVE_TAB = "lab-criteria"
LIVE_REFRESH_S = 2.0
LIVE_COLUMNS = [("id", "ID"), ("criterion", "Criterion"), ("status", "Status"),
                ("measured", "Measured"), ("threshold", "Seed threshold"),
                ("target", "Lab target")]
STATUS_MARKS = {"pass": "PASS", "fail": "FAIL"}  # words: emoji fonts are not everywhere


class Live:
    scenario: str | None = None          # set by classes.users_for()
    folder: Path | None = None           # the test whose chunks are cached
    chunks: dict[Path, Any] = {}
    rows: list[dict[str, str]] = []
    computed_at = 0.0


def _row(criterion: str, **cells: str) -> dict[str, str]:
    return {"id": "-", "criterion": criterion, "status": "", "measured": "", "threshold": "",
            "target": "", **cells}


def live_rows(environment: Environment) -> list[dict[str, str]]:
    """Judge the running test from its recorded samples so far, like `lab run` will."""
    import pandas as pd

    from lab.load.criteria import judge
    from lab.load.measurements import measurements_from
    from lab.load.stats import request_stats, run_windows
    from lab.runconfig import SETTLE_S, RunConfig
    from lab.scenarios import get_scenario
    from lab.verdicts import NOT_IN_SCOPE

    samples_root = option(environment, "lab_samples", "")
    test_id = option(environment, "lab_test_id", "")
    if not samples_root or not test_id or Live.scenario is None:
        return [_row("start a test (and pass --lab-samples, as lab ui does) to see the criteria")]
    folder = Path(samples_root) / test_id
    if folder != Live.folder:          # a new test: forget the last one's chunks
        Live.folder, Live.chunks = folder, {}
    for chunk in sorted(folder.glob("*.parquet")):
        if chunk not in Live.chunks:
            Live.chunks[chunk] = pd.read_parquet(chunk)
    if not Live.chunks:
        return []
    samples = pd.concat(list(Live.chunks.values()), ignore_index=True)
    options = environment.parsed_options
    users = int(getattr(options, "num_users", 0) or 1)
    spawn_rate = float(getattr(options, "spawn_rate", 0) or 1)
    # A UI test has no run time: its warm-up is the spawn ramp and the full settling time.
    config = RunConfig.build(scenario=Live.scenario, users=users, spawn_rate=spawn_rate,
                             settle_s=SETTLE_S)
    windows = run_windows(samples, config.ramp_s, config.warmup_s)
    scenario = get_scenario(Live.scenario)
    measured = measurements_from(samples, windows.measurement, [], scenario, users,
                                 request_stats(samples, windows.measurement), None)
    rows = [{"id": v.id, "criterion": v.title, "status": STATUS_MARKS.get(v.status, v.status),
             "measured": v.measured, "threshold": v.seed,
             "target": v.lab + ("" if v.lab_met is None else " (met)" if v.lab_met
                                else " (missed)")}
            for v in judge(measured, scenario.criteria) if v.status != NOT_IN_SCOPE]
    if windows.measurement.seconds <= 0:
        rows.insert(0, _row(f"warming up: the criteria judge what follows the first "
                            f"{config.warmup_s:.0f} s (spawn ramp and settling)"))
    return rows


@events.init.add_listener
def _live_tab(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    from flask import request

    web_ui.template_args["extended_tabs"] = [{"title": "Success criteria", "key": LIVE_TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": LIVE_TAB, "structure": [{"key": k, "title": t} for k, t in LIVE_COLUMNS]}]

    @web_ui.app.after_request
    def add_criteria(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        if time.monotonic() - Live.computed_at > LIVE_REFRESH_S:
            try:
                Live.rows = live_rows(environment)
            except Exception as exc:  # noqa: BLE001 - the live view must never break the UI
                Live.rows = [_row(f"could not judge: {exc}", id="!")]
            Live.computed_at = time.monotonic()
        body = response.get_json()
        body["extended_stats"] = [{"key": LIVE_TAB, "data": Live.rows}]
        response.set_data(json.dumps(body))
        return response
