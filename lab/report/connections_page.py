"""The connection experiment's page (and its section in a run report): SC4, charts, table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.connections.results import MEASURED
from lab.errors import LabError
from lab.report import charts
from lab.report.render import write_page
from lab.runfolder import CONNECTIONS_FILE, REPORT_FILE, load_connections


def measured_levels(document: dict[str, Any]) -> pd.DataFrame:
    """One point per path, mode and level: the median over its rounds, as SC4 judges it."""
    rows = [{"path": r["path"], "mode": r["mode"], "clients": r["clients"],
             "throughput_per_s": r["throughput_per_s"], "p95_ms": r["latency_ms"].get("p95")}
            for r in document["results"] if r["status"] == MEASURED]
    frame = pd.DataFrame(rows, columns=["path", "mode", "clients", "throughput_per_s", "p95_ms"])
    return frame.groupby(["path", "mode", "clients"], as_index=False).median()


def sweep_charts(document: dict[str, Any]) -> list[dict[str, str]]:
    levels = measured_levels(document)
    if levels.empty:
        return []
    figures = [
        ("chart-conn-throughput", "Throughput against concurrent clients",
         charts.concurrency_sweep("Throughput against concurrent clients", levels,
                                  "throughput_per_s", "successful requests/s")),
        ("chart-conn-p95", "p95 latency against concurrent clients",
         charts.concurrency_sweep("p95 latency against concurrent clients", levels, "p95_ms",
                                  "ms (log)", log_y=True)),
    ]
    return [{"anchor": anchor, "title": title, "src": charts.data_uri(figure)}
            for anchor, title, figure in figures]


def memory_per_session_mb(document: dict[str, Any]) -> float | None:
    """Extra server memory (PSS) per extra direct session: the slope of a line fitted
    through the paced direct levels (sessions held steady, measured mid-level)."""
    points = [(r["backends_max"], r["server_pss_mb"]) for r in document["results"]
              if r["path"] == "direct" and r["mode"] == "paced" and r["status"] == MEASURED
              and r["server_pss_mb"] and r["backends_max"]]
    if len({backends for backends, _ in points}) < 2:
        return None
    backends, pss = zip(*points, strict=True)
    slope = float(np.polyfit(np.array(backends, dtype=float), np.array(pss, dtype=float), 1)[0])
    return round(slope, 2)


def rounds_by_mode(document: dict[str, Any]) -> dict[str, int]:
    """How many rounds each mode's levels ran, from the results themselves: a run recorded
    before paced levels had rounds says so, whatever its `rounds` setting."""
    rounds: dict[str, set[int]] = {}
    for r in document["results"]:
        rounds.setdefault(r["mode"], set()).add(r.get("round", 0))
    return {mode: len(numbers) for mode, numbers in rounds.items()}


def section_context(document: dict[str, Any]) -> dict[str, Any]:
    """What the connections section shows, for its own page and for a run report."""
    cpus = os.cpu_count() or 1
    return {
        "doc": document, "config": document["config"], "sc4": document["sc4"],
        "paths": document["paths"], "results": document["results"],
        "charts": sweep_charts(document), "cpus": cpus, "rounds": rounds_by_mode(document),
        "wiki_connections": cpus * 2, "memory_per_session_mb": memory_per_session_mb(document),
    }


def write_connections_report(folder: Path | str) -> Path:
    """(Re)write index.html of a `lab connections` folder from connections.json alone."""
    folder = Path(folder)
    document = load_connections(folder)
    if document is None:
        raise LabError(f"{folder} has no {CONNECTIONS_FILE}: it was not made by "
                       "`lab connections`")
    context = {"title": f"connections · {document['config']['query']} · "
                        f"{document['started_at']}", "connections": section_context(document)}
    return write_page("connections.html.j2", context, folder / REPORT_FILE)
