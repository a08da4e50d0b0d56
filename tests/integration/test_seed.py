"""The seeded database: consistent, complete, deterministic, reusable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import psycopg
import pytest

from lab.integrity import run_checks
from lab.migrate import migrate
from lab.pg.databases import database_exists
from lab.pg.server import PgServer
from lab.progress import Reporter
from lab.queries import first_page, query
from lab.resources import schema_dir
from lab.scaling.footprint import fanout_rows_per_post
from lab.schema_snapshot import snapshot
from lab.seed.generate import generate
from lab.seed.load import load_dataset
from lab.seed.scales import get_scale
from lab.seed.template import ensure_template, fresh_copy, read_facts
from tests.conftest import TEST_SEED, unique_name

TABLE_ORDER = {
    "users": "id", "following": "follower_id, followee_id",
    "followers": "followee_id, follower_id", "follow_requests": "followee_id, follower_id",
    "tweets": "id", "likes": "user_id, tweet_id", "home_timeline": "user_id, created_at, tweet_id",
}


@pytest.fixture
def seeded(pg_server: PgServer, seeded_db: str):
    with pg_server.connect(seeded_db) as conn:
        yield conn


def scalar(conn: psycopg.Connection, statement: str, params: object = None) -> object:
    row = conn.execute(statement, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def test_row_counts_match_the_recorded_facts(pg_server: PgServer, seeded_db: str,
                                             seeded: psycopg.Connection) -> None:
    facts = read_facts(pg_server, seeded_db)
    for table, rows in facts["rows"].items():
        assert scalar(seeded, f"SELECT count(*) FROM {table}") == rows, table
    assert facts["scale"] == "tiny" and facts["seed"] == TEST_SEED


def test_following_and_followers_are_exact_mirrors(seeded: psycopg.Connection) -> None:
    assert scalar(seeded, """
        SELECT count(*) FROM (
            (SELECT follower_id, followee_id FROM following
             EXCEPT SELECT follower_id, followee_id FROM followers)
            UNION ALL
            (SELECT follower_id, followee_id FROM followers
             EXCEPT SELECT follower_id, followee_id FROM following)) AS difference""") == 0
    assert scalar(seeded, "SELECT count(*) FROM following") > 50_000


def test_user_counters_equal_the_rows(seeded: psycopg.Connection) -> None:
    assert scalar(seeded, """
        SELECT count(*) FROM users u
        WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followee_id = u.id)
           OR u.following_count <> (SELECT count(*) FROM following f WHERE f.follower_id = u.id)
           OR u.tweet_count <> (SELECT count(*) FROM tweets t WHERE t.user_id = u.id)""") == 0


def test_tweet_counters_equal_the_rows(seeded: psycopg.Connection) -> None:
    assert scalar(seeded, """
        SELECT count(*) FROM tweets t
        WHERE t.like_count <> (SELECT count(*) FROM likes l WHERE l.tweet_id = t.id)
           OR t.reply_count <> (SELECT count(*) FROM tweets r WHERE r.reply_to_tweet_id = t.id)
           OR t.retweet_count <> (SELECT count(*) FROM tweets r
                                  WHERE r.original_tweet_id = t.id AND r.body IS NULL)
           OR t.quote_count <> (SELECT count(*) FROM tweets r
                                WHERE r.original_tweet_id = t.id AND r.body IS NOT NULL)""") == 0


def test_the_shape_guarantees_hold(pg_server: PgServer, seeded_db: str,
                                   seeded: psycopg.Connection) -> None:
    assert scalar(seeded, "SELECT count(*) FROM users WHERE following_count >= 1000") >= 20
    assert scalar(seeded, "SELECT count(*) FROM users WHERE followers_count >= 1000") >= 20
    share = scalar(seeded, "SELECT avg(is_protected::int) FROM users")
    assert 0.05 < float(share) < 0.15  # type: ignore[arg-type]
    assert scalar(seeded, "SELECT count(*) FROM follow_requests") > 0
    assert scalar(seeded, "SELECT count(*) FROM tweets WHERE reply_to_tweet_id IN "
                          "(SELECT id FROM tweets WHERE reply_to_tweet_id IS NOT NULL)") > 0
    facts = read_facts(pg_server, seeded_db)
    reader = facts["power_readers"][0]
    assert scalar(seeded, "SELECT following_count FROM users WHERE id = %s",
                  (reader["id"],)) == reader["following"] >= 1000


def test_home_timeline_equals_the_pull_timeline(pg_server: PgServer, seeded_db: str,
                                                seeded: psycopg.Connection) -> None:
    """Push and pull agree: the seeded cache holds exactly the newest `cap` tweets,
    and reading past it (below the floor) continues with exactly what pull returns."""
    facts = read_facts(pg_server, seeded_db)
    cap = facts["timeline_cap"]
    users = [r["id"] for r in facts["power_readers"]] + [
        row[0] for row in seeded.execute("SELECT id FROM users ORDER BY id LIMIT 40")]
    for user in users:
        pulled = [row[0] for row in seeded.execute(
            query("home_timeline_seed"), {"user_id": user, "limit": cap + 50})]
        cached = [row[0] for row in seeded.execute(
            "SELECT tweet_id FROM home_timeline WHERE user_id = %s "
            "ORDER BY created_at DESC, tweet_id DESC", (user,))]
        assert cached == pulled[:cap] and cached, f"user {user}"
        through_floor = [row[0] for row in seeded.execute(
            "SELECT id FROM timeline_cached_ids(%(user_id)s, %(before_ts)s, %(before_id)s, "
            "%(limit)s, false)", {**first_page(cap + 50), "user_id": user})]
        assert through_floor == pulled, f"user {user}"


def test_a_share_of_open_caches_closes_the_others_and_their_first_read_opens_them(
        pg_server: PgServer, fresh_db: str) -> None:
    """Seeded with 30 % of caches kept: the closed ones hold nothing and read by pull; the
    first push read opens one to what the seeder would have built; the audit stays clean."""
    scale = replace(get_scale("tiny"), open_caches=0.3)
    data = generate(scale, TEST_SEED)
    kept = data.open_caches
    with pg_server.connect(fresh_db) as conn:
        migrate(conn)
        load_dataset(conn, data, Reporter())
        holders = {row[0] for row in conn.execute("SELECT DISTINCT user_id FROM home_timeline")}
        closed = {row[0] for row in conn.execute(
            "SELECT user_id FROM home_timeline_floors WHERE floor_created_at = 'infinity'")}
        assert holders == {int(u) + 1 for u in np.flatnonzero(kept)}
        assert closed == {int(u) + 1 for u in np.flatnonzero(~kept)}
        assert 0.25 < len(holders) / scale.users < 0.35
        conn.execute("SELECT set_config('lab.timeline_strategy', 'push', false)")
        conn.execute("SELECT set_config('lab.timeline_cap', %s, false)",
                     (str(scale.timeline_cap),))
        assert [r.violations for r in run_checks(conn, "push") if r.violations] == []
        # What a post fans out to, counted from the rows: open followers, own if open.
        counted = conn.execute("""
            SELECT ((SELECT count(*) FROM tweets AS t JOIN followers AS f
                     ON f.followee_id = t.user_id WHERE f.follower_id <> ALL (%(closed)s))
                    + (SELECT count(*) FROM tweets WHERE user_id <> ALL (%(closed)s)))::float8
                   / (SELECT count(*) FROM tweets)""", {"closed": sorted(closed)}).fetchone()
        assert counted is not None
        assert fanout_rows_per_post(conn)["open"] == pytest.approx(counted[0], rel=1e-9)
        assert fanout_rows_per_post(conn)["every"] > 3 * counted[0]
        reader = min(closed)
        pulled = [row[0] for row in conn.execute(
            query("home_timeline_seed"), {"user_id": reader, "limit": 50})]
        params = {**first_page(50), "user_id": reader, "limit": 50}
        first = conn.execute("SELECT ids, cache FROM open_home_timeline_ids(%(user_id)s, "
                             "%(before_ts)s, %(before_id)s, %(limit)s, 'push')", params).fetchone()
        again = conn.execute("SELECT ids, cache FROM open_home_timeline_ids(%(user_id)s, "
                             "%(before_ts)s, %(before_id)s, %(limit)s, 'push')", params).fetchone()
        conn.commit()
        assert first is not None and again is not None
        assert first[1] == "opened" and again[1] is None
        assert first[0] == again[0] == pulled
        cached = [row[0] for row in conn.execute(
            "SELECT tweet_id FROM home_timeline WHERE user_id = %s "
            "ORDER BY created_at DESC, tweet_id DESC", (reader,))]
        assert cached == [row[0] for row in conn.execute(
            query("home_timeline_seed"), {"user_id": reader, "limit": scale.timeline_cap})]
        assert [r.violations for r in run_checks(conn, "push") if r.violations] == []


def test_indexes_and_constraints_are_restored(seeded: psycopg.Connection) -> None:
    assert snapshot(seeded) == (schema_dir() / "snapshot.txt").read_text()


def test_new_rows_get_fresh_ids(pg_server: PgServer, seeded_copy: str) -> None:
    with pg_server.connect(seeded_copy) as conn:
        before = scalar(conn, "SELECT max(id) FROM users")
        new_id = scalar(conn, "INSERT INTO users (username, email, display_name) "
                              "VALUES ('newcomer', 'new@example.com', 'New') RETURNING id")
        assert new_id > before  # type: ignore[operator]


def table_checksums(pg_server: PgServer, database: str) -> dict[str, str]:
    with pg_server.connect(database) as conn:
        return {table: str(scalar(conn, f"SELECT md5(string_agg(t::text, '|' ORDER BY {order}))"
                                        f" FROM {table} AS t"))
                for table, order in TABLE_ORDER.items()}


def test_same_seed_same_rows(pg_server: PgServer, fresh_db: str, seeded_db: str) -> None:
    """A load from scratch equals the session's template, row for row."""
    with pg_server.connect(fresh_db) as conn:
        migrate(conn)
        load_dataset(conn, generate(get_scale("tiny"), TEST_SEED), Reporter())
    assert table_checksums(pg_server, fresh_db) == table_checksums(pg_server, seeded_db)


