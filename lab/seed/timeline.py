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
# The memory settings: the window is chosen a block of about this many edges at a time,
# and the candidates merged a block of about this many at a time (some 60 bytes each), so
# the merge's memory stays the same at every scale.
EDGES_PER_BLOCK = 200_000
CANDIDATES_PER_BLOCK = 2_000_000


def home_timeline_chunks(data: Dataset) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (user index, tweet index) arrays, newest first per user, users ascending;
    only users whose cache is kept (Dataset.open_caches) get rows."""
    n, t = data.users.count, len(data.tweets.author)
    kept = data.open_caches
    cap = data.scale.timeline_cap
    author = data.tweets.author
    bucket = ((data.tweets.created_at - data.start_us) * BUCKETS
              // (data.scale.days * 86_400_000_000)).clip(0, BUCKETS - 1)

    by_author = np.argsort(author, kind="stable")  # oldest first within an author
    author_end = np.searchsorted(author[by_author], np.arange(n), side="right")
    newer = _newer_counts(author * BUCKETS + bucket, n)
    del bucket
    source, reader_start = _sources(data.edges.follower, data.edges.followee, n)
    sources_of = np.diff(reader_start)
    first_bucket, candidates = _windows(newer, source, reader_start, cap)
    candidates[~kept] = 0
    candidate_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(candidates, out=candidate_start[1:])

    for lo, hi in _user_blocks(candidate_start, CANDIDATES_PER_BLOCK):
        block_source = source[reader_start[lo]:reader_start[hi]]
        block_reader = np.repeat(np.arange(lo, hi, dtype=np.int64), sources_of[lo:hi])
        take = newer[block_source, first_bucket[block_reader]].astype(np.int64)
        take[~kept[block_reader]] = 0
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


def _windows(newer: np.ndarray, source: np.ndarray, reader_start: np.ndarray,
             cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's window (the newest bucket that still leaves `cap` candidates, or the
    first) and how many candidate tweets it holds."""
    n = len(reader_start) - 1
    first_bucket = np.empty(n, dtype=np.int64)
    candidates = np.empty(n, dtype=np.int64)
    for lo, hi in _user_blocks(reader_start, EDGES_PER_BLOCK):
        edge_lo = reader_start[lo]
        block_source = source[edge_lo:reader_start[hi]]
        # Every user has at least the self entry, so no reduceat segment is empty.
        available = np.add.reduceat(newer[block_source], reader_start[lo:hi] - edge_lo,
                                    axis=0, dtype=np.int64)
        chosen = np.maximum((available >= cap).sum(axis=1) - 1, 0)
        first_bucket[lo:hi] = chosen
        candidates[lo:hi] = available[np.arange(hi - lo), chosen]
    return first_bucket, candidates


def _newer_counts(author_bucket: np.ndarray, n: int) -> np.ndarray:
    """newer[a, b]: how many tweets author a posted in bucket b or later (int32: half the
    memory, and no author posts 2^31 tweets)."""
    counts = np.bincount(author_bucket, minlength=n * BUCKETS).reshape(n, BUCKETS)
    newer = np.zeros((n, BUCKETS + 1), dtype=np.int32)
    np.cumsum(counts[:, ::-1], axis=1, dtype=np.int32, out=newer[:, BUCKETS - 1::-1])
    return newer


def _sources(follower: np.ndarray, followee: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's sources (whom they follow, and themselves: everyone reads their own
    tweets), grouped by user, and where each user's group starts (n + 1 entries).

    The edges are sorted by follower already, so each edge moves up by one slot per
    earlier user's self entry: no concatenation or sort of the whole graph is needed."""
    reader_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(follower, minlength=n) + 1, out=reader_start[1:])
    source = np.empty(len(follower) + n, dtype=np.int32)
    source[reader_start[:-1]] = np.arange(n, dtype=np.int32)
    for lo in range(0, len(follower), EDGES_PER_BLOCK):
        part = slice(lo, lo + EDGES_PER_BLOCK)
        source[np.arange(lo, lo + len(follower[part])) + follower[part] + 1] = followee[part]
    return source, reader_start


def _user_blocks(start: np.ndarray, limit: int) -> Iterator[tuple[int, int]]:
    """Split users into consecutive blocks of at most `limit` items (edges, candidates);
    `start[u]` is where user u's items begin. A user with more is a block alone."""
    n = len(start) - 1
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(start, start[lo] + limit, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        yield lo, hi
        lo = hi
