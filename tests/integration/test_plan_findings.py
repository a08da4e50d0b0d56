"""The plan analyser on real plans from a real PostgreSQL: each bad plan yields its finding,
a good plan yields none, and a suggested index is tested with hypopg where it exists."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from lab.pg.server import PgServer
from lab.plans.capture import explain_json
from lab.plans.findings import analyse_plan
from lab.plans.hypothetical import NOT_INSTALLED, hypopg_problem, try_suggested_indexes

ROWS = 100_000


@pytest.fixture
def conn(pg_server: PgServer, fresh_db: str) -> Iterator[psycopg.Connection]:
    """A table whose columns a and b are perfectly correlated (b = a), analysed."""
    with pg_server.connect(fresh_db, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE probe AS SELECT g AS id, g %% 100 AS a, g %% 100 AS b, "
            "md5(g::text) AS c FROM generate_series(1, %s) AS g", (ROWS,))
        connection.execute("ALTER TABLE probe ADD PRIMARY KEY (id)")
        connection.execute("ANALYZE probe")
        connection.execute("SET max_parallel_workers_per_gather = 0")
        yield connection


def kinds(conn: psycopg.Connection, statement: str) -> dict[str, list[str]]:
    document, _ = explain_json(conn, statement)
    found: dict[str, list[str]] = {}
    for finding in analyse_plan(document["Plan"]):
        found.setdefault(finding.kind, []).append(finding.evidence)
    return found


def test_a_sequential_scan_on_a_large_table_is_found(conn: psycopg.Connection) -> None:
    findings = []
    for statement in ("SELECT * FROM probe WHERE a = 7", "SELECT * FROM probe WHERE b = 7"):
        document, _ = explain_json(conn, statement)
        findings += [f for f in analyse_plan(document["Plan"]) if f.kind == "seq_scan"]
    assert len(findings) == 2
    assert f"read {ROWS:,} rows" in findings[0].evidence
    assert [f.index_sql for f in findings] == ["CREATE INDEX ON probe (a)",
                                               "CREATE INDEX ON probe (b)"]
    problem = try_suggested_indexes(conn, findings)
    if hypopg_problem(conn):
        assert problem == NOT_INSTALLED and findings[0].hypothetical is None
    else:   # the PostgreSQL 15 pass, with Debian's postgresql-15-hypopg
        assert problem is None
        for finding in findings:   # the second must not trip over the first's index
            assert finding.hypothetical is not None and "error" not in finding.hypothetical
            assert finding.hypothetical["index_used"]
            assert finding.hypothetical["cost_after"] < finding.hypothetical["cost_before"]
        left = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")
        assert left.fetchone() == (0,)   # tried in a rolled-back transaction


def test_a_row_misestimate_is_found(conn: psycopg.Connection) -> None:
    """a = 1 AND b = 1: the planner multiplies 1 % by 1 % (10 rows); 1,000 match."""
    found = kinds(conn, "SELECT * FROM probe WHERE a = 1 AND b = 1")
    assert "misestimate" in found, found
    assert "underestimate" in found["misestimate"][0]


def test_a_sort_spilling_to_disk_is_found(conn: psycopg.Connection) -> None:
    conn.execute("SET work_mem = '64kB'")
    found = kinds(conn, "SELECT * FROM probe ORDER BY c")
    assert "spill" in found, found
    assert "Disk" in found["spill"][0] or "disk" in found["spill"][0]


def test_a_good_plan_has_no_finding(conn: psycopg.Connection) -> None:
    assert kinds(conn, "SELECT * FROM probe WHERE id = 4242") == {}


def test_a_range_filter_gets_an_index_suggestion_and_a_probe(conn: psycopg.Connection) -> None:
    document, _ = explain_json(conn, "SELECT * FROM probe WHERE a > 97")
    (finding,) = [f for f in analyse_plan(document["Plan"]) if f.kind == "seq_scan"]
    assert finding.index_sql == "CREATE INDEX ON probe (a)"
    assert finding.probe_sql == "SELECT 1 FROM probe WHERE (a > 97)"
    conn.execute(finding.probe_sql)   # the probe is valid SQL
