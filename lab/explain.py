"""EXPLAIN (ANALYZE, BUFFERS) of the named queries with representative parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from lab.errors import LabError
from lab.queries import first_page, query

TIMELINE_PAGE = 50
EXECUTION_TIME = re.compile(r"Execution Time: ([\d.]+) ms")


@dataclass
class Explained:
    """One captured plan: the query, its parameters, the text plan and timings."""

    name: str
    params: dict[str, Any]
    plan: str
    cold_execution_ms: float
    warm_execution_ms: float


def representative_params(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    """Pick parameters that exercise the hard case: the power reader following the most,
    the most followed account for follower lists, the most answered tweet for threads.

    Every parameter any read statement takes is filled (first pages), so any of
    them can be explained; a statement simply ignores what it does not use.
    """
    facts: dict[str, Any] = dict(conn.execute(
        "SELECT key, value FROM dataset_facts "
        "WHERE key IN ('power_readers', 'popular_accounts')").fetchall())
    if not facts.get("power_readers"):
        raise LabError("this database has no dataset facts: seed it first (`lab seed`)")
    reader = facts["power_readers"][0]["id"]
    popular = (facts.get("popular_accounts") or [{"id": reader}])[0]["id"]
    thread = conn.execute("SELECT id FROM tweets ORDER BY reply_count DESC LIMIT 1").fetchone()
    return {**first_page(TIMELINE_PAGE), "viewer_id": reader,
            "user_id": popular if name == "followers_page" else reader,
            "tweet_id": thread[0] if thread else 1}


def explain(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> Explained:
    """Run the query under EXPLAIN ANALYZE twice (cold, then warm); keep the warm plan.

    EXPLAIN ANALYZE executes the statement, so it runs in a transaction that is
    always rolled back: explaining `follow` or `post_tweet` changes nothing.
    """
    statement = "EXPLAIN (ANALYZE, BUFFERS) " + query(name)
    timings, plan = [], ""
    for _ in range(2):
        with conn.transaction(force_rollback=True):
            lines = [row[0] for row in conn.execute(statement, params)]  # type: ignore[arg-type]
        plan = "\n".join(lines)
        match = EXECUTION_TIME.search(plan)
        timings.append(float(match.group(1)) if match else float("nan"))
    return Explained(name, params, plan, timings[0], timings[1])
