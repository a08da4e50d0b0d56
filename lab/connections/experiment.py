"""`lab connections`: the same workload at rising concurrency over three paths, judged for SC4.

- direct: every client has its own PostgreSQL session (a backend process each);
- api: every client has its own keep-alive HTTP connection to `lab serve`, whose small
  pool is all the database sees;
- pgbouncer: every client has its own session with PgBouncer (transaction mode), which
  shares as many server sessions as the API's pool has.
Each path is driven paced (a human pace per client) and saturating (flat out). A path
whose next level cannot fit in the server's connection slots stops there and says why.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from psycopg.conninfo import make_conninfo

from lab.api_process import api_process
from lab.config import Settings
from lab.connections import paced, saturating
from lab.connections.pgbouncer import pgbouncer
from lab.connections.results import STOPPED, LevelResult
from lab.connections.server import LevelWatch, session_headroom
from lab.connections.verdict import as_dicts, judge_paths, sc4_verdict
from lab.connections.workload import Workload, drop_readers, issue_tokens, open_readers
from lab.load.database import RunDatabase
from lab.pg.server import PgServer
from lab.processes import free_port
from lab.progress import Say
from lab.runconfig import ConnectionsConfig
from lab.runfolder import CONNECTIONS_FILE, utc_stamp
from lab.targets import STARTED, Target
from lab.tools import PGBOUNCER

PAUSE_BETWEEN_LEVELS_S = 1.0  # let the previous level's backends exit
PACED_MIN_REQUESTS = 200      # a p95 needs samples: few clients at a human pace run longer...
PACED_MAX_STRETCH = 4         # ...but never more than 4 x --duration


@dataclass
class Endpoints:
    """Where each path's clients connect."""

    direct: str | None = None
    pgbouncer: str | None = None
    api: tuple[str, int] | None = None
    skipped: dict[str, str] = field(default_factory=dict)   # path -> why it was not measured

    def database_url(self, path: str) -> str:
        """The conninfo of a database path (direct or pgbouncer)."""
        url = self.direct if path == "direct" else self.pgbouncer
        assert url is not None, f"{path} has no database endpoint"
        return url


@contextmanager
def endpoints(config: ConnectionsConfig, strategy: str, server: PgServer, database: str,
              pool_size: int, log_dir: Path, say: Say,
              target: Target = STARTED) -> Iterator[Endpoints]:
    """Start what the chosen paths need (the API, PgBouncer); stop them afterwards. With a
    target elsewhere, the api path is that target and nothing is started beside the lab."""
    found = Endpoints()
    server_url = server.url(database)
    with ExitStack() as stack:
        if "direct" in config.paths:
            found.direct = server_url
        if "api" in config.paths and target.url is not None:
            parts = urlsplit(target.url)
            found.api = (str(parts.hostname), parts.port or 80)
            say(f"  API: the target at {target.url}")
        elif "api" in config.paths:
            port = free_port()
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            stack.enter_context(api_process(server, database, strategy, port, env,
                                            config.api_workers, log_dir / "api.log"))
            found.api = ("127.0.0.1", port)
            say(f"  API on 127.0.0.1:{port} ({config.api_workers} worker(s), pools of "
                f"{pool_size} connections in all)")
        if "pgbouncer" in config.paths:
            if target.remote:
                found.skipped["pgbouncer"] = ("the lab would start PgBouncer on its own machine, "
                                              "which is not the target's path to its database")
                say(f"  pgbouncer path not measured: {found.skipped['pgbouncer']}")
            elif not bouncer_found(config):
                found.skipped["pgbouncer"] = PGBOUNCER.missing_line()
                say(f"  pgbouncer path not measured: {found.skipped['pgbouncer']}")
            else:
                host, port = stack.enter_context(
                    pgbouncer(server, pool_size, max(config.levels) + 50))
                found.pgbouncer = make_conninfo(server_url, host=host, port=port)
                say(f"  PgBouncer on {host}:{port} (transaction mode, {pool_size} server "
                    "sessions)")
        yield found


def bouncer_found(config: ConnectionsConfig) -> bool:
    """Whether the pgbouncer path can be measured (False when it is not asked for)."""
    return "pgbouncer" in config.paths and PGBOUNCER.find() is not None


def missing_tools(config: ConnectionsConfig) -> list[str]:
    """A line for each tool a chosen path needs and this machine lacks, to say before any load."""
    return [PGBOUNCER.warning()] if "pgbouncer" in config.paths and not bouncer_found(config) \
        else []


def level_seconds(mode: str, clients: int, config: ConnectionsConfig) -> int:
    """--duration, stretched for paced levels too small to give PACED_MIN_REQUESTS samples."""
    if mode != "paced":
        return config.duration_s
    needed = PACED_MIN_REQUESTS / (clients * config.pace_per_s)
    return int(min(max(config.duration_s, needed), config.duration_s * PACED_MAX_STRETCH))


def measure_level(path: str, mode: str, clients: int, duration_s: int, found: Endpoints,
                  workload: Workload, config: ConnectionsConfig) -> LevelResult:
    if mode == "paced":
        if path == "api":
            assert found.api is not None
            opener = paced.http_opener(*found.api)
        else:
            opener = paced.database_opener(found.database_url(path), workload)
        return paced.run_paced(path, opener, clients, workload, config.pace_per_s, duration_s)
    if path == "api":
        assert found.api is not None
        host, port = found.api
        return saturating.http_level(host, port, workload, clients, duration_s)
    return saturating.pgbench_level(found.database_url(path), workload, path, clients,
                                    duration_s)