def test_the_template_is_reused_and_copies_are_independent(
        pg_server: PgServer, seeded_template: str) -> None:
    again = ensure_template(pg_server, get_scale("tiny"), TEST_SEED, Reporter())
    assert again.template == seeded_template and not again.built
    copy = unique_name("copy")
    try:
        fresh_copy(pg_server, seeded_template, copy)
        with pg_server.connect(copy) as conn:
            conn.execute("SELECT unfollow(follower_id, followee_id) FROM following LIMIT 5")
            conn.commit()
        with pg_server.connect(seeded_template) as conn:
            facts_rows = scalar(conn, "SELECT (value->>'following')::bigint "
                                      "FROM dataset_facts WHERE key = 'rows'")
            assert scalar(conn, "SELECT count(*) FROM following") == facts_rows
    finally:
        from lab.pg.databases import drop_database

        drop_database(pg_server, copy)
        assert not database_exists(pg_server, copy)


def test_a_superseded_template_is_dropped(pg_server: PgServer) -> None:
    """Templates of older schema or seeder versions for the same (scale, seed) go away."""
    from lab.pg.databases import create_database, drop_database
    from lab.seed.template import template_prefix

    tiny = get_scale("tiny")
    stale = template_prefix(tiny, 7) + "0000000000"
    create_database(pg_server, stale)
    result = ensure_template(pg_server, tiny, 7, Reporter())
    try:
        assert result.built and not database_exists(pg_server, stale)
        assert database_exists(pg_server, result.template)
    finally:
        drop_database(pg_server, result.template)
        drop_database(pg_server, stale)


