"""The attribution of one run: its measurement window explained, from the run's tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lab.attribution.capacity import capacity, capacity_causes
from lab.attribution.causes import (
    Busy,
    Setup,
    cold_start,
    load_causes,
    second_causes,
    tail_causes,
)
from lab.attribution.decompose import breakdowns
from lab.attribution.seconds import worst_seconds
from lab.attribution.waits import in_window, load_per_second, lock_waits, top_waits
from lab.records import Attribution, RequestStats, Window, Windows

MAX_CAUSES = 12


def sent_in(samples: pd.DataFrame, window: Window) -> pd.DataFrame:
    """The requests sent inside a window (a request belongs to the window it started in)."""
    return samples[(samples["start_ts"] >= window.start_ts)
                   & (samples["start_ts"] < window.end_ts)]


def _max_in(frame: pd.DataFrame, column: str, window: Window,
            time_column: str = "ts") -> float | None:
    if frame.empty or column not in frame:
        return None
    chosen = frame[(frame[time_column] >= int(window.start_ts))
                   & (frame[time_column] <= window.end_ts)][column].dropna()
    return None if chosen.empty else float(chosen.max())


def attribution(samples: pd.DataFrame, windows: Windows, stats: RequestStats,
                warmup_stats: RequestStats, tables: dict[str, pd.DataFrame], setup: Setup,
                wait_sampling: dict[str, Any], unavailable: dict[str, str],
                statements: list[dict[str, Any]] | None = None) -> Attribution:
    """Decompose, find the worst seconds and the causes; `tables` holds "server", "waits",
    "stalls" and "events" (any may be empty: a server that offers less explains less);
    `statements` is the run's labelled pg_stat_statements delta."""
    window = windows.measurement
    measured = sent_in(samples, window)
    waits = in_window(tables["waits"], window)
    stalls, server = tables["stalls"], tables["server"]
    locust = stalls[stalls["process"].str.startswith("locust-")] if not stalls.empty else stalls
    rows = breakdowns(measured)
    seconds = worst_seconds(measured, windows.run.start_ts, server, load_per_second(waits),
                            stalls, tables["events"])
    load = top_waits(waits)
    locks = lock_waits(waits)
    api = stalls[stalls["process"].str.startswith("api-")] if not stalls.empty else stalls
    room = capacity(measured, server, window, setup.cpus,
                    setup.pool_max * setup.api_workers)
    busy = Busy(locust_cpu_max=_max_in(server, "locust_cpu_max_process_percent", window),
                locust_lag_max=_max_in(locust, "loop_lag_max_ms", window),
                api_lag_max=_max_in(api, "loop_lag_max_ms", window),
                cpu_saturated=room.saturated, pool_full=room.pool_full)
    causes = [*capacity_causes(room), *tail_causes(rows, setup, busy, statements),
              *load_causes(load, locks), *second_causes(seconds, locks),
              *cold_start(warmup_stats, stats)]
    return Attribution(breakdown=rows, worst_seconds=seconds, causes=causes[:MAX_CAUSES],
                       top_waits=load, wait_sampling=wait_sampling,
                       unavailable=unavailable, cpu_ms_per_request=room.cpu_ms_per_request())
