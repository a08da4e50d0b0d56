"""Experimental schema variants (schema/variants/NAME.sql), each in a database of its own."""

from __future__ import annotations

from lab.errors import LabError
from lab.pg.databases import create_database, drop_database
from lab.pg.server import PgServer
from lab.resources import schema_dir


def variant_names() -> list[str]:
    """Return the names of the available variants."""
    return sorted(path.stem for path in (schema_dir() / "variants").glob("*.sql"))


def apply_variant(server: PgServer, variant: str, database: str) -> None:
    """Recreate `database` with the variant's schema (variants are snapshots, not migrations)."""
    path = schema_dir() / "variants" / f"{variant}.sql"
    if not path.exists():
        raise LabError(f"no schema variant {variant!r}; available: {', '.join(variant_names())}")
    drop_database(server, database)
    create_database(server, database)
    with server.connect(database) as conn:
        conn.execute(path.read_text())  # type: ignore[arg-type]
        conn.commit()
