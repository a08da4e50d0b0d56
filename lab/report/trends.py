"""reports/index.html: every run newest first, trends per comparable group, regressions flagged.

Runs are comparable when scenario, strategy, scale and users match. A metric
regresses when it is worse than the median of the last comparable runs by
more than a relative limit (and a small absolute one, so 3 ms -> 3.4 ms on a
shared machine is not an alarm), or by more than its measured noise floor
(`lab run --repeat`) where that is wider; a plan regresses when its shape changes.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.attribution.capacity import CPU_LABELS
from lab.errors import LabError
from lab.report import charts
from lab.report.growth_page import study_rows
from lab.report.noise import GroupKey, group_key, metrics, read_noise, spread, trend_label
from lab.report.render import write_page
from lab.report.signatures import plan_signatures
from lab.runfolder import CONNECTIONS_FILE, REPORT_FILE, SUMMARY_FILE, RunFolder, load_connections
from lab.verdicts import FAIL

BASELINE_RUNS = 5
LATENCY_LIMIT = 0.10          # p95/p99 +10 % against the baseline median
LATENCY_MIN_DELTA_MS = 1.0
THROUGHPUT_LIMIT = 0.10       # requests/s -10 %
TREND_NAMES = 6


@dataclass(frozen=True)
class Regression:
    run: str
    metric: str
    value: float | None
    baseline: float | None
    change: float | None
    limit: str

    def describe(self) -> str:
        if self.value is None:
            return f"{self.metric}: {self.limit}"
        return (f"{self.metric} {self.value:,.1f} against a baseline of {self.baseline:,.1f} "
                f"({self.change:+.0%}; limit {self.limit})")


@dataclass(frozen=True)
class Unreadable:
    name: str
    reason: str


def collect_runs(reports: Path) -> tuple[list[RunFolder], list[Unreadable]]:
    """Every run folder under `reports`, oldest first, and those that could not be read
    (an older format, a broken file): listed with their reason, never hiding the others."""
    runs, unreadable = [], []
    for summary in reports.glob(f"*/{SUMMARY_FILE}"):
        run = RunFolder(summary.parent)
        try:
            _ = run.summary     # read now: an unreadable folder is listed, not crashed on
        except LabError as exc:
            unreadable.append(Unreadable(run.name, str(exc).removeprefix(f"{summary} ")))
            continue
        runs.append(run)
    return (sorted(runs, key=lambda r: (r.summary.started_at, r.name)),
            sorted(unreadable, key=lambda u: u.name, reverse=True))


def _regressed(metric: str, value: float, baseline: float,
               noise: dict[str, Any] | None = None) -> str | None:
    """The limit `value` broke against `baseline`, if any: the fixed limit, or the metric's
    measured run-to-run spread (the noise floor) where that is wider."""
    width = spread(noise, trend_label(metric))
    if metric.startswith("throughput"):
        limit = max(THROUGHPUT_LIMIT, width)
        text = f"-{limit:.0%}" + (" (noise floor)" if width > THROUGHPUT_LIMIT else "")
        return text if value < baseline * (1 - limit) else None
    limit = max(LATENCY_LIMIT, width)
    if value > baseline * (1 + limit) and value - baseline >= LATENCY_MIN_DELTA_MS:
        return f"+{limit:.0%}" + (" (noise floor)" if width > LATENCY_LIMIT else "")
    return None


def regressions(group: list[RunFolder],
                noise: dict[str, Any] | None = None) -> list[Regression]:
    """Regressions of every run in a comparable group (oldest first) against its predecessors,
    beyond the group's noise floor where one was measured."""
    found: list[Regression] = []
    for index, run in enumerate(group):
        earlier = group[max(0, index - BASELINE_RUNS):index]
        if not earlier:
            continue
        history = [metrics(r) for r in earlier]
        for metric, value in metrics(run).items():
            past = [h[metric] for h in history if metric in h]
            if not past:
                continue
            baseline = statistics.median(past)
            limit = _regressed(metric, value, baseline, noise)
            if limit:
                found.append(Regression(run.name, metric, value, baseline,
                                        value / baseline - 1 if baseline else None, limit))
        previous = next((r for r in reversed(earlier) if r.plans), None)
        if previous and run.plans:
            before, after = plan_signatures(previous.plans), plan_signatures(run.plans)
            for case, now in after.items():
                if case in before and before[case]["id"] != now["id"]:
                    found.append(Regression(run.name, f"plan of {case}", None, None, None,
                                            f"signature changed since {previous.name}"))
    return found


def _groups(runs: list[RunFolder]) -> dict[GroupKey, list[RunFolder]]:
    groups: dict[GroupKey, list[RunFolder]] = {}
    for run in runs:
        groups.setdefault(group_key(run), []).append(run)
    return groups


