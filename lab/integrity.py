"""The integrity audit (SC2 and more): mirrors exact, counters equal to the rows they count.

Each check is one read-only SQL query returning its number of violations,
so a report can show exactly which invariant broke and how often.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

CHECKS: dict[str, str] = {
    "following rows missing from followers": """
        SELECT count(*) FROM (SELECT follower_id, followee_id FROM following
                              EXCEPT SELECT follower_id, followee_id FROM followers) d""",
    "followers rows missing from following": """
        SELECT count(*) FROM (SELECT follower_id, followee_id FROM followers
                              EXCEPT SELECT follower_id, followee_id FROM following) d""",
    "users.followers_count differs from followers rows": """
        SELECT count(*) FROM users u
        LEFT JOIN (SELECT followee_id AS id, count(*) AS n FROM followers GROUP BY 1) c USING (id)
        WHERE u.followers_count <> coalesce(c.n, 0)""",
    "users.following_count differs from following rows": """
        SELECT count(*) FROM users u
        LEFT JOIN (SELECT follower_id AS id, count(*) AS n FROM following GROUP BY 1) c USING (id)
        WHERE u.following_count <> coalesce(c.n, 0)""",
    "users.tweet_count differs from tweets rows": """
        SELECT count(*) FROM users u
        LEFT JOIN (SELECT user_id AS id, count(*) AS n FROM tweets GROUP BY 1) c USING (id)
        WHERE u.tweet_count <> coalesce(c.n, 0)""",
    "tweets.like_count differs from likes rows": """
        SELECT count(*) FROM tweets t
        LEFT JOIN (SELECT tweet_id AS id, count(*) AS n FROM likes GROUP BY 1) c USING (id)
        WHERE t.like_count <> coalesce(c.n, 0)""",
    "tweets.retweet_count differs from retweets": """
        SELECT count(*) FROM tweets t
        LEFT JOIN (SELECT original_tweet_id AS id, count(*) AS n FROM tweets
                   WHERE body IS NULL AND original_tweet_id IS NOT NULL GROUP BY 1) c USING (id)
        WHERE t.retweet_count <> coalesce(c.n, 0)""",
    "tweets.quote_count differs from quotes": """
        SELECT count(*) FROM tweets t
        LEFT JOIN (SELECT original_tweet_id AS id, count(*) AS n FROM tweets
                   WHERE body IS NOT NULL AND original_tweet_id IS NOT NULL GROUP BY 1) c USING (id)
        WHERE t.quote_count <> coalesce(c.n, 0)""",
    "tweets.reply_count differs from replies": """
        SELECT count(*) FROM tweets t
        LEFT JOIN (SELECT reply_to_tweet_id AS id, count(*) AS n FROM tweets
                   WHERE reply_to_tweet_id IS NOT NULL GROUP BY 1) c USING (id)
        WHERE t.reply_count <> coalesce(c.n, 0)""",
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
