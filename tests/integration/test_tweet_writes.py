"""Tweets and engagement written by their SQL functions: counters exact, rules enforced."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from lab.pg.server import PgServer
from tests.integration.conftest import call, uid


def post(conn: psycopg.Connection, author: int, body: str | None = "hello",
         reply_to: int | None = None, original: int | None = None) -> tuple[int, bool]:
    row = conn.execute("SELECT new_id, created FROM post_tweet(%s, %s, %s, %s)",
                       (author, body, reply_to, original)).fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def counts(conn: psycopg.Connection, tweet: int) -> tuple[int, int, int, int]:
    row = conn.execute("SELECT like_count, retweet_count, quote_count, reply_count "
                       "FROM tweets WHERE id = %s", (tweet,)).fetchone()
    assert row is not None
    return row  # type: ignore[return-value]


def tweet_count(conn: psycopg.Connection, user: int) -> int:
    row = conn.execute("SELECT tweet_count FROM users WHERE id = %s", (user,)).fetchone()
    assert row is not None
    return int(row[0])


def test_post_reply_quote_retweet_keep_counters(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    tweet, created = post(conn, alice)
    assert created
    post(conn, bob, "answer", reply_to=tweet)
    post(conn, bob, "look at this", original=tweet)
    retweet, _ = post(conn, bob, None, original=tweet)
    assert counts(conn, tweet) == (0, 1, 1, 1)
    assert tweet_count(conn, alice) == 1 and tweet_count(conn, bob) == 3
    again, created = post(conn, bob, None, original=tweet)
    assert (again, created) == (retweet, False)
    assert counts(conn, tweet) == (0, 1, 1, 1) and tweet_count(conn, bob) == 3


def test_retweeting_a_retweet_repeats_the_original(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    tweet, _ = post(conn, alice)
    retweet, _ = post(conn, bob, None, original=tweet)
    mine, _ = post(conn, alice, None, original=retweet)
    row = conn.execute("SELECT original_tweet_id FROM tweets WHERE id = %s", (mine,)).fetchone()
    assert row == (tweet,) and counts(conn, tweet)[1] == 2


def test_reply_policy_following_is_enforced(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    conn.execute("UPDATE users SET reply_policy = 'following' WHERE id = %s", (alice,))
    tweet, _ = post(conn, alice)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only accepts replies"):
        post(conn, bob, "hi", reply_to=tweet)
    call(conn, "follow", alice, bob)
    post(conn, bob, "hi", reply_to=tweet)
    post(conn, alice, "my own thread", reply_to=tweet)
    assert counts(conn, tweet)[3] == 2


def test_protected_tweets_are_invisible_and_cannot_be_repeated(conn: psycopg.Connection) -> None:
    alice, carol = uid(conn, "alice"), uid(conn, "carol")
    secret, _ = post(conn, carol, "followers only")
    for body, original, reply_to in ((None, secret, None), ("q", secret, None),
                                     ("r", None, secret)):
        with pytest.raises(psycopg.errors.NoDataFound):
            post(conn, alice, body, reply_to=reply_to, original=original)
    with pytest.raises(psycopg.errors.NoDataFound):
        call(conn, "like_tweet", alice, secret)
    call(conn, "follow", alice, carol)
    call(conn, "decide_follow_request", carol, alice, True)
    assert call(conn, "like_tweet", alice, secret) == "True"
    post(conn, alice, "reply", reply_to=secret)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="protected"):
        post(conn, alice, None, original=secret)


def test_likes_are_idempotent_and_counted(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    tweet, _ = post(conn, alice)
    assert call(conn, "like_tweet", bob, tweet) == "True"
    assert call(conn, "like_tweet", bob, tweet) == "False"
    assert counts(conn, tweet)[0] == 1
    assert call(conn, "unlike_tweet", bob, tweet) == "True"
    assert call(conn, "unlike_tweet", bob, tweet) == "False"
    assert counts(conn, tweet)[0] == 0


def test_delete_adjusts_everything(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    parent, _ = post(conn, bob, "parent")
    tweet, _ = post(conn, alice, "to delete", reply_to=parent)
    post(conn, bob, None, original=tweet)
    quote, _ = post(conn, bob, "quoting", original=tweet)
    reply, _ = post(conn, bob, "reply", reply_to=tweet)
    call(conn, "like_tweet", bob, tweet)
    conn.execute("INSERT INTO home_timeline SELECT %s, created_at, id FROM tweets WHERE id = %s",
                 (bob, tweet))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only the author"):
        call(conn, "delete_tweet", bob, tweet)
    conn.execute("SELECT follow(%s, %s)", (bob, alice))
    call(conn, "delete_tweet", alice, tweet)
    assert conn.execute("SELECT count(*) FROM tweets WHERE id = %s OR original_tweet_id = %s "
                        "AND body IS NULL", (tweet, tweet)).fetchone() == (0,)
    assert conn.execute("SELECT original_tweet_id FROM tweets WHERE id = %s",
                        (quote,)).fetchone() == (None,)
    assert conn.execute("SELECT reply_to_tweet_id FROM tweets WHERE id = %s",
                        (reply,)).fetchone() == (None,)
    assert counts(conn, parent)[3] == 0
    assert tweet_count(conn, alice) == 0 and tweet_count(conn, bob) == 3  # parent, quote, reply
    assert conn.execute("SELECT count(*) FROM likes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM home_timeline").fetchone() == (0,)
    with pytest.raises(psycopg.errors.NoDataFound):
        call(conn, "delete_tweet", alice, tweet)


def test_undo_retweet(conn: psycopg.Connection) -> None:
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    tweet, _ = post(conn, alice)
    retweet, _ = post(conn, bob, None, original=tweet)
    assert call(conn, "undo_retweet", bob, retweet) == "True"  # by the retweet's id ...
    post(conn, bob, None, original=tweet)
    assert call(conn, "undo_retweet", bob, tweet) == "True"    # ... or the original's
    assert call(conn, "undo_retweet", bob, tweet) == "False"
    assert counts(conn, tweet)[1] == 0 and tweet_count(conn, bob) == 0


def test_a_delete_racing_a_follow_of_its_author_leaves_no_timeline_entry(
        conn: psycopg.Connection, pg_server: PgServer, fresh_db: str) -> None:
    """The follow's backfill puts the tweet in the new follower's timeline while the delete
    runs: the delete must wait for the follow and take the entry with it (0015)."""
    alice, bob = uid(conn, "alice"), uid(conn, "bob")
    push = "SELECT set_config('lab.timeline_strategy', 'push', false)"
    conn.execute(push)
    tweet, _ = post(conn, alice)
    with pg_server.connect(fresh_db) as follower, \
            pg_server.connect(fresh_db, autocommit=True) as deleter:
        follower.execute(push)
        deleter.execute(push)
        follower.execute("SELECT timeline_after_follow(%s, %s, follow(%s, %s))",
                         (bob, alice, bob, alice))       # backfilled, not yet committed
        done = threading.Thread(target=deleter.execute, args=(
            "SELECT delete_tweet(%s, %s)", (alice, tweet)))
        done.start()
        time.sleep(0.5)
        assert done.is_alive(), "the delete must wait for the follow of its author"
        follower.commit()
        done.join(timeout=30)
    left = conn.execute("SELECT count(*) FROM home_timeline WHERE tweet_id = %s",
                        (tweet,)).fetchone()
    assert left == (0,)
    assert conn.execute("SELECT 1 FROM following WHERE follower_id = %s AND followee_id = %s",
                        (bob, alice)).fetchone() == (1,)
