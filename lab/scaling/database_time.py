"""Database time of one statement for one probe, from EXPLAIN ANALYZE.

Each measurement runs the statement once first (its time kept as `first_ms`: the
buffers it needed may not be in shared buffers yet), then REPEATS more times and
keeps their median (`ms`, warm). Writes run in a transaction that is rolled back,
so the same post can be measured again and again; their commit (the WAL flush) is
in the HTTP time beside them, not here. With `evict`, the database's pages are first
dropped from shared buffers (pg_buffercache_evict_relation, PostgreSQL 18): `first_ms`
is then a cold start of the buffer cache; the operating system's page cache is kept.
"""

from __future__ import annotations

import statistics
from typing import Any

import psycopg

from lab.plans.capture import explain_json, set_session

REPEATS = 5


def _execution(conn: psycopg.Connection, statement: str, params: dict[str, Any]
               ) -> tuple[float, int]:
    document, _ = explain_json(conn, statement, params)
    plan = document.get("Plan", {})
    return float(document["Execution Time"]), int(plan.get("Shared Read Blocks", 0))


def database_ms(conn: psycopg.Connection, statement: str, params: dict[str, Any],
                session: dict[str, str], repeats: int = REPEATS) -> dict[str, Any]:
    """{first_ms, first_read_blocks, ms (median of the warm runs), runs} of `statement`."""
    set_session(conn, session)
    first, read = _execution(conn, statement, params)
    warm = [_execution(conn, statement, params)[0] for _ in range(repeats)]
    return {"first_ms": round(first, 3), "first_read_blocks": read,
            "ms": round(statistics.median(warm), 3), "runs": repeats}


def evict_buffers(conn: psycopg.Connection) -> str | None:
    """Drop this database's relations from shared buffers; None when done, else why not."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        conn.execute("SELECT sum((pg_buffercache_evict_relation(c.oid)).buffers_evicted) "
                     "FROM pg_class c WHERE c.relkind IN ('r', 'i', 'm', 't') "
                     "AND c.relpersistence = 'p'")
        conn.commit()
        return None
    except psycopg.Error as exc:
        conn.rollback()
        return (f"cold runs not measured: {str(exc).splitlines()[0]} (evicting shared buffers "
                "needs pg_buffercache 1.6, PostgreSQL 18)")
