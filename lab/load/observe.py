"""The server side while a run goes on, every second: connections, database counters, the
pool, CPU per process, WAL and checkpoints, vacuums, host pressure.

A thread samples with its own autocommit connection, so a report can line
client latencies up with what PostgreSQL, the API and Locust were doing, and
tell who was the bottleneck. (The 10 Hz wait sampling is activity.py's.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import psycopg

from lab.errors import first_line
from lab.load.api_stats import ApiStats
from lab.load.counters import ServerCounters
from lab.pg.server import PgServer

SAMPLE_INTERVAL_S = 1.0
DATABASE_COUNTERS = ("xact_commit", "xact_rollback", "blks_read", "blks_hit", "deadlocks",
                     "temp_files", "temp_bytes", "tup_returned", "tup_inserted", "tup_updated",
                     "tup_deleted", "conflicts")
REPORTED_SETTINGS = ("server_version", "max_connections", "shared_buffers", "work_mem",
                     "effective_cache_size", "synchronous_commit", "fsync", "wal_level",
                     "max_wal_size", "random_page_cost", "jit", "max_parallel_workers_per_gather",
                     "shared_preload_libraries")


def server_is_local(conn: psycopg.Connection) -> bool:
    """True when `conn` reached an address of this machine (or a socket file): only then do
    the server's process ids name processes here."""
    if conn.info.host.startswith("/"):
        return True
    mine = {a.address for addresses in psutil.net_if_addrs().values() for a in addresses}
    return conn.info.hostaddr in mine


def postmaster_pid(conn: psycopg.Connection) -> int | None:
    """Find the server's main process through our backend's parent; None when not local."""
    if not server_is_local(conn):
        return None
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    try:
        parent = psutil.Process(int(row[0])).parent()
    except (psutil.Error, ValueError):
        return None
    return parent.pid if parent is not None else None


@dataclass
class ProcessGroup:
    """A process and its descendants, sampled as one (e.g. the postmaster and its backends)."""

    root: int
    known: dict[int, psutil.Process] = field(default_factory=dict)

    def members(self) -> list[psutil.Process]:
        try:
            root = self.known.get(self.root) or psutil.Process(self.root)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        # Keep the Process objects: cpu_percent measures since the previous call on the same one.
        current = {p.pid: self.known.get(p.pid, p) for p in tree}
        self.known = current
        return list(current.values())

    def sample(self) -> tuple[float, float, float]:
        """Return (CPU % of one core summed, busiest single process CPU %, RSS MB)."""
        total = busiest = rss = 0.0
        for process in self.members():
            try:
                cpu = process.cpu_percent(None)
                rss += process.memory_info().rss / 2**20
            except psutil.Error:
                continue
            total += cpu
            busiest = max(busiest, cpu)
        return total, busiest, rss


class ServerSampler(threading.Thread):
    """Sample the database, the API's pool and process CPU until stopped."""

    def __init__(self, server: PgServer, database: str, api_url: str,
                 processes: dict[str, int], interval_s: float = SAMPLE_INTERVAL_S,
                 api_remote: bool = False, remote_workers: bool = False) -> None:
        super().__init__(name="server-sampler", daemon=True)
        self.server, self.database, self.api_url = server, database, api_url
        self.groups = {name: ProcessGroup(pid) for name, pid in processes.items()}
        # An API the lab did not start tells its own CPU, memory and stalls on /stats.
        self.api_stats = ApiStats() if api_remote else None
        self.not_observed = not_observed("postgres" in processes, api_remote, api_url,
                                         remote_workers)
        self.interval_s = interval_s
        self.samples: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.counters: ServerCounters | None = None
        self._stop_event = threading.Event()

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.counters.events if self.counters else []

    def stop(self) -> list[dict[str, Any]]:
        self._stop_event.set()
        self.join(timeout=30)
        return self.samples

    def run(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            with httpx.Client(timeout=2) as http:
                for group in self.groups.values():
                    group.sample()  # prime cpu_percent
                while not self._stop_event.wait(self.interval_s):
                    try:
                        # Reconnect after a lost connection: a fault run restarts the
                        # database or kills its backends, and sampling goes on after.
                        if conn is None or conn.closed:
                            conn = self.server.connect(self.database, autocommit=True)
                            if self.counters is None:
                                self.counters = ServerCounters(conn.info.server_version)
                        self.samples.append(self.sample(conn, http))
                    except psycopg.OperationalError as exc:
                        self.errors.append(f"{time.time():.1f} {type(exc).__name__}: "
                                           f"{first_line(exc)}")
                        if conn is not None:
                            conn.close()
                        conn = None
        except Exception as exc:  # noqa: BLE001 - sampling must never break the run
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            if conn is not None:
                conn.close()

    def sample(self, conn: psycopg.Connection, http: httpx.Client) -> dict[str, Any]:
        row: dict[str, Any] = {"ts": time.time()}
        activity = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'active'),"
            " count(*) FILTER (WHERE state = 'idle'),"
            " count(*) FILTER (WHERE state LIKE 'idle in transaction%%'),"
            " count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*)"
            " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database,)).fetchone()
        assert activity is not None
        for key, value in zip(("conn_active", "conn_idle", "conn_idle_in_tx", "conn_lock_waits",
                               "conn_total"), activity, strict=True):
            row[key] = int(value)
        counters = conn.execute(
            f"SELECT {', '.join(DATABASE_COUNTERS)} FROM pg_stat_database WHERE datname = %s",
            (self.database,)).fetchone()
        if counters is not None:
            row.update({f"db_{k}": int(v) for k, v in zip(DATABASE_COUNTERS, counters,
                                                          strict=True)})
        try:
            answer = http.get(f"{self.api_url}/stats").json()
            row.update({f"pool_{k}": v for k, v in answer.get("pool", {}).items()})
            if self.api_stats is not None:
                row.update(self.api_stats.read(answer))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            row["pool_error"] = type(exc).__name__
        for name, group in self.groups.items():
            cpu, busiest, rss = group.sample()
            row[f"{name}_cpu_percent"] = round(cpu, 1)
            row[f"{name}_cpu_max_process_percent"] = round(busiest, 1)
            row[f"{name}_rss_mb"] = round(rss, 1)
        if self.counters is not None:
            row.update(self.counters.sample(conn, row["ts"]))
        return row


def not_observed(postgres_here: bool, api_remote: bool, api_url: str,
                 remote_workers: bool = False) -> dict[str, str]:
    """What this machine cannot see of a target elsewhere, said rather than left at zero."""
    missing = {}
    if remote_workers:
        missing["locust workers"] = ("workers that joined the master (`lab worker`) may run "
                                     "on other machines: their CPU is not sampled (locust_* "
                                     "columns are the master's); their loop lag is in their "
                                     "stall series")
    if not postgres_here:
        missing["postgres processes"] = ("PostgreSQL is not on this machine: its processes' "
                                         "CPU and memory were not sampled")
    if api_remote:
        missing["api processes"] = (f"the API at {api_url} is not on this machine: its CPU, "
                                    "memory, loop lag and GC pauses are what each worker's "
                                    "/stats told (api_remote_* columns)")
    if api_remote or not postgres_here:
        missing["host signals"] = ("CPU and I/O pressure and dirty memory are this machine's "
                                   "(the load generator's), not the target's")
    return missing


def server_facts(conn: psycopg.Connection) -> dict[str, str]:
    """The version and the settings a reader needs to interpret the numbers."""
    rows = conn.execute(
        "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = ANY(%s)",
        (list(REPORTED_SETTINGS),)).fetchall()
    return {name: value for name, value in rows}
