"""A busy pool or a stopped database: 503 with Retry-After, never a hang; then recovery by itself.

"Never a hang" is held by a bound on each such request (HANG_S): well above the
configured timeouts, so a loaded machine cannot make the test flake, far below
forever.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from lab.migrate import migrate
from lab.pg.embedded import EmbeddedPostgres
from lab.pg.server import PgServer
from tests.api.conftest import Api, serve
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
HANG_S = 15.0


def wait_for_lock_wait(server: PgServer, database: str) -> None:
    """Wait until some session of `database` is waiting on a lock (the blocked request)."""
    deadline = time.monotonic() + HANG_S
    with server.connect(database, autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                               "AND wait_event_type = 'Lock'", (database,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the request never waited on the lock"
            time.sleep(0.05)


def test_exhausted_pool_answers_503_quickly(api: Api, pg_server: PgServer, api_db: str) -> None:
    a, b = api.register("xa"), api.register("xb")
    server = serve(pg_server.url(api_db), pool_min=1, pool_max=1, pool_timeout_s=0.5)
    try:
        http = httpx.Client(base_url=server.url, timeout=30,
                            headers={"Authorization": f"Bearer {a.token}"})
        with pg_server.connect(api_db) as blocker:
            # Hold b's row: the follow below waits on it, holding the pool's only connection.
            blocker.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (b.id,))
            results: dict[str, httpx.Response] = {}
            waiter = threading.Thread(target=lambda: results.update(
                follow=http.put(f"/users/{b.id}/follow")))
            waiter.start()
            wait_for_lock_wait(pg_server, api_db)   # the pool's one connection is taken now
            busy = http.get("/health", timeout=HANG_S)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert busy.json() == {"detail": "no database connection became free in time",
                                   "code": "unavailable"}
            blocker.rollback()
        waiter.join(timeout=10)
        assert results["follow"].status_code == 200
        assert http.get("/health").status_code == 200
        http.close()
    finally:
        server.stop()


@pytest.mark.embedded
def test_database_restart_is_survived() -> None:
    folder = ROOT / ".lab" / f"restart-{uuid.uuid4().hex[:8]}"
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    database.start()
    server = None
    try:
        with database.server().connect() as conn:
            migrate(conn)
        server = serve(database.server().url(), pool_min=2, pool_max=2, pool_timeout_s=1.0)
        http = httpx.Client(base_url=server.url, timeout=30)
        assert http.get("/health").status_code == 200
        database.stop()
        down = http.get("/health", timeout=HANG_S)
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        database.start()
        deadline = time.monotonic() + 15
        while http.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover"
            time.sleep(0.2)
        registered = http.post("/users", json={"username": "after", "email": "a@b.c",
                                               "display_name": "After"})
        assert registered.status_code == 201
        http.close()
    finally:
        if server is not None:
            server.stop()
        database.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_statement_stuck_on_a_lock_answers_503(api: Api, pg_server: PgServer,
                                                 api_db: str) -> None:
    """statement_timeout turns a wait that would hang into a prompt 503."""
    a, b = api.register("sa"), api.register("sb")
    server = serve(pg_server.url(api_db), statement_timeout_ms=300)
    try:
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {a.token}"}) as http, \
                pg_server.connect(api_db) as blocker:
            blocker.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (b.id,))
            stuck = http.put(f"/users/{b.id}/follow", timeout=HANG_S)
            blocker.rollback()
            assert stuck.status_code == 503 and stuck.headers["retry-after"] == "1"
            assert stuck.json()["code"] == "unavailable"
            assert http.put(f"/users/{b.id}/follow").json() == {"result": "followed"}
    finally:
        server.stop()
