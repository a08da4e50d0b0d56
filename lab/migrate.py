"""Apply schema/migrations/NNNN_name.sql in order, once each, and record them.

Migrations are forward-only: an applied file whose checksum changed is
refused, because the databases already migrated would silently differ from
a fresh one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lab.errors import LabError
from lab.resources import schema_dir

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same in every lab process.
MIGRATION_LOCK_KEY = 7_204_118_311


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read every migration file in version order, rejecting bad names and duplicates."""
    directory = directory or schema_dir() / "migrations"
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match is None:
            raise LabError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise LabError(f"{path}: version {version:04d} is used twice")
        migrations[version] = Migration(version, match.group(2), path.read_text())
    if not migrations:
        raise LabError(f"no migrations found in {directory}")
    return [migrations[v] for v in sorted(migrations)]


def schema_checksum(migrations: list[Migration] | None = None) -> str:
    """Return one checksum over all migrations: the identity of a schema version."""
    digest = hashlib.sha256()
    for migration in migrations or load_migrations():
        digest.update(f"{migration.version}:{migration.checksum}\n".encode())
    return digest.hexdigest()


CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrate(conn: psycopg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply pending migrations on `conn`'s database; return the ones applied.

    A session advisory lock makes concurrent `lab migrate` runs take turns.
    Each migration runs in its own transaction together with its ledger row.
    """
    migrations = migrations or load_migrations()
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.execute(CREATE_LEDGER)
        applied = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT version, name, checksum FROM schema_migrations")
        }
        known = {m.version for m in migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise LabError(f"the database has migrations this checkout does not know: {unknown}; "
                           "it was migrated by a newer version of the lab")
        done = []
        for migration in migrations:
            if migration.version in applied:
                _, checksum = applied[migration.version]
                if checksum != migration.checksum:
                    raise LabError(
                        f"migration {migration.version:04d}_{migration.name}.sql was edited "
                        f"after it was applied (applied {checksum[:12]}, "
                        f"file {migration.checksum[:12]}); "
                        "migrations are forward-only: restore the file and add a new migration")
                continue
            with conn.transaction():
                conn.execute(migration.sql)  # type: ignore[arg-type]
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            done.append(migration)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def pending(conn: psycopg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """The versions this checkout would apply to `conn`'s database (read only: for a database
    someone else serves, which the lab must not migrate under its API)."""
    migrations = migrations or load_migrations()
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied = ({row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
               if exists and exists[0] else set())
    return [m.version for m in migrations if m.version not in applied]
