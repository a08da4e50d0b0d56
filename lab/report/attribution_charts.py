"""Charts of where the time goes: request time by part, database load by wait event."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lab.records import Breakdown
from lab.report.charts import (
    HEIGHT_IN,
    WIDTH_IN,
    Outage,
    Warmup,
    mark_outages,
    mark_warmup,
    titled_figure,
)

PART_COLOURS = {"client": "tab:grey", "pool wait": "tab:orange", "database": "tab:blue",
                "app": "tab:green"}
TOP_WAITS = 6


def time_by_part(rows: list[Breakdown]) -> Figure:
    """Per request name, the mean parts of its typical requests and of its p99 tail."""
    height = max(HEIGHT_IN, 0.45 * len(rows) + 1.2)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=96, layout="constrained")
    figure.suptitle("Where the time goes: the typical request and the p99 tail, by part",
                    fontsize=11, x=0.01, ha="left")
    panels = figure.subplots(1, 2, sharey=True)
    names = [row.name for row in rows]
    y = np.arange(len(rows))
    for axes, band, title in ((panels[0], "typical", "typical (p25-p75), mean ms"),
                              (panels[1], "tail_p99", "p99 tail (at or above p99), mean ms")):
        left = np.zeros(len(rows))
        for part, colour in PART_COLOURS.items():
            widths = np.array([getattr(row, band).parts().get(part, 0.0) for row in rows])
            axes.barh(y, widths, left=left, color=colour, label=part)
            left += widths
        axes.set_title(title, fontsize=9, loc="left")
        axes.grid(True, axis="x", alpha=0.3)
    panels[0].set_yticks(y, names, fontsize=8)
    panels[0].invert_yaxis()
    panels[1].legend(fontsize=7, loc="lower right")
    return figure


def wait_load(load: pd.DataFrame, origin_ts: float, warmup: Warmup | None = None,
              outages: list[Outage] | None = None) -> Figure:
    """Average active sessions by wait event, second by second (the busiest few, stacked)."""
    figure, axes = titled_figure("Database load by wait event (average active sessions)")
    if not load.empty:
        order = load.sum().sort_values(ascending=False).index
        shown = load[order[:TOP_WAITS]].copy()
        if len(order) > TOP_WAITS:
            shown["other"] = load[order[TOP_WAITS:]].sum(axis=1)
        x = load.index.to_numpy() - int(origin_ts)
        axes.stackplot(x, *(shown[c].to_numpy() for c in shown.columns),
                       labels=[str(c) for c in shown.columns], alpha=0.85)
        axes.legend(fontsize=7, loc="upper right", ncol=2)
    axes.set_xlabel("seconds since start")
    axes.set_ylabel("sessions")
    mark_warmup(axes, warmup)
    mark_outages(axes, outages or [])
    return figure
