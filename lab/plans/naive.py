"""The beginner's schema (schema/variants/naive.sql) next to the real one, on the same data.

The naive tables are built in a schema of their own inside a fresh copy of
the dataset and filled from the real tables there, so both sides hold the
same users, edges, tweets and likes; the naive statements
(schema/variants/naive_queries.sql) are then explained with the same
personas as the real ones.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from lab.plans.capture import capture
from lab.plans.cases import PAGE, Case
from lab.plans.findings import analyse_capture
from lab.plans.hypothetical import try_suggested_indexes
from lab.queries import first_page, named_statements
from lab.resources import schema_dir

SCHEMA = "naive"
# Real table -> naive table: the columns the naive design keeps.
COPIES = {
    "users": "INSERT INTO naive.users (id, username, email, display_name, bio, is_private, "
             "created_at) SELECT id, username, email, display_name, bio, is_protected, "
             "created_at FROM public.users",
    "tweets": "INSERT INTO naive.tweets (id, user_id, body, reply_to_tweet_id, "
              "original_tweet_id, created_at) SELECT id, user_id, body, reply_to_tweet_id, "
              "original_tweet_id, created_at FROM public.tweets",
    "follows": "INSERT INTO naive.follows (follower_id, followee_id, created_at) "
               "SELECT follower_id, followee_id, created_at FROM public.following",
    "likes": "INSERT INTO naive.likes (user_id, tweet_id, created_at) "
             "SELECT user_id, tweet_id, created_at FROM public.likes",
}
# Naive statement -> the real statement it answers the same question as.
COUNTERPARTS = {"home_timeline": "home_timeline_{strategy}", "user_tweets": "user_tweets",
                "followers_page": "followers_page", "following_page": "following_page",
                "profile": "profile", "get_tweet": "get_tweet"}


def naive_statements() -> dict[str, str]:
    return named_statements(schema_dir() / "variants" / "naive_queries.sql")


def build_naive_schema(conn: psycopg.Connection) -> dict[str, float]:
    """Create the naive tables next to the real ones and copy the data in; return seconds/table.

    Call it inside a transaction that is rolled back afterwards: the database
    keeps no trace. Foreign keys are not checked while copying (the rows come
    from a consistent database; session_replication_role needs a superuser,
    as the lab's servers give it).
    """
    timings: dict[str, float] = {}
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    conn.execute(sql.SQL("SET LOCAL search_path = {}").format(sql.Identifier(SCHEMA)))
    conn.execute((schema_dir() / "variants" / "naive.sql").read_text())  # type: ignore[arg-type]
    conn.execute("SET LOCAL session_replication_role = replica")
    for table, statement in COPIES.items():
        started = time.perf_counter()
        conn.execute(statement)  # type: ignore[arg-type]
        timings[table] = time.perf_counter() - started
    for table in COPIES:
        conn.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(SCHEMA),
                                                     sql.Identifier(table)))
    return timings


def naive_cases(real: list[dict[str, Any]], strategy: str) -> list[Case]:
    """The naive statements with exactly the parameters of their real counterparts' captures."""
    statements = naive_statements()
    cases = []
    for name, counterpart in COUNTERPARTS.items():
        real_name = counterpart.format(strategy=strategy)
        match = next((r for r in real if r["name"] == real_name and "params" in r), None)
        if match is not None:
            cases.append(Case(name, match["persona"], match["description"],
                              {**first_page(PAGE), **match["params"]}, sql=statements[name]))
    return cases


def capture_naive(conn: psycopg.Connection, real: list[dict[str, Any]],
                  strategy: str) -> list[dict[str, Any]]:
    """Explain each naive statement with search_path on the naive tables."""
    conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(SCHEMA)))
    try:
        return [capture(conn, case, nested=False) for case in naive_cases(real, strategy)]
    finally:
        conn.execute("RESET search_path")


def comparison_rows(real: list[dict[str, Any]], naive: list[dict[str, Any]],
                    strategy: str) -> list[dict[str, Any]]:
    """Per question: the real statement's time, the naive one's and how many times slower."""
    rows = []
    for captured in naive:
        counterpart = COUNTERPARTS[captured["name"]].format(strategy=strategy)
        match = next((r for r in real if r["name"] == counterpart
                      and r["persona"] == captured["persona"] and "execution_ms" in r), None)
        real_ms = match["execution_ms"] if match else None
        naive_ms = captured["execution_ms"]
        rows.append({"question": captured["name"], "persona": captured["description"],
                     "real": counterpart, "real_ms": real_ms, "naive_ms": naive_ms,
                     "times": naive_ms / real_ms if real_ms else None})
    return rows


def naive_comparison(conn: psycopg.Connection, plans: dict[str, Any]) -> dict[str, Any]:
    """Build the naive tables, explain their statements, compare; leave the database unchanged.

    `plans` is a captured document (lab.plans.capture): each naive statement
    runs with the persona and parameters of its real counterpart.
    """
    with conn.transaction(force_rollback=True):
        copy_s = build_naive_schema(conn)
        captured = capture_naive(conn, plans["plans"], plans["strategy"])
        found = [f for c in captured for f in analyse_capture(c)]
        conn.execute(sql.SQL("SET LOCAL search_path = {}, public").format(
            sql.Identifier(SCHEMA)))
        hypopg = try_suggested_indexes(conn, found) or "suggested indexes tested with hypopg"
    return {"plans": captured, "findings": [f.as_dict() for f in found], "copy_s": copy_s,
            "hypopg": hypopg, "strategy": plans["strategy"],
            "rows": comparison_rows(plans["plans"], captured, plans["strategy"])}
