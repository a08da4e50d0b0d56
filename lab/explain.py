"""EXPLAIN (ANALYZE, BUFFERS) of the named queries with representative parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from lab.errors import LabError
from lab.queries import query

TIMELINE_PAGE = 50
FIRST_PAGE_ID = 2**63 - 1  # with before_ts 'infinity': the first keyset page
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
    """Pick parameters that exercise the hard case: the power reader following the most."""
    row = conn.execute("SELECT value FROM dataset_facts WHERE key = 'power_readers'").fetchone()
    if row is None or not row[0]:
        raise LabError("this database has no dataset facts: seed it first (`lab seed`)")
    reader = row[0][0]["id"]
    if name in ("followers_page",):
        popular = conn.execute(
            "SELECT value FROM dataset_facts WHERE key = 'popular_accounts'").fetchone()
        reader = popular[0][0]["id"] if popular and popular[0] else reader
    return {"user_id": reader, "viewer_id": reader, "limit": TIMELINE_PAGE,
            "before_ts": "infinity", "before_id": FIRST_PAGE_ID}


def explain(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> Explained:
    """Run the query under EXPLAIN ANALYZE twice (cold, then warm); keep the warm plan."""
    statement = "EXPLAIN (ANALYZE, BUFFERS) " + query(name)
    timings, plan = [], ""
    for _ in range(2):
        lines = [row[0] for row in conn.execute(statement, params)]  # type: ignore[arg-type]
        plan = "\n".join(lines)
        match = EXECUTION_TIME.search(plan)
        timings.append(float(match.group(1)) if match else float("nan"))
    return Explained(name, params, plan, timings[0], timings[1])
