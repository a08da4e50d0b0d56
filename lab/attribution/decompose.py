"""A request's time split into client overhead, pool wait, database and the rest of the app.

The API's Server-Timing header says, per request, how long it waited for a
pooled connection, how long its statements took from send to last row, and
how long the whole request took inside the app; the client's latency minus
that is time outside the app (sockets, the accept queue, the generator). A
band of requests is described by the mean of each part: the typical
requests (p25 to p75) and the tails (at or above p95, p99), per request name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.percentiles import nearest_rank
from lab.records import Breakdown, Components
from lab.verdicts import POWER_BUCKET

TIMING = ("server_app_us", "server_pool_us", "server_db_us")
POWER_NAME = f"home_timeline (follows {POWER_BUCKET})"


def _mean_ms(values: pd.Series) -> float | None:
    return None if values.empty else round(float(values.mean()) / 1000, 3)


def components(group: pd.DataFrame) -> Components:
    """The mean parts of a group of successful requests (parts None without Server-Timing)."""
    latency_ms = round(float(group["latency_us"].mean()) / 1000, 3)
    timed = group.dropna(subset=list(TIMING)) if all(c in group for c in TIMING) else None
    if timed is None or timed.empty:
        return Components(requests=len(group), latency_ms=latency_ms, client_ms=None,
                          pool_ms=None, db_ms=None, app_ms=None)
    app, pool, db = (timed[column] for column in TIMING)
    return Components(requests=len(group), latency_ms=latency_ms,
                      client_ms=_mean_ms((timed["latency_us"] - app).clip(lower=0)),
                      pool_ms=_mean_ms(pool), db_ms=_mean_ms(db),
                      app_ms=_mean_ms((app - pool - db).clip(lower=0)))


def at_rank(latency_us: np.ndarray, percent: float) -> float:
    ordered = np.sort(latency_us)
    return float(ordered[nearest_rank(len(ordered), percent) - 1])


def breakdown(name: str, group: pd.DataFrame) -> Breakdown:
    latency = group["latency_us"].to_numpy()
    low, high = at_rank(latency, 25), at_rank(latency, 75)
    timed = int(group["server_app_us"].notna().sum()) if "server_app_us" in group else 0
    return Breakdown(
        name=name, requests=len(group),
        typical=components(group[(group["latency_us"] >= low) & (group["latency_us"] <= high)]),
        tail_p95=components(group[group["latency_us"] >= at_rank(latency, 95)]),
        tail_p99=components(group[group["latency_us"] >= at_rank(latency, 99)]),
        timed_share=round(timed / len(group), 4))


def breakdowns(measured: pd.DataFrame) -> list[Breakdown]:
    """Per request name (and the SC3 population apart), of the successful requests given."""
    ok = measured[measured["failure"].isna()]
    rows = [breakdown(str(name), group) for name, group in ok.groupby("name", sort=True)]
    power = ok[(ok["name"] == "home_timeline") & (ok["bucket"] == POWER_BUCKET)]
    if len(power):
        rows.append(breakdown(POWER_NAME, power))
    return rows
