"""Runs side by side: verdicts, latency per request name with deltas, plans, one chart per metric.

The first run is the reference; every delta is against it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lab.errors import LabError
from lab.intervals import MIN_COUNT, MIN_EFFECT, MIN_EFFECT_MS, MIN_TAIL
from lab.report import charts
from lab.report.differences import COMPARED, Measured, own_interval
from lab.report.differences import measured as measured_samples
from lab.report.noise import group_key, held_differences, read_noise
from lab.report.render import write_page
from lab.report.run_page import identity
from lab.report.signatures import plan_signatures
from lab.runfolder import REPORT_FILE, RunFolder


def run_label(run: RunFolder) -> str:
    config = run.summary.config
    return f"{run.summary.scenario.name}/{config.tag or config.strategy}"


def request_rows(runs: list[RunFolder], measured: list[Measured] | None = None,
                 noise: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per request name: count, req/s and latencies per run, and each later run's changes
    against run 1 with their intervals (from the runs' measured samples), called only beyond
    run 1's noise floor where one was measured."""
    measured = measured or [measured_samples(run) for run in runs]
    names: list[str] = []
    for run in runs:
        names += [n for n in run.summary.stats.requests if n not in names]
    rows = []
    for name in sorted(names):
        cells: list[dict[str, Any] | None] = []
        for index, run in enumerate(runs):
            entry = run.summary.stats.requests.get(name)
            if entry is None:
                cells.append(None)
                continue
            cell: dict[str, Any] = {
                "count": entry.count, "rps": entry.rps,
                **{key: getattr(entry.latency_ms, key) for key in COMPARED}}
            if index:
                cell["changes"] = held_differences(measured[0], measured[index], name, noise)
            cells.append(cell)
        rows.append({"name": name, "cells": cells})
    return rows


def identity_rows(runs: list[RunFolder]) -> list[tuple[str, list[str]]]:
    """The runs' identities side by side, one row per property."""
    columns = [dict(identity(run.summary)) for run in runs]
    return [(key, [column.get(key, "–") for column in columns]) for key in columns[0]]


def verdict_rows(runs: list[RunFolder]) -> list[dict[str, Any]]:
    return [{"id": verdict.id, "title": verdict.title,
             "cells": [run.summary.verdict(verdict.id) for run in runs]}
            for verdict in runs[0].summary.criteria]


def plan_rows(runs: list[RunFolder]) -> list[dict[str, Any]]:
    """Per captured statement: execution time per run and whether the plan's shape differs."""
    signatures = [plan_signatures(run.plans) for run in runs]
    cases: list[str] = []
    for per_run in signatures:
        cases += [c for c in per_run if c not in cases]
    rows = []
    for case in cases:
        cells = [per_run.get(case) for per_run in signatures]
        ids = {cell["id"] for cell in cells if cell}
        reference = next((cell for cell in cells if cell), None)
        changed = [line for cell in cells if cell for line in cell["outline"]
                   if reference and line not in reference["outline"]]
        rows.append({"case": case, "cells": cells, "same_shape": len(ids) <= 1,
                     "changed_nodes": list(dict.fromkeys(changed))[:12]})
    return rows


def error_bars(heights: np.ndarray, bounds: list[tuple[float, float] | None]) -> np.ndarray:
    """Matplotlib's asymmetric yerr (below, above) from each bar's interval (none: 0)."""
    below = [max(0.0, h - b[0]) if b else 0.0 for h, b in zip(heights, bounds, strict=True)]
    above = [max(0.0, b[1] - h) if b else 0.0 for h, b in zip(heights, bounds, strict=True)]
    return np.array([below, above])


def metric_chart(runs: list[RunFolder], labels: list[str], metric: str,
                 measured: list[Measured]) -> Figure:
    """Grouped bars: one group per request name, one bar per run; a latency bar carries the
    95 % interval of its percentile."""
    names = sorted({n for run in runs for n in run.summary.stats.requests})
    figure = Figure(figsize=(charts.WIDTH_IN, 3.6), dpi=96, layout="constrained")
    axes = figure.subplots()
    width = 0.8 / len(runs)
    x = np.arange(len(names))
    for index, (run, label) in enumerate(zip(runs, labels, strict=True)):
        requests = run.summary.stats.requests
        values = [(requests[n].rps if metric == "rps" else getattr(requests[n].latency_ms, metric))
                  if n in requests else 0.0 for n in names]
        heights = np.array([v or 0.0 for v in values])
        error = None if metric == "rps" else error_bars(
            heights, [own_interval(measured[index], n, metric) for n in names])
        axes.bar(x + index * width, heights, width, label=label, yerr=error, capsize=2,
                 error_kw={"elinewidth": 0.8})
    axes.set_xticks(x + width * (len(runs) - 1) / 2, names, rotation=35, ha="right", fontsize=7)
    axes.set_title(f"{metric} by request name" if metric != "rps" else "requests/s by request name",
                   fontsize=11, loc="left")
    if metric != "rps":
        axes.set_yscale("log")
        axes.set_ylabel("ms")
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    return figure


@dataclass(frozen=True)
class Comparison:
    """What a comparison found, for the page and for a terminal: rows as the page has them."""

    page: Path
    labels: list[str]
    verdicts: list[dict[str, Any]]
    requests: list[dict[str, Any]]


def compare_runs(paths: list[Path], out: Path | None = None) -> Comparison:
    """Write the comparison page (default: reports/compare-<stamp>/index.html next to run 1)."""
    if len(paths) < 2:
        raise LabError("lab compare needs at least two run folders")
    runs = [RunFolder(p) for p in paths]
    labels = [f"{i}. {run_label(run)}" for i, run in enumerate(runs, 1)]
    measured = [measured_samples(run) for run in runs]
    noise = read_noise(runs[0].path.resolve().parent, group_key(runs[0]))
    if out is None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out = runs[0].path.parent / f"compare-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    verdicts, requests = verdict_rows(runs), request_rows(runs, measured, noise)
    context = {
        "title": "Comparison: " + " vs ".join(run_label(r) for r in runs),
        "runs": [{"label": label, "name": run.name,
                  "report": _relative(run.path / REPORT_FILE, out)}
                 for label, run in zip(labels, runs, strict=True)],
        "identity": identity_rows(runs),
        "labels": labels, "verdicts": verdicts, "requests": requests,
        "noise": None if noise is None else {"runs": len(noise["runs"]),
                                             "measured_at": noise["measured_at"]},
        "plans": plan_rows(runs), "min_effect": MIN_EFFECT, "min_effect_ms": MIN_EFFECT_MS,
        "min_tail": MIN_TAIL, "min_count": MIN_COUNT,
        "charts": [charts.data_uri(metric_chart(runs, labels, metric, measured))
                   for metric in (*COMPARED, "rps")],
    }
    page = write_page("compare.html.j2", context, out / REPORT_FILE)
    return Comparison(page, labels, verdicts, requests)


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())
