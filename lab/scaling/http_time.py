"""HTTP time beside the database's, and visibility lag, against one running API.

HTTP times are whole requests from a keep-alive client on the same machine: the
median of REPEATS after WARMUP unmeasured ones. Visibility lag is the time from a
post's 201 to the first read of a follower's home timeline that holds it, the
follower polling every POLL_S; a tweet already there at the first read has lag 0
(push with inline fan-out must always: its fan-out is in the posting transaction).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import numpy as np

from lab.errors import LabError
from lab.percentiles import latency_summary
from lab.scaling.probes import Probe

WARMUP, REPEATS = 5, 10
SERVER_WARMUP = 20         # reads and 2 posts first, so a new API's first probe is not its start
POSTS = 5
POLL_S = 0.002
LAG_LIMIT_S = 10.0


def _auth(probe: Probe) -> dict[str, str]:
    return {"Authorization": f"Bearer {probe.token}"}


def _timed(send: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = send()
    return (time.perf_counter() - started) * 1000, response


def timeline_ms(client: httpx.Client, reader: Probe) -> float:
    """The median whole-request time of the reader's first home-timeline page (50 tweets)."""
    times = []
    for attempt in range(WARMUP + REPEATS):
        took, response = _timed(lambda: client.get("/timeline/home", params={"limit": 50},
                                                   headers=_auth(reader)))
        if response.status_code != 200:
            raise LabError(f"GET /timeline/home for probe {reader.user_id} answered "
                           f"{response.status_code}: {response.text[:200]}")
        if attempt >= WARMUP:
            times.append(took)
    return round(statistics.median(times), 3)


def warm_up(client: httpx.Client, reader: Probe, author: Probe | None = None) -> None:
    """Unmeasured requests through a newly started API: its pool's connections opened, its
    statements prepared, before the first probe is timed."""
    for _ in range(SERVER_WARMUP):
        client.get("/timeline/home", params={"limit": 50}, headers=_auth(reader))
    if author is not None:
        for n in range(2):
            post(client, author, f"scaling warm-up #{n}")


def post(client: httpx.Client, author: Probe, body: str) -> tuple[float, int]:
    took, response = _timed(lambda: client.post("/tweets", json={"body": body},
                                                 headers=_auth(author)))
    if response.status_code != 201:
        raise LabError(f"POST /tweets as probe author {author.user_id} answered "
                       f"{response.status_code}: {response.text[:200]}")
    return took, int(response.json()["tweet"]["id"])


def _shows(client: httpx.Client, watcher: Probe, tweet_id: int) -> bool:
    response = client.get("/timeline/home", params={"limit": 5}, headers=_auth(watcher))
    return response.status_code == 200 and any(
        t["id"] == tweet_id for t in response.json()["tweets"])


def post_and_watch(client: httpx.Client, author: Probe, watcher: Probe, label: str
                   ) -> dict[str, Any]:
    """POSTS posts by `author`: their median HTTP time and the lag until `watcher` sees each
    (p50 and the worst of them, ms; None for a post never seen within LAG_LIMIT_S)."""
    post_times, lags = [], []
    for n in range(POSTS):
        took, tweet_id = post(client, author, f"scaling probe {label} #{n}")
        answered = time.perf_counter()
        post_times.append(took)
        seen, reads = None, 0
        while time.perf_counter() - answered < LAG_LIMIT_S:
            sent = time.perf_counter()
            if _shows(client, watcher, tweet_id):
                # Seen on the first read: it was there as soon as the client could look.
                seen = 0.0 if reads == 0 else sent - answered
                break
            reads += 1
            time.sleep(POLL_S)
        lags.append(None if seen is None else seen * 1000)
    measured = [lag for lag in lags if lag is not None]
    summary = latency_summary(np.array(measured) * 1000) if measured else {}
    return {"post_http_ms": round(statistics.median(post_times), 3),
            "lag_p50_ms": summary.get("p50"), "lag_max_ms": summary.get("max"),
            "lags_ms": [None if lag is None else round(lag, 3) for lag in lags],
            "unseen": sum(lag is None for lag in lags)}

