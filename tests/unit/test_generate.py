"""The generated social graph: deterministic, shaped as promised, internally consistent."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from lab.seed.generate import ORIGINAL, QUOTE, REPLY, RETWEET, Dataset, generate
from lab.seed.scales import SCALES, get_scale
from lab.seed.timeline import home_timeline_chunks

TINY = get_scale("tiny")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(TINY, 42)


def fingerprint(data: Dataset) -> str:
    """A hash of every generated array and the special accounts, by value (as int64: a
    column held narrower for memory is the same data)."""
    digest = hashlib.sha256()
    groups = (data.users, data.edges, data.requests, data.tweets, data.likes)
    arrays = [array for group in groups for array in vars(group).values()]
    for array in [*arrays, data.power_readers, data.popular_accounts]:
        digest.update(np.ascontiguousarray(array).astype(np.int64).tobytes())
    return digest.hexdigest()


def test_same_seed_same_data(data: Dataset) -> None:
    assert fingerprint(generate(TINY, 42)) == fingerprint(data)


def test_other_seed_other_data(data: Dataset) -> None:
    assert fingerprint(generate(TINY, 43)) != fingerprint(data)


def test_every_scale_promises_the_special_accounts() -> None:
    for scale in SCALES.values():
        assert scale.power_readers >= 20 and scale.popular_accounts >= 20
        assert scale.users > scale.power_follows_min


def test_power_readers_follow_at_least_1000(data: Dataset) -> None:
    following = data.users.following_count[data.power_readers]
    assert len(data.power_readers) >= 20 and following.min() >= 1000


def test_popular_accounts_have_at_least_1000_followers(data: Dataset) -> None:
    assert (data.users.followers_count >= 1000).sum() >= 20


def test_follower_counts_are_skewed(data: Dataset) -> None:
    followers = np.sort(data.users.followers_count)[::-1]
    top_percent = followers[: len(followers) // 100].sum()
    assert top_percent / followers.sum() > 0.10  # 1 % of accounts, >10 % of follows


def test_edges_are_unique_and_never_self(data: Dataset) -> None:
    e = data.edges
    keys = e.follower * data.users.count + e.followee
    assert (np.diff(keys) > 0).all()  # sorted and distinct
    assert (e.follower != e.followee).all()


def test_about_ten_percent_protected_with_pending_requests(data: Dataset) -> None:
    share = data.users.is_protected.mean()
    assert 0.05 < share < 0.15
    assert data.users.is_protected[data.requests.followee].all()
    n = data.users.count
    pending = data.requests.follower * n + data.requests.followee
    follows = data.edges.follower * n + data.edges.followee
    assert len(pending) > 0 and not np.isin(pending, follows).any()


def test_tweets_are_ordered_in_time(data: Dataset) -> None:
    assert (np.diff(data.tweets.created_at) >= 0).all()
    assert data.tweets.created_at[0] >= data.start_us


def test_engagement_points_to_older_public_tweets(data: Dataset) -> None:
    t, users = data.tweets, data.users
    ids = np.arange(len(t.author))
    for kind, column in ((REPLY, t.reply_to), (RETWEET, t.original), (QUOTE, t.original)):
        rows = t.kind == kind
        targets = column[rows]
        assert rows.any() and (targets >= 0).all() and (targets < ids[rows]).all()
        assert not users.is_protected[t.author[targets]].any()
        assert (t.kind[targets] != RETWEET).all()
    assert (t.reply_to[t.kind != REPLY] == -1).all()
    assert (t.body[t.kind == RETWEET] == -1).all() and (t.body[t.kind != RETWEET] >= 0).all()
    assert (t.kind == ORIGINAL).mean() > 0.5


def test_one_retweet_per_user_and_tweet(data: Dataset) -> None:
    rt = data.tweets.kind == RETWEET
    pairs = data.tweets.author[rt] * len(data.tweets.author) + data.tweets.original[rt]
    assert len(np.unique(pairs)) == len(pairs)


def test_counters_equal_the_rows_they_count(data: Dataset) -> None:
    t, n_tweets = data.tweets, len(data.tweets.author)
    assert (t.like_count == np.bincount(data.likes.tweet, minlength=n_tweets)).all()
    assert (t.reply_count == np.bincount(t.reply_to[t.kind == REPLY], minlength=n_tweets)).all()
    assert (data.users.tweet_count == np.bincount(t.author, minlength=data.users.count)).all()
    assert (data.users.followers_count
            == np.bincount(data.edges.followee, minlength=data.users.count)).all()


def test_likes_are_unique_and_after_the_tweet(data: Dataset) -> None:
    lk = data.likes
    keys = lk.user * len(data.tweets.author) + lk.tweet
    assert len(np.unique(keys)) == len(keys)
    assert (lk.created_at >= data.tweets.created_at[lk.tweet]).all()


def test_home_timeline_is_the_newest_cap_tweets_of_followees_and_self(data: Dataset) -> None:
    cap = data.scale.timeline_cap
    got: dict[int, list[int]] = {}
    for user, tweet in home_timeline_chunks(data):
        for u, tw in zip(user.tolist(), tweet.tolist(), strict=True):
            got.setdefault(u, []).append(tw)
    by_author: dict[int, np.ndarray] = {}
    order = np.argsort(data.tweets.author, kind="stable")
    bounds = np.searchsorted(data.tweets.author[order], np.arange(data.users.count + 1))
    for a in range(data.users.count):
        by_author[a] = order[bounds[a]:bounds[a + 1]]
    rng = np.random.default_rng(0)
    sample = np.concatenate([data.power_readers, rng.choice(data.users.count, 60, replace=False)])
    for user in sample.tolist():
        sources = data.edges.followee[data.edges.follower == user].tolist() + [user]
        everything = np.concatenate([by_author[s] for s in sources])
        expected = np.sort(everything)[::-1][:cap].tolist()  # ids increase with time
        assert got.get(user, []) == expected, f"user {user}"


def test_the_disk_guards_row_estimate_tracks_what_the_seeder_loads(data: Dataset) -> None:
    """nominal_rows sizes the disk guard: held against the rows tiny really generates
    (edges mirrored, the home timelines as built), it must be within a fifth."""
    timelines = sum(len(users) for users, _ in home_timeline_chunks(data))
    generated = (data.users.count + 2 * len(data.edges.follower) + len(data.tweets.author)
                 + len(data.likes.user) + timelines)
    assert abs(TINY.nominal_rows - generated) / generated < 0.2, (TINY.nominal_rows, generated)


def test_the_row_estimate_leaves_out_the_caches_not_kept(data: Dataset) -> None:
    """With a quarter of the caches kept (as at medium and large), the estimate falls by
    the rows the seeder no longer builds, within 5 %."""
    quarter = replace(TINY, open_caches=0.25)
    kept = generate(quarter, 42)
    assert kept.open_caches.sum() < 0.3 * TINY.users
    built = [sum(len(users) for users, _ in home_timeline_chunks(d)) for d in (data, kept)]
    saved = TINY.nominal_rows - quarter.nominal_rows
    assert abs(saved - (built[0] - built[1])) / (built[0] - built[1]) < 0.05, (saved, built)
