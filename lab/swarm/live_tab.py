"""The "Success criteria" and "Where the time goes" tabs of Locust's web UI: the running test
judged and decomposed as `lab run` will.

Every couple of seconds, when the UI polls /stats/requests, the samples the
processes have flushed so far are judged by the same criteria code as a
finished run (without server samples, plans or the ledger, which only a
finished run has), and each request name's time is split into client, pool
wait, database and app by the same decomposition, both handed to the page as
extra tables.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from lab.processes import TYPED_LOAD_KEY
from lab.swarm.recording import option

LIVE_TAB = "lab-criteria"
TIME_TAB = "lab-time"
LIVE_REFRESH_S = 2.0
LIVE_COLUMNS = [("id", "ID"), ("criterion", "Criterion"), ("status", "Status"),
                ("measured", "Measured"), ("threshold", "Seed threshold"),
                ("target", "Lab target")]
TIME_COLUMNS = [("name", "Request"), ("requests", "Requests"), ("typical", "Typical ms"),
                ("p95", "p95 tail ms"), ("p99", "p99 tail ms"),
                ("parts", "p99 tail: client · pool wait · database · app (ms)"),
                ("dominant", "Dominant")]
TABS = [(LIVE_TAB, "Success criteria", LIVE_COLUMNS), (TIME_TAB, "Where the time goes",
                                                        TIME_COLUMNS)]
STATUS_MARKS = {"pass": "PASS", "fail": "FAIL", "not measured": "NOT MEASURED"}
# Locust's tables render cells as text; this script colours the status words the way the
# report does (words, not emoji: emoji fonts are not everywhere), as the tables change.
STATUS_SCRIPT = """<script>
(() => {
  const colours = {PASS: "#1a7f37", FAIL: "#cf222e", "NOT MEASURED": "#bc4c00"};
  const paint = () => document.querySelectorAll("td").forEach((cell) => {
    const colour = colours[cell.textContent.trim()];
    if (colour) {
      cell.style.color = colour; cell.style.fontWeight = "700"; cell.dataset.labStatus = "1";
    } else if (cell.dataset.labStatus) {
      cell.style.color = ""; cell.style.fontWeight = ""; delete cell.dataset.labStatus;
    }
  });
  new MutationObserver(paint).observe(document.body,
                                      {childList: true, subtree: true, characterData: true});
})();
</script>"""


class Live:
    scenario: str | None = None          # set by classes.users_for()
    folder: Path | None = None           # the test whose chunks are cached
    chunks: dict[Path, Any] = {}
    cpu_max_percent: float | None = None   # the busiest Locust process, this test's window
    tables: dict[str, list[dict[str, str]]] = {}
    computed_at = 0.0


def _row(criterion: str, **cells: str) -> dict[str, str]:
    return {"id": "-", "criterion": criterion, "status": "", "measured": "", "threshold": "",
            "target": "", **cells}


def time_rows(breakdowns: list[Any]) -> list[dict[str, str]]:
    """One row per request name: its typical and tail latency, the p99 tail by part."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    rows = []
    for row in breakdowns:
        tail = row.tail_p99
        parts = (" · ".join(ms(v) for v in (tail.client_ms, tail.pool_ms, tail.db_ms,
                                              tail.app_ms))
                 if tail.parts() else "no Server-Timing")
        rows.append({"name": row.name, "requests": f"{row.requests:,}",
                     "typical": ms(row.typical.latency_ms), "p95": ms(row.tail_p95.latency_ms),
                     "p99": ms(tail.latency_ms), "parts": parts,
                     "dominant": tail.dominant or "-"})
    return rows


