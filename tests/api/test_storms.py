"""Concurrency storms over HTTP under each timeline strategy: many clients contend for
the same rows.

Each storm fires its requests at once (asyncio + httpx against a real uvicorn and
PostgreSQL), then asserts four things: every answer is one the API documents for that race
(never a 5xx), PostgreSQL counted no deadlock (tests/api/storms.py: the server's retries
would hide one), the end state is the one the race allows, and the whole integrity audit
(`lab check` for the strategy, timeline caches included) is clean. The lock-order storms
of issue 27 are in test_lock_order.py.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from lab.pg.server import PgServer
from tests.api.conftest import Account, Api
from tests.api.storms import STRATEGIES, Call, assert_audit_clean, fire, results, storm_api
from tests.conftest import copy_of


@pytest.fixture(scope="module", params=STRATEGIES)
def storm_db(request: pytest.FixtureRequest, pg_server: PgServer,
             schema_template: str) -> Iterator[tuple[str, str]]:
    """A database per strategy, and the strategy."""
    with copy_of(pg_server, schema_template, f"storm_{request.param}") as name:
        yield name, request.param


@pytest.fixture
def api(pg_server: PgServer, storm_db: tuple[str, str]) -> Iterator[Api]:
    """A server for this storm alone: its deadlocks are counted when it stops."""
    with storm_api(pg_server, *storm_db) as client:
        yield client


def test_follow_unfollow_toggles_on_the_same_pairs(api: Api, pg_server: PgServer,
                                                   storm_db: tuple[str, str]) -> None:
    followers = [api.register("tf") for _ in range(4)]
    followees = [api.register("tt") for _ in range(3)]
    for followee in followees:
        followee.http.post("/tweets", json={"body": f"hello from {followee.username}"})
    calls: list[Call] = [(f.token, random.choice(["PUT", "DELETE"]), f"/users/{t.id}/follow", None)
                         for _ in range(10) for f in followers for t in followees]
    seen = results(fire(api.url, calls))
    assert set(seen) <= {"followed", "already_following", "unfollowed", "not_following"}
    assert seen["followed"] >= 1 and seen["unfollowed"] + seen["not_following"] >= 1
    assert_audit_clean(pg_server, *storm_db)


def test_like_unlike_and_retweet_storms_on_one_tweet(api: Api, pg_server: PgServer,
                                                     storm_db: tuple[str, str]) -> None:
    author = api.register("hot")
    tweet = author.http.post("/tweets", json={"body": "the hot tweet"}).json()["tweet"]["id"]
    fans = [api.register("fa") for _ in range(20)]
    likes: list[Call] = [(f.token, method, f"/tweets/{tweet}/like", None)
                         for f in fans for method in ("PUT", "DELETE", "PUT")]
    # Three simultaneous retweets per fan: one creates it, the others find it.
    retweets: list[Call] = [(f.token, "POST", f"/tweets/{tweet}/retweet", None)
                            for f in fans for _ in range(3)]
    answers = fire(api.url, likes + retweets)
    like_answers, retweet_answers = answers[:len(likes)], answers[len(likes):]
    assert {r.status_code for r in like_answers} == {200}
    by_fan = Counter((calls[0], r.status_code) for calls, r in zip(retweets, retweet_answers,
                                                                  strict=True))
    assert {status for _, status in by_fan} <= {200, 201}
    assert all(by_fan[(f.token, 201)] == 1 and by_fan[(f.token, 200)] == 2 for f in fans)
    with pg_server.connect(storm_db[0]) as conn:
        row = conn.execute("SELECT retweet_count, like_count, (SELECT count(*) FROM likes "
                           "WHERE tweet_id = %(t)s) FROM tweets WHERE id = %(t)s",
                           {"t": tweet}).fetchone()
    assert row is not None and row[0] == len(fans) and row[1] == row[2]
    assert_audit_clean(pg_server, *storm_db)


def test_approving_requests_while_they_are_withdrawn(api: Api, pg_server: PgServer,
                                                     storm_db: tuple[str, str]) -> None:
    owner = api.register("prot", is_protected=True)
    owner.http.post("/tweets", json={"body": "approved followers only"})
    requesters = [api.register("rq") for _ in range(15)]
    for requester in requesters:
        assert requester.http.put(f"/users/{owner.id}/follow").json() == {"result": "requested"}
    calls: list[Call] = []
    for requester in requesters:
        calls.append((owner.token, "POST", f"/me/follow-requests/{requester.id}/approve", None))
        calls.append((requester.token, "DELETE", f"/users/{owner.id}/follow", None))
    seen = results(fire(api.url, calls))
    assert set(seen) <= {"approved", "no_request", "request_withdrawn", "unfollowed"}
    # Each pair ends one way: approved then unfollowed, or withdrawn before the approval.
    assert seen["approved"] == seen["unfollowed"]
    assert seen["request_withdrawn"] == seen["no_request"]
    assert seen["approved"] + seen["request_withdrawn"] == len(requesters)
    with pg_server.connect(storm_db[0]) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM follow_requests WHERE followee_id = %(o)s),"
            " (SELECT count(*) FROM following WHERE followee_id = %(o)s)",
            {"o": owner.id}).fetchone()
    assert left == (0, 0)
    assert_audit_clean(pg_server, *storm_db)


def test_registering_the_same_username_at_once(api: Api, pg_server: PgServer,
                                               storm_db: tuple[str, str]) -> None:
    name = f"same{uuid.uuid4().hex[:8]}"
    calls: list[Call] = [(None, "POST", "/users", {
        "username": name if i % 2 else name.upper(), "email": f"{name}{i}@example.com",
        "display_name": "Same"}) for i in range(20)]
    answers = fire(api.url, calls)
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: 19}
    assert {r.json()["field"] for r in answers if r.status_code == 409} == {"username"}
    with pg_server.connect(storm_db[0]) as conn:
        row = conn.execute("SELECT count(*) FROM users WHERE lower(username) = %s",
                           (name,)).fetchone()
    assert row == (1,)


def test_posting_while_following_changes_keeps_caches_exact(api: Api, pg_server: PgServer,
                                                            storm_db: tuple[str, str]) -> None:
    authors = [api.register("au") for _ in range(3)]
    readers = [api.register("re") for _ in range(8)]
    calls: list[Call] = [(a.token, "POST", "/tweets", {"body": f"post {i} by {a.username}"})
                         for i in range(10) for a in authors]
    calls += [(r.token, random.choice(["PUT", "DELETE", "PUT"]), f"/users/{a.id}/follow", None)
              for _ in range(4) for r in readers for a in authors]
    answers = fire(api.url, calls)
    assert {r.status_code for r in answers} <= {200, 201}
    assert_audit_clean(pg_server, *storm_db)
    if storm_db[1] == "pull":
        return  # no cache to complete
    # Completeness, the other half: a reader who follows an author has every one of
    # the author's tweets in their cache, whichever of post and follow won the race.
    with pg_server.connect(storm_db[0]) as conn:
        missing = conn.execute("""
            SELECT count(*) FROM following f JOIN tweets t ON t.user_id = f.followee_id
            WHERE f.follower_id = ANY(%s) AND NOT EXISTS (
                SELECT 1 FROM home_timeline h WHERE h.user_id = f.follower_id
                AND h.tweet_id = t.id)""", ([r.id for r in readers],)).fetchone()
    assert missing == (0,)


@pytest.mark.parametrize("round_", range(3))
def test_deleting_a_tweet_while_it_is_liked_retweeted_and_replied_to(
        api: Api, pg_server: PgServer, storm_db: tuple[str, str], round_: int) -> None:
    """The race that was a 500 (a foreign key failing under the writer); see migration 0005."""
    author = api.register("del")
    fans: list[Account] = [api.register("dl") for _ in range(10)]
    for fan in fans:
        fan.http.put(f"/users/{author.id}/follow")
    tweet = author.http.post("/tweets", json={"body": "about to go"}).json()["tweet"]["id"]
    calls: list[Call] = [(author.token, "DELETE", f"/tweets/{tweet}", None)]
    for fan in fans:
        calls += [(fan.token, "PUT", f"/tweets/{tweet}/like", None),
                  (fan.token, "POST", f"/tweets/{tweet}/retweet", None),
                  (fan.token, "POST", "/tweets", {"body": "a reply", "reply_to_tweet_id": tweet})]
    answers = fire(api.url, calls)
    assert answers[0].status_code == 204
    # Before the delete: 200/201; after it: 404 naming the tweet. Nothing else.
    assert {r.status_code for r in answers[1:]} <= {200, 201, 404}
    assert {r.json()["code"] for r in answers[1:] if r.status_code == 404} <= {"not_found"}
    assert_audit_clean(pg_server, *storm_db)
