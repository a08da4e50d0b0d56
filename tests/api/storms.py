"""What every storm test shares: firing requests at once, and counting PostgreSQL's deadlocks.

The server retries a deadlock (three attempts), so "never a 5xx" alone would hide one.
PostgreSQL's own count (pg_stat_database.deadlocks) is the evidence: a backend reports
its statistics when it exits, so each storm gets an API server of its own, and the count
is read once that server's connections have closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx

from lab.integrity import run_checks
from lab.pg.server import PgServer
from tests.api.conftest import Api, running_api

Call = tuple[str | None, str, str, dict[str, Any] | None]   # token, method, path, body
STRATEGIES = ("pull", "push", "hybrid")
GONE_TIMEOUT_S = 10


def fire(url: str, calls: list[Call]) -> list[httpx.Response]:
    """Send every call at once (in shuffled order) and return the responses in call order."""

    async def all_at_once() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(calls))
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            order = list(range(len(calls)))
            random.shuffle(order)

            async def one(i: int) -> tuple[int, httpx.Response]:
                token, method, path, body = calls[i]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return i, await http.request(method, path, json=body, headers=headers)

            answered = dict(await asyncio.gather(*(one(i) for i in order)))
        return [answered[i] for i in range(len(calls))]

    return asyncio.run(all_at_once())


def results(responses: list[httpx.Response]) -> Counter[str]:
    """Count the `result` words of responses that must all be 200."""
    assert [r.status_code for r in responses if r.status_code != 200] == []
    return Counter(r.json()["result"] for r in responses)


def deadlocks(server: PgServer, database: str) -> int:
    """PostgreSQL's count of deadlocks in `database`, once no other session is connected."""
    with server.connect(database, autocommit=True) as conn:
        deadline = time.monotonic() + GONE_TIMEOUT_S
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()").fetchone() != (0,):
            if time.monotonic() > deadline:
                raise AssertionError(f"sessions still connected to {database}")
            time.sleep(0.05)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT deadlocks FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


@contextlib.contextmanager
def storm_api(server: PgServer, database: str, strategy: str) -> Iterator[Api]:
    """An API server for one storm; afterwards, PostgreSQL must have counted no deadlock
    in `database` while it ran (asserted here, with the server's own retry count)."""
    before = deadlocks(server, database)
    with running_api(server.url(database), timeline_strategy=strategy, pool_max=8,
                     pool_timeout_s=10.0) as api:
        def retries() -> int:  # cumulative over the process's servers: a difference is used
            return int(api.anonymous.get("/stats").json()["retries"]["deadlock"])

        retries_before = retries()
        yield api
        retried = retries() - retries_before
    assert (deadlocks(server, database) - before, retried) == (0, 0), \
        "deadlocks counted by PostgreSQL, and retried by the server"


def assert_audit_clean(server: PgServer, database: str, strategy: str) -> None:
    with server.connect(database) as conn:
        broken = {r.name: r.violations for r in run_checks(conn, strategy) if r.violations}
    assert broken == {}