def test_concurrent_seeds_build_once(pg_server: PgServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from lab.pg.databases import drop_database

    tiny = get_scale("tiny")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: ensure_template(pg_server, tiny, 11, Reporter()),
                                range(2)))
    try:
        assert sorted(r.built for r in results) == [False, True]
        assert results[0].template == results[1].template
        assert database_exists(pg_server, results[0].template)
    finally:
        drop_database(pg_server, results[0].template)


def test_migration_0004_gives_older_seeds_their_floors(pg_server: PgServer,
                                                       seeded_copy: str) -> None:
    """Recomputing the floors from the cache alone finds exactly what the seeder stored."""
    with pg_server.connect(seeded_copy) as conn:
        before = conn.execute("SELECT * FROM home_timeline_floors ORDER BY 1").fetchall()
        conn.execute("TRUNCATE home_timeline_floors")
        conn.execute("SELECT set_home_timeline_floors((value #>> '{}')::integer) "
                     "FROM dataset_facts WHERE key = 'timeline_cap'")
        after = conn.execute("SELECT * FROM home_timeline_floors ORDER BY 1").fetchall()
    assert after == before and len(before) > 100


SEED_PROCESS = """
import sys
from lab.pg.server import PgServer
from lab.progress import Reporter
from lab.pg.databases import drop_database
from lab.seed.scales import get_scale
from lab.seed.template import ensure_template
server = PgServer("url", sys.argv[1])
result = ensure_template(server, get_scale("small"), int(sys.argv[2]), Reporter(), rebuild=True)
drop_database(server, result.template)
print(result.peak_memory_bytes)
"""


def test_seeding_small_stays_within_the_memory_estimate(pg_server: PgServer) -> None:
    """A whole seed (generation, load, home timelines) in a process of its own: the
    guard's estimate must hold, and not by a factor that would refuse what fits."""
    import subprocess
    import sys

    small = get_scale("small")
    out = subprocess.run([sys.executable, "-c", SEED_PROCESS, pg_server.conninfo, "4242"],
                         check=True, capture_output=True, text=True, timeout=600).stdout
    peak = int(out.split()[-1])
    assert 0 < peak <= small.generator_memory_bytes, (peak, small.generator_memory_bytes)
    assert small.generator_memory_bytes < 2 * peak, (peak, small.generator_memory_bytes)
