"""SC4's workload reads warm timelines only: where some caches are closed, its clients
(Python and pgbench alike) read the readers whose cache is open, so no level opens one."""

from __future__ import annotations

import random

from lab.connections.workload import READERS_TABLE, Workload, drop_readers, open_readers
from lab.generators import run_pgbench
from lab.pg.server import PgServer

CLOSED = 600     # of tiny's 1,500 users


def closed_count(server: PgServer, database: str) -> int:
    with server.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM closed_caches").fetchone()
        assert row is not None
        return int(row[0])


def test_timelines_are_read_for_open_caches_only_and_none_is_opened(
        pg_server: PgServer, seeded_copy: str) -> None:
    with pg_server.connect(seeded_copy) as conn:
        conn.execute("SELECT close_home_timeline(id) FROM users WHERE id % 5 < 2")
        conn.commit()
        users = int(conn.execute("SELECT count(*) FROM users").fetchone()[0])  # type: ignore[index]
        assert open_readers(conn, "pull", users) == ()     # pull never reads a cache
        readers = open_readers(conn, "push", users)
    assert closed_count(pg_server, seeded_copy) == CLOSED
    assert len(readers) == users - CLOSED and all(r % 5 >= 2 for r in readers)

    workload = Workload("home_timeline", "push", users, readers)
    rng = random.Random(3)
    assert {workload.pick(rng).params["user_id"] for _ in range(2000)} <= set(readers)
    done = run_pgbench(pg_server.url(seeded_copy), workload.pgbench_scripts(), 4, 3, "extended")
    assert done.returncode == 0, done.stderr
    assert len(done.latency_us) > 100
    assert closed_count(pg_server, seeded_copy) == CLOSED      # nothing was opened

    # The same pgbench run for any seeded user opens the closed caches it meets.
    anyone = Workload("home_timeline", "push", users)
    done = run_pgbench(pg_server.url(seeded_copy), anyone.pgbench_scripts(), 4, 3, "extended")
    assert done.returncode == 0, done.stderr
    assert closed_count(pg_server, seeded_copy) < CLOSED

    with pg_server.connect(seeded_copy) as conn:
        drop_readers(conn)
        assert conn.execute("SELECT to_regclass(%s)", (READERS_TABLE,)).fetchone() == (None,)


def test_with_every_cache_open_the_workload_is_unchanged(
        pg_server: PgServer, seeded_db: str) -> None:
    with pg_server.connect(seeded_db) as conn:
        assert open_readers(conn, "push", 1500) == ()
        # Nothing is left behind for drop_readers to find: no reader table was kept.
        assert conn.execute("SELECT to_regclass(%s)", (READERS_TABLE,)).fetchone() == (None,)
    workload = Workload("mixed", "push", 1500)
    scripts = workload.pgbench_scripts()
    assert all(script.startswith("\\set user_id random(1, 1500)\n") for script, _ in scripts)