def live_rows(environment: Environment) -> dict[str, list[dict[str, str]]]:
    """Judge and decompose the running test from its recorded samples so far, like `lab run`
    will: the rows of each tab, by tab key."""
    import pandas as pd

    from lab.attribution.attribute import sent_in
    from lab.attribution.decompose import breakdowns
    from lab.load.criteria import judge
    from lab.load.measurements import measurements_from
    from lab.load.stats import request_stats, run_windows
    from lab.runconfig import SETTLE_S, RunConfig
    from lab.scenarios import get_scenario
    from lab.verdicts import NOT_IN_SCOPE

    samples_root = option(environment, "lab_samples", "")
    test_id = option(environment, "lab_test_id", "")
    if not samples_root or not test_id or Live.scenario is None:
        waiting = [_row("start a test (and pass --lab-samples, as lab ui does) to see it")]
        return {LIVE_TAB: waiting, TIME_TAB: []}
    folder = Path(samples_root) / test_id
    if folder != Live.folder:          # a new test: forget the last one's chunks
        Live.folder, Live.chunks, Live.cpu_max_percent = folder, {}, None
    for chunk in sorted(folder.glob("*.parquet")):
        if chunk not in Live.chunks:
            Live.chunks[chunk] = pd.read_parquet(chunk)
    if not Live.chunks:
        return {LIVE_TAB: [], TIME_TAB: []}
    samples = pd.concat(list(Live.chunks.values()), ignore_index=True)
    typed = typed_load(environment)
    users, spawn_rate = int(typed["users"]), typed["spawn_rate"]
    # A UI test has no run time: its warm-up is the spawn ramp and the full settling time.
    config = RunConfig.build(scenario=Live.scenario, users=users, spawn_rate=spawn_rate,
                             settle_s=SETTLE_S)
    windows = run_windows(samples, config.ramp_s, config.warmup_s)
    scenario = get_scenario(Live.scenario)
    warming = windows.measurement.seconds <= 0
    if not warming:
        cpu = generator_cpu_percent(environment)
        seen = [v for v in (Live.cpu_max_percent, cpu) if v is not None]
        Live.cpu_max_percent = max(seen) if seen else None
    # Locust's own CPU, the highest seen by a poll of the page in the window (a finished
    # run's sampler reads it every 2 s).
    measured = measurements_from(samples, windows.measurement, [], scenario, users,
                                 request_stats(samples, windows.measurement), None,
                                 generator_cpu_percent=Live.cpu_max_percent)
    rows = [{"id": v.id, "criterion": v.title, "status": STATUS_MARKS.get(v.status, v.status),
             "measured": v.measured + (f" ({v.note})" if v.note else ""), "threshold": v.seed,
             "target": v.lab + ("" if v.lab_met is None else " (met)" if v.lab_met
                                else " (missed)")}
            for v in judge(measured, scenario.criteria) if v.status != NOT_IN_SCOPE]
    if warming:
        rows.insert(0, _row(f"warming up: the criteria judge what follows the first "
                            f"{config.warmup_s:.0f} s (spawn ramp and settling)"))
    # Decomposed over the measurement window, or over the warm-up while it lasts.
    window = windows.warmup if warming else windows.measurement
    return {LIVE_TAB: rows, TIME_TAB: time_rows(breakdowns(sent_in(samples, window)))}


def generator_cpu_percent(environment: Environment) -> float | None:
    """The busiest Locust process's CPU right now: the runner's own, and each worker's as
    its heartbeats report it (master and workers each measure themselves)."""
    runner = environment.runner
    if runner is None:
        return None
    seen = [float(getattr(runner, "current_cpu_usage", 0) or 0)]
    seen += [float(getattr(w, "cpu_usage", 0) or 0)
             for w in getattr(runner, "clients", {}).values()]
    return max(seen)


def typed_load(environment: Environment) -> dict[str, float]:
    """The users and spawn rate of the test as started: typed into the form (Locust writes
    them into its parsed options), else the command line's. `lab ui` judges with these."""
    options = environment.parsed_options
    return {"users": int(getattr(options, "num_users", 0) or 1),
            "spawn_rate": float(getattr(options, "spawn_rate", 0) or 1)}


@events.init.add_listener
def _live_tab(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    from flask import request

    web_ui.template_args["extended_tabs"] = [{"title": title, "key": key}
                                             for key, title, _ in TABS]
    web_ui.template_args["extended_tables"] = [
        {"key": key, "structure": [{"key": k, "title": t} for k, t in columns]}
        for key, _, columns in TABS]

    @web_ui.app.after_request
    def add_criteria(response: Any) -> Any:
        if request.path == "/" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</body>", STATUS_SCRIPT + "</body>", 1))
            return response
        if request.path != "/stats/requests" or not response.is_json:
            return response
        if time.monotonic() - Live.computed_at > LIVE_REFRESH_S:
            try:
                Live.tables = live_rows(environment)
            except Exception as exc:  # noqa: BLE001 - the live view must never break the UI
                Live.tables = {LIVE_TAB: [_row(f"could not judge: {exc}", id="!")]}
            Live.computed_at = time.monotonic()
        body = response.get_json()
        body["extended_stats"] = [{"key": key, "data": Live.tables.get(key, [])}
                                  for key, _, _ in TABS]
        body[TYPED_LOAD_KEY] = typed_load(environment)
        response.set_data(json.dumps(body))
        return response
