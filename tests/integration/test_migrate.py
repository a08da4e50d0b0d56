"""Migrations on a real server: snapshot, idempotence, forward-only checks."""

from __future__ import annotations

import dataclasses

import pytest

from lab.errors import LabError
from lab.migrate import Migration, load_migrations, migrate
from lab.pg.databases import create_database, drop_database
from lab.pg.server import PgServer
from lab.resources import schema_dir
from lab.schema_snapshot import snapshot
from tests.conftest import unique_name


@pytest.fixture
def empty_db(pg_server: PgServer):
    name = unique_name("empty")
    create_database(pg_server, name)
    yield name
    drop_database(pg_server, name)


def test_empty_to_head_equals_the_committed_snapshot(pg_server: PgServer, empty_db: str) -> None:
    with pg_server.connect(empty_db) as conn:
        applied = migrate(conn)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        assert snapshot(conn) == (schema_dir() / "snapshot.txt").read_text(), (
            "schema drifted from schema/snapshot.txt: run `lab snapshot --write` and review")


def test_running_again_is_a_no_op(pg_server: PgServer, empty_db: str) -> None:
    with pg_server.connect(empty_db) as conn:
        migrate(conn)
        before = snapshot(conn)
        assert migrate(conn) == []
        assert snapshot(conn) == before
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(load_migrations()),)


def test_an_edited_applied_migration_is_refused(pg_server: PgServer, empty_db: str) -> None:
    migrations = load_migrations()
    with pg_server.connect(empty_db) as conn:
        migrate(conn, migrations)
        edited = [dataclasses.replace(migrations[0], sql=migrations[0].sql + "\n-- edited\n"),
                  *migrations[1:]]
        with pytest.raises(LabError, match="edited after it was applied"):
            migrate(conn, edited)


def test_a_new_migration_is_applied_once(pg_server: PgServer, empty_db: str) -> None:
    migrations = load_migrations()
    extra = Migration(9999, "add_probe", "CREATE TABLE probe (id int);")
    with pg_server.connect(empty_db) as conn:
        migrate(conn, migrations)
        assert migrate(conn, [*migrations, extra]) == [extra]
        assert migrate(conn, [*migrations, extra]) == []


def test_a_database_from_the_future_is_refused(pg_server: PgServer, empty_db: str) -> None:
    migrations = load_migrations()
    with pg_server.connect(empty_db) as conn:
        migrate(conn, [*migrations, Migration(9999, "future", "SELECT 1;")])
        with pytest.raises(LabError, match="does not know"):
            migrate(conn, migrations)


def test_a_failing_migration_leaves_nothing_behind(pg_server: PgServer, empty_db: str) -> None:
    migrations = load_migrations()
    broken = Migration(9999, "broken", "CREATE TABLE half (id int); SELECT 1/0;")
    with pg_server.connect(empty_db) as conn:
        migrate(conn, migrations)
        with pytest.raises(Exception, match="division by zero"):
            migrate(conn, [*migrations, broken])
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
            migrations[-1].version,)
