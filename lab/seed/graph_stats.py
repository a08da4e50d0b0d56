"""The seeded graph's shape, measured on the database, beside a real follow graph's.

Reciprocity is given both ways it is quoted: the share of linked pairs that follow
each other (Kwak et al.'s 22.1 %) and the share of follow edges returned. Degree
distributions are summarised by their complementary CDFs and a power-law fit of
their body (lab.fits), the way Kwak et al. fit followings (exponent 2.276).
"""

from __future__ import annotations

from typing import Any

import psycopg

from lab.fits import ccdf_points, fitted_body
from lab.seed.scales import PUBLISHED_RECIPROCITY

PUBLISHED = {
    "source": "Kwak, Lee, Park and Moon, \"What is Twitter, a Social Network or a News "
              "Media?\", WWW 2010: 41.7 M users, 1.47 B follow edges (crawled June-September "
              "2009)",
    "reciprocal_pairs": PUBLISHED_RECIPROCITY,
    # 22.1 % of pairs mutual: each gives two edges, the other 77.9 % one.
    "reciprocal_edges": round(2 * PUBLISHED_RECIPROCITY / (1 + PUBLISHED_RECIPROCITY), 3),
    "following_alpha": 2.276,
}


def graph_stats(conn: psycopg.Connection) -> dict[str, Any]:
    """Reciprocity, degree CCDFs and fits, and the tweet kinds, of the database's graph."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM following g "
        "WHERE g.follower_id = f.followee_id AND g.followee_id = f.follower_id)) "
        "FROM following f").fetchone()
    assert row is not None
    edges, returned = int(row[0]), int(row[1])
    pairs = edges - returned // 2
    degrees = conn.execute("SELECT followers_count, following_count FROM users").fetchall()
    followers = [int(r[0]) for r in degrees]
    following = [int(r[1]) for r in degrees]
    kinds = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE reply_to_tweet_id IS NOT NULL), "
        "count(*) FILTER (WHERE original_tweet_id IS NOT NULL AND body IS NULL), "
        "count(*) FILTER (WHERE original_tweet_id IS NOT NULL AND body IS NOT NULL) "
        "FROM tweets").fetchone()
    assert kinds is not None
    tweets = max(int(kinds[0]), 1)
    return {
        "users": len(degrees), "edges": edges,
        "reciprocal_pairs": round(returned / 2 / pairs, 4) if pairs else None,
        "reciprocal_edges": round(returned / edges, 4) if edges else None,
        "following": {"max": max(following, default=0), "ccdf": ccdf_points(following),
                      "fit": fitted_body(following)},
        "followers": {"max": max(followers, default=0), "ccdf": ccdf_points(followers),
                      "fit": fitted_body(followers)},
        "tweets": int(kinds[0]),
        "reply_share": round(int(kinds[1]) / tweets, 4),
        "retweet_share": round(int(kinds[2]) / tweets, 4),
        "quote_share": round(int(kinds[3]) / tweets, 4),
        "published": PUBLISHED,
    }
