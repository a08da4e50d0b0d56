"""The integrity audit (SC2 and more): mirrors exact, counters equal to the rows they count.

Each check is one read-only SQL query returning its number of violations,
so a report can show exactly which invariant broke and how often.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg


def counter_check(table: str, counter: str, source: str, key: str, where: str = "") -> str:
    """Count rows of `table` whose `counter` differs from the rows of `source` per `key`."""
    return f"""
        SELECT count(*) FROM {table} x
        LEFT JOIN (SELECT {key} AS id, count(*) AS n FROM {source} {where} GROUP BY 1) c
               USING (id)
        WHERE x.{counter} <> coalesce(c.n, 0)"""


CHECKS: dict[str, str] = {
    "following rows missing from followers": """
        SELECT count(*) FROM (SELECT follower_id, followee_id FROM following
                              EXCEPT SELECT follower_id, followee_id FROM followers) d""",
    "followers rows missing from following": """
        SELECT count(*) FROM (SELECT follower_id, followee_id FROM followers
                              EXCEPT SELECT follower_id, followee_id FROM following) d""",
    "users.followers_count differs from followers rows":
        counter_check("users", "followers_count", "followers", "followee_id"),
    "users.following_count differs from following rows":
        counter_check("users", "following_count", "following", "follower_id"),
    "users.tweet_count differs from tweets rows":
        counter_check("users", "tweet_count", "tweets", "user_id"),
    "tweets.like_count differs from likes rows":
        counter_check("tweets", "like_count", "likes", "tweet_id"),
    "tweets.retweet_count differs from retweets":
        counter_check("tweets", "retweet_count", "tweets", "original_tweet_id",
                      "WHERE body IS NULL AND original_tweet_id IS NOT NULL"),
    "tweets.quote_count differs from quotes":
        counter_check("tweets", "quote_count", "tweets", "original_tweet_id",
                      "WHERE body IS NOT NULL AND original_tweet_id IS NOT NULL"),
    "tweets.reply_count differs from replies":
        counter_check("tweets", "reply_count", "tweets", "reply_to_tweet_id",
                      "WHERE reply_to_tweet_id IS NOT NULL"),
    "follow requests between accounts that already follow": """
        SELECT count(*) FROM follow_requests r
        JOIN following f ON f.follower_id = r.follower_id AND f.followee_id = r.followee_id""",
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    violations: int
    seconds: float


def run_checks(conn: psycopg.Connection) -> list[CheckResult]:
    """Run every check in one repeatable-read snapshot, so they all see the same state."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("run_checks needs a connection outside any transaction")
    results = []
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for name, sql in CHECKS.items():
            started = time.perf_counter()
            row = conn.execute(sql).fetchone()
            assert row is not None
            results.append(CheckResult(name, int(row[0]), time.perf_counter() - started))
    return results
