"""The beginner's schema beside the real one, on the same rows, leaving no trace."""

from __future__ import annotations

from lab.config import Settings
from lab.pg.server import PgServer
from lab.plans.document import plan_document
from lab.plans.hypothetical import hypopg_problem
from lab.plans.naive import COUNTERPARTS, naive_comparison


def test_the_naive_schema_answers_the_same_questions_and_leaves_nothing(
        pg_server: PgServer, seeded_copy: str) -> None:
    counts = ("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM tweets), "
              "(SELECT count(*) FROM following), (SELECT count(*) FROM likes)")
    with pg_server.connect(seeded_copy) as conn:
        before = conn.execute(counts).fetchone()
        conn.commit()
        plans = plan_document(conn, "pull", Settings())
        naive = naive_comparison(conn, plans)
        left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'naive'")
        assert left.fetchone() == (0,)
        after = conn.execute(counts).fetchone()
        hypopg = hypopg_problem(conn) is None
    assert {row["question"] for row in naive["rows"]} == set(COUNTERPARTS)
    for row in naive["rows"]:
        assert row["naive_ms"] > 0 and row["real_ms"] is not None and row["times"] > 0, row
    assert before == after and before is not None and min(before) > 0   # rows as they were
    # The naive plans read the single follows table and count likes per view.
    timeline = next(p for p in naive["plans"] if p["name"] == "home_timeline")
    assert "follows" in str(timeline["plan"]) and "likes" in str(timeline["plan"])
    assert all(f["statement"] in COUNTERPARTS for f in naive["findings"])
    # With hypopg (the PostgreSQL 15 pass), every suggested index is tried without error,
    # even after auto_explain was loaded for the real plans in the same session.
    tried = [f["hypothetical"] for f in naive["findings"] if f.get("hypothetical")]
    assert all("error" not in attempt for attempt in tried), tried
    # The naive design's sequential scans get index suggestions; with hypopg they are tried.
    assert bool(tried) is hypopg and any(f.get("index_sql") for f in naive["findings"])
