"""The database's load by wait event, from the sessions sampled at 10 Hz.

Average active sessions (AAS): of the samples taken in a span, how many
sessions were at work on average, split by what they waited on ("CPU" when
active without a wait event: running, or waiting for a core). A background
process's work is labelled with its kind (`walwriter IO:WalWrite`), so the
server's own chores stay apart from the sessions serving requests.

The denominator is every sample taken, idle ones included: each sample leaves one
marker row (SAMPLE_MARKER). Folders written before the markers existed fall back to the
samples that found a session at work, which overstates the load at light load.
"""

from __future__ import annotations

import pandas as pd

from lab.records import Window

CPU = "CPU"
CLIENT = "client backend"
SAMPLE_MARKER = "lab sample"     # the row each sample adds, whether or not anyone was at work


def sessions(waits: pd.DataFrame) -> pd.DataFrame:
    """The sessions at work, without the samples' marker rows."""
    if waits.empty:
        return waits
    return waits[waits["backend_type"] != SAMPLE_MARKER]


def sample_times(waits: pd.DataFrame) -> pd.Series:
    """When each sample was taken (older folders: the samples that found someone at work)."""
    if waits.empty:
        return pd.Series(dtype=float)
    marked = waits["backend_type"] == SAMPLE_MARKER
    return waits.loc[marked, "ts"] if marked.any() else waits["ts"].drop_duplicates()


def samples_taken(waits: pd.DataFrame) -> int:
    return int(len(sample_times(waits)))


def labels(waits: pd.DataFrame) -> pd.Series:
    event = (waits["wait_event_type"].fillna("") + ":" + waits["wait_event"].fillna(""))
    event = event.where(waits["wait_event_type"].notna(), CPU)
    background = waits["backend_type"] != CLIENT
    return event.where(~background, waits["backend_type"] + " " + event)


def in_window(waits: pd.DataFrame, window: Window) -> pd.DataFrame:
    if waits.empty:
        return waits
    return waits[(waits["ts"] >= window.start_ts) & (waits["ts"] < window.end_ts)]


def load_per_second(waits: pd.DataFrame) -> pd.DataFrame:
    """AAS per epoch second (index) and wait label (columns), over every sample taken in
    that second."""
    taken = sample_times(waits)
    if taken.empty:
        return pd.DataFrame()
    samples = taken.groupby(taken.astype(int)).size()
    busy = sessions(waits)
    counts = pd.crosstab(busy["ts"].astype(int), labels(busy))
    return counts.reindex(samples.index, fill_value=0).div(samples, axis=0).fillna(0.0)


def top_waits(waits: pd.DataFrame, keep: int = 8) -> dict[str, float]:
    """AAS by wait label over every sample taken in the span, the largest first."""
    taken, busy = samples_taken(waits), sessions(waits)
    if taken == 0 or busy.empty:
        return {}
    totals = labels(busy).value_counts() / taken
    return {str(k): round(float(v), 3) for k, v in totals.head(keep).items()}


def lock_waits(waits: pd.DataFrame) -> pd.DataFrame:
    """Sessions waiting on a lock: which relation, behind which statement, how often."""
    if waits.empty:
        return waits
    locked = sessions(waits)
    locked = locked[locked["wait_event_type"] == "Lock"]
    return (locked.groupby(["wait_event", locked["lock_relation"].fillna("?"),
                            locked["blocker_query"].fillna("?")])
            .size().rename("samples").reset_index().sort_values("samples", ascending=False))
