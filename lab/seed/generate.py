"""Generate a social network in memory with numpy, deterministically from (scale, seed).

The shape follows what is publicly known of real follower graphs: follower
counts are power-law distributed (a few accounts followed by a large share
of users, most by a handful), activity is heavily skewed, and engagement
concentrates on popular accounts' recent tweets. Every counter is derived
from the rows it counts, so the dataset starts exactly consistent.

Ids are 1-based and tweet ids increase with created_at, as they would for
rows inserted over time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lab.seed.scales import Scale

US_PER_S = 1_000_000
DAY_US = 86_400 * US_PER_S
# PostgreSQL timestamps count microseconds from 2000-01-01 UTC. The dataset
# ends at a fixed instant (2026-11-01 00:00 UTC) so it is the same on any day.
PG_EPOCH_UNIX_S = 946_684_800
END_US = (1_793_491_200 - PG_EPOCH_UNIX_S) * US_PER_S
ACCOUNT_AGE_MAX_DAYS = 3 * 365

ZIPF_EXPONENT = 0.7          # popularity rank r is chosen with weight r^-0.7 ...
POPULARITY_SHARE = 0.7       # ... for 70 % of follows; the rest are uniform
PROTECTED_SHARE = 0.10
REPLY_FOLLOWING_SHARE = 0.05
CELEBRITY_RANKS = 100        # the most popular accounts stay public
KIND_SHARES = (0.70, 0.15, 0.10, 0.05)  # original, reply, retweet, quote
ORIGINAL, REPLY, RETWEET, QUOTE = 0, 1, 2, 3
BODY_POOL_SIZE = 4096       # tweet texts are drawn from this many generated bodies
OPEN_CACHES_STREAM = 30     # the random stream choosing the kept caches


@dataclass
class Users:
    """Per-user arrays, index = id - 1."""

    created_at: np.ndarray
    is_protected: np.ndarray
    reply_following: np.ndarray
    popularity_rank: np.ndarray
    followers_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    following_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tweet_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def count(self) -> int:
        return len(self.created_at)


@dataclass
class Edges:
    """Follow edges as 0-based user indexes, sorted by (follower, followee)."""

    follower: np.ndarray
    followee: np.ndarray
    created_at: np.ndarray


@dataclass
class Tweets:
    """Per-tweet arrays, index = id - 1, in created_at order. -1 means NULL."""

    author: np.ndarray
    created_at: np.ndarray
    kind: np.ndarray
    reply_to: np.ndarray
    original: np.ndarray
    body: np.ndarray
    like_count: np.ndarray
    retweet_count: np.ndarray
    quote_count: np.ndarray
    reply_count: np.ndarray


@dataclass
class Likes:
    user: np.ndarray
    tweet: np.ndarray
    created_at: np.ndarray


@dataclass
class Dataset:
    """Everything the loader writes, plus the special accounts scenarios need."""

    scale: Scale
    seed: int
    users: Users
    edges: Edges
    requests: Edges
    tweets: Tweets
    likes: Likes
    power_readers: np.ndarray
    popular_accounts: np.ndarray
    open_caches: np.ndarray   # bool per user index: the seeder builds this reader's cache

    @property
    def start_us(self) -> int:
        return END_US - self.scale.days * DAY_US


def generate(scale: Scale, seed: int) -> Dataset:
    """Return the whole dataset for (scale, seed); same inputs, same arrays."""
    rng = np.random.default_rng(seed)
    users = _users(scale, rng)
    follow_weights = _follow_weights(users.popularity_rank)
    power_readers = rng.choice(scale.users, size=scale.power_readers, replace=False)
    popular = np.argsort(users.popularity_rank)[: scale.popular_accounts]
    edges = _edges(scale, rng, users, follow_weights, power_readers, popular)
    users.followers_count = np.bincount(edges.followee, minlength=users.count)
    users.following_count = np.bincount(edges.follower, minlength=users.count)
    requests = _requests(rng, users, edges)
    tweets = _tweets(scale, rng, users)
    likes = _likes(scale, rng, users, tweets)
    tweets.like_count = _counts(likes.tweet, len(tweets.author))
    users.tweet_count = np.bincount(tweets.author, minlength=users.count)
    return Dataset(scale, seed, users, edges, requests, tweets, likes,
                   np.sort(power_readers), popular, _open_caches(scale, seed))


def _open_caches(scale: Scale, seed: int) -> np.ndarray:
    """Which users' caches are kept: the scale's share of them, at random from a stream
    of their own, so the other arrays do not change with it (issue 30)."""
    if scale.open_caches >= 1:
        return np.ones(scale.users, dtype=bool)
    return np.random.default_rng([seed, OPEN_CACHES_STREAM]).random(scale.users) < scale.open_caches


# -- users and the follower graph -------------------------------------------


def _unique(values: np.ndarray) -> np.ndarray:
    """Return the sorted distinct values (sort + mask: several times numpy's hash unique)."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _users(scale: Scale, rng: np.random.Generator) -> Users:
    n = scale.users
    window_start = END_US - scale.days * DAY_US
    age = rng.integers(0, (ACCOUNT_AGE_MAX_DAYS - scale.days) * DAY_US, size=n)
    rank = rng.permutation(n)
    protected = rng.random(n) < PROTECTED_SHARE
    protected[rank < CELEBRITY_RANKS] = False
    return Users(
        created_at=window_start - age,
        is_protected=protected,
        reply_following=rng.random(n) < REPLY_FOLLOWING_SHARE,
        popularity_rank=rank,
    )


def power(base: np.ndarray, exponent: float) -> np.ndarray:
    """base ** exponent, elementwise, the same on every CPU.

    numpy's own power picks a SIMD implementation by CPU (AVX-512 machines get one of its
    own), and those differ in the last bit: enough to move a weighted draw across a
    boundary, so the same seed made other rows on another machine. The C library's pow
    is one function everywhere; integer powers are written as products instead."""
    return np.fromiter((math.pow(value, exponent) for value in base.tolist()),
                       dtype=np.float64, count=len(base))


def _follow_weights(rank: np.ndarray) -> np.ndarray:
    zipf = power(rank + 1.0, -ZIPF_EXPONENT)
    weights = POPULARITY_SHARE * zipf / zipf.sum() + (1 - POPULARITY_SHARE) / len(rank)
    return weights / weights.sum()


def _edges(scale: Scale, rng: np.random.Generator, users: Users, weights: np.ndarray,
           power_readers: np.ndarray, popular: np.ndarray) -> Edges:
    n = users.count
    # Follow-backs add about `reciprocity` edges per linked pair: draw fewer first.
    mean = scale.follow_edges / n / (1 + scale.reciprocity)
    sigma = 1.1
    drawn = rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, size=n)
    out_degree = np.clip(np.rint(drawn), 1, n - 1).astype(np.int64)
    out_degree[power_readers] = 0  # chosen separately below
    follower = np.repeat(np.arange(n, dtype=np.int64), out_degree)
    followee = rng.choice(n, size=len(follower), p=weights)
    keys = [follower * n + followee]

    for reader in power_readers:
        wanted = int(rng.integers(scale.power_follows_min, scale.power_follows_max + 1))
        wanted = min(wanted, n - 1)
        chosen = _distinct_targets(rng, n, wanted, weights, exclude=np.array([reader]))
        keys.append(reader * n + chosen)

    key = _unique(np.concatenate(keys))
    key = key[key // n != key % n]  # nobody follows themselves

    # Guarantee the seed's "user with 1000 followers": top up the most popular.
    extra = []
    followee_of = key % n
    for account in popular:
        target = min(n - 1, int(rng.integers(scale.popular_followers_min,
                                             int(scale.popular_followers_min * 1.3) + 1)))
        have = key[followee_of == account] // n
        if len(have) < target:
            new = _distinct_targets(rng, n, target - len(have), None,
                                    exclude=np.append(have, account))
            extra.append(new * n + account)
    if extra:
        key = _unique(np.concatenate([key, *extra]))
    key = _follow_backs(scale, rng, key, n, power_readers, popular)

    follower, followee = key // n, key % n
    newest_creation = np.maximum(users.created_at[follower], users.created_at[followee])
    created = newest_creation + ((END_US - newest_creation) * rng.random(len(key))).astype(np.int64)
    return Edges(follower, followee, created)


def _follow_backs(scale: Scale, rng: np.random.Generator, key: np.ndarray, n: int,
                  power_readers: np.ndarray, popular: np.ndarray) -> np.ndarray:
    """Add follow-backs until `scale.reciprocity` of linked pairs are mutual.

    Only ordinary accounts follow back (not the popular accounts, whose followers are
    many and mostly strangers, nor the power readers, whose follow counts are fixed), and
    never so many that an ordinary account would join the power readers (the SC3
    population stays the seeded one).
    """
    key = np.sort(key)
    reverse = (key % n) * n + key // n
    mutual = np.isin(reverse, key, assume_unique=True)
    pairs = len(key) - int(mutual.sum()) // 2
    need = int(scale.reciprocity * pairs) - int(mutual.sum()) // 2
    if need <= 0:
        return key
    backer = key % n                      # who would follow back: the followee
    excluded = np.zeros(n, dtype=bool)
    excluded[power_readers] = True
    excluded[popular] = True
    candidates = np.flatnonzero(~mutual & ~excluded[backer])
    chosen = np.sort(rng.choice(candidates, size=min(need, len(candidates)), replace=False))
    added = reverse[chosen]
    following = np.bincount(key // n, minlength=n)
    # Each backer's follow-backs in a random order; keep those under the power threshold.
    order = rng.permutation(len(added))
    added = added[order]
    rank = _rank_within(added // n)
    added = added[following[added // n] + rank < scale.power_follows_min]
    return _unique(np.concatenate([key, added]))


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... for each element's occurrence among equal values, in array order."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(ordered)])
    ranks = np.arange(len(ordered)) - np.repeat(starts, counts)
    result = np.empty(len(groups), dtype=np.int64)
    result[order] = ranks
    return result


def _distinct_targets(rng: np.random.Generator, n: int, count: int, weights: np.ndarray | None,
                      exclude: np.ndarray) -> np.ndarray:
    """Pick `count` distinct users not in `exclude`, by `weights` first, uniformly after."""
    allowed = np.ones(n, dtype=bool)
    allowed[exclude] = False
    chosen = np.empty(0, dtype=np.int64)
    if weights is not None:
        draw = _unique(rng.choice(n, size=count * 2, p=weights))
        chosen = draw[allowed[draw]]
        if len(chosen) > count:
            chosen = rng.choice(chosen, size=count, replace=False)
        allowed[chosen] = False
    missing = count - len(chosen)
    if missing > 0:
        chosen = np.concatenate([chosen, rng.choice(np.flatnonzero(allowed), size=missing,
                                                    replace=False)])
    return np.sort(chosen.astype(np.int64))


def _requests(rng: np.random.Generator, users: Users, edges: Edges) -> Edges:
    """Pending follow requests to protected accounts from users not yet following them."""
    n = users.count
    protected = np.flatnonzero(users.is_protected)
    per_account = rng.poisson(2.0, size=len(protected))
    followee = np.repeat(protected, per_account)
    follower = rng.integers(0, n, size=len(followee))
    key = _unique(follower * n + followee)
    edge_key = edges.follower * n + edges.followee  # sorted
    position = np.clip(np.searchsorted(edge_key, key), 0, len(edge_key) - 1)
    key = key[(edge_key[position] != key) & (key // n != key % n)]
    follower, followee = key // n, key % n
    since = np.maximum(users.created_at[follower], users.created_at[followee])
    created = since + ((END_US - since) * rng.random(len(key))).astype(np.int64)
    return Edges(follower, followee, created)


# -- tweets and engagement --------------------------------------------------


class AuthorIndex:
    """Tweets grouped by author (oldest first within an author) for fast picking."""

    def __init__(self, author: np.ndarray, mask: np.ndarray, n_users: int) -> None:
        ids = np.flatnonzero(mask)
        order = np.argsort(author[ids], kind="stable")
        self.ids = ids[order]
        self.authors = author[self.ids]
        everyone = np.arange(n_users)
        self.start = np.searchsorted(self.authors, everyone, side="left")
        self.count = np.searchsorted(self.authors, everyone, side="right") - self.start
        self.n_tweets = len(author)

    def pick_before(self, authors: np.ndarray, before: np.ndarray,
                    u: np.ndarray) -> np.ndarray:
        """Pick a tweet of each author older than `before`, biased to the newest; -1 if none."""
        key = self.authors * self.n_tweets + self.ids
        older = np.searchsorted(key, authors * self.n_tweets + before) - self.start[authors]
        offset = np.floor(older * (u * u * u)).astype(np.int64)
        picked = self.ids[np.clip(self.start[authors] + older - 1 - offset, 0, len(self.ids) - 1)]
        return np.where(older > 0, picked, -1)

    def pick_any(self, authors: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Pick a uniformly random tweet of each author (each must have one)."""
        return self.ids[self.start[authors] + np.floor(u * self.count[authors]).astype(np.int64)]


def _tweets(scale: Scale, rng: np.random.Generator, users: Users) -> Tweets:
    n, t = users.count, scale.tweets
    activity = rng.lognormal(0.0, 1.2, size=n) * power(users.popularity_rank + 1.0, -0.25)
    author = rng.choice(n, size=t, p=activity / activity.sum())
    created = END_US - scale.days * DAY_US + np.sort(rng.integers(0, scale.days * DAY_US, size=t))
    kind = np.searchsorted(np.cumsum(KIND_SHARES)[:-1], rng.random(t), side="right")

    # Replies, retweets and quotes go to earlier tweets of public accounts that
    # accept replies from everyone, chosen in proportion to followers.
    open_author = ~users.is_protected & ~users.reply_following
    index = AuthorIndex(author, (kind != RETWEET) & open_author[author], n)
    engaging = np.flatnonzero(kind != ORIGINAL)
    weight = (users.followers_count + 1.0) * (index.count > 0)
    target_author = rng.choice(n, size=len(engaging), p=weight / weight.sum())
    target = index.pick_before(target_author, engaging, rng.random(len(engaging)))
    kind[engaging[target < 0]] = ORIGINAL  # nothing older to answer: a plain tweet

    full_target = np.full(t, -1, dtype=np.int64)
    full_target[engaging] = target
    retweets = np.flatnonzero(kind == RETWEET)
    _, first = np.unique(author[retweets] * t + full_target[retweets], return_index=True)
    repeated = np.setdiff1d(np.arange(len(retweets)), first)
    kind[retweets[repeated]] = QUOTE  # one retweet per (user, tweet); repeats become quotes

    reply_to = np.where(kind == REPLY, full_target, -1)
    original = np.where((kind == RETWEET) | (kind == QUOTE), full_target, -1)
    body = np.where(kind == RETWEET, -1, rng.integers(0, BODY_POOL_SIZE, size=t))
    # Columns never used in arithmetic are held narrow: at a million users this is
    # most of a gigabyte of the seeder's peak.
    return Tweets(
        author=author, created_at=created, kind=kind.astype(np.int8), reply_to=reply_to,
        original=original, body=body.astype(np.int16), like_count=np.zeros(t, np.int32),
        retweet_count=_counts(original[kind == RETWEET], t),
        quote_count=_counts(original[kind == QUOTE], t),
        reply_count=_counts(reply_to[kind == REPLY], t),
    )


def _counts(values: np.ndarray, length: int) -> np.ndarray:
    """How often each index occurs, as int32 (the column's type in PostgreSQL)."""
    return np.bincount(values, minlength=length).astype(np.int32)


def _likes(scale: Scale, rng: np.random.Generator, users: Users, tweets: Tweets) -> Likes:
    n, t = users.count, len(tweets.author)
    index = AuthorIndex(tweets.author, (tweets.kind != RETWEET)
                        & ~users.is_protected[tweets.author], n)
    weight = (users.followers_count + 1.0) * (index.count > 0)
    liked_author = rng.choice(n, size=scale.likes, p=weight / weight.sum())
    tweet = index.pick_any(liked_author, rng.random(scale.likes))
    user = rng.integers(0, n, size=scale.likes)
    key = _unique(user * t + tweet)  # one like per (user, tweet)
    user, tweet = key // t, key % t
    posted = tweets.created_at[tweet]
    late = rng.random(len(key))
    late *= late
    created = posted + ((END_US - posted) * (late * late)).astype(np.int64)
    return Likes(user, tweet, created)
