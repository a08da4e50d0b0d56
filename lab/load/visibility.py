"""Visibility lag: from a post's 201 to a follower's home timeline showing the tweet.

A watcher is a new account following one author; after the author's post is
acknowledged, the watcher reads its first page every POLL_S until the tweet is
there. Seen at the first read, the lag is 0: the tweet was there as soon as a
client could look (push with inline fan-out must always give 0: its fan-out is in
the posting transaction). `lab scaling` measures it per author; during a load run
a VisibilityProbe posts as a few authors in turn, in the background, and the run
report gives the lag's percentiles over the measurement window.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import numpy as np
import psycopg

from lab.errors import LabError
from lab.load.probes import Probe, pick_authors, watch
from lab.percentiles import latency_summary
from lab.records import VisibilityLag, Window

POLL_S = 0.002
LAG_LIMIT_S = 10.0
PROBE_INTERVAL_S = 2.0
RUN_AUTHOR_FOLLOWERS = (10, 100, 1000)   # the authors a run's probe posts as


@dataclass(frozen=True)
class Pair:
    author: Probe
    watcher: Probe


@dataclass(frozen=True)
class Seen:
    """One probed post: when its 201 came, how long it took, and when the watcher saw it."""

    ts: float                 # epoch seconds of the 201
    author_followers: int
    tweet_id: int
    post_ms: float
    lag_ms: float | None      # None: not seen within LAG_LIMIT_S


def auth(probe: Probe) -> dict[str, str]:
    return {"Authorization": f"Bearer {probe.token}"}


def post(client: httpx.Client, author: Probe, body: str) -> tuple[float, int]:
    """POST /tweets as `author`: (whole-request ms, the new tweet's id)."""
    started = time.perf_counter()
    response = client.post("/tweets", json={"body": body}, headers=auth(author))
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise LabError(f"POST /tweets as probe author {author.user_id} answered "
                       f"{response.status_code}: {response.text[:200]}")
    return took, int(response.json()["tweet"]["id"])


def shows(client: httpx.Client, watcher: Probe, tweet_id: int) -> bool:
    response = client.get("/timeline/home", params={"limit": 5}, headers=auth(watcher))
    return response.status_code == 200 and any(
        t["id"] == tweet_id for t in response.json()["tweets"])


def post_and_see(client: httpx.Client, pair: Pair, body: str) -> Seen:
    """Post as the pair's author, then read the watcher's timeline until the tweet shows."""
    took, tweet_id = post(client, pair.author, body)
    answered, at = time.perf_counter(), time.time()
    reads = 0
    while time.perf_counter() - answered < LAG_LIMIT_S:
        sent = time.perf_counter()
        if shows(client, pair.watcher, tweet_id):
            lag = 0.0 if reads == 0 else (sent - answered) * 1000
            return Seen(at, pair.author.size, tweet_id, round(took, 3), round(lag, 3))
        reads += 1
        time.sleep(POLL_S)
    return Seen(at, pair.author.size, tweet_id, round(took, 3), None)


def run_pairs(conn: psycopg.Connection) -> list[Pair]:
    """Watched authors for a run: the public accounts nearest RUN_AUTHOR_FOLLOWERS followers,
    each with a new watcher (made before the run's ids are noted, so the ledger does not
    count them)."""
    authors = pick_authors(conn, RUN_AUTHOR_FOLLOWERS, largest_too=False)
    return [Pair(a, watch(conn, a, f"run-{a.user_id}")) for a in authors]


class VisibilityProbe(threading.Thread):
    """Post as each pair's author in turn every PROBE_INTERVAL_S until stopped."""

    def __init__(self, host: str, pairs: list[Pair]) -> None:
        super().__init__(name="visibility-probe", daemon=True)
        self.host, self.pairs = host, pairs
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        if not self.pairs:
            return
        with httpx.Client(base_url=self.host, timeout=LAG_LIMIT_S) as client:
            turn = 0
            while not self._stop_event.wait(PROBE_INTERVAL_S):
                pair = self.pairs[turn % len(self.pairs)]
                turn += 1
                try:
                    self.seen.append(post_and_see(client, pair, f"visibility probe #{turn}"))
                except (httpx.HTTPError, LabError, ValueError, KeyError) as exc:
                    self.errors.append(str(exc).splitlines()[0] if str(exc) else repr(exc))

    def stop(self) -> list[Seen]:
        self._stop_event.set()
        self.join(timeout=LAG_LIMIT_S + 5)
        return list(self.seen)


def lag_numbers(group: list[Seen]) -> dict[str, float | int | None]:
    """Posts, the lag's p50, p99 and worst (ms, exact percentiles) of the posts seen."""
    lags_us = np.array([s.lag_ms for s in group if s.lag_ms is not None]) * 1000
    summary = latency_summary(lags_us)
    return {"posts": len(group), "p50_ms": summary["p50"], "p99_ms": summary["p99"],
            "max_ms": summary["max"]}


def lag_summary(seen: list[Seen], window: Window, strategy: str, fanout: str,
                errors: list[str]) -> VisibilityLag:
    """The lag of the probe's posts acknowledged in `window`, overall and per author."""
    inside = [s for s in seen if window.start_ts <= s.ts < window.end_ts]
    overall = lag_numbers(inside)
    authors = sorted({s.author_followers for s in inside})
    return VisibilityLag(
        strategy=strategy, fanout=fanout, posts=len(inside),
        unseen=sum(s.lag_ms is None for s in inside),
        at_first_read=sum(s.lag_ms == 0 for s in inside),
        p50_ms=overall["p50_ms"], p99_ms=overall["p99_ms"], max_ms=overall["max_ms"],
        by_author={a: lag_numbers([s for s in inside if s.author_followers == a])
                   for a in authors},
        errors=sorted(set(errors))[:5])
