"""Choose where PostgreSQL comes from and open a handle on it.

Precedence: an explicit `--db` (embedded, testcontainers or a URL) wins;
otherwise `LAB_DATABASE_URL`; otherwise `LAB_DB`; otherwise the embedded
server. Explicit beats ambient, as with every other CLI flag.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict

from lab.config import Settings
from lab.errors import LabError, first_line
from lab.pg.server import PgServer

SourceKind = Literal["embedded", "url", "testcontainers"]
KINDS = ("embedded", "testcontainers")


@dataclass(frozen=True)
class Source:
    """The chosen origin of the server; `url` is set for kind 'url'."""

    kind: SourceKind
    url: str | None = None


def _is_url(value: str) -> bool:
    return value.startswith(("postgresql://", "postgres://")) or "=" in value


def choose_source(db_option: str | None, settings: Settings) -> Source:
    """Decide where PostgreSQL comes from (pure: no I/O, unit-tested)."""
    for explicit in (db_option, None if db_option else settings.database_url, settings.db):
        if not explicit:
            continue
        if _is_url(explicit):
            return Source("url", explicit)
        if explicit in KINDS:
            return Source(explicit)  # type: ignore[arg-type]
        raise LabError(f"--db {explicit!r} is not understood: use 'embedded', 'testcontainers' "
                       "or a postgresql:// URL")
    return Source("embedded")


def url_server(url: str) -> PgServer:
    """Wrap a user-given server; the lab uses the URL's database only to create its own."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise LabError(f"LAB_DATABASE_URL is not a valid connection string: {exc}") from exc
    maintenance_db = str(params.get("dbname") or "postgres")
    return PgServer(kind="url", conninfo=url, maintenance_db=maintenance_db)


def check_reachable(server: PgServer) -> None:
    """Fail fast with a clear message when nothing answers."""
    try:
        with server.connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise LabError(f"cannot reach PostgreSQL at {server.display_url()}: "
                       f"{first_line(exc)}") from exc


@contextlib.contextmanager
def open_server(db_option: str | None, settings: Settings,
                start_embedded: bool = True) -> Iterator[PgServer]:
    """Yield a reachable server from the chosen source, started if needed.

    The embedded server is left running afterwards (it is shared and reused);
    a testcontainers container lives only as long as this context.
    """
    source = choose_source(db_option, settings)
    if source.kind == "url":
        assert source.url is not None
        server = url_server(source.url)
        check_reachable(server)
        yield server
    elif source.kind == "testcontainers":
        from lab.pg.containers import container_server

        with container_server(settings.container_image) as server:
            yield server
    else:
        from lab.pg.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.embedded_pgdata, settings.pg_port)
        if start_embedded:
            embedded.start()
        server = embedded.server()
        check_reachable(server)
        yield server
