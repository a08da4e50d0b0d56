"""The noise floor: how far every trended metric moved across identical runs (A/A) on this
machine. `lab run --repeat N` writes it beside the runs; reports/index.html draws it as a band
on the trend charts and flags a regression only beyond it.

A metric's spread is max / min - 1 over its N runs, the largest change between two runs
that changed nothing (so no pair of them is ever flagged): on a shared 2-core machine a p99
can move by tens of percent between runs that changed nothing, and a fixed +10 % limit
then flags noise. A bootstrap interval sees only the sampling noise inside two runs, not
what moved between them (measured: an A/A pair at `small` whose all-request p99 differed
by half, its interval -59 % to -44 %), so gates and comparisons also hold a change to
the spread where one was measured.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.intervals import Difference
from lab.report.differences import ALL, COMPARED, RATE, Measured, differences
from lab.runfolder import RunFolder, utc_stamp

THROUGHPUT = "throughput"

GroupKey = tuple[str, str, str, int]


def group_key(run: RunFolder) -> GroupKey:
    """Runs are comparable when scenario, strategy, scale and users match."""
    config = run.summary.config
    return (run.summary.scenario.name, config.strategy, config.scale, config.users)


def metrics(run: RunFolder) -> dict[str, float]:
    """The trended numbers of one run, in the index's words: p95/p99 per request name and
    total throughput (a part of judged_metrics)."""
    judged = judged_metrics(run)
    values = {"throughput req/s": judged[THROUGHPUT]}
    for name in run.summary.stats.requests:
        for key in ("p95", "p99"):
            if label(name, key) in judged:
                values[f"{name} {key} ms"] = judged[label(name, key)]
    return values


def label(name: str, metric: str) -> str:
    """A metric's name in gates and noise floors: NAME.p95, NAME.rps, throughput."""
    return THROUGHPUT if (name, metric) == (ALL, RATE) else f"{name}.{metric}"


def trend_label(metric: str) -> str:
    """The label of a trended metric ("like p95 ms", "throughput req/s")."""
    if metric.startswith(THROUGHPUT):
        return THROUGHPUT
    name, key, _ = metric.rsplit(" ", 2)
    return label(name, key)


def judged_metrics(run: RunFolder) -> dict[str, float]:
    """Every metric a gate can name, by label: p50/p95/p99 and req/s per request name and
    for all requests, over the measurement window."""
    stats = run.summary.stats
    entries = {**stats.requests, ALL: stats.total}
    values = {}
    for name, entry in entries.items():
        values[label(name, RATE)] = float(entry.rps or 0.0)
        for key in COMPARED:
            value = getattr(entry.latency_ms, key)
            if value is not None:
                values[label(name, key)] = float(value)
    return values


def spread(noise: dict[str, Any] | None, metric_label: str) -> float:
    """A metric's run-to-run spread in a noise floor (0 when none was measured)."""
    return float(((noise or {}).get("metrics", {}).get(metric_label) or {}).get("spread", 0.0))


def beyond_spread(difference: Difference, width: float) -> Difference:
    """The difference, no longer called when its change is within the run-to-run spread."""
    relative = difference.relative
    if difference.call is None or relative is None or abs(relative) > width:
        return difference
    return replace(difference, call=None)


def held_differences(before: Measured, after: Measured, name: str,
                     noise: dict[str, Any] | None) -> dict[str, Difference]:
    """`name`'s differences (differences.differences), each called only beyond its
    metric's run-to-run spread where the noise floor was measured."""
    return {metric: beyond_spread(difference, spread(noise, label(name, metric)))
            for metric, difference in differences(before, after, name).items()}


def noise_path(reports: Path, key: GroupKey) -> Path:
    scenario, strategy, scale, users = key
    return reports / f"noise-{scenario}-{strategy}-{scale}-{users}.json"


def write_noise(folders: list[Path]) -> tuple[Path, dict[str, Any]]:
    """Record the spread of the identical runs in `folders` (one comparable group)."""
    runs = [RunFolder(folder) for folder in folders]
    keys = {group_key(run) for run in runs}
    if len(runs) < 2 or len(keys) != 1:
        raise LabError("a noise floor needs two or more runs of one configuration")
    values: dict[str, list[float]] = {}
    for run in runs:
        for metric, value in judged_metrics(run).items():
            values.setdefault(metric, []).append(value)
    spreads = {}
    for metric, seen in values.items():
        if len(seen) == len(runs):
            middle = statistics.median(seen)
            spreads[metric] = {"min": min(seen), "max": max(seen), "median": middle,
                               "spread": max(seen) / min(seen) - 1 if min(seen) > 0 else 0.0}
    key = keys.pop()
    document = {"group": list(key), "runs": [run.name for run in runs],
                "measured_at": utc_stamp(), "metrics": spreads}
    path = noise_path(runs[0].path.resolve().parent, key)
    path.write_text(json.dumps(document, indent=2))
    return path, document


def read_noise(reports: Path, key: GroupKey) -> dict[str, Any] | None:
    """A group's recorded noise floor (None when none was measured or it is unreadable)."""
    path = noise_path(reports, key)
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, json.JSONDecodeError):
        return None
