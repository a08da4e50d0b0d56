"""EXPLAIN ANALYZE of the named statements on the seeded graph."""

from __future__ import annotations

import pytest

from lab.explain import explain, representative_params
from lab.pg.server import PgServer

READS = ["home_timeline_seed", "home_timeline_pull", "home_timeline_push",
         "home_timeline_hybrid", "user_tweets", "thread", "followers_page", "following_page",
         "profile", "get_tweet"]


@pytest.mark.parametrize("name", READS)
def test_every_read_statement_can_be_explained(pg_server: PgServer, seeded_db: str,
                                               name: str) -> None:
    with pg_server.connect(seeded_db) as conn:
        result = explain(conn, name, representative_params(conn, name))
    assert "Execution Time" in result.plan and result.warm_execution_ms >= 0


def test_explaining_a_write_changes_nothing(pg_server: PgServer, seeded_copy: str) -> None:
    """EXPLAIN ANALYZE runs the statement; the lab's explain must roll it back."""
    with pg_server.connect(seeded_copy) as conn:
        pair = conn.execute(
            "SELECT a.id, b.id FROM users a, users b WHERE NOT b.is_protected AND a.id <> b.id "
            "AND NOT EXISTS (SELECT 1 FROM following f WHERE f.follower_id = a.id "
            "AND f.followee_id = b.id) ORDER BY a.id, b.id LIMIT 1").fetchone()
        assert pair is not None
        result = explain(conn, "follow", {"follower_id": pair[0], "followee_id": pair[1]})
        edges = conn.execute("SELECT count(*) FROM following WHERE follower_id = %s "
                             "AND followee_id = %s", pair).fetchone()
    assert "Execution Time" in result.plan
    assert edges == (0,)
