"""Load the named statements of lab/queries.sql."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from lab.errors import LabError

QUERIES_FILE = Path(__file__).with_name("queries.sql")

# Keyset pages are positions in (created_at, id) order. A first page starts
# beyond every row: later than any tweet and above any bigint id (newest-first
# pages), or before any tweet (oldest-first pages such as threads).
MAX_ID = 2**63 - 1
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
START_OF_TIME = datetime(1, 1, 1, tzinfo=UTC)


def first_page(limit: int) -> dict[str, Any]:
    """Return the keyset parameters of a first page, in either direction."""
    return {"before_ts": END_OF_TIME, "before_id": MAX_ID,
            "after_ts": START_OF_TIME, "after_id": 0, "limit": limit}
NAME_LINE = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


def named_statements(path: Path) -> dict[str, str]:
    """Return {name: sql} from a file of `-- name:` sections, leading comments kept, trailing
    ';' removed."""
    parts = NAME_LINE.split(path.read_text())[1:]
    statements: dict[str, str] = {}
    for name, body in zip(parts[::2], parts[1::2], strict=True):
        if name in statements:
            raise LabError(f"{path}: query {name!r} is defined twice")
        statements[name] = body.strip().rstrip(";")
    return statements


@lru_cache(maxsize=1)
def load_queries() -> dict[str, str]:
    """Return the named statements of queries.sql."""
    return named_statements(QUERIES_FILE)


def query(name: str) -> str:
    """Return the SQL of the named statement."""
    queries = load_queries()
    if name not in queries:
        raise LabError(f"no query named {name!r}; known: {', '.join(sorted(queries))}")
    return queries[name]
