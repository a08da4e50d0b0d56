"""Fixtures for tests that talk SQL to a small social graph: alice, bob and protected carol."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from lab.pg.server import PgServer


@pytest.fixture
def conn(pg_server: PgServer, fresh_db: str) -> Iterator[psycopg.Connection]:
    """Yield an autocommit connection to a fresh database holding alice, bob and carol."""
    with pg_server.connect(fresh_db, autocommit=True) as connection:
        for name, protected in (("alice", False), ("bob", False), ("carol", True)):
            connection.execute(
                "INSERT INTO users (username, email, display_name, is_protected) "
                "VALUES (%s, %s, %s, %s)", (name, f"{name}@example.com", name.title(), protected))
        yield connection


def uid(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE username = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def call(conn: psycopg.Connection, function: str, *args: object) -> str:
    row = conn.execute(f"SELECT {function}({', '.join(['%s'] * len(args))})", args).fetchone()
    assert row is not None
    return str(row[0])


