"""A handle on a reachable PostgreSQL server, whatever started it."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@dataclass(frozen=True)
class PgServer:
    """A server the lab may create its own databases in.

    `maintenance_db` is where the lab connects to create and drop its
    databases: `postgres` for servers the lab started, the URL's own
    database for a server the user pointed at.
    """

    kind: str
    conninfo: str
    maintenance_db: str = "postgres"

    def url(self, dbname: str | None = None) -> str:
        """Return a libpq conninfo for `dbname` (the maintenance db when None)."""
        return make_conninfo(self.conninfo, dbname=dbname or self.maintenance_db)

    def connect(self, dbname: str | None = None, **kwargs: object) -> psycopg.Connection:
        """Open a connection to `dbname` on this server."""
        return psycopg.connect(self.url(dbname), connect_timeout=10, **kwargs)  # type: ignore[arg-type]

    def display_url(self, dbname: str | None = None) -> str:
        """Return a postgresql:// URL without any password, for messages and `lab db url`."""
        params = conninfo_to_dict(self.url(dbname))
        host = params.get("host", "localhost")
        port = params.get("port", "5432")
        user = params.get("user", "")
        auth = f"{user}@" if user else ""
        return f"postgresql://{auth}{host}:{port}/{params.get('dbname', '')}"

    def server_version(self) -> str:
        """Return the server's version string, e.g. '18.1'."""
        with self.connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        assert row is not None
        return str(row[0])
