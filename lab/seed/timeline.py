"""Fill home_timeline as fan-out on write would have: the newest `cap` tweets per user.

A user's home timeline holds the tweets of the accounts they follow and
their own. Merging every followee's whole history would touch billions of
pairs at medium scale, so the window is narrowed first: tweets are counted
per author and time bucket, each user gets the oldest bucket that still
leaves at least `cap` candidates, and only tweets from there on are merged.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lab.seed.generate import Dataset

BUCKETS = 60
EDGES_PER_BLOCK = 200_000


def home_timeline_chunks(data: Dataset) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (user index, tweet index) arrays, newest first per user, users ascending."""
    n, t = data.users.count, len(data.tweets.author)
    cap = data.scale.timeline_cap
    author = data.tweets.author
    bucket = ((data.tweets.created_at - data.start_us) * BUCKETS
              // (data.scale.days * 86_400_000_000)).clip(0, BUCKETS - 1)

    by_author = np.argsort(author, kind="stable")  # oldest first within an author
    author_end = np.searchsorted(author[by_author], np.arange(n), side="right")
    counts = np.bincount(author * BUCKETS + bucket, minlength=n * BUCKETS).reshape(n, BUCKETS)
    # newer[a, b]: how many tweets author a posted in bucket b or later.
    newer = np.zeros((n, BUCKETS + 1), dtype=np.int64)
    newer[:, :BUCKETS] = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]

    # Every user reads their own tweets too: add a self edge.
    reader = np.concatenate([data.edges.follower, np.arange(n)])
    source = np.concatenate([data.edges.followee, np.arange(n)])
    order = np.argsort(reader, kind="stable")
    reader, source = reader[order], source[order]
    reader_start = np.searchsorted(reader, np.arange(n + 1))

    for lo, hi in _user_blocks(reader_start, n):
        edge_lo, edge_hi = reader_start[lo], reader_start[hi]
        block_reader, block_source = reader[edge_lo:edge_hi], source[edge_lo:edge_hi]
        # Every user has at least the self edge, so no reduceat segment is empty.
        available = np.add.reduceat(newer[block_source], reader_start[lo:hi] - edge_lo, axis=0)
        first_bucket = np.maximum((available >= cap).sum(axis=1) - 1, 0)
        take = newer[block_source, first_bucket[block_reader - lo]]
        total = int(take.sum())
        if total == 0:
            continue
        starts = np.repeat(author_end[block_source] - take, take)
        within = np.arange(total) - np.repeat(np.cumsum(take) - take, take)
        tweet = by_author[starts + within]
        user = np.repeat(block_reader, take)
        key = np.sort(user * t + (t - 1 - tweet))  # per user, newest tweet first
        user, tweet = key // t, t - 1 - key % t
        group_start = np.searchsorted(user, user, side="left")
        keep = (np.arange(len(user)) - group_start) < cap
        yield user[keep], tweet[keep]


def _user_blocks(reader_start: np.ndarray, n: int) -> Iterator[tuple[int, int]]:
    """Split users into consecutive blocks of bounded edge count."""
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(reader_start, reader_start[lo] + EDGES_PER_BLOCK, side="right"))
        hi = min(max(hi - 1, lo + 1), n)
        yield lo, hi
        lo = hi