def trend_charts(group: list[RunFolder], flagged: list[Regression],
                 noise: dict[str, Any] | None = None) -> list[str]:
    """p95, p99 (busiest request names) and throughput across the group's runs, each with
    its noise floor's band where one was measured."""
    floors = (noise or {}).get("metrics", {})

    def bands(series: dict[str, str]) -> dict[str, tuple[float, float]]:
        """{series name: (min, max)} of each series' trended metric in the noise floor."""
        found = {name: floors.get(trend_label(metric)) for name, metric in series.items()}
        return {name: (floor["min"], floor["max"]) for name, floor in found.items() if floor}

    counts: dict[str, int] = {}
    for run in group:
        for name, entry in run.summary.stats.requests.items():
            counts[name] = counts.get(name, 0) + entry.count
    names = sorted(counts, key=lambda n: -counts[n])[:TREND_NAMES]
    labels = [run.name[:16] for run in group]
    marks = [(r.metric, r.run[:16]) for r in flagged]
    images = []
    for key in ("p95", "p99"):
        series = {name: [(label, metrics(run).get(f"{name} {key} ms"))
                         for label, run in zip(labels, group, strict=True)] for name in names}
        marked = [(m.split(" ")[0], run) for m, run in marks if m.endswith(f" {key} ms")]
        images.append(charts.data_uri(charts.metric_lines(
            f"{key} by request name, run by run", series, "ms", log=True, flagged=marked,
            bands=bands({name: f"{name} {key} ms" for name in names}))))
    throughput: dict[str, list[tuple[str, float | None]]] = {
        "all requests": [(label, metrics(run)["throughput req/s"])
                                   for label, run in zip(labels, group, strict=True)]}
    marked = [("all requests", run) for m, run in marks if m.startswith("throughput")]
    images.append(charts.data_uri(charts.metric_lines(
        "Throughput, run by run", throughput, "requests/s", flagged=marked,
        bands=bands({"all requests": "throughput req/s"}))))
    # Runs written before CPU per request was kept have none: their points are gaps.
    per_request = [run.summary.attribution.cpu_ms_per_request for run in group]
    cpu = {CPU_LABELS.get(g, g): [(label, spent.get(g)) for label, spent
                                  in zip(labels, per_request, strict=True)]
           for g in sorted({g for spent in per_request for g in spent})}
    if cpu:
        images.append(charts.data_uri(charts.metric_lines(
            "CPU per request by process group, run by run", cpu, "ms of CPU")))
    return images


def run_row(run: RunFolder, flagged: list[Regression]) -> dict[str, Any]:
    summary = run.summary
    return {"name": run.name, "started_at": summary.started_at,
            "scenario": summary.scenario.name, "strategy": summary.config.strategy,
            "scale": summary.config.scale, "users": summary.config.users,
            "exit_code": summary.exit_code,
            "failed": [v.id for v in summary.criteria if v.status == FAIL],
            "report": f"{run.name}/{REPORT_FILE}" if run.has(REPORT_FILE) else None,
            "rps": summary.stats.total.rps, "p95": summary.stats.total.latency_ms.p95,
            "regressions": [r.describe() for r in flagged if r.run == run.name]}


def experiment_rows(reports: Path) -> list[dict[str, Any]]:
    """`lab connections` folders (a connections.json without a run's summary.json), newest
    first, with their SC4 verdicts."""
    rows = []
    for path in reports.glob(f"*/{CONNECTIONS_FILE}"):
        if (path.parent / SUMMARY_FILE).exists():
            continue        # a load run with --connections: listed as a run
        try:
            document = load_connections(path.parent) or {}
            rows.append({"name": path.parent.name, "started_at": document["started_at"],
                         "query": document["config"]["query"],
                         "levels": document["config"]["levels"],
                         "status": document["sc4"]["status"],
                         "paths": [(p["path"], p["status"]) for p in document["paths"]],
                         "report": f"{path.parent.name}/{REPORT_FILE}"
                         if (path.parent / REPORT_FILE).exists() else None})
        except (OSError, LabError, KeyError):
            continue    # a broken folder must not hide the others
    return sorted(rows, key=lambda r: r["started_at"], reverse=True)


def update_index(reports: Path) -> Path:
    """(Re)write reports/index.html from the run folders under it."""
    runs, unreadable = collect_runs(reports)
    groups = []
    flagged_all: list[Regression] = []
    for key, group in _groups(runs).items():
        noise = read_noise(reports, key)
        flagged = regressions(group, noise)
        flagged_all += flagged
        groups.append({"title": f"{key[0]} · {key[1]} · {key[2]} · {key[3]:,} users",
                       "runs": len(group),
                       "noise": None if noise is None else {
                           "runs": len(noise["runs"]), "measured_at": noise["measured_at"]},
                       "charts": trend_charts(group, flagged, noise) if len(group) > 1 else [],
                       "regressions": [asdict(r) | {"text": r.describe()} for r in flagged]})
    context = {"title": "All runs", "runs": [run_row(r, flagged_all) for r in reversed(runs)],
               "groups": groups, "experiments": experiment_rows(reports),
               "studies": study_rows(reports),
               "unreadable": unreadable,
               "baseline_runs": BASELINE_RUNS,
               "latency_limit": LATENCY_LIMIT, "throughput_limit": THROUGHPUT_LIMIT,
               "min_delta_ms": LATENCY_MIN_DELTA_MS}
    return write_page("index.html.j2", context, reports / "index.html")
