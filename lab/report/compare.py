"""Runs side by side: verdicts, latency per request name with deltas, plans, one chart per metric.

The first run is the reference; every delta is against it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lab.errors import LabError
from lab.report import charts
from lab.report.render import write_page
from lab.report.run_page import identity
from lab.report.signatures import plan_signatures
from lab.runfolder import REPORT_FILE, RunFolder

COMPARED_LATENCIES = ("p50", "p95", "p99")


def run_label(run: RunFolder) -> str:
    config = run.summary.config
    return f"{run.summary.scenario.name}/{config.tag or config.strategy}"


def _delta(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return value / reference - 1


def request_rows(runs: list[RunFolder]) -> list[dict[str, Any]]:
    """Per request name: count, req/s and latencies per run, with the change against run 1."""
    names: list[str] = []
    for run in runs:
        names += [n for n in run.summary.stats.requests if n not in names]
    rows = []
    for name in sorted(names):
        entries = [run.summary.stats.requests.get(name) for run in runs]
        cells = []
        for entry in entries:
            cells.append(None if entry is None else {
                "count": entry.count, "rps": entry.rps,
                **{key: getattr(entry.latency_ms, key) for key in COMPARED_LATENCIES}})
        reference = cells[0]
        for cell in cells[1:]:
            if cell is not None:
                cell["delta"] = {key: _delta(cell[key], reference[key] if reference else None)
                                 for key in (*COMPARED_LATENCIES, "rps")}
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


def metric_chart(runs: list[RunFolder], labels: list[str], metric: str) -> Figure:
    """Grouped bars: one group per request name, one bar per run."""
    names = sorted({n for run in runs for n in run.summary.stats.requests})
    figure = Figure(figsize=(charts.WIDTH_IN, 3.6), dpi=96, layout="constrained")
    axes = figure.subplots()
    width = 0.8 / len(runs)
    x = np.arange(len(names))
    for index, (run, label) in enumerate(zip(runs, labels, strict=True)):
        requests = run.summary.stats.requests
        values = [(requests[n].rps if metric == "rps" else getattr(requests[n].latency_ms, metric))
                  if n in requests else 0.0 for n in names]
        axes.bar(x + index * width, [v or 0.0 for v in values], width, label=label)
    axes.set_xticks(x + width * (len(runs) - 1) / 2, names, rotation=35, ha="right", fontsize=7)
    axes.set_title(f"{metric} by request name" if metric != "rps" else "requests/s by request name",
                   fontsize=11, loc="left")
    if metric != "rps":
        axes.set_yscale("log")
        axes.set_ylabel("ms")
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    return figure


def compare_runs(paths: list[Path], out: Path | None = None) -> Path:
    """Write the comparison page (default: reports/compare-<stamp>/index.html next to run 1)."""
    if len(paths) < 2:
        raise LabError("lab compare needs at least two run folders")
    runs = [RunFolder(p) for p in paths]
    labels = [f"{i}. {run_label(run)}" for i, run in enumerate(runs, 1)]
    if out is None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out = runs[0].path.parent / f"compare-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    context = {
        "title": "Comparison: " + " vs ".join(run_label(r) for r in runs),
        "runs": [{"label": label, "name": run.name,
                  "report": _relative(run.path / REPORT_FILE, out)}
                 for label, run in zip(labels, runs, strict=True)],
        "identity": identity_rows(runs),
        "labels": labels, "verdicts": verdict_rows(runs), "requests": request_rows(runs),
        "plans": plan_rows(runs),
        "charts": [charts.data_uri(metric_chart(runs, labels, metric))
                   for metric in (*COMPARED_LATENCIES, "rps")],
    }
    return write_page("compare.html.j2", context, out / REPORT_FILE)


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())
