"""pg_stat_statements for a run: enable it, take the run's delta, name each row.

The delta (after minus before, never a reset: the server may be shared) is
what the run itself executed. Each row is then joined to the lab's named
statement and the requests that issue it. pg_stat_statements replaces
constants with $n and drops leading comments; auto_explain and queries.sql
keep them. Both sides are reduced to the same skeleton (comments, constants
and placeholders removed, whitespace folded) before they are compared.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from lab.errors import first_line
from lab.queries import load_queries

STATEMENT_COLUMNS = ("calls", "total_exec_time", "rows", "shared_blks_hit", "shared_blks_read",
                     "temp_blks_written")


def enable_statements(conn: psycopg.Connection) -> str | None:
    """Create pg_stat_statements in the run database; return why not when it can't be used."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
        conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        return first_line(exc)
    return None


def statements_snapshot(conn: psycopg.Connection, database: str) -> dict[int, dict[str, Any]]:
    """Cumulative statistics of every statement run in `database`, by query id."""
    rows = conn.execute(
        f"SELECT queryid, query, {', '.join(STATEMENT_COLUMNS)} FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s) AND queryid IS NOT NULL",
        (database,)).fetchall()
    snapshot: dict[int, dict[str, Any]] = {}
    for queryid, query, *values in rows:
        entry = snapshot.setdefault(int(queryid), {"query": query,
                                                   **dict.fromkeys(STATEMENT_COLUMNS, 0)})
        for key, value in zip(STATEMENT_COLUMNS, values, strict=True):
            entry[key] += float(value)
    return snapshot


def statements_delta(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """What the run itself executed: after minus before, busiest first.

    A delta, not a reset: the server may be shared, and resetting would wipe
    what other users are measuring.
    """
    delta = []
    for queryid, entry in after.items():
        base = before.get(queryid, {})
        change = {key: entry[key] - base.get(key, 0) for key in STATEMENT_COLUMNS}
        if change["calls"] <= 0:
            continue
        change["mean_exec_time"] = change["total_exec_time"] / change["calls"]
        delta.append({"queryid": queryid, "query": entry["query"], **change})
    return sorted(delta, key=lambda d: d["total_exec_time"], reverse=True)


# Named statements served by routes of another name (one name per operation
# otherwise: the request, the route and the statement share it).
REQUESTS_BY_STATEMENT = {
    "home_timeline_pull": ["home_timeline", "home_timeline_next_page"],
    "home_timeline_push": ["home_timeline", "home_timeline_next_page", "home_timeline_cold"],
    "home_timeline_hybrid": ["home_timeline", "home_timeline_next_page", "home_timeline_cold"],
    "post_tweet": ["post_tweet", "reply", "quote", "retweet"],
    "follow": ["follow", "follow_popular"],
    "decide_follow_request": ["approve_follow_request"],
    "authenticate": ["every request with a token"],
}
COMMENT = re.compile(r"--[^\n]*")
PLACEHOLDER = re.compile(
    r"%\(\w+\)s|\$\d+|\b(?:true|false|null)\b|'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def skeleton(text: str) -> str:
    """The statement with comments, constants and placeholders gone, spaces folded."""
    text = PLACEHOLDER.sub("?", COMMENT.sub(" ", text))
    return " ".join(text.split()).rstrip(";").strip().lower()


def requests_for(statement: str) -> list[str]:
    return REQUESTS_BY_STATEMENT.get(statement, [statement])


TIMELINES = ("home_timeline_pull", "home_timeline_push", "home_timeline_hybrid")


def label_statements(statements: list[dict[str, Any]], plans: list[dict[str, Any]],
                     strategy: str | None = None) -> list[dict[str, Any]]:
    """Add `statement` (the named one, or the one it runs inside) and `requests` to each row.

    push and hybrid differ by one constant, which pg_stat_statements hides:
    the run's strategy says which of them it was.
    """
    named = {skeleton(sql): name for name, sql in load_queries().items()
             if not (strategy and name in TIMELINES and name != f"home_timeline_{strategy}")}
    inside: dict[str, str] = {}
    for captured in plans:
        for inner in captured.get("nested", []):
            inside.setdefault(skeleton(inner["query"]), captured["name"])
    labelled = []
    for row in statements:
        shape = skeleton(row["query"])
        if shape in named:
            name, nested = named[shape], False
        elif shape in inside:
            name, nested = inside[shape], True
        else:
            name, nested = None, False
        labelled.append({**row, "statement": name, "nested": nested,
                         "requests": requests_for(name) if name else []})
    return labelled
