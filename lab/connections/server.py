"""The server side of the connection experiment: how many sessions fit, and what they cost."""

from __future__ import annotations

import threading
import time

import psutil
import psycopg

from lab.pg.server import PgServer

SPARE_SESSIONS = 5      # the lab's own sessions (sampler, API pool refills, psql) must still fit
WATCH_INTERVAL_S = 0.5
HEADROOM_SQL = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
       r.rolsuper, r.rolconnlimit,
       (SELECT count(*) FROM pg_stat_activity WHERE usename = current_user) AS role_used,
       d.datconnlimit,
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS db_used
FROM pg_roles AS r, pg_database AS d
WHERE r.rolname = current_user AND d.datname = current_database()
"""


def session_headroom(conn: psycopg.Connection) -> tuple[int, str]:
    """Return how many more sessions this role may open on this database, and the limit.

    max_connections less the slots reserved for superusers (when we are not one)
    and the sessions already open; a role's or database's CONNECTION LIMIT when
    lower (superusers are exempt from both).
    """
    row = conn.execute(HEADROOM_SQL).fetchone()
    assert row is not None
    max_connections, reserved, used, superuser, role_limit, role_used, db_limit, db_used = row
    limits = [(max_connections - used - (0 if superuser else reserved),
               f"max_connections = {max_connections} with {used} sessions open")]
    if not superuser and role_limit >= 0:
        limits.append((role_limit - role_used, f"the role's CONNECTION LIMIT {role_limit}"))
    if not superuser and db_limit >= 0:
        limits.append((db_limit - db_used, f"the database's CONNECTION LIMIT {db_limit}"))
    free, reason = min(limits)
    return max(0, free - SPARE_SESSIONS), reason


class LevelWatch(threading.Thread):
    """Sample the server while one level runs: client backends, and memory once, mid-level."""

    def __init__(self, server: PgServer, database: str, postmaster_pid: int | None,
                 memory_after_s: float) -> None:
        super().__init__(name="connections-watch", daemon=True)
        self.server, self.database = server, database
        self.postmaster_pid, self.memory_after_s = postmaster_pid, memory_after_s
        self.backends_max: int | None = None
        self.rss_mb: float | None = None
        self.pss_mb: float | None = None
        self.errors: list[str] = []
        self._done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        try:
            with self.server.connect(self.database, autocommit=True) as conn:
                while not self._done.is_set():
                    row = conn.execute("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE backend_type = 'client backend'").fetchone()
                    assert row is not None
                    self.backends_max = max(self.backends_max or 0, int(row[0]))
                    if self.rss_mb is None and time.monotonic() - started >= self.memory_after_s:
                        self.rss_mb, self.pss_mb = postgres_memory_mb(self.postmaster_pid)
                    self._done.wait(WATCH_INTERVAL_S)
        except psycopg.Error as exc:
            self.errors.append(str(exc).strip().splitlines()[0] if str(exc) else repr(exc))

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=30)


def postgres_memory_mb(postmaster_pid: int | None) -> tuple[float | None, float | None]:
    """(RSS, PSS) of the postmaster and all its children, in MB; None when not local.

    RSS counts every shared page (shared_buffers) once per process that touched it,
    so it overstates; PSS divides shared pages among the processes sharing them.
    """
    if postmaster_pid is None:
        return None, None
    try:
        root = psutil.Process(postmaster_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None, None
    rss = pss = 0.0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", 0)
    return round(rss / 2**20, 1), round(pss / 2**20, 1)
