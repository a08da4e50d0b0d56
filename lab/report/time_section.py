"""The report's "Where the time goes" section: the decomposition, the database's waits, the
worst seconds and the causes, with links from each failed criterion to its explanation."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from lab.attribution.capacity import cpu_per_request_text
from lab.attribution.decompose import POWER_NAME
from lab.attribution.seconds import MIN_REQUESTS
from lab.attribution.waits import load_per_second, lock_waits
from lab.report import attribution_charts, charts
from lab.runfolder import WAITS_FILE, RunFolder, Summary

SECTION = "time"
# The request name whose tail explains each latency criterion (T1: its worst name).
EXPLAINED_BY = {"SC1": "register_user", "SC3": POWER_NAME, "SC5": "post_tweet"}


def anchor(name: str) -> str:
    return "why-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def explanation_anchors(summary: Summary) -> dict[str, str]:
    """criterion -> the anchor of the request name that explains it, where there is one."""
    explained = {row.name for row in summary.attribution.breakdown}
    names = dict(EXPLAINED_BY)
    worst = max(((n, e.latency_ms.p99) for n, e in summary.stats.requests.items()
                 if e.latency_ms.p99 is not None), key=lambda x: x[1], default=None)
    if worst:
        names["T1"] = worst[0]
    return {cid: anchor(name) for cid, name in names.items() if name in explained}


def event_marks(events: pd.DataFrame, origin: float) -> list[charts.Event]:
    if events.empty:
        return []
    return [(float(row.ts) - origin, str(row.kind)) for row in events.itertuples()]


def context(folder: RunFolder, warmup: charts.Warmup,
            outages: list[charts.Outage]) -> dict[str, Any]:
    summary = folder.summary
    attribution = summary.attribution
    waits = folder.table(WAITS_FILE)
    figures = []
    if attribution.breakdown:
        figures.append(("chart-time-parts", "Request time by part",
                        attribution_charts.time_by_part(attribution.breakdown)))
    if not waits.empty:
        figures.append(("chart-waits", "Database load by wait event",
                        attribution_charts.wait_load(load_per_second(waits), folder.origin_ts,
                                                     warmup, outages)))
    locks = lock_waits(waits).head(5).to_dict("records") if not waits.empty else []
    return {
        "rows": [{"row": row, "anchor": anchor(row.name)} for row in attribution.breakdown],
        "causes": attribution.causes, "seconds": attribution.worst_seconds,
        "min_requests": MIN_REQUESTS,
        "top_waits": attribution.top_waits, "locks": locks,
        "sampling": attribution.wait_sampling, "unavailable": attribution.unavailable,
        "cpu_per_request": cpu_per_request_text(attribution.cpu_ms_per_request),
        "charts": [{"anchor": a, "title": title, "src": charts.data_uri(figure)}
                   for a, title, figure in figures],
    }
