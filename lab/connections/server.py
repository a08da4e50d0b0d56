"""The server side of the connection experiment: how many sessions fit, and what they cost."""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time

import psutil
import psycopg

from lab.errors import first_line
from lab.pg.server import PgServer

SPARE_SESSIONS = 5      # the lab's own sessions (sampler, API pool refills, psql) must still fit
WATCH_INTERVAL_S = 0.5
PSS_SAMPLE = 40
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
            self.errors.append(first_line(exc))

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=30)


def postgres_memory_mb(postmaster_pid: int | None) -> tuple[float | None, float | None]:
    """(RSS, PSS) of the postmaster and all its children, in MB; None when not local.

    RSS counts every shared page (shared_buffers) once per process that touched it,
    so it overstates; PSS divides shared pages among the processes sharing them.
    PSS needs /proc/<pid>/smaps_rollup, a page-table walk of ~3 ms per backend in
    the kernel: at 1000 backends that alone would steal seconds of CPU from the
    level being measured, so above PSS_SAMPLE client backends theirs is estimated
    from a random sample of them.
    """
    if postmaster_pid is None:
        return None, None
    try:
        root = psutil.Process(postmaster_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None, None
    rss = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            rss += process.memory_info().rss
    # The postmaster and auxiliary processes are few and large: measured each. Client
    # backends are many and alike: a random sample of them, scaled to their count.
    clients = [p for p in processes if _is_client_backend(p)]
    client_pids = {p.pid for p in clients}
    others = [p for p in processes if p.pid not in client_pids]
    sample = clients if len(clients) <= PSS_SAMPLE else random.sample(clients, PSS_SAMPLE)
    sampled = _pss_bytes(sample)
    if sampled is None:
        return round(rss / 2**20, 1), None
    total, measured = sampled
    pss = (_pss_bytes(others) or (0.0, 0))[0] + (total / measured * len(clients) if measured
                                                 else 0.0)
    return round(rss / 2**20, 1), round(pss / 2**20, 1)


CLIENT_TITLE = re.compile(r"\(\d+\)")   # "postgres: user db 127.0.0.1(40272) idle"


def _is_client_backend(process: psutil.Process) -> bool:
    try:
        return bool(CLIENT_TITLE.search(" ".join(process.cmdline())))
    except psutil.Error:
        return False


def _pss_bytes(processes: list[psutil.Process]) -> tuple[float, int] | None:
    """(PSS summed, processes measured), or None when the platform has no PSS."""
    total, measured = 0.0, 0
    for process in processes:
        try:
            pss = getattr(process.memory_full_info(), "pss", None)
        except psutil.Error:
            continue
        if pss is None:
            return None
        total += pss
        measured += 1
    return total, measured
