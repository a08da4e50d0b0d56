"""Background fan-out: drain fanout_queue into followers' caches (lab.fanout = queue).

Posting then only writes the tweet, the author's own cache entry and a queue
row; followers see the tweet once this worker has delivered it. Each API
worker process runs one such task on a connection of its own (not the
pool's, so deliveries never make requests wait for a connection); SKIP
LOCKED lets several of them share the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import psycopg

from lab.api.db import session_options
from lab.config import Settings
from lab.errors import first_line
from lab.queries import query

log = logging.getLogger("lab.api.fanout")
BATCH = 200
IDLE_WAIT_S = 0.01
RECONNECT_WAIT_S = 1.0


@dataclass
class FanoutStats:
    """What /stats reports about background delivery."""

    tweets: int = 0
    delivered: int = 0
    max_lag_ms: float = 0.0
    last_lag_ms: float = 0.0
    errors: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"tweets": self.tweets, "delivered": self.delivered,
                "max_lag_ms": round(self.max_lag_ms, 2), "last_lag_ms": round(self.last_lag_ms, 2),
                "errors": self.errors}


async def run(dsn: str, settings: Settings, stats: FanoutStats, stop: asyncio.Event) -> None:
    """Deliver queued tweets until `stop` is set; reconnect when the database goes away."""
    sql = query("deliver_queued")
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(
                    dsn, autocommit=True, options=session_options(settings)) as conn:
                while not stop.is_set():
                    cursor = await conn.execute(sql, {"batch": BATCH})  # type: ignore[arg-type]
                    row = await cursor.fetchone()
                    tweets, delivered, lag_ms = row if row else (0, 0, 0.0)
                    if tweets:
                        stats.tweets += tweets
                        stats.delivered += delivered
                        stats.last_lag_ms = lag_ms
                        stats.max_lag_ms = max(stats.max_lag_ms, lag_ms)
                    else:
                        await _wait(stop, IDLE_WAIT_S)
        except psycopg.Error as exc:
            stats.errors += 1
            log.warning("fan-out worker: %s; retrying", first_line(exc))
            await _wait(stop, RECONNECT_WAIT_S)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
