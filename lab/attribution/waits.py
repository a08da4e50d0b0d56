"""The database's load by wait event, from the sessions sampled at 10 Hz.

Average active sessions (AAS): of the samples taken in a span, how many
sessions were at work on average, split by what they waited on ("CPU" when
active without a wait event: running, or waiting for a core). A background
process's work is labelled with its kind (`walwriter IO:WalWrite`), so the
server's own chores stay apart from the sessions serving requests.
"""

from __future__ import annotations

import pandas as pd

from lab.records import Window

CPU = "CPU"
CLIENT = "client backend"


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
    """AAS per epoch second (index) and wait label (columns)."""
    if waits.empty:
        return pd.DataFrame()
    second = waits["ts"].astype(int)
    samples = waits.groupby(second)["ts"].nunique()
    counts = pd.crosstab(second, labels(waits))
    return counts.div(samples, axis=0).fillna(0.0)


def top_waits(waits: pd.DataFrame, samples_taken: int, keep: int = 8) -> dict[str, float]:
    """AAS by wait label over the span sampled, the largest first."""
    if waits.empty or samples_taken == 0:
        return {}
    totals = labels(waits).value_counts() / samples_taken
    return {str(k): round(float(v), 3) for k, v in totals.head(keep).items()}


def lock_waits(waits: pd.DataFrame) -> pd.DataFrame:
    """Sessions waiting on a lock: which relation, behind which statement, how often."""
    if waits.empty:
        return waits
    locked = waits[waits["wait_event_type"] == "Lock"]
    return (locked.groupby(["wait_event", locked["lock_relation"].fillna("?"),
                            locked["blocker_query"].fillna("?")])
            .size().rename("samples").reset_index().sort_values("samples", ascending=False))