def sweep(config: ConnectionsConfig, found: Endpoints, workload: Workload,
          database: RunDatabase, say: Say) -> list[LevelResult]:
    """Every level of every measured path and mode, lowest first; a path stops at its limit."""
    results: list[LevelResult] = []
    for mode in config.modes:
        for path in config.paths:
            if path in found.skipped:
                continue
            for number in range(config.rounds):
                results += _climb(path, mode, number, config, found, workload, database, say)
    return results


def _climb(path: str, mode: str, number: int, config: ConnectionsConfig, found: Endpoints,
           workload: Workload, database: RunDatabase, say: Say) -> list[LevelResult]:
    """One pass up the levels of one path and mode, stopping where more would be refused."""
    results: list[LevelResult] = []
    for clients in config.levels:
        if path == "direct":
            with database.server.connect(database.name) as conn:
                free, limit = session_headroom(conn)
            if clients > free:
                results.append(LevelResult(
                    path, mode, clients, round=number, status=STOPPED,
                    note=f"the server takes {free:,} more sessions ({limit}); "
                         f"stopped at {clients:,}"))
                say(f"  {mode:10} {path:9} {clients:5,} clients: stopped, the server "
                    f"takes {free:,} more sessions ({limit})")
                break
        seconds = level_seconds(mode, clients, config)
        watch = LevelWatch(database.server, database.name, database.postgres_pid,
                           memory_after_s=seconds * 0.4)
        watch.start()
        try:
            result = measure_level(path, mode, clients, seconds, found, workload, config)
        finally:
            watch.stop()
        result.round = number
        result.backends_max = watch.backends_max
        result.server_rss_mb, result.server_pss_mb = watch.rss_mb, watch.pss_mb
        results.append(result)
        say(progress_line(result, config.rounds))
        time.sleep(PAUSE_BETWEEN_LEVELS_S)
        if result.status == STOPPED or result.errors.get("refused"):
            break    # more clients would only be refused more
    return results


def progress_line(r: LevelResult, rounds: int = 1) -> str:
    p95 = "-" if r.p95_ms is None else f"{r.p95_ms:,.1f} ms"
    errors = f", {r.error_count:,} errors {r.errors}" if r.error_count else ""
    stopped = f" (stopped: {r.note})" if r.status == STOPPED else ""
    where = f" (round {r.round + 1}/{rounds})" if rounds > 1 else ""
    lag, app = r.client_lag_ms.get("p95"), r.server_timing_ms.get("app", {}).get("p95")
    notes = ([] if lag is None else [f"generator's loop lag p95 {lag:,.1f} ms"]) + (
        [] if r.machine_busy_percent is None else [f"CPUs {r.machine_busy_percent:.0f} % busy"]
    ) + ([] if app is None else [f"in the API p95 {app:,.1f} ms"])
    late = f" ({', '.join(notes)})" if notes else ""
    return (f"  {r.mode:10} {r.path:9} {r.clients:5,} clients{where}: "
            f"{r.throughput_per_s:8,.1f}/s, "
            f"p95 {p95}{late}, {r.backends_max or 0:,} backends{errors}{stopped}")


def run_experiment(config: ConnectionsConfig, strategy: str, database: RunDatabase,
                   settings: Settings, folder: Path, say: Say,
                   target: Target = STARTED) -> dict[str, Any]:
    """Measure every level on `database` (a prepared run database); write connections.json."""
    folder.mkdir(parents=True, exist_ok=True)
    with database.server.connect(database.name) as conn:
        users = issue_tokens(conn)
        readers = open_readers(conn, strategy, users)
    workload = Workload(config.query, strategy, users, readers)
    if readers:
        say(f"connections: timelines of the {len(readers):,} readers whose cache is open "
            "(a closed one's first read is a cold read, measured by the load)")
    pool_size = settings.pool_max * config.api_workers   # the API's pools together
    started = time.time()
    offered = ", ".join(f"{n * config.pace_per_s:g}/s" for n in config.levels)
    say(f"connections: levels {', '.join(map(str, config.levels))}; {config.duration_s} s each; "
        f"paced at {config.pace_per_s:g} requests/s per client (offered {offered})")
    try:
        with endpoints(config, strategy, database.server, database.name, pool_size, folder,
                       say, target) as found:
            results = sweep(config, found, workload, database, say)
    finally:
        if readers:
            with database.server.connect(database.name) as conn:
                drop_readers(conn)
    per_path = judge_paths(results, list(config.paths), max(config.levels), found.skipped)
    verdict = sc4_verdict(per_path, min(config.levels), max(config.levels))
    document = {
        "started_at": utc_stamp(started),
        "finished_at": utc_stamp(),
        "config": config.model_dump(mode="json"),
        "strategy": strategy,
        "workload_users": users,
        "workload_readers": len(readers) or users,
        "pool_size": pool_size,
        "skipped_paths": found.skipped,
        "postgres": {"url": database.server.display_url(database.name),
                     "settings": database.pg_settings},
        "results": [r.as_dict() for r in results],
        "paths": as_dicts(per_path),
        "sc4": verdict.as_dict(),
    }
    (folder / CONNECTIONS_FILE).write_text(json.dumps(document, indent=1, default=str))
    return document
