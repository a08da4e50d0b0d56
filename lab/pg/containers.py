"""PostgreSQL in a throwaway container via testcontainers (needs a Docker engine)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from lab.errors import LabError, first_line
from lab.pg.server import PgServer

NO_ENGINE = ("--db testcontainers needs a running Docker engine and none answered ({reason}); "
             "use the embedded server (drop --db) or LAB_DATABASE_URL=postgresql://user@host/db")

# The same server settings the lab gives its embedded server, as postgres flags.
CONTAINER_COMMAND = (
    "postgres -c max_connections=1200 -c shared_preload_libraries=pg_stat_statements "
    "-c pg_stat_statements.track=all -c track_io_timing=on -c shared_buffers=1GB"
)


def docker_engine_error() -> str | None:
    """Return why no Docker engine is usable, or None when one answers a ping."""
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=3)
        client.ping()
    except Exception as exc:  # docker raises many types; all mean "no engine"
        return first_line(exc)[:160]
    return None


def _postgres_container_class() -> type:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.10 kept it at the top level
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer  # type: ignore[no-any-return]


@contextlib.contextmanager
def container_server(image: str) -> Iterator[PgServer]:
    """Start `image` with the lab's settings and yield it; the container stops afterwards."""
    reason = docker_engine_error()
    if reason is not None:
        raise LabError(NO_ENGINE.format(reason=reason))
    container_class = _postgres_container_class()
    container = container_class(image, username="postgres", password="postgres",
                                dbname="postgres", driver=None)
    container.with_command(CONTAINER_COMMAND)
    with container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5432)
        yield PgServer(
            kind="testcontainers",
            conninfo=f"host={host} port={port} user=postgres password=postgres dbname=postgres",
        )
