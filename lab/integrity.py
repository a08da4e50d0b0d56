"""The integrity audit (SC2 and more): mirrors exact, counters equal to the rows they count,
timeline caches showing only what their owner may see, no orphans.

Each check is one read-only SQL query returning its number of violations,
so a report can show exactly which invariant broke and how often.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

# Strategies that keep home_timeline exact on every follow, unfollow, post and
# delete. Under pull the cache is never read, so it is left to go stale (an
# unfollow keeps the old entries) and its checks do not apply.
CACHE_STRATEGIES = ("push", "hybrid")
AUDIT_WORK_MEM = "1GB"


@dataclass(frozen=True)
class Check:
    """One query; `names` the invariants it counts, one column each (a pass over a large
    table counts every invariant it can, so none is paid for twice)."""
    names: tuple[str, ...]
    sql: str
    cache: bool = False      # a home_timeline invariant: holds only where the cache is kept
    since: bool = False      # takes %(since)s: when the caches were last known complete


def counter_check(table: str, counter: str, source: str, key: str, where: str = "") -> str:
    """Count rows of `table` whose `counter` differs from the rows of `source` per `key`."""
    return f"""
        SELECT count(*) FROM {table} x
        LEFT JOIN (SELECT {key} AS id, count(*) AS n FROM {source} {where} GROUP BY 1) c
               USING (id)
        WHERE x.{counter} <> coalesce(c.n, 0)"""


def orphan_check(table: str, column: str, parent: str) -> str:
    """Count rows of a table without foreign keys whose `column` names no `parent` row."""
    return f"""
        SELECT count(*) FROM {table} x
        WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = x.{column})"""


CHECKS: tuple[Check, ...] = (
    # Both tables have the pair as primary key, so one anti-join answers both directions:
    # |followers - following| = |followers| - |following| + |following - followers|. The
    # second EXCEPT this replaces was a minute at a million users.
    Check(("following rows missing from followers", "followers rows missing from following"),
          """
        SELECT m.n, (SELECT count(*) FROM followers) - (SELECT count(*) FROM following) + m.n
        FROM (SELECT count(*) AS n FROM following f
              WHERE NOT EXISTS (SELECT 1 FROM followers r WHERE r.followee_id = f.followee_id
                                AND r.follower_id = f.follower_id)) AS m"""),
    Check(("users.followers_count differs from followers rows",),
          counter_check("users", "followers_count", "followers", "followee_id")),
    Check(("users.following_count differs from following rows",),
          counter_check("users", "following_count", "following", "follower_id")),
    Check(("users.tweet_count differs from tweets rows",),
          counter_check("users", "tweet_count", "tweets", "user_id")),
    Check(("tweets.like_count differs from likes rows",),
          counter_check("tweets", "like_count", "likes", "tweet_id")),
    # Retweets (no body) and quotes (a body) both name their original: one grouping of
    # tweets counts both, where two cost 8-9 s each at a million users.
    Check(("tweets.retweet_count differs from retweets",
           "tweets.quote_count differs from quotes"), """
        SELECT count(*) FILTER (WHERE x.retweet_count <> coalesce(c.retweets, 0)),
               count(*) FILTER (WHERE x.quote_count <> coalesce(c.quotes, 0))
        FROM tweets x
        LEFT JOIN (SELECT original_tweet_id AS id,
                          count(*) FILTER (WHERE body IS NULL) AS retweets,
                          count(*) FILTER (WHERE body IS NOT NULL) AS quotes
                   FROM tweets WHERE original_tweet_id IS NOT NULL GROUP BY 1) c USING (id)"""),
    Check(("tweets.reply_count differs from replies",),
          counter_check("tweets", "reply_count", "tweets", "reply_to_tweet_id",
                        "WHERE reply_to_tweet_id IS NOT NULL")),
    Check(("follow requests between accounts that already follow",), """
        SELECT count(*) FROM follow_requests r
        JOIN following f ON f.follower_id = r.follower_id AND f.followee_id = r.followee_id"""),
    Check(("foreign keys not validated",), """
        SELECT count(*) FROM pg_constraint
        WHERE contype = 'f' AND NOT convalidated
          AND connamespace = 'public'::regnamespace"""),
    # home_timeline and its floors carry no foreign keys (they would cost every
    # fan-out insert a lookup), so their orphans are looked for here.
    Check(("home_timeline entries of unknown users",),
          orphan_check("home_timeline", "user_id", "users")),
    Check(("home_timeline_floors of unknown users",),
          orphan_check("home_timeline_floors", "user_id", "users")),
    Check(("home_timeline entries of deleted tweets",), """
        SELECT count(*) FROM home_timeline h
        WHERE NOT EXISTS (SELECT 1 FROM tweets t
                          WHERE t.id = h.tweet_id AND t.created_at = h.created_at)""",
          cache=True),
    # One pass over the cache: an entry of an account not followed (not the owner's own),
    # and among those the entries of protected accounts, the privacy breach.
    Check(("home_timeline entries from accounts the owner does not follow",
           "home_timeline entries of protected accounts the owner may not see"), """
        SELECT count(*), count(*) FILTER (WHERE a.is_protected)
        FROM home_timeline h
        JOIN tweets t ON t.id = h.tweet_id
        JOIN users a ON a.id = t.user_id
        WHERE t.user_id <> h.user_id
          AND NOT EXISTS (SELECT 1 FROM following f
                          WHERE f.follower_id = h.user_id AND f.followee_id = t.user_id)""",
          cache=True),
    # Entries that should be there: every tweet posted, and every followee's tweets of a
    # follow made, since the caches were last known complete (a seed, a rebuild), above
    # the reader's floor, unless the author is pulled (hybrid) or the tweet still queued.
    # The instant is a parameter, not a subquery: planned with its value, the work is the
    # rows written since (a run's), where a subquery's guess of a third of every tweet
    # and edge sorted billions of rows at a million users and filled the disk with them.
    # The second branch leaves out tweets the first covers, so nothing needs deduplicating.
    Check(("home_timeline entries missing (posts and follows since the caches were complete)",),
          """
        WITH expected (reader, id, created_at) AS (
            SELECT r.reader, t.id, t.created_at
            FROM tweets t JOIN users a ON a.id = t.user_id
            CROSS JOIN LATERAL (SELECT t.user_id UNION ALL
                                SELECT fo.follower_id FROM followers fo
                                WHERE fo.followee_id = t.user_id AND NOT a.timeline_pulled
                                ) AS r (reader)
            WHERE t.created_at >= %(since)s
            UNION ALL
            SELECT f.follower_id, t.id, t.created_at
            FROM following f
            JOIN users a ON a.id = f.followee_id AND NOT a.timeline_pulled
            JOIN tweets t ON t.user_id = f.followee_id AND t.created_at < %(since)s
            WHERE f.created_at >= %(since)s)
        SELECT count(*) FROM expected e
        LEFT JOIN home_timeline_floors fl ON fl.user_id = e.reader
        WHERE (fl.user_id IS NULL
               OR (e.created_at, e.id) >= (fl.floor_created_at, fl.floor_tweet_id))
          AND NOT EXISTS (SELECT 1 FROM fanout_queue q WHERE q.tweet_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM home_timeline h WHERE h.user_id = e.reader
                          AND h.created_at = e.created_at AND h.tweet_id = e.id)""",
          cache=True, since=True),
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    violations: int
    seconds: float                # of its query; shared by the names one query counts
    skipped: str | None = None    # why the check does not apply to this run
    shared: bool = False          # counted by the query of the result before it


def run_checks(conn: psycopg.Connection, strategy: str = "push") -> list[CheckResult]:
    """Run every check in one repeatable-read snapshot, so they all see the same state.

    `strategy` is the timeline strategy the data was written under: the
    home_timeline checks are skipped (and say so) for pull.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("run_checks needs a connection outside any transaction")
    results: list[CheckResult] = []
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # One read-only session after the load: its hash joins over whole tables (the
        # mirrors, home_timeline against tweets) get memory instead of temp files, which
        # at a million users grew past 15 GB for one check and filled the disk.
        conn.execute(f"SET LOCAL work_mem = '{AUDIT_WORK_MEM}'")
        since = conn.execute("SELECT complete_since FROM timeline_caches").fetchone()
        for check in CHECKS:
            if check.cache and strategy not in CACHE_STRATEGIES:
                results.extend(CheckResult(name, 0, 0.0,
                                           f"{strategy} does not maintain home_timeline")
                               for name in check.names)
                continue
            started = time.perf_counter()
            params = {"since": since[0] if since else None} if check.since else None
            row = conn.execute(check.sql, params).fetchone()
            assert row is not None and len(row) == len(check.names)
            seconds = time.perf_counter() - started
            results.extend(CheckResult(name, int(n), seconds, shared=k > 0)
                           for k, (name, n) in enumerate(zip(check.names, row, strict=True)))
    return results
