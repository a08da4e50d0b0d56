"""Create, copy and drop the lab's own databases, and only those.

Every name must start with `timeline_lab`, so pointing the lab at a shared
server (LAB_DATABASE_URL) can never drop someone else's database.
"""

from __future__ import annotations

import time

from psycopg import sql

from lab.config import DATABASE_PREFIX
from lab.errors import LabError
from lab.pg.server import PgServer


def check_lab_name(name: str) -> str:
    """Return `name` if it is one of the lab's database names, else raise."""
    if not name.startswith(DATABASE_PREFIX) or len(name) > 63:
        raise LabError(f"refusing to touch database {name!r}: the lab only manages databases "
                       f"named {DATABASE_PREFIX}* (at most 63 characters)")
    return name


def database_exists(server: PgServer, name: str) -> bool:
    """Tell whether database `name` exists on the server."""
    with server.connect() as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def list_lab_databases(server: PgServer) -> list[str]:
    """Return the names of the lab's databases on the server."""
    with server.connect() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
            (DATABASE_PREFIX + "%",),
        ).fetchall()
    return [row[0] for row in rows]


def create_database(server: PgServer, name: str, template: str | None = None,
                    strategy: str = "FILE_COPY") -> float:
    """Create `name` (empty, or a copy of `template`); return the seconds it took.

    FILE_COPY copies the template's files instead of WAL-logging every block,
    which is what makes a fresh copy of a seeded database take seconds. It
    costs a checkpoint, so tiny templates (tests) are better copied with WAL_LOG.
    """
    check_lab_name(name)
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        if strategy not in ("FILE_COPY", "WAL_LOG"):
            raise ValueError(f"unknown CREATE DATABASE strategy {strategy!r}")
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
            sql.Identifier(name), sql.Identifier(check_lab_name(template)), sql.SQL(strategy))
    started = time.perf_counter()
    with server.connect(autocommit=True) as conn:
        conn.execute(statement)
    return time.perf_counter() - started


def drop_database(server: PgServer, name: str) -> None:
    """Drop `name` if it exists, disconnecting its sessions first."""
    check_lab_name(name)
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def rename_database(server: PgServer, old: str, new: str) -> None:
    """Rename a lab database (used to publish a finished template atomically)."""
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(check_lab_name(old)), sql.Identifier(check_lab_name(new))))
