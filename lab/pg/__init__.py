"""Where PostgreSQL comes from: embedded (default), a URL, or testcontainers."""

from lab.pg.server import PgServer
from lab.pg.source import choose_source, open_server

__all__ = ["PgServer", "choose_source", "open_server"]
