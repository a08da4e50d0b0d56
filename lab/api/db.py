"""The connection pool and the one way routes run a named statement.

Connections are autocommit: every API operation is a single statement (the
SQL functions make each write one transaction), so no transaction is ever
left open between round trips. JSON columns are passed through as the bytes
PostgreSQL produced, ready to be the response body.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg_pool import AsyncConnectionPool

from lab.api.timing import spent
from lab.config import Settings
from lab.queries import query

T = TypeVar("T")
RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
ATTEMPTS = 3
# This worker's retried conflicts by kind, for /stats: a retry hides a deadlock from the
# client, not from the lab.
RETRIES = {"deadlock": 0, "serialization": 0}


class RawJsonLoader(Loader):
    """Load json values as the raw bytes PostgreSQL sent (no parse, no re-encode)."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


async def _configure(conn: psycopg.AsyncConnection) -> None:
    conn.adapters.register_loader("json", RawJsonLoader)


def session_options(settings: Settings) -> str:
    """Return the server settings every API connection starts with.

    The timeline settings tell the SQL functions (migration 0004) whether to
    maintain home_timeline: the strategy is a property of the server process.
    """
    values = {"statement_timeout": str(settings.statement_timeout_ms),
              **settings.timeline_session()}
    return " ".join(f"-c {name}={value}" for name, value in values.items())


def make_pool(dsn: str, settings: Settings) -> AsyncConnectionPool:
    """Create (not open) the worker's pool with the lab's sizing and timeouts."""
    return AsyncConnectionPool(
        dsn,
        min_size=settings.pool_min,
        max_size=max(settings.pool_max, settings.pool_min),
        timeout=settings.pool_timeout_s,
        open=False,
        name="lab-api",
        configure=_configure,
        # A connection broken by a database restart is replaced before use, so
        # no request fails once the database is back. Without the check, the
        # pool still discards a connection that failed, after one 503.
        check=AsyncConnectionPool.check_connection if settings.pool_check else None,
        reconnect_timeout=60,
        kwargs={"autocommit": True, "connect_timeout": 5, "options": session_options(settings)},
    )


async def fetch_value(pool: AsyncConnectionPool, name: str, params: dict[str, Any]) -> Any:
    """Run the named statement and return the first column of its first row (or None)."""
    row = await fetch_row(pool, name, params)
    return row[0] if row else None


async def fetch_row(pool: AsyncConnectionPool, name: str,
                    params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run the named statement on its own (autocommit: one statement, one transaction)."""
    sql = query(name)

    async def once() -> tuple[Any, ...] | None:
        asked = time.perf_counter()
        async with pool.connection() as conn:
            lent = time.perf_counter()
            try:
                cursor = await conn.execute(sql, params)  # type: ignore[arg-type]
                return await cursor.fetchone()
            finally:
                spent(lent - asked, time.perf_counter() - lent)

    return await _retrying(once)


async def in_transaction(pool: AsyncConnectionPool,
                         work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` (several statements) in one transaction; only where one statement cannot do."""

    async def once() -> T:
        asked = time.perf_counter()
        async with pool.connection() as conn:
            lent = time.perf_counter()
            try:
                async with conn.transaction():
                    return await work(conn)
            finally:
                spent(lent - asked, time.perf_counter() - lent)

    return await _retrying(once)


async def _retrying(attempt_once: Callable[[], Awaitable[T]]) -> T:
    """Retry serialization failures and deadlocks, with jitter, so that concurrent
    follows and likes never surface them to clients."""
    for attempt in range(ATTEMPTS):
        try:
            return await attempt_once()
        except RETRYABLE as exc:
            kind = "deadlock" if isinstance(exc, pg_errors.DeadlockDetected) else "serialization"
            RETRIES[kind] += 1
            if attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
    raise AssertionError("unreachable")
