"""Database wait sampling, an active session history, at 10 Hz beside the load.

Every SAMPLE_S a thread with a connection of its own reads pg_stat_activity:
every session of the run database that is active, and every background
process at work (the checkpointer, the WAL writer, autovacuum, ...), with its
state, wait event and query id; for a lock wait also the relation waited on
and the statement of the session at the root of its blocking chain. Averaged
per second it is the database's load by wait event (average active
sessions); per query id it joins pg_stat_statements, hence statement and
request names. Its own cost is measured: the thread's CPU time and how long
each sample's query took.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from lab.attribution.waits import SAMPLE_MARKER
from lab.errors import first_line
from lab.pg.server import PgServer

SAMPLE_S = 0.1
COLUMNS = ("ts", "pid", "backend_type", "state", "wait_event_type", "wait_event", "query_id",
           "lock_relation", "blocker_query")
# Every sample also returns one marker row (backend_type SAMPLE_MARKER, no pid): an idle
# sample is a sample too, and average active sessions divide by all samples taken.
# Client sessions of the run database that are active; background processes that are not
# idling in their main loop (wait event type Activity). A lock waiter's blocker is the root
# of its chain: the nearest session blocking it is often another waiter queued ahead of it
# on the same row (a tuple lock), not the transaction holding the row.
CHAIN_DEPTH = 6
SAMPLE_SQL = """
SELECT extract(epoch FROM statement_timestamp())::float8, a.pid, a.backend_type, a.state,
       a.wait_event_type, a.wait_event, a.query_id,
       CASE WHEN a.wait_event_type = 'Lock' THEN (
           SELECT l.relation::regclass::text FROM pg_locks AS l
           WHERE l.pid = a.pid AND l.relation IS NOT NULL
             AND (NOT l.granted OR l.locktype = 'tuple')
           ORDER BY l.granted LIMIT 1) END,
       CASE WHEN a.wait_event_type = 'Lock' THEN (
           WITH RECURSIVE chain (pid, depth) AS (
               SELECT a.pid, 0
               UNION ALL
               SELECT b.pid, c.depth + 1
               FROM chain AS c, unnest(pg_blocking_pids(c.pid)) AS b (pid)
               WHERE c.depth < %(chain_depth)s)
           SELECT left(s.query, 300) FROM chain JOIN pg_stat_activity AS s USING (pid)
           WHERE chain.depth > 0
           ORDER BY s.wait_event_type IS NOT DISTINCT FROM 'Lock', chain.depth DESC
           LIMIT 1) END
FROM pg_stat_activity AS a
WHERE a.pid <> pg_backend_pid()
  AND ((a.backend_type = 'client backend' AND a.datname = %(database)s AND a.state = 'active')
       OR (a.backend_type <> 'client backend'
           AND a.wait_event_type IS DISTINCT FROM 'Activity'))
UNION ALL
SELECT extract(epoch FROM statement_timestamp())::float8, NULL, %(marker)s, NULL, NULL, NULL,
       NULL, NULL, NULL
"""


@dataclass
class SamplingCost:
    """What sampling itself cost: to tell the lab's own load from the target's."""

    samples: int = 0
    thread_cpu_s: float = 0.0
    query_ms_total: float = 0.0
    query_ms_max: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"interval_s": SAMPLE_S, "samples": self.samples,
                "thread_cpu_s": round(self.thread_cpu_s, 3),
                "query_ms_mean": round(self.query_ms_total / self.samples, 3)
                if self.samples else None,
                "query_ms_max": round(self.query_ms_max, 3), "errors": self.errors[:20]}


class ActivitySampler(threading.Thread):
    """Sample the run database's sessions every SAMPLE_S until stopped."""

    def __init__(self, server: PgServer, database: str, interval_s: float = SAMPLE_S) -> None:
        super().__init__(name="activity-sampler", daemon=True)
        self.server, self.database, self.interval_s = server, database, interval_s
        self.rows: list[tuple[Any, ...]] = []
        self.cost = SamplingCost()
        self._stop_event = threading.Event()

    def stop(self) -> list[tuple[Any, ...]]:
        self._stop_event.set()
        self.join(timeout=30)
        return self.rows

    def run(self) -> None:
        started_cpu = time.thread_time()
        conn: psycopg.Connection | None = None
        due = time.monotonic()
        try:
            while not self._stop_event.wait(max(0.0, due - time.monotonic())):
                due += self.interval_s
                try:
                    if conn is None or conn.closed:   # a fault run restarts the database
                        conn = self.server.connect(self.database, autocommit=True)
                    asked = time.perf_counter()
                    params = {"database": self.database, "chain_depth": CHAIN_DEPTH,
                              "marker": SAMPLE_MARKER}
                    self.rows.extend(conn.execute(SAMPLE_SQL, params).fetchall())
                    took_ms = (time.perf_counter() - asked) * 1000
                    self.cost.samples += 1
                    self.cost.query_ms_total += took_ms
                    self.cost.query_ms_max = max(self.cost.query_ms_max, took_ms)
                except psycopg.Error as exc:
                    self.cost.errors.append(f"{time.time():.1f} {first_line(exc)}")
                    if conn is not None:
                        conn.close()
                    conn = None
                    due = time.monotonic() + 1.0
        finally:
            if conn is not None:
                conn.close()
            self.cost.thread_cpu_s = time.thread_time() - started_cpu
