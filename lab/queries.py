"""Load the named statements of lab/queries.sql."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lab.errors import LabError

QUERIES_FILE = Path(__file__).with_name("queries.sql")
NAME_LINE = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


@lru_cache(maxsize=1)
def load_queries() -> dict[str, str]:
    """Return {name: sql} from queries.sql, leading comments kept, trailing ';' removed."""
    text = QUERIES_FILE.read_text()
    parts = NAME_LINE.split(text)[1:]
    queries: dict[str, str] = {}
    for name, body in zip(parts[::2], parts[1::2], strict=True):
        if name in queries:
            raise LabError(f"{QUERIES_FILE}: query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


def query(name: str) -> str:
    """Return the SQL of the named statement."""
    queries = load_queries()
    if name not in queries:
        raise LabError(f"no query named {name!r}; known: {', '.join(sorted(queries))}")
    return queries[name]
