"""The worst seconds of a run, each with what coincided with it.

A second's p99 is taken over the successful requests sent in it (seconds
with too few requests to have a p99 are left out), and set beside the median
second's p99: a worst second only explains something when it stands out. Beside it: where its
slowest requests spent their time, the database's load by wait event, how
long the host's tasks were stalled on I/O and CPU, how late the API's and
Locust's loops woke, garbage-collection pauses, and the server's events
(checkpoints, vacuums, analyzes) within a second of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.attribution.decompose import at_rank, components
from lab.records import WorstSecond

MIN_REQUESTS = 20          # fewer in a second: its p99 is its maximum, noise
WORST = 5
EVENT_SLACK_S = 1


def stall_ms(server: pd.DataFrame, column: str, second: int) -> float | None:
    """The growth of a cumulative µs counter (pressure totals) over one epoch second."""
    if server.empty or column not in server:
        return None
    spans = server[["ts", column]].dropna().sort_values("ts")
    grown = spans[column].diff() / 1000
    at = spans["ts"].astype(int) == second
    return None if not at.any() else round(float(grown[at].sum()), 1)


def worst_seconds(measured: pd.DataFrame, origin_ts: float, server: pd.DataFrame,
                  load: pd.DataFrame, stalls: pd.DataFrame, events: pd.DataFrame,
                  count: int = WORST) -> list[WorstSecond]:
    ok = measured[measured["failure"].isna()]
    if ok.empty:
        return []
    second = ok["start_ts"].astype(int)
    sizes = second.value_counts()
    busy = sizes[sizes >= MIN_REQUESTS].index
    p99 = {int(s): at_rank(ok.loc[second == s, "latency_us"].to_numpy(), 99) / 1000
           for s in busy}
    typical = float(np.median(list(p99.values()))) if p99 else 0.0
    found = []
    for epoch_second in sorted(p99, key=lambda s: -p99[s])[:count]:
        group = ok[second == epoch_second]
        tail = group[group["latency_us"] >= at_rank(group["latency_us"].to_numpy(), 95)]
        waits = (load.loc[epoch_second].sort_values(ascending=False)
                 if epoch_second in load.index else pd.Series(dtype=float))
        found.append(WorstSecond(
            second=epoch_second - int(origin_ts), p99_ms=round(p99[epoch_second], 3),
            typical_p99_ms=round(typical, 3),
            requests=len(group), tail=components(tail),
            waits={str(k): round(float(v), 2) for k, v in waits[waits >= 0.1].head(3).items()},
            io_stall_ms=stall_ms(server, "pressure_io_some_us", epoch_second),
            cpu_stall_ms=stall_ms(server, "pressure_cpu_some_us", epoch_second),
            api_lag_ms=_lag(stalls, "api-", epoch_second),
            locust_lag_ms=_lag(stalls, "locust-", epoch_second),
            gc_ms=_gc(stalls, epoch_second),
            events=_events(events, epoch_second, int(origin_ts))))
    return found


def _lag(stalls: pd.DataFrame, prefix: str, second: int) -> float | None:
    if stalls.empty:
        return None
    rows = stalls[(stalls["ts"] == second) & stalls["process"].str.startswith(prefix)]
    return None if rows.empty else round(float(rows["loop_lag_max_ms"].max()), 1)


def _gc(stalls: pd.DataFrame, second: int) -> float | None:
    if stalls.empty:
        return None
    rows = stalls[stalls["ts"] == second]
    return None if rows.empty else round(float(rows["gc_pause_ms"].sum()), 1)


def _events(events: pd.DataFrame, second: int, origin: int) -> list[str]:
    if events.empty:
        return []
    near = events[np.abs(events["ts"].astype(int) - second) <= EVENT_SLACK_S]
    return [f"{row.detail} (at {int(row.ts) - origin} s)" for row in near.itertuples()]
