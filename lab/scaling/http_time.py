"""HTTP time beside the database's, and visibility lag per author, against one running API.

HTTP times are whole requests from a keep-alive client on the same machine: the
median of REPEATS after WARMUP unmeasured ones, once the newly started API has
been warmed up. The lag is lab.load.visibility's, POSTS posts per author.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from lab.errors import LabError
from lab.load.probes import Probe
from lab.load.visibility import Pair, auth, lag_numbers, post, post_and_see

WARMUP, REPEATS = 5, 10
SERVER_WARMUP = 20         # reads and 2 posts first, so a new API's first probe is not its start
POSTS = 5


def warm_up(client: httpx.Client, reader: Probe, author: Probe | None = None) -> None:
    """Unmeasured requests through a newly started API: its pool's connections opened, its
    statements prepared, before the first probe is timed."""
    for _ in range(SERVER_WARMUP):
        client.get("/timeline/home", params={"limit": 50}, headers=auth(reader))
    if author is not None:
        for n in range(2):
            post(client, author, f"scaling warm-up #{n}")


def timeline_ms(client: httpx.Client, reader: Probe) -> float:
    """The median whole-request time of the reader's first home-timeline page (50 tweets)."""
    times = []
    for attempt in range(WARMUP + REPEATS):
        started = time.perf_counter()
        response = client.get("/timeline/home", params={"limit": 50}, headers=auth(reader))
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise LabError(f"GET /timeline/home for probe {reader.user_id} answered "
                           f"{response.status_code}: {response.text[:200]}")
        if attempt >= WARMUP:
            times.append(took)
    return round(statistics.median(times), 3)


def post_and_watch(client: httpx.Client, author: Probe, watcher: Probe, label: str
                   ) -> dict[str, Any]:
    """POSTS posts by `author`: their median HTTP time and the lag until `watcher` sees each
    (p50 and the worst, ms; `unseen` counts posts not seen within the limit)."""
    seen = [post_and_see(client, Pair(author, watcher), f"scaling probe {label} #{n}")
            for n in range(POSTS)]
    lag = lag_numbers(seen)
    return {"post_http_ms": round(statistics.median(s.post_ms for s in seen), 3),
            "lag_p50_ms": lag["p50_ms"], "lag_max_ms": lag["max_ms"],
            "lags_ms": [s.lag_ms for s in seen], "unseen": sum(s.lag_ms is None for s in seen)}
