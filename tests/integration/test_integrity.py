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


def test_a_followers_row_without_its_following_row_is_reported_in_that_direction(
        pg_server: PgServer, seeded_copy: str) -> None:
    """The reverse direction is counted by arithmetic on the primary keys (one anti-join
    for both): an extra followers row and a lost following row, one each way."""
    with pg_server.connect(seeded_copy) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("""
            INSERT INTO followers (followee_id, follower_id)
            SELECT a.id, b.id FROM users a, users b
            WHERE a.id <> b.id AND NOT EXISTS (SELECT 1 FROM following f
                                               WHERE f.follower_id = b.id AND f.followee_id = a.id)
            LIMIT 1""")
        conn.execute("DELETE FROM following WHERE (follower_id, followee_id) = "
                     "(SELECT follower_id, followee_id FROM following "
                     " ORDER BY follower_id DESC LIMIT 1)")
        conn.commit()
    found = violations(pg_server, seeded_copy)
    assert found["followers rows missing from following"] == 2
    assert found["following rows missing from followers"] == 0


def test_retweet_and_quote_counters_are_each_reported_from_their_one_query(
        pg_server: PgServer, seeded_copy: str) -> None:
    """One grouping counts both: a retweet counter one too high on one tweet and quote
    counters one too high on two others land in their own columns, not each other's."""
    with pg_server.connect(seeded_copy) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tweets ORDER BY id LIMIT 3")]
        conn.execute("UPDATE tweets SET retweet_count = retweet_count + 1 WHERE id = %s",
                     (ids[0],))
        conn.execute("UPDATE tweets SET quote_count = quote_count + 1 WHERE id = ANY(%s)",
                     (ids[1:],))
        conn.commit()
    found = violations(pg_server, seeded_copy)
    assert found["tweets.retweet_count differs from retweets"] == 1
    assert found["tweets.quote_count differs from quotes"] == 2
    assert sum(found.values()) == 3


def test_cache_entries_an_owner_may_not_see_are_reported_under_push_only(
        pg_server: PgServer, seeded_copy: str) -> None:
    with pg_server.connect(seeded_copy) as conn:
        # A reader, and a protected author they do not follow, with a tweet.
        reader, author, tweet, created = conn.execute("""
            SELECT r.id, a.id, t.id, t.created_at FROM users r, users a
            JOIN tweets t ON t.user_id = a.id
            WHERE a.is_protected AND r.id <> a.id AND NOT EXISTS (
                SELECT 1 FROM following f WHERE f.follower_id = r.id AND f.followee_id = a.id)
            LIMIT 1""").fetchone()
        conn.execute("INSERT INTO home_timeline VALUES (%s, %s, %s)", (reader, created, tweet))
        # An entry whose tweet no longer exists, and one of a user who never did.
        conn.execute("INSERT INTO home_timeline VALUES (%s, now(), -1)", (reader,))
        conn.execute("INSERT INTO home_timeline VALUES (-7, now(), -1)")
        conn.commit()
    found = violations(pg_server, seeded_copy)
    assert found["home_timeline entries of protected accounts the owner may not see"] == 1
    assert found["home_timeline entries from accounts the owner does not follow"] == 1
    assert found["home_timeline entries of deleted tweets"] == 2
    assert found["home_timeline entries of unknown users"] == 1
    assert sum(found.values()) == 5        # nothing else was damaged, nothing reported twice

    with pg_server.connect(seeded_copy) as conn:
        under_pull = {r.name: r for r in run_checks(conn, "pull")}
    skipped = {name for name, r in under_pull.items() if r.skipped}
    assert skipped == {"home_timeline entries of protected accounts the owner may not see",
                       "home_timeline entries from accounts the owner does not follow",
                       "home_timeline entries of deleted tweets",
                       "home_timeline entries missing (posts and follows since the caches "
                       "were complete)"}
    # Orphans are orphans under every strategy.
    assert under_pull["home_timeline entries of unknown users"].violations == 1
