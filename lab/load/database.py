"""The run database: a fresh copy of the seeded dataset, prepared for one run, dropped after.

Prepared means migrated, tokens issued for Locust's personas, the
statement statistics and the highest ids noted (so the run's own work can
be told apart afterwards), and the facts a report needs read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from lab.config import Settings
from lab.errors import LabError
from lab.load.credentials import issue_credentials
from lab.load.ledger import IdsBefore, ids_before
from lab.load.observe import postmaster_pid, server_facts
from lab.load.visibility import Pair, run_pairs
from lab.migrate import migrate, pending
from lab.pg.databases import check_lab_name, drop_database
from lab.pg.server import PgServer
from lab.pg.source import choose_source, open_server
from lab.plans.statements import enable_statements, statements_snapshot
from lab.progress import Reporter, Say
from lab.seed.scales import get_scale
from lab.seed.template import (
    data_directory_free_bytes,
    ensure_template,
    fresh_copy,
    read_facts,
)
from lab.targets import STARTED, Target

# Room a run needs besides its copy, as a share of the copy: the naive comparison's tables
# (users, tweets, one copy of the edges, likes: 9.6 of the 30.9 GB at a million users, 31 %)
# and the integrity audit's temp files (7 GB at most there, 23 %) come one after the other.
RUN_ROOM_SHARE = 0.35


@dataclass
class RunDatabase:
    """The prepared copy a run works on, and what was noted before the load."""

    server: PgServer
    name: str
    credentials: dict[str, Any]
    statements_problem: str | None       # why pg_stat_statements cannot be used, if not
    statements_before: dict[int, dict[str, Any]]
    postgres_pid: int | None
    pg_settings: dict[str, str]
    facts: dict[str, Any]
    copy_seconds: float
    ids_before: IdsBefore
    visibility_pairs: list[Pair]

    def statements_now(self) -> dict[int, dict[str, Any]]:
        if self.statements_problem:
            return {}
        with self.server.connect(self.name, autocommit=True) as conn:
            return statements_snapshot(conn, self.name)


def prepare(server: PgServer, name: str, copy_seconds: float,
            before_load: tuple[str, ...] = (), served: bool = False) -> RunDatabase:
    """`served`: the database of an API the lab did not start, checked but never migrated."""
    with server.connect(name) as conn:
        if served:
            check_served(conn, name)
        else:
            migrate(conn)
        for statement in before_load:     # a what-if experiment, on this copy only
            conn.execute(statement)  # type: ignore[arg-type]
        conn.commit()
        credentials = issue_credentials(conn)
        # The lab's own follows (the visibility watchers) are made as fan-out on write
        # would make them, so the caches stay complete for whichever strategy serves next
        # (pull ignores them; lab check would count a watcher's missing backfill).
        conn.execute("SELECT set_config('lab.timeline_strategy', 'push', false)")
        pairs = run_pairs(conn)     # made before the ids are noted: not the run's writes
        problem = enable_statements(conn)
        before = {} if problem else statements_snapshot(conn, name)
        postgres = postmaster_pid(conn)
        pg_settings = server_facts(conn)
        written_before = ids_before(conn)
    return RunDatabase(server, name, credentials, problem, before, postgres, pg_settings,
                       read_facts(server, name), copy_seconds, written_before, pairs)


def check_served(conn: psycopg.Connection, name: str) -> None:
    """Refuse a target's database that is not a seeded lab database at this lab's schema."""
    waiting = pending(conn)
    if waiting:
        raise LabError(f"database {name} lacks migrations {waiting}: serve it with this lab "
                       "version's `lab serve`, which migrates before it serves")
    if conn.execute("SELECT to_regclass('dataset_facts')").fetchone() == (None,):
        raise LabError(f"database {name} holds no lab dataset: seed it with `lab seed --db "
                       f"URL --database {name}` before serving it")


@contextmanager
def run_database(db: str | None, scale_name: str, seed: int, keep: bool, settings: Settings,
                 reporter: Reporter, say: Say, step: str = "",
                 before_load: tuple[str, ...] = (),
                 target: Target = STARTED) -> Iterator[RunDatabase]:
    """A fresh copy of the seeded dataset (seeded first if needed), changed by `before_load`,
    dropped afterwards unless `keep` (for plans and debugging); for a target, the database
    it serves (--db's), prepared in place and kept: the run's writes stay in it."""
    if target.remote:
        if choose_source(db, settings).kind != "url":
            raise LabError("--target needs --db with the postgresql:// URL of the database the "
                           "target serves (its evidence: statements, plans, the audit)")
        with open_server(db, settings) as server:
            name = check_lab_name(server.maintenance_db)
            say(f"{step}the target's database {server.display_url(name)}, used in place")
            yield prepare(server, name, 0.0, served=True)
        return
    scale = get_scale(scale_name)
    name = f"timeline_lab_run_{os.getpid()}"
    with open_server(db, settings) as server:
        say(f"{step}dataset {scale.name}: template, fresh copy {name}")
        template = ensure_template(server, scale, seed, reporter)
        check_copy_room(server, template.template)
        copy_seconds = fresh_copy(server, template.template, name)
        try:
            yield prepare(server, name, copy_seconds, before_load)
        finally:
            if not keep:
                drop_database(server, name)


def check_copy_room(server: PgServer, template: str) -> None:
    """Refuse, before copying, a run whose copy and steps would fill the server's disk
    (a full disk stops PostgreSQL mid-run); skipped where the free space is unknown."""
    free = data_directory_free_bytes(server)
    if free is None:
        return
    with server.connect(autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (template,)).fetchone()
    check_room(template, int(row[0]) if row else 0, free)


def check_room(template: str, size: int, free: int) -> None:
    """Raise when a copy of `size` bytes and the run's room beside it exceed `free`."""
    needed = size * (1 + RUN_ROOM_SHARE)
    if needed > free:
        raise LabError(
            f"a run on {template} needs about {needed / 2**30:.0f} GiB of disk (a copy of "
            f"{size / 2**30:.1f} GiB and {RUN_ROOM_SHARE:.0%} more for the naive comparison's "
            f"tables and the audit's temp files) and the server's data directory has "
            f"{free / 2**30:.0f} GiB free; drop old databases (templates are named "
            "timeline_lab_tpl_*, run copies timeline_lab_run_*) or choose a smaller scale")
