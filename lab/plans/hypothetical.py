"""Test a suggested index without building it (hypopg), in a transaction that is rolled back.

hypopg's indexes live in the session's memory and only plain EXPLAIN sees
them; the extension itself is created inside the same rolled-back
transaction, so the database is left exactly as it was.
"""

from __future__ import annotations

from typing import Any

import psycopg

from lab.errors import first_line
from lab.plans.findings import Finding

NOT_INSTALLED = ("hypopg is not installed on this server (Debian: postgresql-<version>-hypopg); "
                 "the suggested indexes were not tested")


def hypopg_problem(conn: psycopg.Connection) -> str | None:
    """Why hypothetical indexes cannot be tried here, or None when they can."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'").fetchone()
    return None if row else NOT_INSTALLED


def _cost(conn: psycopg.Connection, statement: str) -> float:
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}").fetchone()  # type: ignore[arg-type]
    assert row is not None
    return float(row[0][0]["Plan"]["Total Cost"])


def _uses_hypothetical(conn: psycopg.Connection, statement: str) -> bool:
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}").fetchone()  # type: ignore[arg-type]
    assert row is not None
    return "<" in str(row[0])   # hypopg names its indexes <oid>btree_...


def try_index(conn: psycopg.Connection, finding: Finding) -> dict[str, Any] | None:
    """Estimated cost of the finding's probe query before and after its candidate index."""
    if not finding.index_sql or not finding.probe_sql:
        return None
    with conn.transaction(force_rollback=True):
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        before = _cost(conn, finding.probe_sql)
        conn.execute("SELECT * FROM hypopg_create_index(%s)", (finding.index_sql,))
        try:
            after = _cost(conn, finding.probe_sql)
            used = _uses_hypothetical(conn, finding.probe_sql)
        finally:
            # The index lives in the backend's memory, not in the rolled-back catalog:
            # left there, it would haunt the next plan ("cache lookup failed").
            conn.execute("SELECT hypopg_reset()")
    return {"index": finding.index_sql, "probe": finding.probe_sql, "cost_before": before,
            "cost_after": after, "index_used": used}


def try_suggested_indexes(conn: psycopg.Connection, findings: list[Finding]) -> str | None:
    """Attach a hypothetical test to every finding that suggests an index; say when impossible."""
    if not any(f.index_sql for f in findings):
        return None
    problem = hypopg_problem(conn)
    if problem:
        return problem
    for finding in findings:
        try:
            finding.hypothetical = try_index(conn, finding)
        except psycopg.Error as exc:
            finding.hypothetical = {"index": finding.index_sql,
                                    "error": first_line(exc)}
    return None
