"""The integrity audit finds exactly what is broken."""

from __future__ import annotations

from lab.integrity import run_checks
from lab.pg.server import PgServer


def violations(server: PgServer, database: str) -> dict[str, int]:
    with server.connect(database) as conn:
        return {r.name: r.violations for r in run_checks(conn)}


def test_a_seeded_dataset_is_clean(pg_server: PgServer, seeded_db: str) -> None:
    found = violations(pg_server, seeded_db)
    assert len(found) >= 10
    assert set(found.values()) == {0}


def test_a_broken_mirror_and_a_drifted_counter_are_each_reported(
        pg_server: PgServer, seeded_copy: str) -> None:
    with pg_server.connect(seeded_copy) as conn:
        # Replica mode skips the mirror foreign keys: the damage a bug could do.
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM followers WHERE (followee_id, follower_id) = "
                     "(SELECT followee_id, follower_id FROM followers LIMIT 1)")
        conn.execute("UPDATE tweets SET like_count = like_count + 1 "
                     "WHERE id = (SELECT min(id) FROM tweets)")
        conn.commit()
    found = violations(pg_server, seeded_copy)
    assert found["following rows missing from followers"] == 1
    assert found["tweets.like_count differs from likes rows"] == 1
    assert found["followers rows missing from following"] == 0
    # The lost followers row also leaves that account's followers_count one too high.
    assert found["users.followers_count differs from followers rows"] == 1
